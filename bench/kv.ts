// kv benchmark: this project's kv tree side by side with lmdb-js and classic-level.
//
//   npm run bench:kv -- [--keys 1000000] [--runs 3] [--engines bmt,lmdb,level] [--cache-mb 256]
//                       [--once level]
//   (or KV_BENCH_KEYS / KV_BENCH_RUNS / KV_BENCH_ENGINES / KV_BENCH_CACHE_MB / KV_BENCH_ONCE)
// An engine "bmt:<MiB>" is the bmt tree with that cache budget; engines listed in --once run in
// the first run only.
//
// Per run and engine, in a fresh directory: sorted bulk load of N keys in durable batches of
// 100k (making the keys is not timed); random inserts of N/10 (at most 200k) new keys in durable
// batches of 10k; warm random gets of existing
// keys (one untimed pass first); range scans of 10k entries from random starts. Keys are 31
// bytes, values 32 bytes. Prints the median of each figure over the runs, and ratios.
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type Engine, bmtEngine, levelEngine, lmdbEngine } from "./kv/engines.ts";

function arg(name: string, env: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[env] ?? dflt;
}

const N = Number(arg("keys", "KV_BENCH_KEYS", "1000000"));
const RUNS = Number(arg("runs", "KV_BENCH_RUNS", "3"));
const ENGINES = arg("engines", "KV_BENCH_ENGINES", "bmt,lmdb,level").split(",");
// Engines measured in the first run only (slow ones, to keep long runs short).
const ONCE = arg("once", "KV_BENCH_ONCE", "")
  .split(",")
  .filter((x) => x !== "");
const CACHE_MB = Number(arg("cache-mb", "KV_BENCH_CACHE_MB", "256"));
const BULK_BATCH = 100_000;
const INSERT_BATCH = 10_000;
const GETS = Math.min(1_000_000, N);
const SCAN_LEN = 10_000;
const SCANS = Math.max(10, Math.min(100, Math.floor(N / SCAN_LEN)));

// Sorted keys: the first 4 bytes rise with i across the key space, the rest is pseudo-random.
// Keys and values are Buffers, which every engine takes without conversion.
function sortedKey(i: number): Uint8Array {
  const k = Buffer.allocUnsafe(31);
  const hi = Math.floor((i / N) * 0x1_0000_0000);
  k[0] = hi >>> 24;
  k[1] = (hi >>> 16) & 0xff;
  k[2] = (hi >>> 8) & 0xff;
  k[3] = hi & 0xff;
  let x = (i * 0x9e3779b1 + 0x7f4a7c15) | 1;
  for (let b = 4; b < 31; b++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    k[b] = x & 0xff;
  }
  return k;
}

let seed = 0x2545f491;
function rand32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
function randomKey(): Uint8Array {
  const k = Buffer.allocUnsafe(31);
  for (let b = 0; b < 31; b += 4) {
    const r = rand32();
    k[b] = r & 0xff;
    if (b + 1 < 31) k[b + 1] = (r >>> 8) & 0xff;
    if (b + 2 < 31) k[b + 2] = (r >>> 16) & 0xff;
    if (b + 3 < 31) k[b + 3] = r >>> 24;
  }
  return k;
}
function valueOf(i: number): Uint8Array {
  const v = Buffer.alloc(32);
  v[0] = i & 0xff;
  v[1] = (i >>> 8) & 0xff;
  v[2] = (i >>> 16) & 0xff;
  v[31] = 1;
  return v;
}
const compare = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

