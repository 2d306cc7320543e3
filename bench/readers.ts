// Read-only handles beside a writer process on a loaded machine (issue 21's figure): a writer
// child commits at a target rate (bench/readers-writer.ts: the public API, default rollback
// window, checkpoints every 32 commits) while this process, a reader, opens read-only handles
// and holds each over a random 0..HOLD of the writer's commits (within the documented bound of
// one checkpoint interval, 32 commits), doing point reads, scans and proofs checked against a
// model of the writer's history. SPIN busy loops (`sh -c 'while :; do :; done'`) keep the
// cores busy and are killed at the end.
//
// `npm run bench:readers` (OPS=3000 reads, scans and proofs; RATE=25 commits/s targeted;
// HOLD=28 commits at most per handle; SPIN=2; SEED=1). Prints counts (reads, scans, proofs,
// STALE within and past the bound, wrong answers, other errors), the writer's rate and commit
// times, and load averages. Exits 1 on a wrong answer, an error, or STALE within the bound.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DbError, open } from "../src/db/index.ts";
import { compareKeys, multiProofValues, toHex, trieRootUnsorted, verifyKeyProof, verifyMultiProof } from "../src/trie/index.ts";
import { Rng } from "../test/support/random.ts";
import { batchFor, universe } from "../test/store/crash-batches.ts";
import { machine, median } from "./support.ts";

const OPS = Number(process.env.OPS ?? 3000);
const RATE = Number(process.env.RATE ?? 25);
const HOLD = Number(process.env.HOLD ?? 28);
const SPIN = Number(process.env.SPIN ?? 2);
const SEED = Number(process.env.SEED ?? 1);
const CHECKPOINT_EVERY = 32; // the store's default

const tmp = mkdtempSync(join(tmpdir(), "bmt-bench-readers-"));
const dir = join(tmp, "db");
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
};
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

/** The writer's state at each seq, built forward on demand (handles ask for rising seqs). */
const keys = universe(SEED);
const model = new Map<string, Uint8Array>();
let modelSeq = 0;
const roots: string[] = [toHex(trieRootUnsorted([]))];
let sortedAt = -1;
let sorted: Uint8Array[] = [];
function stateAt(seq: number): { root: string; get: (k: Uint8Array) => Uint8Array | undefined; from: (k: Uint8Array, n: number) => Uint8Array[] } {
  if (seq < modelSeq) throw new Error(`model asked for seq ${seq} after ${modelSeq}`);
  while (modelSeq < seq) {
    modelSeq++;
    for (const [k, v] of batchFor(SEED, keys, modelSeq)) {
      if (v === null) model.delete(toHex(k));
      else model.set(toHex(k), v);
    }
    roots[modelSeq] = "";
  }
  if (roots[seq] === "") roots[seq] = toHex(trieRootUnsorted([...model].map(([k, value]) => ({ key: keyOf.get(k) as Uint8Array, value }))));
  return {
    root: roots[seq],
    get: (k) => model.get(toHex(k)),
    from: (start, n) => {
      if (sortedAt !== seq) {
        sorted = [...model.keys()].sort().map((h) => keyOf.get(h) as Uint8Array);
        sortedAt = seq;
      }
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareKeys(sorted[mid], start) < 0) lo = mid + 1;
        else hi = mid;
      }
      return sorted.slice(lo, lo + n);
    },
  };
}
const keyOf = new Map(keys.map((k) => [toHex(k), k]));

const hex = (b: Uint8Array | null | undefined) => (b == null ? "-" : toHex(b));

