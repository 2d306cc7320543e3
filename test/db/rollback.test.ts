// Rollback and reads at past roots: the rollback log across reopens, its window and compaction,
// reads (get, scans, and the merkle pages a past state rebuilds) at every root in the window.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, DbError, open, type Snapshot } from "../../src/db/index.ts";
import { stateReader } from "../../src/db/state.ts";
import { updateTrie } from "../../src/merkle/update.ts";
import { Store } from "../../src/store/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { assertReads, type Change, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-rollback-");

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof DbError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};

/** Commits random change sets; returns the models after each (models[0]: before the first). */
async function commitMany(db: Db, rng: Rng, keys: Uint8Array[], count: number, start: Model = new Model()): Promise<Model[]> {
  const models = [Model.of(start)];
  for (let i = 0; i < count; i++) {
    const changes = randomChanges(rng, keys, i === 0 && start.map.size === 0 ? 400 : 1 + rng.int(60));
    await (await write(db.beginWrite(), changes).finish()).commit();
    models.push(Model.of(models[models.length - 1]).apply(changes));
    assert.equal(toHex(db.root), models[models.length - 1].root());
  }
  return models;
}

/**
 * Checks the merkle pages of a past state: a one-key update over its pages gives the
 * from-scratch root of its model with that change.
 */
function assertPages(snap: Snapshot, model: Model, change: Change, what: string): void {
  const view = snap.view();
  const result = updateTrie(view.top, [change], view.pages, stateReader(view));
  assert.equal(toHex(result.top.root), Model.of(model).apply([change]).root(), `${what}: pages`);
}

