// Durable commits of random updates on a store of N random keys (32-byte values).
// `npm run bench:commit` (N=1000000 by default; N=..., ROUNDS=... to change; LOAD_BATCH=... keys
// per loading commit, default 50000; CACHE_MIB=... sizes both page caches, default: the stores'
// defaults; CHECKPOINT_MIB=... the checkpoint byte bound, default the store's 64; LOAD_ORDER=random
// loads the keys in the order they were drawn instead of in key order, the default, which is
// how a state is imported and makes large stores quick to set up; WRITE_BEHIND=0 keeps every
// checkpoint write on the committing thread).
// Per batch size: median and mean ms per commit (commits are durable by their redo record; the
// mean spreads the checkpoints that write pages out every 32 commits), updates/s, and per update
// the node hashes and merkle pages read and dirtied; per commit the fsyncs and bytes written,
// checkpoints included. Then, in the same run, the
// same keys in @ethereumjs/mpt on LMDB with 1000-update batches (MPT=0 skips it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HashKernel } from "../src/hash/index.ts";
import { Store } from "../src/store/index.ts";
import { MptBaseline } from "./mpt-baseline.ts";
import { machine, median, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 64);
const LOAD_BATCH = Number(process.env.LOAD_BATCH ?? 50_000);
const CACHE = process.env.CACHE_MIB ? Number(process.env.CACHE_MIB) * 2 ** 20 : undefined;
const KEY_ORDER = (process.env.LOAD_ORDER ?? "key") !== "random";
const CHECKPOINT = process.env.CHECKPOINT_MIB ? Number(process.env.CHECKPOINT_MIB) * 2 ** 20 : undefined;
const dir = mkdtempSync(join(tmpdir(), "bmt-bench-commit-"));

function randomKeys(n: number): Uint8Array {
  const keys = new Uint8Array(n * 31);
  for (let i = 0; i < keys.length; i += 65536) crypto.getRandomValues(keys.subarray(i, Math.min(keys.length, i + 65536)));
  return keys;
}

/**
 * The order to load keys 0..n-1 in: by their first 29 bits (ties by index), which is key order
 * but for rare ties that each commit's sort puts right; or as drawn.
 */
function loadOrder(keys: Uint8Array, n: number): (i: number) => number {
  if (!KEY_ORDER) return (i) => i;
  const tagged = new Float64Array(n);
  const dv = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  for (let i = 0; i < n; i++) tagged[i] = (dv.getUint32(i * 31) >>> 3) * 2 ** 24 + i;
  tagged.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = tagged[i] % 2 ** 24;
  return (i) => order[i];
}

/** ns per node hash of the batched kernel, measured now, for the "x hashing" column. */
function kernelNs(): number {
  const k = new HashKernel(4096);
  const t = performance.now();
  for (let r = 0; r < 50; r++) k.hashNodes(4096);
  return ((performance.now() - t) * 1e6) / (50 * 4096);
}

