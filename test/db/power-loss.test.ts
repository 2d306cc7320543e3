// Simulated power loss: a scenario (create, commits sync and async, rollbacks, a commit that
// checkpoints in the background with commits acknowledged while it runs, commits that rewrite
// the rollback log, close and reopen, which checkpoint too)
// runs on a file system that keeps only what was synced, file by file and directory by
// directory (test/db/power-fs.ts). Power is lost at every sync point in turn; the disk a restart
// finds (unsynced writes kept, dropped or torn, unsynced directory changes undone: a seeded
// choice) is reopened. It must hold the state after the last acknowledged step or after the one
// in flight: root, every value and the rollback history, and work on (a rollback over the
// recovered log lands on the recorded root).
// BMT_LONG=1: several disk images per sync point, and a second, longer scenario.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, open } from "../../src/db/index.ts";
import { setCheckpointHold } from "../../src/store/checkpoint.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { type Change, Model, randomChanges, sameState, universe, write } from "./helpers.ts";
import { PowerFs } from "./power-fs.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
const DIR = "/db";
const W = 4;
const OPTIONS = { lock: false, rollbackWindow: W, merkleInitialBuckets: 16 };
const IMAGES = LONG ? 4 : 1;
// Ops 31..37 are async commits: the 32nd commit begins a checkpoint in the background, held
// before its meta record until op 37 is acknowledged, so that six commits are logged beside it
// whatever the machine's speed.
const BEHIND_FROM = 31;
const BEHIND_TO = 37;

type Op = { kind: "commit"; changes: Change[]; sync: boolean } | { kind: "rollback"; n: number } | { kind: "reopen" };

interface Plan {
  ops: Op[];
  /** Per step (0: after the first open), the chain a rollback returns along and its depth. */
  stacks: Model[][];
  depths: number[];
}

function scenario(rng: Rng, length: number): Plan {
  const keys = universe(rng, 150);
  const ops: Op[] = [];
  let stack = [new Model()];
  let depth = 0;
  const stacks = [stack];
  const depths = [0];
  let sinceOpen = 0;
  for (let i = 0; i < length; i++) {
    // Reopen now and then (close checkpoints). The first stretch is 40 commits with no rollback,
    // so the 32nd commit checkpoints whatever the seed; the log rewrites itself every 16 events.
    if (i > 0 && i % 40 === 0) {
      ops.push({ kind: "reopen" });
      sinceOpen = 0;
    } else if (i > 40 && depth > 1 && sinceOpen > 3 && rng.int(7) === 0) {
      const n = 1 + rng.int(depth);
      ops.push({ kind: "rollback", n });
      stack = stack.slice(0, stack.length - n);
      depth -= n;
      sinceOpen++;
    } else {
      const changes = randomChanges(rng, keys, i === 0 ? 100 : 1 + rng.int(15));
      const sync = rng.int(2) === 0;
      ops.push({ kind: "commit", changes, sync: sync && (i < BEHIND_FROM || i > BEHIND_TO) });
      stack = [...stack, Model.of(stack[stack.length - 1]).apply(changes)];
      depth = Math.min(depth + 1, W);
      sinceOpen++;
    }
    stacks.push(stack);
    depths.push(depth);
  }
  ops.push({ kind: "reopen" });
  stacks.push(stack);
  depths.push(depth);
  return { ops, stacks, depths };
}

