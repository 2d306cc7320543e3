// Bulk import and warp sync throughput.
//
//   npm run bench:import -- [--keys 1000000] [--runs 3] [--sync-max-size 1048576] [--no-sync]
//                           [--chunk 16384[,65536...]] [--batch]
//
// Per run, interleaved: `importEntries` of N sorted in-memory entries (31-byte random keys,
// 32-byte values) into a fresh directory, timed from the call to the durable commit (making the
// entries is not timed); `trieRoot` of the same entries, the floor any import pays for hashing;
// and, unless --no-sync, a warp sync of the imported database into another one with responses
// of --sync-max-size bytes, each verified (responder and verifier in one process). With several
// --chunk sizes, each run imports once per size (in the order given), into its own directory.
// With --batch, each run also imports the same entries as one EntryBatch (three buffers), the
// two forms alternating which goes first from run to run.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importEntries, open, warpSync } from "../src/db/index.ts";
import { type Entry, type EntryBatch, toHex, trieRoot } from "../src/trie/index.ts";
import { sortByKey } from "../src/trie/key.ts";
import { machine, median } from "./support.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const N = Number(arg("keys", "1000000"));
const RUNS = Number(arg("runs", "3"));
const SYNC_MAX = Number(arg("sync-max-size", String(1 << 20)));
const SYNC = !process.argv.includes("--no-sync");
const BATCH = process.argv.includes("--batch");
const CHUNKS = arg("chunk", "")
  .split(",")
  .filter((c) => c !== "")
  .map(Number);
if (CHUNKS.length === 0) CHUNKS.push(0);

// The garbage of making the entries (and of the import before) collected before a timed
// import, when the process runs with --expose-gc (npm run bench:import does).
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// The same entries as one batch: keys and values each in one buffer.
function batchOf(list: Entry[]): EntryBatch {
  const keys = new Uint8Array(31 * list.length);
  const offsets = new Uint32Array(list.length + 1);
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    keys.set(list[i].key, 31 * i);
    offsets[i] = total;
    total += list[i].value.length;
  }
  offsets[list.length] = total;
  const values = new Uint8Array(total);
  for (let i = 0; i < list.length; i++) values.set(list[i].value, offsets[i]);
  return { keys, values, offsets };
}

function entries(n: number): Entry[] {
  const keys = randomBytes(31 * n);
  const vals = randomBytes(32 * n);
  const out: Entry[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { key: keys.subarray(31 * i, 31 * i + 31), value: vals.subarray(32 * i, 32 * i + 32) };
  return sortByKey(out, (e) => e.key);
}

const base = join(tmpdir(), `bmt-bench-import-${process.pid}`);
rmSync(base, { recursive: true, force: true });
mkdirSync(base, { recursive: true });
console.log(`import bench: ${N} keys, 32-byte values, ${RUNS} runs; ${machine()}`);
const imports: number[] = [];
const byChunk = new Map<number, number[]>(CHUNKS.map((c) => [c, []]));
const roots: number[] = [];
const syncs: number[] = [];
const batches: number[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const list = entries(N);
    const dir = join(base, `import-${r}`);
    let t = 0;
    let importMs = 0;
    let res: { root: Uint8Array } = { root: new Uint8Array(0) };
    const times: string[] = [];
    // The batch form, before the objects in odd runs and after them in even ones.
    const batch = BATCH ? batchOf(list) : null;
    let batchMs = 0;
    const importBatch = async (): Promise<void> => {
      if (batch === null) return;
      const at = `${dir}-batch`;
      settle();
      const t0 = performance.now();
      const got = await importEntries(at, [batch]);
      batchMs = performance.now() - t0;
      batches.push(batchMs);
      rmSync(at, { recursive: true, force: true });
      if (toHex(got.root) !== toHex(trieRoot(list))) throw new Error("batch import root differs from trieRoot");
    };
    if (r % 2 === 0) await importBatch();
    for (const [i, c] of CHUNKS.entries()) {
      const at = i === 0 ? dir : `${dir}-${c}`;
      settle();
      t = performance.now();
      res = await importEntries(at, list, c === 0 ? {} : { chunk: c });
      const ms = performance.now() - t;
      (byChunk.get(c) as number[]).push(ms);
      if (i === 0) importMs = ms;
      else rmSync(at, { recursive: true, force: true });
      if (CHUNKS.length > 1) times.push(`chunk ${c}: ${ms.toFixed(0)} ms`);
    }
    if (r % 2 === 1) await importBatch();
    t = performance.now();
    const root = trieRoot(list);
    const rootMs = performance.now() - t;
    if (toHex(root) !== toHex(res.root)) throw new Error("import root differs from trieRoot");
    imports.push(importMs);
    roots.push(rootMs);
    let line = `run ${r + 1}: import ${importMs.toFixed(0)} ms (${(((N / importMs) * 1000) / 1e6).toFixed(2)}M keys/s), trieRoot ${rootMs.toFixed(0)} ms`;
    if (times.length > 0) line += ` [${times.join(", ")}]`;
    if (batch !== null)
      line += `; batch import ${batchMs.toFixed(0)} ms (${(((N / batchMs) * 1000) / 1e6).toFixed(2)}M keys/s, ${r % 2 === 0 ? "first" : "second"})`;
    if (SYNC) {
      const peer = open(dir, { readOnly: true });
      const snap = peer.beginRead();
      const target = join(base, `sync-${r}`);
      t = performance.now();
      const out = await warpSync(target, snap.root, (req) => snap.stateRequest(req.start, req.end, req.maxSize), { maxSize: SYNC_MAX });
      const syncMs = performance.now() - t;
      snap.release();
      peer.close();
      if (toHex(out.root) !== toHex(root)) throw new Error("sync root differs");
      syncs.push(syncMs);
      line += `, sync ${syncMs.toFixed(0)} ms (${(((N / syncMs) * 1000) / 1e3).toFixed(0)}k keys/s, ${out.responses} responses of <= ${SYNC_MAX} B)`;
      rmSync(target, { recursive: true, force: true });
    }
    console.log(line);
    rmSync(dir, { recursive: true, force: true });
  }
  const mi = median(imports);
  console.log(
    `\nmedian: import ${mi.toFixed(0)} ms = ${(((N / mi) * 1000) / 1e6).toFixed(2)}M keys/s; trieRoot ${median(roots).toFixed(0)} ms; import / trieRoot ${(mi / median(roots)).toFixed(2)}x`,
  );
  if (BATCH) {
    const mb = median(batches);
    console.log(
      `median batch import: ${mb.toFixed(0)} ms = ${(((N / mb) * 1000) / 1e6).toFixed(2)}M keys/s (range ${Math.min(...batches).toFixed(0)}-${Math.max(...batches).toFixed(0)} ms); objects / batch ${(mi / mb).toFixed(2)}x`,
    );
  }
  if (CHUNKS.length > 1) for (const [c, ms] of byChunk) console.log(`median import, chunk ${c}: ${median(ms).toFixed(0)} ms`);
  if (SYNC) console.log(`median sync: ${median(syncs).toFixed(0)} ms = ${(((N / median(syncs)) * 1000) / 1e3).toFixed(0)}k keys/s`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
