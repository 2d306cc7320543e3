// Commits while a checkpoint is in flight: the database's async commits no longer wait for the
// checkpoint the commit before them began. Each is durable in the redo log's other file at once
// and applied to the store's memory when the checkpoint is published; meanwhile the database
// reads it as a forward delta over the store (src/db/ahead.ts). Checked here on the in-memory
// file system whose syncs complete on a later turn, with one checkpoint step per slice, so the
// interleaving is the same whatever the machine's speed: reads, snapshots, sessions and a
// rollback during the checkpoint see the acknowledged state; a snapshot taken during it reads
// the same after it; and a process that dies at any turn of it (its files as they are then)
// reopens at the last acknowledged commit or the one in flight. (Power loss with commits during
// a checkpoint: test/db/power-loss.test.ts; faults: test/db/faults.test.ts; SIGKILL:
// test/store/crash.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Db, open } from "../../src/db/index.ts";
import { setCheckpointHold, setCheckpointSliceMs } from "../../src/store/checkpoint.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { FaultFs } from "./fault-fs.ts";
import { type Change, Model, randomChanges, universe, write } from "./helpers.ts";

const seed = testSeed();
const DIR = "/db";
const W = 4;
const OPTIONS = { lock: false, rollbackWindow: W, merkleInitialBuckets: 16 };
/** Commits before the one that begins the first checkpoint (the default interval is 32). */
const PREFIX = 31;
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Holds background checkpoints before their meta record until `release()`. */
function holdCheckpoints(): { release(): void; held(): boolean } {
  let open = () => {};
  let held = false;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  setCheckpointHold(() => {
    held = true;
    return gate;
  });
  return {
    release: () => {
      held = false;
      setCheckpointHold(null);
      open();
    },
    held: () => held,
  };
}

/** A database on a fresh in-memory file system with PREFIX commits; the chain of states. */
function prefixed(rng: Rng, keys: Uint8Array[]): { fs: FaultFs; chain: Model[] } {
  const fs = new FaultFs();
  const db = open(DIR, { ...OPTIONS, fs });
  const chain = [new Model()];
  for (let i = 0; i < PREFIX; i++) {
    const changes = randomChanges(rng, keys, i === 0 ? 120 : 1 + rng.int(12));
    write(db.beginWrite(), changes).finishSync().commitSync();
    chain.push(Model.of(chain[chain.length - 1]).apply(changes));
  }
  // Left open, as by a process that goes on: the image is what is on disk now.
  const image = fs.clone();
  db.close();
  return { fs: image, chain };
}

async function commit(db: Db, changes: Change[]): Promise<void> {
  await (await write(db.beginWrite(), changes).finish()).commit();
}

