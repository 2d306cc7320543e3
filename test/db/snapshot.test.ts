// Snapshots and concurrency: a snapshot never sees later commits (100 queued commits, async scans
// running across them), reads during a commit in flight, release and `using`, read-only handles.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DbError, type FinishedSession, open, type Overlay, type Snapshot } from "../../src/db/index.ts";
import { toHex, verifyKeyProof } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { assertReads, h, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-snapshot-");

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof DbError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};
const tick = () => new Promise<void>((r) => setImmediate(r));

describe(`db: snapshots and concurrency (seed ${seed})`, () => {
  it("snapshots stay consistent across 100 concurrent commits, with async scans running through them", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 3000);
    const db = open(newDir(), { rollbackWindow: 20 });
    const init = randomChanges(rng, keys, 2000, 0);
    await (await write(db.beginWrite(), init).finish()).commit();
    const models = [new Model().apply(init)];
    // 100 sessions, each on the overlay of the one before: all committable in order.
    const sessions: FinishedSession[] = [];
    const chain: Overlay[] = [];
    for (let i = 0; i < 100; i++) {
      const changes = randomChanges(rng, keys, 1 + rng.int(40));
      const f = await write(db.beginWrite({ overlays: chain.slice(-1) }), changes).finish();
      models.push(Model.of(models[i]).apply(changes));
      assert.equal(toHex(f.root), models[i + 1].root(), `session ${i + 1}`);
      sessions.push(f);
      chain.length = 0;
      chain.push(f.toOverlay());
    }
    const rootIndex = new Map(models.map((m, i) => [m.root(), i]));
    const s0 = db.beginRead();
    // A scan of the first snapshot, consumed slowly while the commits run.
    const scan = (async () => {
      const got: string[] = [];
      for await (const [k, v] of s0.entries()) {
        got.push(`${toHex(k)}=${toHex(v)}`);
        if (got.length % 100 === 0) await tick();
      }
      return got;
    })();
    const pending = sessions.map((f) => f.commit());
    // While they run: snapshots of whatever is current, each of them one of the models.
    const taken: [Snapshot, number][] = [];
    const probe = keys.slice(0, 40);
    let done = false;
    const all = Promise.all(pending).then((roots) => {
      done = true;
      return roots;
    });
    while (!done) {
      const s = db.beginRead();
      const i = rootIndex.get(toHex(s.root));
      assert.ok(i !== undefined, "a snapshot's root is one of the committed states");
      for (const k of probe) assert.equal(h(s.get(k)), h(models[i].get(k)), `snapshot at state ${i}`);
      for (const k of probe.slice(0, 5)) assert.equal(h(s0.get(k)), h(models[0].get(k)), "the first snapshot");
      taken.push([s, i]);
      await tick();
    }
    const roots = await all;
    assert.deepEqual(
      roots.map(toHex),
      models.slice(1).map((m) => m.root()),
    );
    assert.equal(toHex(db.root), models[100].root());
    const want = models[0].sorted().map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
    assert.deepEqual(await scan, want, "the scan begun before the commits");
    assert.ok(taken.length >= 3, `snapshots taken while committing: ${taken.length}`);
    assert.ok(new Set(taken.map(([, i]) => i)).size >= 2, "snapshots at different states");
    // Every snapshot still reads its state in full after all 100 commits.
    await assertReads(s0, models[0], probe, "snapshot 0 after 100 commits");
    for (const [s, i] of taken.filter((_, j) => j % Math.ceil(taken.length / 6) === 0)) await assertReads(s, models[i], probe, `snapshot at state ${i}`);
    for (const [s] of taken) s.release();
    s0.release();
    const m = db.metrics();
    assert.equal(m.openSnapshots, 0);
    assert.equal(m.commits, 101);
    db.close();
  });

  it("reads during a commit in flight see the state before it", async () => {
    const db = open(newDir());
    const k = new Uint8Array(31).fill(3);
    (await write(db.beginWrite(), [[k, new Uint8Array([1])]]).finish()).commitSync();
    const before = toHex(db.root);
    const f = await write(db.beginWrite(), [[k, new Uint8Array([2])]]).finish();
    const p = f.commit();
    // The commit is queued and syncing its log event: everything reads the state before it.
    assert.equal(toHex(db.root), before);
    const during = db.beginRead();
    assert.equal(h(during.get(k)), "0x01");
    const s = db.beginWrite();
    assert.equal(h(s.get(k)), "0x01");
    await p;
    assert.equal(toHex(db.root), toHex(f.root));
    assert.equal(h(during.get(k)), "0x01", "a snapshot taken in flight keeps the state before");
    assert.equal(h(db.beginRead().get(k)), "0x02");
    await assert.rejects((await s.finish()).commit(), code("SIBLING_COMMITTED"));
    db.close();
  });

  it("release, using and await using let the database drop kept states; a released snapshot refuses reads", async () => {
    const db = open(newDir(), { rollbackWindow: 2 });
    const k = new Uint8Array(31).fill(1);
    const commit = (v: number) =>
      write(db.beginWrite(), [[k, new Uint8Array([v])]])
        .finishSync()
        .commitSync();
    commit(1);
    {
      using a = db.beginRead();
      for (let v = 2; v <= 6; v++) commit(v);
      assert.equal(h(a.get(k)), "0x01", "a snapshot reads its state beyond the window");
      assert.equal(db.metrics().retainedCommits, 5);
      assert.equal(db.metrics().openSnapshots, 1);
    }
    assert.equal(db.metrics().retainedCommits, 2, "released: only the window is kept");
    let escaped: Snapshot | undefined;
    {
      await using b = db.beginRead();
      escaped = b;
      commit(7);
      assert.equal(h(b.get(k)), "0x06");
    }
    assert.equal(escaped.released, true);
    assert.throws(() => escaped.get(k), code("RELEASED"));
    assert.throws(() => [...escaped.entriesSync()], code("RELEASED"));
    escaped.release(); // idempotent
    assert.equal(db.metrics().openSnapshots, 0);
    // A committed session reads its state while it is in the window, then EXPIRED.
    const f = await write(db.beginWrite(), [[k, new Uint8Array([8])]]).finish();
    f.commitSync();
    commit(9);
    commit(10);
    assert.equal(h(f.get(k)), "0x08");
    commit(11);
    assert.throws(() => f.get(k), code("EXPIRED"));
    // An uncommitted session keeps its base until released.
    const g = await write(db.beginWrite(), [[k, new Uint8Array([12])]]).finish();
    for (let v = 13; v <= 16; v++) commit(v);
    assert.equal(h(g.get(k)), "0x0c");
    assert.equal(db.metrics().retainedCommits, 4);
    g.release();
    assert.equal(db.metrics().retainedCommits, 2);
    db.close();
  });

  it("snapshots and sessions dropped without release are released when garbage collected", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const db = open(newDir(), { rollbackWindow: 1 });
    const k = new Uint8Array(31).fill(2);
    const commit = (v: number) =>
      write(db.beginWrite(), [[k, new Uint8Array([v])]])
        .finishSync()
        .commitSync();
    commit(0);
    (() => {
      db.beginRead();
      write(db.beginWrite(), [[k, new Uint8Array([1])]]).finishSync();
      db.beginWrite().get(k);
    })();
    for (let v = 1; v <= 5; v++) commit(v);
    assert.equal(db.metrics().openSnapshots, 1);
    assert.ok(db.metrics().retainedCommits >= 5);
    for (let i = 0; i < 20 && db.metrics().retainedCommits > 1; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(db.metrics().openSnapshots, 0);
    assert.equal(db.metrics().pinnedVersions, 0);
    assert.equal(db.metrics().retainedCommits, 1, "only the window is kept");
    db.close();
  });

  it("a read-only handle takes no lock, reads its state while the writer commits and checkpoints once, and turns STALE at the writer's second checkpoint", async () => {
    const dir = newDir();
    const writer = open(dir);
    const k = new Uint8Array(31).fill(9);
    (await write(writer.beginWrite(), [[k, new Uint8Array([1])]]).finish()).commitSync();
    const ro = open(dir, { readOnly: true });
    assert.equal(ro.readOnly, true);
    assert.equal(toHex(ro.root), toHex(writer.root));
    const snap = ro.beginRead();
    assert.equal(h(snap.get(k)), "0x01");
    assert.deepEqual([...snap.entriesSync()].length, 1);
    assert.throws(() => ro.beginWrite(), code("READ_ONLY"));
    await assert.rejects(ro.rollback(0), code("READ_ONLY"));
    // Commits, and the writer's next checkpoint (every 32 commits), leave the handle's state
    // intact: the checkpoint's in-place apply waits for the handle (the reader table).
    const other = new Uint8Array(31).fill(8);
    for (let v = 2; v <= 40; v++)
      (
        await write(writer.beginWrite(), [
          [k, new Uint8Array([v])],
          [other, new Uint8Array(40).fill(v)],
        ]).finish()
      ).commitSync();
    assert.equal(h(snap.get(k)), "0x01");
    assert.equal(snap.get(other), undefined);
    assert.ok(verifyKeyProof(snap.prove(k), snap.root));
    assert.equal([...snap.entriesSync()].length, 1);
    // Past the bound: the writer's second checkpoint applies the first whatever the handle holds.
    for (let v = 41; v <= 80; v++) (await write(writer.beginWrite(), [[k, new Uint8Array([v])]]).finish()).commitSync();
    assert.throws(() => snap.get(k), code("STALE"));
    ro.close();
    const again = open(dir, { readOnly: true });
    assert.equal(h(again.beginRead().get(k)), "0x50");
    assert.ok(verifyKeyProof(again.beginRead().prove(other), writer.root));
    again.close();
    writer.close();
  });
});
