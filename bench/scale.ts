// 10k-update commits on a large state with default options: does the cost per update grow
// with log N from 2^20 to 2^24 keys, and what is written per update?
// `npm run bench:scale` (LOG2N=22 by default; ROUNDS=... commits of BATCH=10000 updates).
// The state (LOG2N random keys, 32-byte values) is imported once with `importEntries` into
// .bench-data/scale-<LOG2N>-e<elision threshold> and kept: the pages depend on the threshold,
// so a build of another threshold gets a directory of its own. A run opens that database,
// commits ROUNDS batches of random updates of existing keys with `Store.commit` (default
// options; the checkpoints are blocking and counted), and closes it: the next run starts from
// the state this one left (close's own checkpoint is not counted).
// Reported: µs per update (median and mean over the commits, checkpoints included), bytes
// written per update (/proc/self/io write_bytes, every thread of the process, and the store's
// own counters), merkle pages stored, RSS at the end and at peak, and the bench's own arrays
// (the keys' 6-byte prefixes, 8 bytes per key) which RSS includes.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { importEntries } from "../src/db/index.ts";
import { ELISION_THRESHOLD } from "../src/merkle/page.ts";
import { Store } from "../src/store/index.ts";
import { machine, median } from "./support.ts";

const LOG2N = Number(process.env.LOG2N ?? 22);
const ROUNDS = Number(process.env.ROUNDS ?? 64);
const BATCH = Number(process.env.BATCH ?? 10_000);
const SEED = 0x5eed;
const dir = join(process.env.BENCH_DATA ?? ".bench-data", `scale-${LOG2N}-e${ELISION_THRESHOLD}`);

/** xorshift128+ on two 32-bit halves: deterministic, so a later run rebuilds the same keys. */
function rng(seed: number): () => number {
  let a = seed | 1;
  let b = 0x9e3779b9;
  return () => {
    let x = a;
    const y = b;
    a = y;
    x ^= x << 11;
    x ^= x >>> 8;
    b = x ^ y ^ (y >>> 19);
    return (b + y) >>> 0;
  };
}

/** The keys' first 48 bits, sorted and distinct (random, so subtrie sizes are as for any state). */
function prefixes(n: number): Float64Array {
  const next = rng(SEED);
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = next() * 65536 + (next() & 0xffff);
  p.sort();
  let m = 0;
  for (let i = 0; i < n; i++) if (i === 0 || p[i] !== p[m - 1]) p[m++] = p[i];
  return p.subarray(0, m);
}

/** Key i: its 48-bit prefix, then 25 bytes drawn from the prefix (so no second array is kept). */
function keyOf(prefix: number, out = new Uint8Array(31)): Uint8Array {
  let p = prefix;
  for (let b = 5; b >= 0; b--) {
    out[b] = p % 256;
    p = Math.floor(p / 256);
  }
  const next = rng((prefix % 0x7fffffff) ^ Math.floor(prefix / 0x10000));
  for (let b = 6; b < 31; b += 4) {
    const w = next();
    for (let k = 0; k < 4 && b + k < 31; k++) out[b + k] = (w >>> (8 * k)) & 0xff;
  }
  return out;
}

function writeBytes(): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}

function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

const MiB = 2 ** 20;
const keys = prefixes(2 ** LOG2N);
const n = keys.length;
if (!existsSync(join(dir, "meta"))) {
  mkdirSync(dir, { recursive: true });
  const t = performance.now();
  function* entries(): Generator<[Uint8Array, Uint8Array]> {
    for (let i = 0; i < n; i++) {
      const key = keyOf(keys[i]);
      const value = new Uint8Array(32);
      value.set(key.subarray(0, 31));
      yield [key, value];
    }
  }
  await importEntries(dir, entries());
  console.log(`# built ${dir}: ${n} keys imported in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

const store = Store.open(dir);
try {
  const before = store.stats();
  console.log(`# ${n} keys (2^${LOG2N}), elision threshold ${ELISION_THRESHOLD}, ${before.merkle.pages} merkle pages, default options; ${machine()}`);
  const ms: number[] = [];
  let checkpoints = 0;
  let checkpointMs = 0;
  let hashes = 0;
  let pagesWritten = 0;
  let elided = 0;
  const w0 = writeBytes();
  let t = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const seen = new Set<number>();
    const batch: [Uint8Array, Uint8Array][] = [];
    while (batch.length < BATCH) {
      const i = Math.floor(Math.random() * n);
      if (seen.has(i)) continue;
      seen.add(i);
      batch.push([keyOf(keys[i]), crypto.getRandomValues(new Uint8Array(32))]);
    }
    t = performance.now();
    store.commit(batch);
    ms.push(performance.now() - t);
    const c = store.lastCommit;
    if (c) {
      hashes += c.hashes;
      pagesWritten += c.pagesWritten;
      elided += c.elidedEntries;
      if (c.checkpoint) {
        checkpoints++;
        checkpointMs += c.checkpointMs;
      }
    }
  }
  const written = writeBytes() - w0;
  const after = store.stats();
  const updates = ROUNDS * BATCH;
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const storeBytes =
    after.redo.bytesWritten -
    before.redo.bytesWritten +
    (after.values.pagesWritten - before.values.pagesWritten) * 4096 +
    (after.merkle.walBytes - before.merkle.walBytes) +
    (after.merkle.pagesWritten - before.merkle.pagesWritten) * 4096;
  const mem = process.memoryUsage();
  console.log(
    JSON.stringify({
      log2n: LOG2N,
      keys: n,
      threshold: ELISION_THRESHOLD,
      merklePages: after.merkle.pages,
      rounds: ROUNDS,
      batch: BATCH,
      usPerUpdateMedian: +((median(ms) * 1000) / BATCH).toFixed(1),
      usPerUpdateMean: +((mean * 1000) / BATCH).toFixed(1),
      updatesPerSecMean: Math.round(BATCH / (mean / 1000)),
      slowestMs: Math.round(Math.max(...ms)),
      checkpoints,
      checkpointMsMean: Math.round(checkpointMs / Math.max(1, checkpoints)),
      kibWrittenPerUpdate: +(written / updates / 1024).toFixed(2),
      kibPerUpdateStoreCounters: +(storeBytes / updates / 1024).toFixed(2),
      mibWrittenPerCommit: +(written / ROUNDS / MiB).toFixed(1),
      hashesPerUpdate: +(hashes / updates).toFixed(1),
      merklePagesDirtiedPerUpdate: +(pagesWritten / updates).toFixed(2),
      elidedEntriesPerUpdate: +(elided / updates).toFixed(1),
      rssMiB: Math.round(mem.rss / MiB),
      peakRssMiB: Math.round(peakRss() / MiB),
      benchArraysMiB: Math.round(keys.buffer.byteLength / MiB),
      load: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    }),
  );
} finally {
  store.close();
}