/** Runs the plan until it ends or the power goes; returns the last step acknowledged (-1: none). */
async function run(fs: PowerFs, plan: Plan): Promise<{ done: number; checkpointed: boolean; rewrites: number; during: number }> {
  let done = -1;
  let db: Db | undefined;
  let checkpointed = false;
  let rewrites = 0;
  let during = 0;
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  setCheckpointHold(() => gate);
  try {
    db = open(DIR, { ...OPTIONS, fs });
    done = 0;
    for (const op of plan.ops) {
      if (op.kind === "reopen") {
        rewrites += db.metrics().rollbackLogSnapshots;
        const closing = db;
        db = undefined;
        closing.close();
        db = open(DIR, { ...OPTIONS, fs });
      } else if (op.kind === "rollback") await db.rollback(op.n);
      else {
        const f = await write(db.beginWrite(), op.changes).finish();
        if (op.sync) f.commitSync();
        else await f.commit();
        if (db.metrics().checkpoints > 0) checkpointed = true;
        if (db.metrics().lastCommit?.store.duringCheckpoint) during++;
      }
      done++;
      if (done === BEHIND_TO + 1) {
        setCheckpointHold(null);
        release();
      }
    }
  } catch (e) {
    if (!fs.lost) throw e;
  } finally {
    setCheckpointHold(null);
    release();
    try {
      if (!fs.lost) db?.close();
    } catch (e) {
      if (!fs.lost) throw e;
    }
  }
  return { done, checkpointed, rewrites, during };
}

async function powerLossAtEverySyncPoint(name: string, plan: Plan, t: { diagnostic(m: string): void }): Promise<void> {
  const clean = new PowerFs();
  const full = await run(clean, plan);
  assert.equal(full.done, plan.ops.length, "the scenario runs through without a power loss");
  assert.ok(full.checkpointed, "a commit checkpointed");
  // Six while it was held; async commits right after it may be held back too, while the store
  // applies the six one per turn.
  assert.ok(full.during >= BEHIND_TO - BEHIND_FROM, `${full.during} commits were logged while the checkpoint ran`);
  assert.ok(full.rewrites > 0, "the rollback log rewrote itself");
  const points = clean.syncPoints;
  const outcomes = { acknowledged: 0, inFlight: 0, empty: 0, images: 0 };
  for (let k = 1; k <= points; k++) {
    const fs = new PowerFs();
    fs.crashAt = k;
    const { done } = await run(fs, plan);
    assert.ok(fs.lost, `power loss at sync point ${k} was reached`);
    for (let i = 0; i < IMAGES; i++) {
      const rng = new Rng(seed ^ (k * 31 + i));
      const disk = fs.image(rng);
      const what = `${name}: power lost at sync point ${k} of ${points} (after step ${done}, image ${i}, seed ${seed})`;
      const db = open(DIR, { ...OPTIONS, fs: disk });
      try {
        const at = Math.max(done, 0);
        const candidates = done + 1 <= plan.ops.length ? [at, done + 1] : [at];
        const found = candidates.map((c) => sameState(db, plan.stacks[c], plan.depths[c]));
        const match = found.indexOf(null);
        assert.ok(match >= 0, `${what}: ${candidates.map((c, j) => `step ${c}: ${found[j]}`).join("; ")}; files ${disk.names().join(" ")}`);
        if (done === -1) outcomes.empty++;
        else if (candidates[match] === done) outcomes.acknowledged++;
        else outcomes.inFlight++;
        outcomes.images++;
        // The recovered log works: roll back as far as it goes.
        const stack = plan.stacks[candidates[match]];
        const depth = db.rollbackDepth;
        if (depth > 0) {
          await db.rollback(depth);
          assert.equal(toHex(db.root), stack[stack.length - 1 - depth].root(), `${what}: rollback of ${depth}`);
        }
      } finally {
        db.close();
      }
    }
  }
  t.diagnostic(
    `${name}: ${points} power-loss points, ${outcomes.images} disk images: ${outcomes.acknowledged} at the last acknowledged step, ${outcomes.inFlight} with the step in flight durable, ${outcomes.empty} before the database existed`,
  );
  assert.ok(outcomes.acknowledged > 0 && outcomes.inFlight > 0);
}

describe(`db: power loss at every sync point (seed ${seed}${LONG ? ", long" : ""})`, () => {
  it("reopens at the last acknowledged step or the one in flight, values and rollback history exact", async (t) => {
    await powerLossAtEverySyncPoint("scenario", scenario(new Rng(seed), 60), t);
  });
  if (LONG) {
    it("a longer scenario (BMT_LONG)", async (t) => {
      await powerLossAtEverySyncPoint("long scenario", scenario(new Rng(seed + 1), 130), t);
    });
  }
});
