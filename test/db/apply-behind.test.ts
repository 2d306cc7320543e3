// A database commit resolves once its redo record is durable; the store applies it to memory
// after, in slices of a few changes with turns of the event loop between them
// (src/store/commits-ahead.ts), and reads go through the commit's forward delta until it is
// whole in memory. The turns are taken by hand here (`setTurnHook`) with one chunk per slice,
// so every read below runs between two chunks of the apply whatever the machine's speed: the
// current version, a snapshot from before the commit, scans, a session finished over the
// half-applied store, and a reopen all see exactly the acknowledged states. The checkpoint the
// commit makes due begins once the commit is whole in memory.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Db, open } from "../../src/db/index.ts";
import { setTurnHook } from "../../src/io/index.ts";
import { setCheckpointSliceMs } from "../../src/store/checkpoint.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { FaultFs } from "./fault-fs.ts";
import { type Change, h, Model, randomChanges, universe, write } from "./helpers.ts";

const seed = testSeed();
const DIR = "/db";
const OPTIONS = { lock: false, rollbackWindow: 4, merkleInitialBuckets: 16 };

function sorted(model: Model): string {
  return model
    .sorted()
    .map(([k, v]) => `${toHex(k)}=${toHex(v)}`)
    .join();
}

function assertState(db: Db, model: Model, keys: Uint8Array[], what: string): void {
  assert.equal(toHex(db.root), model.root(), `${what}: root`);
  using snap = db.beginRead();
  for (const k of keys) assert.equal(h(snap.get(k)), h(model.get(k)), `${what}: value`);
  assert.equal([...snap.entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`).join(), sorted(model), `${what}: scan`);
}

/** A database on a fresh in-memory file system with `commits` blocking commits (the first of `first` changes). */
function filled(rng: Rng, keys: Uint8Array[], commits: number, first: number, size: () => number): { fs: FaultFs; db: Db; model: Model } {
  const fs = new FaultFs();
  const db = open(DIR, { ...OPTIONS, fs });
  let model = new Model();
  for (let i = 0; i < commits; i++) {
    const changes = randomChanges(rng, keys, i === 0 ? first : size());
    write(db.beginWrite(), changes).finishSync().commitSync();
    model = Model.of(model).apply(changes);
  }
  return { fs, db, model };
}

/** Lets every held turn go, one at a time, each slice run in the microtasks after its turn. */
async function releaseAll(held: (() => void)[]): Promise<void> {
  while (held.length > 0) {
    (held.shift() as () => void)();
    for (let j = 0; j < 20; j++) await Promise.resolve();
  }
}

describe(`db: commits applied to memory behind their acknowledgement (seed ${seed})`, () => {
  let sliceMs = 0;
  before(() => {
    sliceMs = setCheckpointSliceMs(0);
  });
  after(() => {
    setCheckpointSliceMs(sliceMs);
    setTurnHook(null);
  });

  it("reads between every two chunks of the apply see the acknowledged states; the due checkpoint follows", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 900);
    // 31 commits at once (the default checkpoint interval is 32): the next one makes it due.
    const { fs, db, model: before } = filled(rng, keys, 31, 500, () => 1 + rng.int(10));
    const old = db.beginRead();
    // Inserts, updates and deletes: several chunks of 128 changes.
    const changes: Change[] = randomChanges(rng, keys, 700);
    const f = write(db.beginWrite(), changes).finishSync();
    const held: (() => void)[] = [];
    setTurnHook((resume) => held.push(resume));
    await f.commit();
    const after = Model.of(before).apply(changes);
    const checkpointsBefore = db.metrics().checkpoints;
    let turns = 0;
    let checks = 0;
    while (held.length > 0 && turns < 10_000) {
      turns++;
      // Every check runs while the apply is part way (until its last chunk).
      assertState(db, after, keys, `turn ${turns}`);
      for (const k of keys.slice(0, 60)) assert.equal(h(old.get(k)), h(before.get(k)), `turn ${turns}: the snapshot from before`);
      if (turns % 3 === 1) {
        // A session over the current version, finished at once.
        const more = randomChanges(rng, keys, 20);
        const s = write(db.beginWrite(), more).finishSync();
        assert.equal(toHex(s.root), Model.of(after).apply(more).root(), `turn ${turns}: a session's root`);
        s.release();
      }
      checks++;
      (held.shift() as () => void)();
      // The slice runs in the microtasks after its turn.
      for (let i = 0; i < 20; i++) await Promise.resolve();
    }
    setTurnHook(null);
    // 700 changes in chunks of 128 take 6 slices; the checkpoint's own slices follow.
    assert.ok(checks >= 6, `${checks} turns`);
    assertState(db, after, keys, "applied");
    await db.flush();
    for (let i = 0; i < 50 && db.metrics().checkpoints === checkpointsBefore; i++) await new Promise((r) => setImmediate(r));
    assert.equal(db.metrics().checkpoints, checkpointsBefore + 1, "the checkpoint the commit made due ran once it was applied");
    old.release();
    db.close();
    const again = open(DIR, { ...OPTIONS, fs });
    assertState(again, after, keys, "reopened");
    again.close();
  });

  it("a checkpoint made due is not begun while the next commit's record is being synced", async () => {
    // The 32nd commit makes a checkpoint due; its apply ends while the 33rd commit's redo sync
    // is held open. A checkpoint switches the redo log's file: begun then, the 33rd record
    // stays in the file left while the 34th starts the other, and a reopen from the files
    // after two more commits finds the log damaged (CORRUPT, "record 34 ... missing").
    const rng = new Rng(seed + 2);
    const keys = universe(rng, 600);
    const { fs, db, model } = filled(rng, keys, 31, 300, () => 1 + rng.int(10));
    const a = randomChanges(rng, keys, 400);
    const fa = write(db.beginWrite(), a).finishSync();
    const b = randomChanges(rng, keys, 40);
    const fb = write(db.beginWrite({ overlays: [fa.toOverlay()] }), b).finishSync();
    const afterA = Model.of(model).apply(a);
    let afterB = Model.of(afterA).apply(b);
    const held: (() => void)[] = [];
    const redo = /\/redo\.[01]$/;
    const gateA = fs.gate(redo);
    setTurnHook((resume) => held.push(resume));
    const pa = fa.commit();
    const pb = fb.commit();
    await gateA.reached;
    const gateB = fs.gate(redo);
    gateA.open();
    await pa;
    await gateB.reached;
    // The 32nd commit's apply, to its end, while the 33rd's record is in flight.
    await releaseAll(held);
    assertState(db, afterA, keys, "the 32nd applied, the 33rd syncing");
    gateB.open();
    await pb;
    // Two more commits, then everything the turns held.
    for (let i = 0; i < 2; i++) {
      const c = randomChanges(rng, keys, 30);
      const fc = write(db.beginWrite(), c).finishSync();
      const pc = fc.commit();
      await releaseAll(held);
      await pc;
      afterB = Model.of(afterB).apply(c);
    }
    await releaseAll(held);
    setTurnHook(null);
    await db.flush();
    for (let i = 0; i < 50 && db.metrics().checkpoints === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(db.metrics().checkpoints, 1, "the due checkpoint ran after the 33rd commit");
    assertState(db, afterB, keys, "after both");
    // The files as a process killed now leaves them (`close` would checkpoint again).
    const image = fs.clone();
    db.close();
    const again = open(DIR, { ...OPTIONS, fs: image });
    assertState(again, afterB, keys, "reopened");
    again.close();
  });

  it("a process that dies between two chunks reopens at the acknowledged commit", async () => {
    const rng = new Rng(seed + 1);
    const keys = universe(rng, 600);
    const { fs, db, model } = filled(rng, keys, 3, 300, () => 300);
    const changes = randomChanges(rng, keys, 500);
    const f = write(db.beginWrite(), changes).finishSync();
    const held: (() => void)[] = [];
    setTurnHook((resume) => held.push(resume));
    await f.commit();
    const after = Model.of(model).apply(changes);
    // Two chunks in: the files as they are now are what a killed process leaves.
    for (let i = 0; i < 2 && held.length > 0; i++) {
      (held.shift() as () => void)();
      for (let j = 0; j < 20; j++) await Promise.resolve();
    }
    const image = fs.clone();
    await releaseAll(held);
    setTurnHook(null);
    db.close();
    const again = open(DIR, { ...OPTIONS, fs: image });
    assertState(again, after, keys, "reopened from the image");
    again.close();
  });
});
