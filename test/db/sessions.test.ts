// The database API: open and close, write sessions, forks, overlays, stale commits, witness
// keys, metrics; every root checked against the from-scratch root of a Map model.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { type Db, DbError, type FinishedSession, open, type Overlay } from "../../src/db/index.ts";
import { nextTurn } from "../../src/io/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { assertReads, type Change, h, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-sessions-");
const ZERO = toHex(new Uint8Array(32));

const code = (c: string, msg?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof DbError, `expected DbError ${c}, got ${String(e)}`);
  assert.equal(e.code, c, (e as Error).message);
  if (msg) assert.match(e.message, msg);
  return true;
};

const key = (i: number) => {
  const k = new Uint8Array(31);
  k[0] = i & 0xff;
  k[1] = i >> 8;
  k[30] = 0x5a;
  return k;
};
const val = (...b: number[]) => new Uint8Array(b);

/** Commits `changes` as one session and returns the finished session. */
async function commit(db: Db, changes: Change[], overlays?: Overlay[]): Promise<FinishedSession> {
  const f = await write(db.beginWrite({ overlays }), changes).finish();
  await f.commit();
  return f;
}

describe(`db: open, close, write sessions (seed ${seed})`, () => {
  it("open: defaults on a new directory; close is idempotent; any use after close is CLOSED", async () => {
    const dir = newDir();
    const db = open(dir);
    assert.equal(toHex(db.root), ZERO);
    assert.equal(db.seq, 0);
    assert.equal(db.rollbackDepth, 0);
    assert.equal(db.readOnly, false);
    assert.deepEqual(db.history().map(toHex), [ZERO]);
    const snap = db.beginRead();
    const session = db.beginWrite();
    session.set(key(1), val(1));
    const fin = await write(db.beginWrite(), [[key(2), val(2)]]).finish();
    db.close();
    db.close();
    assert.throws(() => db.root, code("CLOSED"));
    assert.throws(() => db.beginRead(), code("CLOSED"));
    assert.throws(() => db.beginWrite(), code("CLOSED"));
    assert.throws(() => db.metrics(), code("CLOSED"));
    assert.throws(() => snap.get(key(1)), code("CLOSED"));
    assert.throws(() => session.get(key(1)), code("CLOSED"));
    assert.throws(() => session.finishSync(), code("CLOSED"));
    await assert.rejects(fin.commit(), code("CLOSED"));
    await assert.rejects(db.rollback(0), code("CLOSED"));
    // Nothing was committed.
    const again = open(dir);
    assert.equal(toHex(again.root), ZERO);
    again.close();
  });

  it("open: bad arguments, a missing database with create: false, a second writer", () => {
    assert.throws(() => open(""), code("BAD_ARGUMENT", /path/));
    assert.throws(() => open(42 as unknown as string), code("BAD_ARGUMENT", /path/));
    for (const w of [-1, 1.5, "5", Number.NaN]) {
      assert.throws(() => open(newDir(), { rollbackWindow: w as number }), code("BAD_ARGUMENT", /rollbackWindow/));
    }
    assert.throws(() => open(newDir(), { valueCacheBytes: -1 }), code("BAD_ARGUMENT", /valueCacheBytes/));
    const missing = newDir();
    assert.throws(() => open(missing, { create: false }), code("NOT_FOUND"));
    assert.throws(() => open(missing, { readOnly: true }), code("NOT_FOUND"));
    assert.equal(existsSync(missing), false, "nothing created");
    const dir = newDir();
    const db = open(dir);
    assert.throws(() => open(dir), code("LOCKED", /this process/));
    db.close();
    open(dir).close();
  });

  it("a session reads its own writes, then the database; finish gives root, prevRoot, changes, stats", async () => {
    const db = open(newDir());
    await commit(db, [
      [key(1), val(1)],
      [key(2), val(2)],
      [key(3), val(3)],
    ]);
    const before = toHex(db.root);
    const s = db.beginWrite();
    assert.equal(toHex(s.prevRoot), before);
    assert.equal(h(s.get(key(1))), "0x01");
    const v = val(9, 9);
    s.set(key(1), v);
    v[0] = 7; // the session keeps a copy
    s.delete(key(2));
    s.delete(key(40)); // absent: fine
    s.set(key(4), new Uint8Array(0));
    assert.equal(h(s.get(key(1))), "0x0909");
    assert.equal(s.get(key(2)), undefined);
    assert.equal(s.has(key(2)), false);
    assert.equal(h(s.get(key(4))), "0x");
    assert.equal(s.has(key(4)), true);
    assert.equal(h(s.get(key(3))), "0x03");
    const got = s.get(key(3)) as Uint8Array;
    got[0] = 99; // a copy too
    assert.equal(h(s.get(key(3))), "0x03");
    const f = await s.finish();
    const model = new Model().apply([
      [key(1), val(9, 9)],
      [key(3), val(3)],
      [key(4), new Uint8Array(0)],
    ]);
    assert.equal(toHex(f.root), model.root());
    assert.equal(toHex(f.prevRoot), before);
    assert.deepEqual(
      f.changes.map(([k, x]) => [toHex(k), h(x ?? undefined)]),
      [
        [toHex(key(1)), "0x0909"],
        [toHex(key(2)), undefined],
        [toHex(key(4)), "0x"],
        [toHex(key(40)), undefined],
      ],
    );
    assert.equal(f.stats.changes, 4);
    assert.equal(f.stats.reads, 9);
    assert.equal(f.stats.baseReads, 4);
    assert.ok(f.stats.hashes > 0 && f.stats.finishMs >= 0 && f.stats.durationMs >= f.stats.finishMs);
    assert.equal(f.witnessKeys, null);
    // The finished session reads its own state; the database is unchanged until the commit.
    await assertReads(f, model, [key(1), key(2), key(3), key(4), key(40)], "finished session");
    assert.equal(toHex(db.root), before);
    for (const call of [() => s.get(key(1)), () => s.set(key(1), val(1)), () => s.delete(key(1)), () => s.warmUp(key(1)), () => s.finishSync()]) {
      assert.throws(call, code("FINISHED"));
    }
    assert.equal(toHex(await f.commit()), model.root());
    assert.equal(toHex(db.root), model.root());
    assert.equal(f.committed, true);
    await assert.rejects(f.commit(), code("ALREADY_COMMITTED"));
    using snap = db.beginRead();
    await assertReads(snap, model, [key(1), key(2), key(3), key(4)], "after commit");
    db.close();
  });

  it("bad input is refused with a typed error naming the argument, and changes nothing", async () => {
    const db = open(newDir());
    await commit(db, [[key(1), val(1)]]);
    const root = toHex(db.root);
    const seq = db.seq;
    const s = db.beginWrite();
    s.set(key(2), val(2));
    assert.throws(() => s.set(new Uint8Array(30), val(1)), code("BAD_ARGUMENT", /key must be 31 bytes, got 30/));
    assert.throws(() => s.set("k" as unknown as Uint8Array, val(1)), code("BAD_ARGUMENT", /key/));
    assert.throws(() => s.set(key(3), "v" as unknown as Uint8Array), code("BAD_ARGUMENT", /value/));
    assert.throws(() => s.set(key(3), null as unknown as Uint8Array), code("BAD_ARGUMENT", /value/));
    assert.throws(() => s.delete(new Uint8Array(32)), code("BAD_ARGUMENT", /key/));
    assert.throws(() => s.get(undefined as unknown as Uint8Array), code("BAD_ARGUMENT", /key/));
    assert.throws(() => s.warmUp(new Uint8Array(1)), code("BAD_ARGUMENT", /key/));
    assert.throws(() => db.beginWrite({ overlays: [1 as unknown as Overlay] }), code("BAD_ARGUMENT", /overlays\[0\]/));
    assert.throws(() => db.beginWrite({ overlays: "x" as unknown as Overlay[] }), code("BAD_ARGUMENT", /overlays/));
    assert.throws(() => db.beginWrite({ witness: 1 as unknown as boolean }), code("BAD_ARGUMENT", /witness/));
    assert.throws(() => db.beginWrite(null as unknown as object), code("BAD_ARGUMENT", /options/));
    assert.throws(() => db.beginReadAt(new Uint8Array(31)), code("BAD_ARGUMENT", /root/));
    assert.throws(() => db.beginReadAt(new Uint8Array(32).fill(7)), code("ROOT_NOT_FOUND"));
    using snap = db.beginRead();
    assert.throws(() => snap.get(new Uint8Array(3)), code("BAD_ARGUMENT", /key/));
    await assert.rejects(
      async () => {
        for await (const _ of snap.entries({ start: new Uint8Array(2) })) void _;
      },
      code("BAD_ARGUMENT", /range\.start/),
    );
    assert.throws(() => [...snap.entriesSync({ end: 5 as unknown as Uint8Array })], code("BAD_ARGUMENT", /range\.end/));
    await assert.rejects(db.rollback(-1), code("BAD_ARGUMENT", /n/));
    await assert.rejects(db.rollback(1.5), code("BAD_ARGUMENT", /n/));
    await assert.rejects(db.rollback(2), code("BAD_ARGUMENT", /0 \.\. 1/));
    // The session still holds exactly its valid write; the database is where it was.
    const f = await s.finish();
    assert.equal(f.stats.changes, 1);
    assert.equal(toHex(db.root), root);
    assert.equal(db.seq, seq);
    await f.commit();
    assert.equal(
      toHex(db.root),
      new Model()
        .apply([
          [key(1), val(1)],
          [key(2), val(2)],
        ])
        .root(),
    );
    db.close();
  });

  it("a stale commit is refused: the database moved since the session's base", async () => {
    const db = open(newDir());
    await commit(db, [[key(1), val(1)]]);
    await commit(db, [[key(2), val(2)]]);
    const s = write(db.beginWrite(), [[key(3), val(3)]]);
    await db.rollback(1); // moves the database (not a fork of s)
    const root = toHex(db.root);
    const f = await s.finish();
    // The session computed its root over its own base, not over the moved database.
    assert.equal(
      toHex(f.root),
      new Model()
        .apply([
          [key(1), val(1)],
          [key(2), val(2)],
          [key(3), val(3)],
        ])
        .root(),
    );
    await assert.rejects(f.commit(), code("STALE", /moved/));
    assert.throws(() => f.commitSync(), code("STALE"));
    assert.equal(toHex(db.root), root, "a refused commit changes nothing");
    assert.equal(db.metrics().refusedCommits, 2);
    // A session begun after the move commits.
    await commit(db, [[key(4), val(4)]]);
    assert.equal(
      toHex(db.root),
      new Model()
        .apply([
          [key(1), val(1)],
          [key(4), val(4)],
        ])
        .root(),
    );
    db.close();
  });

  it("three forks on one base have different roots; one commits, the other two are refused", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 400);
    const db = open(newDir());
    const base = new Model();
    const init = randomChanges(rng, keys, 300, 0);
    await commit(db, init);
    base.apply(init);
    for (const onOverlay of [false, true]) {
      // The forks' base: the database itself, or an uncommitted overlay on it.
      let overlay: Overlay | undefined;
      const forkBase = Model.of(base);
      if (onOverlay) {
        const oc = randomChanges(rng, keys, 50);
        overlay = (await write(db.beginWrite(), oc).finish()).toOverlay();
        forkBase.apply(oc);
      }
      const forks = [0, 1, 2].map(() => {
        const changes = randomChanges(rng, keys, 40);
        const f = write(db.beginWrite({ overlays: overlay ? [overlay] : [] }), changes).finishSync();
        return { f, model: Model.of(forkBase).apply(changes) };
      });
      const roots = forks.map(({ f }) => toHex(f.root));
      assert.equal(new Set(roots).size, 3, "three different roots");
      for (const { f, model } of forks) {
        assert.equal(toHex(f.root), model.root());
        assert.equal(toHex(f.prevRoot), forkBase.root());
      }
      if (overlay) {
        await assert.rejects(forks[1].f.commit(), code("PARENT_NOT_COMMITTED"));
        await overlay.commit();
      }
      const before = db.seq;
      assert.equal(toHex(await forks[1].f.commit()), roots[1]);
      for (const i of [0, 2]) {
        await assert.rejects(forks[i].f.commit(), code("SIBLING_COMMITTED"));
        assert.throws(() => forks[i].f.commitSync(), code("SIBLING_COMMITTED"));
      }
      assert.equal(db.seq, before + 1);
      assert.equal(toHex(db.root), roots[1]);
      // The refused forks still read their own states.
      for (const i of [0, 2]) await assertReads(forks[i].f, forks[i].model, keys.slice(0, 30), `fork ${i}`);
      base.map.clear();
      for (const [k, e] of forks[1].model.map) base.map.set(k, e);
    }
    db.close();
  });

  it("overlays: sessions stacked on uncommitted overlays read through the chain and commit in order", async () => {
    const db = open(newDir());
    await commit(db, [
      [key(1), val(1)],
      [key(2), val(2)],
    ]);
    const m0 = new Model().apply([
      [key(1), val(1)],
      [key(2), val(2)],
    ]);
    const c1: Change[] = [
      [key(1), val(11)],
      [key(3), val(3)],
    ];
    const o1 = (await write(db.beginWrite(), c1).finish()).toOverlay();
    const c2: Change[] = [
      [key(3), null],
      [key(4), val(4)],
    ];
    const s2 = db.beginWrite({ overlays: [o1] });
    assert.equal(h(s2.get(key(1))), "0x0b", "reads the overlay's write");
    assert.equal(h(s2.get(key(2))), "0x02", "reads the database under it");
    assert.equal(h(s2.get(key(3))), "0x03");
    const o2 = (await write(s2, c2).finish()).toOverlay();
    assert.throws(() => db.beginWrite({ overlays: [o1, o2] }), code("BAD_ARGUMENT", /not the parent/));
    assert.throws(() => db.beginWrite({ overlays: [o2, o2] }), code("BAD_ARGUMENT", /overlays\[1\] is not the parent/));
    // Ancestors left out are implied.
    assert.equal(h(db.beginWrite({ overlays: [o2] }).get(key(1))), "0x0b");
    const c3: Change[] = [
      [key(2), null],
      [key(5), val(5)],
    ];
    const s3 = db.beginWrite({ overlays: [o2, o1] });
    assert.equal(s3.get(key(3)), undefined, "a deletion in the middle overlay hides the value below");
    const f3 = await write(s3, c3).finish();
    const m1 = Model.of(m0).apply(c1);
    const m2 = Model.of(m1).apply(c2);
    const m3 = Model.of(m2).apply(c3);
    assert.equal(toHex(o1.root), m1.root());
    assert.equal(toHex(o2.root), m2.root());
    assert.equal(toHex(f3.root), m3.root());
    await assertReads(o2, m2, [key(1), key(2), key(3), key(4), key(5)], "overlay 2");
    await assertReads(f3, m3, [key(1), key(2), key(3), key(4), key(5)], "session 3");
    // Out of order: refused, nothing changes.
    await assert.rejects(f3.commit(), code("PARENT_NOT_COMMITTED"));
    await assert.rejects(o2.commit(), code("PARENT_NOT_COMMITTED"));
    assert.equal(toHex(db.root), m0.root());
    // In order, queued together: all commit.
    const roots = await Promise.all([o1.commit(), o2.commit(), f3.commit()]);
    assert.deepEqual(roots.map(toHex), [m1.root(), m2.root(), m3.root()]);
    assert.equal(toHex(db.root), m3.root());
    // Committed overlays still read their own states after the database moved on.
    await assertReads(o1, m1, [key(1), key(2), key(3)], "overlay 1 after later commits");
    // A session on o2 now is a fork of session 3.
    const f4 = await write(db.beginWrite({ overlays: [o2] }), [[key(6), val(6)]]).finish();
    assert.equal(
      toHex(f4.root),
      Model.of(m2)
        .apply([[key(6), val(6)]])
        .root(),
    );
    await assert.rejects(f4.commit(), code("SIBLING_COMMITTED"), "session 3 was on overlay 2 too");
    db.close();
  });

  it("random sessions, forks, overlays and reopens: every root equals the from-scratch root", async () => {
    const rng = new Rng(seed ^ 0x1234567);
    const keys = universe(rng, 3000);
    const dir = newDir();
    let db = open(dir, { rollbackWindow: 10 });
    let model = new Model();
    let checked = 0;
    for (let round = 0; round < 40; round++) {
      const n = round === 0 ? 2000 : 1 + rng.int(rng.int(4) === 0 ? 400 : 40);
      const kind = rng.int(4);
      if (kind === 0) {
        // Two overlays deep, then commit both.
        const c1 = randomChanges(rng, keys, n);
        const c2 = randomChanges(rng, keys, 1 + rng.int(30));
        const o1 = (await write(db.beginWrite(), c1).finish()).toOverlay();
        const f2 = await write(db.beginWrite({ overlays: [o1] }), c2).finish();
        const m1 = Model.of(model).apply(c1);
        const m2 = Model.of(m1).apply(c2);
        assert.equal(toHex(o1.root), m1.root(), `round ${round} overlay`);
        assert.equal(toHex(f2.root), m2.root(), `round ${round} on overlay`);
        await o1.commit();
        assert.equal(toHex(f2.commitSync()), m2.root());
        model = m2;
        checked += 2;
      } else if (kind === 1) {
        // A session finished after the database moved: its root is over its own base.
        const c1 = randomChanges(rng, keys, n);
        const c2 = randomChanges(rng, keys, 1 + rng.int(60));
        const late = write(db.beginWrite(), c2);
        const f1 = await write(db.beginWrite(), c1).finish();
        await f1.commit();
        const fl = await late.finish();
        assert.equal(toHex(fl.root), Model.of(model).apply(c2).root(), `round ${round} late session`);
        await assert.rejects(fl.commit(), code("SIBLING_COMMITTED"));
        model.apply(c1);
        checked += 2;
      } else {
        const c = randomChanges(rng, keys, n, kind === 2 ? 0.3 : 0.6);
        const f = await write(db.beginWrite(), c).finish();
        model.apply(c);
        assert.equal(toHex(f.root), model.root(), `round ${round}`);
        await f.commit();
        checked++;
      }
      assert.equal(toHex(db.root), model.root(), `round ${round}: database root`);
      if (rng.int(6) === 0) {
        db.close();
        db = open(dir, { rollbackWindow: 10 });
        assert.equal(toHex(db.root), model.root(), `round ${round}: after reopen`);
      }
    }
    using snap = db.beginRead();
    await assertReads(snap, model, keys.slice(0, 200), "final state");
    assert.ok(checked >= 40);
    db.close();
  });

  it("witness mode records the keys read from the base and the keys written", () => {
    const db = open(newDir());
    write(db.beginWrite(), [
      [key(1), val(1)],
      [key(2), val(2)],
    ])
      .finishSync()
      .commitSync();
    const s = db.beginWrite({ witness: true });
    s.get(key(2));
    s.has(key(9)); // absent: still read
    s.set(key(5), val(5));
    s.get(key(5)); // own write: not a read of the base
    s.delete(key(1));
    s.get(key(2)); // repeated
    const f = s.finishSync();
    assert.ok(f.witnessKeys);
    assert.deepEqual(f.witnessKeys.read.map(toHex), [key(2), key(9)].map(toHex));
    assert.deepEqual(f.witnessKeys.written.map(toHex), [key(1), key(5)].map(toHex));
    assert.equal(write(db.beginWrite(), []).finishSync().witnessKeys, null);
    db.close();
  });

  it("commitSync refuses while commits are queued (BUSY); close refuses queued commits, keeps acknowledged ones", async () => {
    const dir = newDir();
    const db = open(dir);
    const f1 = await write(db.beginWrite(), [[key(1), val(1)]]).finish();
    const o1 = f1.toOverlay();
    const f2 = await write(db.beginWrite({ overlays: [o1] }), [[key(2), val(2)]]).finish();
    const f3 = await write(db.beginWrite({ overlays: [f2.toOverlay(), o1] }), [[key(3), val(3)]]).finish();
    const p1 = f1.commit();
    assert.throws(() => f2.commitSync(), code("BUSY"));
    await p1;
    assert.equal(toHex(f2.commitSync()), toHex(f2.root));
    const p3 = f3.commit();
    db.close(); // f3 is queued (or syncing its log): refused, never written
    await assert.rejects(p3, code("CLOSED"));
    const again = open(dir);
    assert.equal(toHex(again.root), toHex(f2.root));
    assert.equal(again.rollbackDepth, 2);
    again.close();
  });

  it("warmUp prefetches in a later turn and changes no result", async () => {
    const rng = new Rng(seed ^ 77);
    const keys = universe(rng, 500);
    const dir = newDir();
    const first = open(dir);
    const init = randomChanges(rng, keys, 500, 0);
    await commit(first, init);
    first.close();
    const model = new Model().apply(init);
    const db = open(dir); // cold caches
    const s = db.beginWrite();
    for (const k of keys.slice(0, 50)) s.warmUp(k);
    const m1 = db.metrics();
    assert.equal(m1.values.pagesRead + m1.merkle.pagesRead, 0, "warmUp reads nothing at once");
    // Turns are let go in the order asked for: the warm-up's came first.
    await nextTurn();
    const m2 = db.metrics();
    assert.ok(m2.values.pagesRead > 0, "values read in a later turn");
    const lookups = (m: typeof m1) => m.merkle.cacheHits + m.merkle.cacheMisses;
    assert.ok(lookups(m2) > lookups(m1), "merkle pages looked up in a later turn");
    assert.equal(m2.reads, 0, "a hint is not a read");
    const changes = randomChanges(rng, keys, 50);
    write(s, changes);
    for (const k of keys.slice(0, 50)) assert.equal(h(s.get(k)), h(Model.of(model).apply(changes).get(k)));
    const f = await s.finish();
    assert.equal(toHex(f.root), model.apply(changes).root());
    db.close();
  });

  it("metrics count reads, writes, commits and cache activity, with per-commit phase timings", async () => {
    const dir = newDir();
    const db = open(dir);
    const m0 = db.metrics();
    assert.equal(m0.commits, 0);
    assert.equal(m0.lastCommit, null);
    const s = db.beginWrite();
    for (let i = 0; i < 20; i++) s.set(key(i), val(i));
    s.get(key(3));
    const f = await s.finish();
    await f.commit();
    using snap = db.beginRead();
    for (let i = 0; i < 5; i++) snap.get(key(i));
    let n = 0;
    for await (const _ of snap.entries()) n++;
    const m = db.metrics();
    assert.equal(m.writes, 20);
    assert.equal(m.reads, 6);
    assert.equal(m.entriesIterated, n);
    assert.equal(n, 20);
    assert.equal(m.commits, 1);
    assert.equal(m.sessionsFinished, 1);
    assert.equal(m.openSnapshots, 1);
    // Pages reach the files at checkpoints; the commit itself wrote its redo record.
    assert.ok(m.lastCommit !== null && m.lastCommit.store.logMs >= 0 && m.lastCommit.store.checkpoint === false);
    const c = m.lastCommit;
    assert.ok(c);
    assert.equal(c.kind, "commit");
    assert.equal(c.changes, 20);
    assert.equal(c.seq, 1);
    for (const t of [c.logMs, c.storeMs, c.totalMs, c.store.valuesMs, c.store.merkleWalMs, c.store.metaMs, c.store.applyMs, c.store.updateMs])
      assert.ok(t >= 0);
    assert.ok(c.totalMs >= c.storeMs);
    assert.equal(c.store.updateMs, f.stats.finishMs, "the trie update ran in finish");
    assert.ok(c.store.hashes > 0);
    db.close();
    // Reopened (closing checkpoints), reads go through the value tree's page cache.
    const again = open(dir);
    const snap2 = again.beginRead();
    for (let i = 0; i < 5; i++) assert.equal(h(snap2.get(key(i))), h(val(i)));
    const m2 = again.metrics();
    assert.ok(m2.values.cacheHits + m2.values.cacheMisses > 0);
    snap2.release();
    again.close();
  });
});