describe(`db: commits while a checkpoint is in flight (seed ${seed})`, () => {
  let sliceMs = 0;
  before(() => {
    sliceMs = setCheckpointSliceMs(0);
  });
  after(() => {
    setCheckpointSliceMs(sliceMs);
    setCheckpointHold(null);
  });

  it("are acknowledged at once, read as the current version during the checkpoint, and the same after it", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 150);
    const { fs, chain } = prefixed(rng, keys);
    const db = open(DIR, { ...OPTIONS, fs });
    const hold = holdCheckpoints();
    let during = 0;
    const snapshots: { snap: ReturnType<Db["beginRead"]>; model: Model }[] = [];
    const steps = 14;
    for (let i = 0; i < steps; i++) {
      const last = chain[chain.length - 1];
      if (i === 6) {
        // A rollback during the checkpoint: over the current version, held-back commits included.
        await db.rollback(2);
        chain.splice(chain.length - 2, 2);
      } else {
        const changes = randomChanges(rng, keys, 1 + rng.int(20));
        await commit(db, changes);
        chain.push(Model.of(last).apply(changes));
      }
      const m = db.metrics().lastCommit;
      if (m?.store.duringCheckpoint) during++;
      const model = chain[chain.length - 1];
      assert.equal(toHex(db.root), model.root(), `step ${i}: root`);
      const snap = db.beginRead();
      assert.equal(toHex(snap.root), model.root(), `step ${i}: snapshot root`);
      for (const k of keys) assert.equal(toHex(snap.get(k) ?? new Uint8Array()), toHex(model.get(k) ?? new Uint8Array()), `step ${i}: value`);
      snapshots.push({ snap, model });
    }
    assert.ok(hold.held(), "the 32nd commit began a checkpoint, still in flight");
    assert.equal(during, steps - 1, "every commit and rollback after it was logged while it ran");
    hold.release();
    // Published on the next turn; then the store applies what it held back, one commit a turn.
    for (let j = 0; j < steps + 2; j++) await turn();
    // The next commit goes to the store's memory.
    const changes = randomChanges(rng, keys, 5);
    await commit(db, changes);
    chain.push(Model.of(chain[chain.length - 1]).apply(changes));
    assert.equal(db.metrics().lastCommit?.store.duringCheckpoint, false);
    assert.equal(toHex(db.root), chain[chain.length - 1].root());
    // Every snapshot taken during it reads what it read then.
    for (const [j, { snap, model }] of snapshots.entries()) {
      assert.equal(toHex(snap.root), model.root());
      const got = [...snap.entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`).join();
      const want = model
        .sorted()
        .map(([k, v]) => `${toHex(k)}=${toHex(v)}`)
        .join();
      assert.equal(got, want, `snapshot ${j} after the checkpoint`);
      snap.release();
    }
    db.close();
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(toHex(again.root), chain[chain.length - 1].root(), "reopened");
    again.close();
  });

  it("a process that dies at any turn, the checkpoint in flight or not, reopens at the last acknowledged commit or the one in flight", async (t) => {
    const rng = new Rng(seed + 1);
    const keys = universe(rng, 150);
    const { fs: image, chain: prefix } = prefixed(rng, keys);
    const batches = Array.from({ length: 10 }, () => randomChanges(rng, keys, 1 + rng.int(20)));
    const models = [prefix[prefix.length - 1]];
    for (const b of batches) models.push(Model.of(models[models.length - 1]).apply(b));
    const outcomes = { acknowledged: 0, inFlight: 0, during: 0 };
    let turns = 0;
    for (let k = 0; ; k++) {
      const fs = image.clone();
      const db = open(DIR, { ...OPTIONS, fs });
      // The checkpoint the first commit begins is let go after the fifth commit beside it.
      const hold = holdCheckpoints();
      let acked = 0;
      let stop = false;
      const writer = (async () => {
        for (const b of batches) {
          if (stop) return;
          await commit(db, b);
          acked++;
          if (db.metrics().lastCommit?.store.duringCheckpoint) outcomes.during++;
          if (acked === 6) hold.release();
        }
      })();
      for (let j = 0; j < k; j++) await turn();
      // The files as they are at this turn: what a killed process leaves.
      const dead = fs.clone();
      const ackedThen = acked;
      stop = true;
      await writer;
      hold.release();
      const finished = acked === batches.length && ackedThen === acked;
      db.close();
      const again = open(DIR, { ...OPTIONS, fs: dead });
      try {
        // By seq: two batches may give the same root.
        const at = again.seq - PREFIX;
        assert.ok(at === ackedThen || at === ackedThen + 1, `killed at turn ${k}: reopened at commit ${at} of ${batches.length}, ${ackedThen} acknowledged`);
        assert.equal(toHex(again.root), models[at].root(), `killed at turn ${k}: root`);
        const snap = again.beginRead();
        for (const key of keys) assert.equal(toHex(snap.get(key) ?? new Uint8Array()), toHex(models[at].get(key) ?? new Uint8Array()), `turn ${k}: value`);
        snap.release();
        if (at === ackedThen) outcomes.acknowledged++;
        else outcomes.inFlight++;
        // It works on: one more commit.
        (await write(again.beginWrite(), [[new Uint8Array(31).fill(9), Uint8Array.of(k & 255)]]).finish()).commitSync();
      } finally {
        again.close();
      }
      turns = k;
      if (finished) break;
    }
    t.diagnostic(`killed at each of ${turns + 1} turns: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.during > 0 && outcomes.inFlight > 0 && outcomes.acknowledged > 0, JSON.stringify(outcomes));
  });
});
