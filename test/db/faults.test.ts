// Fault injection, SQLite style: for each piece of work (a commit, a commit that starts the
// rollback log's rewrite in the background (a failure there is reported by the next commit), a commit that checkpoints, a commit that
// begins a checkpoint in the background and one acknowledged while it runs, a rollback, an open that replays, a create, a close),
// fail its N-th file operation for N = 1, 2, ... until the work completes with no failure left,
// with EIO, ENOSPC and EROFS, and separately tear its N-th write (a prefix lands, then EIO).
// After each failure:
//   - the caller gets a DbError with a documented code (FAILED when a commit, rollback or
//     checkpoint was in flight, IO otherwise), whose cause is the IoError naming the operation
//     and the path, whose cause is the very system error injected (code, errno, syscall);
//   - a handle whose commit failed refuses all further use with FAILED, and writes or syncs
//     nothing more (no retried fsync), not even when closed;
//   - no file is left open and none is closed twice;
//   - reopening on the healthy file system finds the last acknowledged state, or the one in
//     flight when its commit point made it: root, values and rollback history exact.
// Short and seeded in `npm test` (EIO at every point, the other codes and tears at a seeded
// sample); BMT_LONG=1 tries every point with every code.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Db, DbError, IoError, open } from "../../src/db/index.ts";
import { setCheckpointHold } from "../../src/store/checkpoint.ts";
import { Rng, testSeed } from "../support/random.ts";
import { type FaultCode, FaultFs } from "./fault-fs.ts";
import { type Change, Model, randomChanges, sameState, universe, write } from "./helpers.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
const DIR = "/db";
const W = 4;
const OPTIONS = { lock: false, rollbackWindow: W, merkleInitialBuckets: 16 };

type Action = "commit" | "commitSync" | "commitBehind" | "rollback" | "open" | "create" | "close" | "read";

interface Scenario {
  name: string;
  /** Commits made (and acknowledged) before the work. */
  prefix: number;
  action: Action;
  /** Keys in play and the first commit's size (default 120 and 60). */
  keys?: number;
  first?: number;
  /** Buckets of the new page table (default 16). */
  buckets?: number;
  /** Keys under this many 6-bit prefixes only, so that a few keys fill pages (default: any). */
  prefixes?: number;
  /** A file the work must have made when it ran through (shows it reached that path). */
  makes?: string;
  /** Page caches of 1 byte: every read goes to the file. */
  uncached?: boolean;
  /** The prefix ends with a close (its pages checkpointed to the files), not a left handle. */
  closed?: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: "commit", prefix: 3, action: "commit" },
  { name: "commitSync", prefix: 3, action: "commitSync" },
  // The 17th event of the live log file: the commit first rewrites the log into the other file.
  { name: "commit rewriting the rollback log", prefix: 16, action: "commit" },
  // The 32nd commit since the last checkpoint writes one.
  { name: "commit with a checkpoint", prefix: 31, action: "commitSync" },
  // The 32nd commit begins a checkpoint in the background (held before its meta record until the
  // next commit is acknowledged beside it), then the checkpoint is published.
  { name: "commit during a background checkpoint", prefix: 31, action: "commitBehind" },
  // The same, with more pages than a 4-bucket table holds (4 prefixes of ~300 keys each give
  // pages at page-depth 1): the checkpoint builds the next one.
  {
    name: "commit with a checkpoint that grows the page table",
    prefix: 31,
    action: "commitSync",
    keys: 1500,
    first: 1200,
    buckets: 4,
    prefixes: 4,
    makes: "/db/merkle/merkle-table.1",
  },
  { name: "rollback", prefix: 5, action: "rollback" },
  { name: "open replaying the redo log", prefix: 5, action: "open" },
  { name: "create", prefix: 0, action: "create" },
  { name: "close with its checkpoint", prefix: 5, action: "close" },
  // Gets, a full scan and proofs of a snapshot, every page read from the file.
  { name: "reads", prefix: 5, action: "read", uncached: true, closed: true },
];

const ROLLBACK_N = 2;