function dirSize(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

async function makeEngine(name: string, dir: string): Promise<Engine> {
  if (name === "bmt") return bmtEngine(dir, CACHE_MB * 1024 * 1024);
  // "bmt:1024": the bmt tree with a cache of that many MiB.
  if (name.startsWith("bmt:")) return bmtEngine(dir, Number(name.slice(4)) * 1024 * 1024, name.slice(4));
  if (name === "lmdb") return lmdbEngine(dir);
  if (name === "level") return levelEngine(dir);
  throw new Error(`unknown engine ${name}`);
}

interface Figures {
  bulk: number;
  insert: number;
  get: number;
  scan: number;
  mb: number;
}

async function runOnce(name: string): Promise<{ label: string; f: Figures }> {
  const dir = join(tmpdir(), `bmt-bench-kv-${process.pid}-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const engine = await makeEngine(name, dir);
  try {
    // Sorted bulk load; only the engine's calls are timed, not making the keys.
    let spent = 0;
    for (let at = 0; at < N; at += BULK_BATCH) {
      const keys: Uint8Array[] = [];
      const vals: Uint8Array[] = [];
      for (let i = at; i < Math.min(N, at + BULK_BATCH); i++) {
        keys.push(sortedKey(i));
        vals.push(valueOf(i));
      }
      const t = performance.now();
      await engine.write(keys, vals);
      spent += performance.now() - t;
    }
    const bulk = N / (spent / 1000);
    let t0: number;
    // Random inserts of new keys.
    const inserts = Math.max(INSERT_BATCH, Math.min(200_000, Math.floor(N / 10)));
    const batches: Uint8Array[][] = [];
    for (let at = 0; at < inserts; at += INSERT_BATCH) {
      batches.push(Array.from({ length: INSERT_BATCH }, randomKey).sort(compare));
    }
    const v = valueOf(7);
    t0 = performance.now();
    for (const keys of batches)
      await engine.write(
        keys,
        keys.map(() => v),
      );
    const insert = inserts / ((performance.now() - t0) / 1000);
    // Warm random gets of keys from the bulk load.
    const probes = Array.from({ length: GETS }, () => sortedKey(rand32() % N));
    await engine.getAll(probes);
    t0 = performance.now();
    const found = await engine.getAll(probes);
    const get = GETS / ((performance.now() - t0) / 1000);
    if (found !== GETS) throw new Error(`${name}: found ${found} of ${GETS}`);
    // Range scans.
    const starts = Array.from({ length: SCANS }, () => sortedKey(rand32() % Math.max(1, N - 2 * SCAN_LEN)));
    t0 = performance.now();
    let read = 0;
    for (const s of starts) read += await engine.scan(s, SCAN_LEN);
    const scan = read / ((performance.now() - t0) / 1000);
    await engine.close();
    return { label: engine.name, f: { bulk, insert, get, scan, mb: dirSize(dir) / 1048576 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

async function main(): Promise<void> {
  console.log(
    `kv bench: ${N} keys (31 B) / 32 B values, ${RUNS} runs, cpu: ${cpus()[0]?.model} x${cpus().length}, node ${process.version}, bmt cache ${CACHE_MB} MiB`,
  );
  const results = new Map<string, Figures[]>();
  const labels = new Map<string, string>();
  for (let r = 0; r < RUNS; r++) {
    for (const name of ENGINES) {
      if (r > 0 && ONCE.includes(name)) continue;
      const { label, f } = await runOnce(name);
      labels.set(name, label);
      if (!results.has(name)) results.set(name, []);
      results.get(name)!.push(f);
      console.log(
        `run ${r + 1} ${label.padEnd(14)} bulk ${fmt(f.bulk)}/s  insert ${fmt(f.insert)}/s  get ${fmt(f.get)}/s  scan ${fmt(f.scan)}/s  disk ${f.mb.toFixed(0)} MiB`,
      );
    }
  }
  const med = new Map<string, Figures>();
  for (const [name, fs] of results) {
    med.set(name, {
      bulk: median(fs.map((f) => f.bulk)),
      insert: median(fs.map((f) => f.insert)),
      get: median(fs.map((f) => f.get)),
      scan: median(fs.map((f) => f.scan)),
      mb: median(fs.map((f) => f.mb)),
    });
  }
  const base = med.get("bmt");
  console.log(`\n| engine (${N} keys, runs) | sorted bulk load keys/s | random batch insert keys/s | warm random get/s | range scan entries/s | disk MiB |`);
  console.log("|---|---|---|---|---|---|");
  for (const [name, m] of med) {
    const ratio = (x: number, y: number | undefined): string => (base && !name.startsWith("bmt") && y ? ` (bmt ${(y / x).toFixed(2)}x)` : "");
    console.log(
      `| ${labels.get(name)} (${results.get(name)!.length}) | ${fmt(m.bulk)}${ratio(m.bulk, base?.bulk)} | ${fmt(m.insert)}${ratio(m.insert, base?.insert)} | ${fmt(m.get)}${ratio(m.get, base?.get)} | ${fmt(m.scan)}${ratio(m.scan, base?.scan)} | ${m.mb.toFixed(0)} |`,
    );
  }
}

await main();