describe(`db: rollback and reads at past roots (seed ${seed})`, () => {
  it("rollback of 5 commits; reopen: the root is the one 5 commits ago, and so are the reads", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 1000);
    const dir = newDir();
    let db = open(dir);
    const models = await commitMany(db, rng, keys, 8);
    assert.equal(db.rollbackDepth, 8);
    const root = await db.rollback(5);
    assert.equal(toHex(root), models[3].root());
    assert.equal(toHex(db.root), models[3].root());
    assert.equal(db.rollbackDepth, 3);
    db.close();
    db = open(dir);
    assert.equal(toHex(db.root), models[3].root());
    assert.equal(db.rollbackDepth, 3);
    assert.deepEqual(
      db.history().map(toHex),
      [3, 2, 1, 0].map((i) => models[i].root()),
    );
    using snap = db.beginRead();
    await assertReads(snap, models[3], keys.slice(0, 100), "after rollback and reopen");
    // Further commits and a rollback across them.
    const more = await commitMany(db, rng, keys, 2, models[3]);
    await db.rollback(4);
    assert.equal(toHex(db.root), models[1].root());
    assert.equal(db.rollbackDepth, 1);
    assert.equal(more.length, 3);
    db.close();
    db = open(dir);
    assert.equal(toHex(db.root), models[1].root());
    await db.rollback(1);
    assert.equal(toHex(db.root), models[0].root());
    assert.equal(db.rollbackDepth, 0);
    await assert.rejects(db.rollback(1), code("BAD_ARGUMENT"));
    db.close();
  });

  it("every root in the window reads (get, scans, pages) what was committed then, before and after reopen", async () => {
    const rng = new Rng(seed ^ 0xabcdef);
    const keys = universe(rng, 1500);
    const dir = newDir();
    const W = 12;
    let db = open(dir, { rollbackWindow: W });
    const models = await commitMany(db, rng, keys, 20);
    const probe = keys.slice(0, 60);
    for (const pass of ["live", "reopened"]) {
      const history = db.history().map(toHex);
      assert.equal(history.length, W + 1);
      assert.deepEqual(
        history,
        models
          .slice(20 - W)
          .reverse()
          .map((m) => m.root()),
        `${pass}: history`,
      );
      for (let back = 0; back <= W; back++) {
        const m = models[20 - back];
        using snap = db.beginReadAt(Buffer.from(m.root().slice(2), "hex"));
        await assertReads(snap, m, probe, `${pass}: ${back} commits ago`);
        assertPages(snap, m, [keys[rng.int(keys.length)], new Uint8Array([back])], `${pass}: ${back} commits ago`);
      }
      // Older roots are outside the window (a commit that deleted only absent keys repeats its parent's root).
      const older = models
        .slice(0, 20 - W)
        .map((m) => m.root())
        .filter((r) => !history.includes(r));
      assert.ok(older.length > 0, `${pass}: some root left the window`);
      for (const r of older) assert.throws(() => db.beginReadAt(Buffer.from(r.slice(2), "hex")), code("ROOT_NOT_FOUND"));
      db.close();
      db = open(dir, { rollbackWindow: W });
    }
    assert.ok(db.metrics().deltaPageBuilds === 0, "a new handle built nothing yet");
    db.close();
  });

  it("snapshots at past roots and of the current state keep their reads across rollbacks and commits", async () => {
    const rng = new Rng(seed ^ 0x55aa);
    const keys = universe(rng, 800);
    const db = open(newDir(), { rollbackWindow: 10 });
    const models = await commitMany(db, rng, keys, 6);
    const past = db.beginReadAt(Buffer.from(models[2].root().slice(2), "hex"));
    const now = db.beginRead();
    await db.rollback(3);
    const after = await commitMany(db, rng, keys, 4, models[3]);
    await db.rollback(2);
    assert.equal(toHex(db.root), after[2].root());
    await assertReads(past, models[2], keys.slice(0, 50), "past snapshot");
    await assertReads(now, models[6], keys.slice(0, 50), "snapshot of the state before the rollbacks");
    assertPages(now, models[6], [keys[0], null], "snapshot before the rollbacks");
    assert.ok(db.metrics().retainedCommits > 0);
    past.release();
    now.release();
    assert.throws(() => now.get(keys[0]), code("RELEASED"));
    db.close();
  });

  it("the window caps the depth; the log snapshots itself and the chain survives reopens", async () => {
    const rng = new Rng(seed ^ 0x777);
    const keys = universe(rng, 600);
    const dir = newDir();
    let db = open(dir, { rollbackWindow: 5 });
    const models = await commitMany(db, rng, keys, 40);
    assert.equal(db.rollbackDepth, 5);
    assert.ok(db.metrics().rollbackLogSnapshots >= 2, "the log was rewritten as it grew");
    db.close();
    db = open(dir, { rollbackWindow: 5 });
    assert.equal(db.rollbackDepth, 5);
    await db.rollback(2);
    assert.equal(toHex(db.root), models[38].root());
    db.close();
    // A smaller window at reopen keeps the newest records only.
    db = open(dir, { rollbackWindow: 2 });
    assert.equal(db.rollbackDepth, 2);
    await db.rollback(2);
    assert.equal(toHex(db.root), models[36].root());
    db.close();
  });

  it("rollbackWindow 0 keeps no log; a store committed without the log starts a new chain", async () => {
    const rng = new Rng(seed ^ 0x999);
    const keys = universe(rng, 300);
    const dir = newDir();
    let db = open(dir, { rollbackWindow: 0 });
    const models = await commitMany(db, rng, keys, 3);
    assert.equal(db.rollbackDepth, 0);
    await assert.rejects(db.rollback(1), code("BAD_ARGUMENT"));
    db.close();
    db = open(dir);
    assert.equal(db.rollbackDepth, 0, "the commits made without a log cannot be undone");
    const more = await commitMany(db, rng, keys, 2, models[3]);
    db.close();
    // The store alone, without the database's log.
    const store = Store.open(dir);
    store.commit([[keys[0], new Uint8Array([1, 2, 3])]]);
    store.close();
    db = open(dir);
    const direct = Model.of(more[2]).apply([[keys[0], new Uint8Array([1, 2, 3])]]);
    assert.equal(toHex(db.root), direct.root());
    assert.equal(db.rollbackDepth, 0, "a log that does not reach the store's seq is replaced");
    await commitMany(db, rng, keys, 1, direct);
    assert.equal(db.rollbackDepth, 1);
    db.close();
  });

  it("sessions based on states a rollback undid cannot commit", async () => {
    const rng = new Rng(seed ^ 0x4242);
    const keys = universe(rng, 300);
    const db = open(newDir());
    await commitMany(db, rng, keys, 3);
    const s = await write(db.beginWrite(), randomChanges(rng, keys, 5)).finish();
    const o = s.toOverlay();
    const child = await write(db.beginWrite({ overlays: [o] }), randomChanges(rng, keys, 5)).finish();
    await o.commit();
    await db.rollback(1);
    await assert.rejects(child.commit(), code("STALE"));
    db.close();
  });
});