interface Mode {
  name: string;
  code: FaultCode;
  tear: boolean;
  /** Every operation after the first failure fails too (a device that is gone). */
  persist: boolean;
}

const MODES: Mode[] = [
  { name: "EIO", code: "EIO", tear: false, persist: false },
  { name: "ENOSPC", code: "ENOSPC", tear: false, persist: false },
  { name: "EROFS", code: "EROFS", tear: false, persist: false },
  { name: "torn write", code: "EIO", tear: true, persist: false },
  { name: "EIO from then on", code: "EIO", tear: false, persist: true },
];

let totalPoints = 0;

/** The states a scenario goes through: the chain a rollback returns along, newest last. */
interface Plan {
  image: FaultFs | null;
  commits: Change[][];
  action: Change[];
  /** commitBehind: the commit made while the checkpoint runs. */
  action2: Change[];
  /** Chain before the work and after it (and, for commitBehind, after its first commit). */
  before: Model[];
  mid: Model[] | null;
  after: Model[];
}

function optionsOf(s: Scenario) {
  const caches = s.uncached ? { valueCacheBytes: 1, merkleCacheBytes: 1 } : {};
  return { ...OPTIONS, ...caches, merkleInitialBuckets: s.buckets ?? OPTIONS.merkleInitialBuckets };
}

function plan(s: Scenario, rng: Rng): Plan {
  const keys = universe(rng, s.keys ?? 120);
  const prefixes = s.prefixes;
  if (prefixes !== undefined) for (const [i, k] of keys.entries()) k[0] = (k[0] & 0x03) | ((i % prefixes) << 2);
  const commits = Array.from({ length: s.prefix }, (_, i) => randomChanges(rng, keys, i === 0 ? (s.first ?? 60) : 1 + rng.int(12)));
  const action = randomChanges(rng, keys, 1 + rng.int(12));
  const action2 = s.action === "commitBehind" ? randomChanges(rng, keys, 1 + rng.int(12)) : [];
  const before = [new Model()];
  for (const c of commits) before.push(Model.of(before[before.length - 1]).apply(c));
  let after = before;
  let mid: Model[] | null = null;
  if (s.action === "commit" || s.action === "commitSync") after = [...before, Model.of(before[before.length - 1]).apply(action)];
  if (s.action === "commitBehind") {
    mid = [...before, Model.of(before[before.length - 1]).apply(action)];
    after = [...mid, Model.of(mid[mid.length - 1]).apply(action2)];
  }
  if (s.action === "rollback") after = before.slice(0, before.length - ROLLBACK_N);
  let image: FaultFs | null = null;
  if (s.action !== "create") {
    // The prefix runs once; every trial starts from a copy of its bytes (the handle is left
    // unclosed, as by a process that exits: the next open replays the redo log).
    const fs = new FaultFs();
    const db = open(DIR, { ...optionsOf(s), fs });
    for (const c of commits) write(db.beginWrite(), c).finishSync().commitSync();
    if (s.closed) db.close();
    image = fs.clone();
  }
  return { image, commits, action, action2, before, mid, after };
}

/** Depth of the rollback history a chain of states leaves (prefix commits and rollbacks). */
function depthOf(s: Scenario, chain: Model[]): number {
  if (s.action === "rollback" && chain.length < s.prefix + 1) return Math.min(s.prefix, W) - ROLLBACK_N;
  return Math.min(chain.length - 1, W);
}