const store = Store.open(dir, {
  ...(CACHE === undefined ? {} : { merkleCacheBytes: CACHE, valueCacheBytes: CACHE }),
  ...(CHECKPOINT === undefined ? {} : { checkpointBytes: CHECKPOINT }),
  writeBehind: process.env.WRITE_BEHIND !== "0",
});
try {
  const keys = randomKeys(N);
  const key = (i: number) => keys.subarray(i * 31, i * 31 + 31);
  if (N > 2 ** 24) throw new Error("N: at most 2^24 keys");
  const order = loadOrder(keys, N);
  let t = performance.now();
  for (let done = 0; done < N; done += LOAD_BATCH) {
    const batch: [Uint8Array, Uint8Array][] = [];
    for (let j = done; j < Math.min(N, done + LOAD_BATCH); j++) {
      const i = order(j);
      batch.push([key(i), keys.subarray(i * 31, i * 31 + 32)]);
    }
    store.commit(batch);
  }
  store.checkpoint();
  const loadMs = performance.now() - t;
  const loaded = store.stats();
  console.log(
    `# commit: ${N} keys loaded ${KEY_ORDER ? "in key order" : "in random order"} in ${(loadMs / 1000).toFixed(1)} s (${Math.round(N / (loadMs / 1000))} keys/s), ${loaded.merkle.pages} merkle pages`,
  );
  console.log(
    `# page caches: ${CACHE === undefined ? "defaults" : `${CACHE / 2 ** 20} MiB each`}; checkpoint bound: ${CHECKPOINT === undefined ? "default" : `${CHECKPOINT / 2 ** 20} MiB`}; ${machine()}\n`,
  );
  const ns = kernelNs();
  const rows: (string | number)[][] = [];
  for (const size of [1000, 10_000]) {
    store.checkpoint();
    const ms: number[] = [];
    const per = { hashes: 0, read: 0, written: 0, copied: 0, fsyncs: 0, bytes: 0, checkpoints: 0, checkpointMs: 0 };
    const phases: Record<string, number[]> = { update: [], "of which seeks": [], values: [], log: [] };
    const before = store.stats();
    for (let r = 0; r < ROUNDS; r++) {
      const batch: [Uint8Array, Uint8Array][] = [];
      const seen = new Set<number>();
      while (batch.length < size) {
        const i = Math.floor(Math.random() * N);
        if (seen.has(i)) continue;
        seen.add(i);
        batch.push([key(i), crypto.getRandomValues(new Uint8Array(32))]);
      }
      t = performance.now();
      store.commit(batch);
      ms.push(performance.now() - t);
      const c = store.lastCommit;
      if (!c) throw new Error("no commit stats");
      phases.update.push(c.updateMs);
      phases["of which seeks"].push(c.seekMs);
      phases.values.push(c.valuesMs);
      phases.log.push(c.logMs);
      if (c.checkpoint) {
        per.checkpoints++;
        per.checkpointMs += c.checkpointMs;
      }
      per.hashes += c.hashes;
      per.read += c.pagesRead;
      per.written += c.pagesWritten;
      per.copied += c.pagesCopied;
    }
    const after = store.stats();
    // Syncs: one per redo record; per checkpoint the value tree's, the page WAL's and in-place
    // apply's (counted by the page store) and the meta record's.
    per.fsyncs = after.redo.fsyncs - before.redo.fsyncs + after.merkle.fsyncs - before.merkle.fsyncs + 2 * per.checkpoints;
    per.bytes =
      after.redo.bytesWritten -
      before.redo.bytesWritten +
      (after.values.pagesWritten - before.values.pagesWritten) * 4096 +
      (after.merkle.walBytes - before.merkle.walBytes) +
      (after.merkle.pagesWritten - before.merkle.pagesWritten) * 4096 +
      4096 * per.checkpoints;
    const med = median(ms);
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    console.log(
      `batch ${size}: phase medians (ms) ${Object.entries(phases)
        .map(([k, v]) => `${k} ${median(v).toFixed(1)}`)
        .join(", ")}; ` +
        `${per.checkpoints} checkpoints, ${(per.checkpointMs / Math.max(1, per.checkpoints)).toFixed(0)} ms each; slowest commit ${Math.max(...ms).toFixed(0)} ms; ` +
        `${((100 * per.copied) / Math.max(1, per.written)).toFixed(0)} % of the merkle pages written were copied first (the rest changed in place)`,
    );
    const updates = ROUNDS * size;
    rows.push([
      size,
      med.toFixed(1),
      mean.toFixed(1),
      Math.round(size / (mean / 1000)),
      (per.hashes / updates).toFixed(1),
      (per.read / updates).toFixed(2),
      (per.written / updates).toFixed(2),
      (per.fsyncs / ROUNDS).toFixed(1),
      `${(per.bytes / ROUNDS / 2 ** 20).toFixed(2)} MiB`,
      (med / ((per.hashes / ROUNDS) * ns * 1e-6)).toFixed(1),
    ]);
  }
  console.log(
    table(
      [
        "batch",
        "ms / commit (median)",
        "ms / commit (mean, with checkpoints)",
        "updates/s (mean)",
        "hashes / update",
        "merkle pages read / update",
        "merkle pages dirtied / update",
        "fsyncs / commit",
        "bytes written / commit",
        "median x hashing",
      ],
      rows,
    ),
  );
  console.log(`\nkernel: ${ns.toFixed(0)} ns per node hash (batched), measured in this run`);
  const bmt1000 = Number(rows[0][1]);
  if (process.env.MPT !== "0") await mptRun(keys, key, order, bmt1000);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

/** The baseline on the same keys: load, then durable 1000-update commits; median ms. */
async function mptRun(keys: Uint8Array, key: (i: number) => Uint8Array, order: (j: number) => number, bmtMs: number): Promise<void> {
  const mdir = join(dir, "mpt");
  const mpt = await MptBaseline.open(mdir);
  try {
    let t = performance.now();
    for (let done = 0; done < N; done += LOAD_BATCH) {
      const batch: [Uint8Array, Uint8Array][] = [];
      for (let j = done; j < Math.min(N, done + LOAD_BATCH); j++) {
        const i = order(j);
        batch.push([key(i), keys.subarray(i * 31, i * 31 + 32)]);
      }
      await mpt.commit(batch);
    }
    console.log(`\n# @ethereumjs/mpt on lmdb-js: ${N} keys loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const ms: number[] = [];
    const rounds = Math.min(ROUNDS, 7);
    for (let r = 0; r < rounds; r++) {
      const batch: [Uint8Array, Uint8Array][] = [];
      for (let j = 0; j < 1000; j++) batch.push([key(Math.floor(Math.random() * N)), crypto.getRandomValues(new Uint8Array(32))]);
      t = performance.now();
      await mpt.commit(batch);
      ms.push(performance.now() - t);
    }
    const med = median(ms);
    console.log(
      table(
        ["engine", "1000 updates per commit at " + N + " keys (median ms)", "updates/s"],
        [
          ["bmt", bmtMs.toFixed(1), Math.round(1000 / (bmtMs / 1000))],
          ["@ethereumjs/mpt + lmdb-js", med.toFixed(1), Math.round(1000 / (med / 1000))],
        ],
      ),
    );
    console.log(`bmt is ${(med / bmtMs).toFixed(1)}x faster (${rounds} mpt commits)`);
  } finally {
    await mpt.close();
  }
}