async function main(): Promise<void> {
  const load: number[][] = [loadavg()];
  for (let i = 0; i < SPIN; i++) children.push(spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
  const writer = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "readers-writer.ts"), dir, String(SEED), String(RATE)], {
    cwd: join(import.meta.dirname, ".."),
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(writer);
  let acked = 0;
  const commitMs: number[] = [];
  let ackTimes: number[] = [];
  let buffered = "";
  let wake: (() => void) | null = null;
  writer.stdout.setEncoding("utf8");
  writer.stdout.on("data", (d: string) => {
    buffered += d;
    const lines = buffered.split("\n");
    buffered = lines.pop() as string;
    for (const line of lines) {
      const [what, seq, ms, at] = line.split(" ");
      if (what !== "ack") continue;
      acked = Number(seq);
      commitMs.push(Number(ms));
      ackTimes.push(Number(at));
    }
    wake?.();
  });
  let exited = false;
  writer.on("exit", (code) => {
    exited = true;
    if (code !== null) console.error(`writer exited ${code}`);
    wake?.();
  });
  const ackedAtLeast = async (n: number) => {
    while (acked < n && !exited) await new Promise<void>((r) => (wake = r));
    if (exited) throw new Error("writer exited");
  };
  // Past two checkpoints before reading, so handles read from the table and the log.
  await ackedAtLeast(2 * CHECKPOINT_EVERY + 8);
  ackTimes = [];
  const commitsAtStart = commitMs.length;

  const rng = new Rng(SEED ^ 0x5eed);
  const c = { handles: 0, spanned: 0, reads: 0, scans: 0, proofs: 0, stale: 0, stalePast: 0, wrong: 0, errors: 0, heldMax: 0, seqs: new Set<number>() };
  const wrong = (what: string) => {
    c.wrong++;
    if (c.wrong <= 5) console.error(`wrong: ${what}`);
  };
  const pick = () => (rng.int(5) === 0 ? rng.bytes(31) : rng.pick(keys));
  let lastLoad = performance.now();
  while (c.reads + c.scans + c.proofs < OPS) {
    if (performance.now() - lastLoad > 5000) {
      load.push(loadavg());
      lastLoad = performance.now();
    }
    const handle = open(dir, { readOnly: true });
    const snap = handle.beginRead();
    const seq = handle.seq;
    const openedAt = acked;
    const hold = rng.int(HOLD + 1);
    c.handles++;
    c.seqs.add(seq);
    try {
      const want = stateAt(seq);
      const root = snap.root;
      if (toHex(root) !== want.root) wrong(`root at seq ${seq}`);
      do {
        const op = rng.int(4);
        if (op === 0) {
          const k = pick();
          if (hex(snap.get(k)) !== hex(want.get(k))) wrong(`get ${toHex(k)} at seq ${seq}`);
          c.reads++;
        } else if (op === 1) {
          const k = pick();
          const proof = snap.prove(k);
          if (!verifyKeyProof(proof, root) || hex(proof.value) !== hex(want.get(k))) wrong(`prove ${toHex(k)} at seq ${seq}`);
          c.proofs++;
        } else if (op === 2) {
          const many = Array.from({ length: 1 + rng.int(6) }, pick);
          const proof = snap.proveMany(many);
          if (!verifyMultiProof(proof, root)) wrong(`proveMany at seq ${seq}`);
          else {
            const values = multiProofValues(proof, root);
            for (const k of many) if (hex(values.get(k)) !== hex(want.get(k))) wrong(`proveMany value of ${toHex(k)} at seq ${seq}`);
          }
          c.proofs++;
        } else {
          const start = pick();
          const n = 1 + rng.int(200);
          const got: string[] = [];
          for (const [k] of snap.entriesSync({ start })) if (got.push(toHex(k)) === n) break;
          const expect = want.from(start, n);
          if (got.join() !== expect.map(toHex).join()) wrong(`scan of ${n} from ${toHex(start)} at seq ${seq}`);
          c.scans++;
        }
        // Let the writer's acks in; a few ms between operations so a handle lives across commits.
        await new Promise((r) => setTimeout(r, rng.int(8)));
      } while (acked - openedAt < hold && c.reads + c.scans + c.proofs < OPS && !exited);
    } catch (e) {
      if (e instanceof DbError && e.code === "STALE") {
        // Past the bound when the writer has begun the second checkpoint after the one read.
        const fresh = open(dir, { readOnly: true });
        const now = fresh.seq;
        fresh.close();
        if (now >= Math.floor(seq / CHECKPOINT_EVERY) * CHECKPOINT_EVERY + 2 * CHECKPOINT_EVERY) c.stalePast++;
        else c.stale++;
      } else {
        c.errors++;
        console.error(e);
      }
    } finally {
      c.heldMax = Math.max(c.heldMax, acked - openedAt);
      if (Math.floor(acked / CHECKPOINT_EVERY) > Math.floor(seq / CHECKPOINT_EVERY)) c.spanned++;
      snap.release();
      handle.close();
    }
  }
  // The writer's rate over the reads, on its own clock.
  const secs = (ackTimes[ackTimes.length - 1] - ackTimes[0]) / 1000;
  const commits = ackTimes.length - 1;
  load.push(loadavg());
  const during = commitMs.slice(commitsAtStart);
  const sortedMs = [...during].sort((a, b) => a - b);
  const gaps = ackTimes.slice(1).map((t, i) => t - ackTimes[i]);
  console.log(`# read-only handles beside a writer: seed ${SEED}, ${SPIN} busy loops, target ${RATE} commits/s; ${machine()}`);
  console.log(
    `reader: ${c.reads + c.scans + c.proofs} operations (${c.reads} reads, ${c.scans} scans, ${c.proofs} proofs) over ${c.handles} handles ` +
      `(${c.seqs.size} distinct seqs; ${c.spanned} held across a checkpoint; held up to ${c.heldMax} commits); ` +
      `STALE within the bound ${c.stale}, STALE past it ${c.stalePast}, wrong answers ${c.wrong}, other errors ${c.errors}`,
  );
  console.log(
    `writer: ${commits} commits in ${secs.toFixed(1)} s = ${(commits / secs).toFixed(1)} commits/s; commit (beginWrite to durable) median ${median(during).toFixed(1)} ms, ` +
      `p90 ${sortedMs[Math.floor(0.9 * sortedMs.length)]?.toFixed(1)} ms, max ${sortedMs[sortedMs.length - 1]?.toFixed(1)} ms; ` +
      `gap between acks median ${median(gaps).toFixed(1)} ms, max ${Math.max(...gaps).toFixed(0)} ms`,
  );
  console.log(
    `load average (1 min) from ${load[0][0].toFixed(2)} to ${load[load.length - 1][0].toFixed(2)}, samples ${load.map((l) => l[0].toFixed(1)).join(" ")}`,
  );
  if (c.wrong > 0 || c.errors > 0 || c.stale > 0) process.exitCode = 1;
}

try {
  await main();
} finally {
  cleanup();
}