/** Runs the work on a fresh copy; returns the handle (if any) and what it threw. */
async function attempt(s: Scenario, p: Plan, fs: FaultFs, arm: () => void): Promise<{ db: Db | null; error: unknown }> {
  let db: Db | null = null;
  if (s.action !== "open" && s.action !== "create") db = open(DIR, { ...optionsOf(s), fs });
  arm();
  try {
    switch (s.action) {
      case "commit":
        await (await write((db as Db).beginWrite(), p.action).finish()).commit();
        // The rollback log's rewrite runs behind the commits that follow its start: a write or
        // sync of it that failed fails the handle, reported by the next commit (nothing of
        // which is written).
        if (fs.fired) await (await write((db as Db).beginWrite(), p.action).finish()).commit();
        break;
      case "commitSync":
        (await write((db as Db).beginWrite(), p.action).finish()).commitSync();
        break;
      case "commitBehind": {
        let release = () => {};
        const gate = new Promise<void>((r) => {
          release = r;
        });
        setCheckpointHold(() => gate);
        try {
          await (await write((db as Db).beginWrite(), p.action).finish()).commit();
          await (await write((db as Db).beginWrite(), p.action2).finish()).commit();
          if (!fs.fired) assert.equal((db as Db).metrics().lastCommit?.store.duringCheckpoint, true, "the second commit ran beside the checkpoint");
        } finally {
          setCheckpointHold(null);
          release();
        }
        // The checkpoint is published on the turn after its release; a failure of it, reported
        // by the next commit (nothing of which is written).
        await new Promise((r) => setImmediate(r));
        if (fs.fired) await (await write((db as Db).beginWrite(), p.action2).finish()).commit();
        break;
      }
      case "rollback":
        await (db as Db).rollback(ROLLBACK_N);
        break;
      case "open":
      case "create":
        db = open(DIR, { ...optionsOf(s), fs });
        break;
      case "close":
        (db as Db).close();
        break;
      case "read": {
        const snap = (db as Db).beginRead();
        const model = p.before[p.before.length - 1];
        for (const [k] of model.sorted()) snap.get(k);
        for (const _ of snap.entriesSync()) {
          // Every value page once more, through the scan.
        }
        for (const [k] of model.sorted().slice(0, 8)) snap.prove(k);
        snap.release();
        break;
      }
    }
    return { db, error: null };
  } catch (e) {
    return { db, error: e };
  } finally {
    fs.disarm();
  }
}

interface Tally {
  points: number;
  acknowledged: number;
  inFlight: number;
}

/** One trial: the fault armed, then every check; returns true once the work ran with no fault left. */
async function trial(s: Scenario, p: Plan, mode: Mode, n: number, tally: Tally): Promise<boolean> {
  const fs = p.image === null ? new FaultFs() : p.image.clone();
  const what = `${s.name}: ${mode.name} at ${mode.tear ? "write" : "operation"} ${n} (seed ${seed})`;
  const { db, error } = await attempt(s, p, fs, () => fs.arm(n, mode.code, mode.tear, mode.persist));
  const inFlightWork = s.action === "commit" || s.action === "commitSync" || s.action === "commitBehind" || s.action === "rollback";
  if (!fs.fired) {
    assert.equal(error, null, `${what}: no fault fired, yet it failed: ${error}`);
    if (s.makes !== undefined) assert.ok(fs.names().includes(s.makes), `${what}: the work made ${s.makes}`);
    if (s.action !== "close") db?.close();
  } else {
    tally.points++;
    const injected = fs.fault as NodeJS.ErrnoException;
    assert.ok(error instanceof DbError, `${what}: ${fs.faultOp} failed, and the caller got ${error === null ? "no error" : String(error)}`);
    const expected = inFlightWork ? ["FAILED"] : s.action === "close" ? (fs.faultOp === "close" ? ["IO"] : ["FAILED"]) : ["IO"];
    assert.ok(expected.includes(error.code), `${what}: code ${error.code}, expected ${expected} (${error.message})`);
    const io = error.cause;
    assert.ok(io instanceof IoError, `${what}: the cause is ${String(io)}, not an IoError`);
    assert.equal(io.cause, injected, `${what}: the IoError's cause is the system error injected`);
    assert.equal(io.code, injected.code, what);
    assert.equal(io.syscall, injected.syscall, what);
    assert.equal(io.errno, injected.errno, what);
    assert.ok(io.path.startsWith(DIR), `${what}: path ${io.path}`);
    if (db !== null && s.action !== "close") {
      if (inFlightWork) {
        // Failed until reopened: every use refused, nothing written or synced again.
        assert.throws(
          () => db.beginWrite(),
          (e: unknown) => e instanceof DbError && e.code === "FAILED",
          `${what}: a further commit`,
        );
        assert.throws(
          () => db.root,
          (e: unknown) => e instanceof DbError && e.code === "FAILED",
          what,
        );
        await assert.rejects(db.rollback(0), (e: unknown) => e instanceof DbError && e.code === "FAILED", what);
      }
      if (s.action === "read") {
        // A failed read changes nothing: the same handle reads everything right once the disk does.
        const found = sameState(db, p.before, depthOf(s, p.before));
        assert.equal(found, null, `${what}: the handle after a failed read: ${found}`);
      }
      db.close();
      if (inFlightWork) assert.deepEqual(fs.afterFault, [], `${what}: written or synced after the failure`);
    }
  }
  // A background write or sync of the rollback log in flight at close returns first.
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  if (s.action === "close") assert.deepEqual(fs.afterFault, [], `${what}: written or synced after the failure`);
  assert.deepEqual(fs.openFiles(), [], `${what}: files left open`);
  assert.deepEqual(fs.closedBusy, [], `${what}: a file closed under its own write or sync`);
  assert.deepEqual(fs.doubleCloses, [], `${what}: files closed twice`);
  // Reopen on the healthy file system.
  const again = open(DIR, { ...optionsOf(s), fs });
  try {
    const done = !fs.fired;
    const candidates = done ? [p.after] : inFlightWork ? [p.before, ...(p.mid === null ? [] : [p.mid]), p.after] : [p.before];
    const found = candidates.map((c) => sameState(again, c, depthOf(s, c)));
    const match = found.indexOf(null);
    assert.ok(match >= 0, `${what}: reopened at neither state: ${found.join("; ")}`);
    if (fs.fired) {
      if (candidates[match] === p.after && p.after !== p.before) tally.inFlight++;
      else tally.acknowledged++;
    }
    // And it works: one more commit.
    (await write(again.beginWrite(), [[new Uint8Array(31).fill(7), Uint8Array.of(n & 255)]]).finish()).commitSync();
  } finally {
    again.close();
  }
  return !fs.fired;
}

