// Crash safety of commits and rollbacks with the rollback log: a fixed scenario (commits, sync
// and async, rollbacks, two close-and-reopen steps where the store checkpoints its pages; enough
// events that the log rewrites itself) runs on an in-memory file
// system that crashes at its k-th mutating call, for every k, sometimes tearing the write in
// flight; the disk a power loss could leave is reopened. The database must be at the state
// after the last acknowledged operation or after the one in flight, with exactly that state's
// values and rollback history, and keep working: rollbacks over the recovered log land on the
// recorded roots.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, open } from "../../src/db/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng as KvRng } from "../kv/helpers.ts";
import { CrashFs } from "../merkle/page-store-helpers.ts";
import { Rng, testSeed } from "../support/random.ts";
import { type Change, Model, randomChanges, universe, write } from "./helpers.ts";

const seed = testSeed();
const DIR = "/db";
const W = 4;
// A small page table (it grows during the scenario, so crashes land in table rebuilds too).
const OPTIONS = { lock: false, rollbackWindow: W, merkleInitialBuckets: 16 };

type Op = { kind: "commit"; changes: Change[]; sync: boolean } | { kind: "rollback"; n: number } | { kind: "reopen" };

/** The scenario and the expected state after each step (index 0: after the first open). */
function scenario(): { ops: Op[]; models: Model[]; depths: number[]; stacks: Model[][] } {
  const rng = new Rng(seed);
  const keys = universe(rng, 200);
  const ops: Op[] = [];
  let stack = [new Model()]; // the chain of states a rollback can return to (newest last)
  const models = [new Model()];
  const depths = [0];
  const stacks = [stack.slice()];
  // Records the log holds: at most W, fewer after a rollback.
  let depth = 0;
  for (let i = 0; i < 28; i++) {
    if (i === 9 || i === 19) {
      // Close (the store checkpoints its pages) and open again (replaying what it must).
      ops.push({ kind: "reopen" });
    } else if (depth > 0 && i > 3 && rng.int(5) === 0) {
      const n = 1 + rng.int(depth);
      ops.push({ kind: "rollback", n });
      stack = stack.slice(0, stack.length - n);
      depth -= n;
    } else {
      const changes = randomChanges(rng, keys, i === 0 ? 150 : 1 + rng.int(25));
      ops.push({ kind: "commit", changes, sync: rng.int(2) === 0 });
      stack = [...stack, Model.of(stack[stack.length - 1]).apply(changes)];
      depth = Math.min(depth + 1, W);
    }
    models.push(stack[stack.length - 1]);
    depths.push(depth);
    stacks.push(stack.slice());
  }
  return { ops, models, depths, stacks };
}

async function runOp(db: Db, op: Op, fs: CrashFs): Promise<Db> {
  if (op.kind === "reopen") {
    logSnapshots += db.metrics().rollbackLogSnapshots;
    db.close();
    return open(DIR, { ...OPTIONS, fs });
  }
  if (op.kind === "rollback") await db.rollback(op.n);
  else {
    const f = await write(db.beginWrite(), op.changes).finish();
    if (op.sync) f.commitSync();
    else await f.commit();
  }
  return db;
}

/** Log snapshots the last run wrote (at creation and as the log grew), over all its handles. */
let logSnapshots = 0;

/** Runs the scenario on `fs`; returns the index of the last step acknowledged (-1: none). */
async function run(fs: CrashFs, ops: Op[]): Promise<number> {
  let done = -1;
  logSnapshots = 0;
  let db: Db | undefined;
  try {
    db = open(DIR, { ...OPTIONS, fs });
    done = 0;
    for (const op of ops) {
      db = await runOp(db, op, fs);
      done++;
    }
    logSnapshots += db.metrics().rollbackLogSnapshots;
  } catch (e) {
    if (!fs.crashed) throw e;
  } finally {
    try {
      if (!fs.crashed) db?.close();
    } catch (e) {
      // The crash may come in the last close's checkpoint, which close now reports.
      if (!fs.crashed) throw e;
    }
  }
  return done;
}

function sameState(db: Db, model: Model, depth: number, stack: Model[]): string | null {
  if (toHex(db.root) !== model.root()) return "root";
  if (db.rollbackDepth !== depth) return `depth ${db.rollbackDepth} != ${depth}`;
  const history = db.history().map(toHex);
  const want = stack
    .slice(stack.length - 1 - depth)
    .reverse()
    .map((m) => m.root());
  if (history.join() !== want.join()) return "history";
  return null;
}

describe(`db: crash safety of commits, rollbacks and the rollback log (seed ${seed})`, () => {
  it("a crash at every write and sync (some torn) reopens at the last acknowledged step or the one in flight", async (t) => {
    const { ops, models, depths, stacks } = scenario();
    const clean = new CrashFs();
    assert.equal(await run(clean, ops), ops.length);
    const total = clean.ops;
    const check = open(DIR, { ...OPTIONS, fs: clean.recover(new KvRng(1)) });
    assert.equal(sameState(check, models[ops.length], depths[ops.length], stacks[ops.length]), null, "clean run");
    assert.ok(logSnapshots >= 2, "the log was written at creation and rewrote itself as it grew");
    check.close();
    const outcomes = { acknowledged: 0, inFlight: 0, empty: 0 };
    for (let k = 1; k <= total; k++) {
      const fs = new CrashFs();
      fs.crashAt = k;
      fs.tear = k % 2 === 1;
      const done = await run(fs, ops);
      assert.ok(fs.crashed, `crash point ${k} was reached`);
      const disk = fs.recover(new KvRng(seed ^ k));
      const db = open(DIR, { ...OPTIONS, fs: disk });
      try {
        const at = Math.max(done, 0);
        const candidates = done + 1 <= ops.length ? [at, done + 1] : [at];
        const match = candidates.find((i) => sameState(db, models[i], depths[i], stacks[i]) === null);
        assert.ok(
          match !== undefined,
          `crash at call ${k} of ${total} (after step ${done}): ${candidates.map((i) => `step ${i}: ${sameState(db, models[i], depths[i], stacks[i])}`).join("; ")}`,
        );
        if (done === -1) outcomes.empty++;
        else if (match === done) outcomes.acknowledged++;
        else outcomes.inFlight++;
        // The values are those of that state.
        const want = models[match].sorted().map(([key, v]) => `${toHex(key)}=${toHex(v)}`);
        const snap = db.beginRead();
        assert.deepEqual(
          [...snap.entriesSync()].map(([key, v]) => `${toHex(key)}=${toHex(v)}`),
          want,
          `values after crash ${k}`,
        );
        snap.release();
        // The recovered log works: roll back as far as it goes, landing on the recorded root.
        const depth = db.rollbackDepth;
        if (depth > 0) {
          await db.rollback(depth);
          const stack = stacks[match];
          assert.equal(toHex(db.root), stack[stack.length - 1 - depth].root(), `rollback of ${depth} after crash ${k}`);
        }
        (await write(db.beginWrite(), [[new Uint8Array(31).fill(k & 0xff), new Uint8Array([1])]]).finish()).commitSync();
      } finally {
        db.close();
      }
    }
    t.diagnostic(
      `${total} crash points; ${outcomes.acknowledged} at the last acknowledged step, ${outcomes.inFlight} with the step in flight durable, ${outcomes.empty} before the database existed`,
    );
    assert.ok(outcomes.acknowledged > 0 && outcomes.inFlight > 0);
  });
});