describe(`db: fault injection at every file operation (seed ${seed}${LONG ? ", long" : ""})`, () => {
  const totals: string[] = [];
  for (const s of SCENARIOS) {
    it(`${s.name}: every failure is typed, fails the handle when a commit was in flight, and reopens at the right state`, async (t) => {
      const counts: string[] = [];
      // BMT_LONG: three data sets per scenario (other keys, values and batch sizes, so other
      // page layouts and operation sequences).
      for (let variant = 0; variant < (LONG ? 3 : 1); variant++) {
        const rng = new Rng(seed ^ (s.prefix * 7919 + s.action.length) ^ (variant * 0x9e3779b1));
        const p = plan(s, rng);
        for (const mode of MODES) {
          const tally: Tally = { points: 0, acknowledged: 0, inFlight: 0 };
          // Short runs: EIO at every point; the other modes at about one point in three.
          const every = LONG || mode === MODES[0];
          const sample = new Rng(seed + mode.name.length);
          let n = 1;
          for (; ; n++) {
            if (!every && n > 1 && sample.int(3) !== 0) {
              // Skipped points still end the loop when the work no longer meets a failure.
              const probe = p.image === null ? new FaultFs() : p.image.clone();
              const { db } = await attempt(s, p, probe, () => probe.arm(n, mode.code, mode.tear, mode.persist));
              if (s.action !== "close" && !probe.fired) db?.close();
              if (!probe.fired) break;
              continue;
            }
            if (await trial(s, p, mode, n, tally)) break;
          }
          // (An open that replays writes nothing, so there is no write to tear.)
          if (!mode.tear) assert.ok(tally.points > 0, `${s.name}: ${mode.name} failed nothing`);
          totalPoints += tally.points;
          counts.push(`${mode.name} ${tally.points}/${n - 1} points (${tally.acknowledged} at the acknowledged state, ${tally.inFlight} with the work done)`);
        }
      }
      const line = `${s.name}: ${counts.join(", ")}`;
      totals.push(line);
      t.diagnostic(line);
    });
  }
  after(() => console.log(`# fault points tried: ${totalPoints} over ${SCENARIOS.length} scenarios and ${MODES.length} modes`));
});
