// Bulk import and warp sync throughput.
//
//   npm run bench:import -- [--keys 1000000] [--runs 3] [--sync-max-size 1048576] [--no-sync]
//
// Per run, interleaved: `importEntries` of N sorted in-memory entries (31-byte random keys,
// 32-byte values) into a fresh directory, timed from the call to the durable commit (making the
// entries is not timed); `trieRoot` of the same entries, the floor any import pays for hashing;
// and, unless --no-sync, a warp sync of the imported database into another one with responses
// of --sync-max-size bytes, each verified (responder and verifier in one process).
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importEntries, open, warpSync } from "../src/db/index.ts";
import { type Entry, toHex, trieRoot } from "../src/trie/index.ts";
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
const roots: number[] = [];
const syncs: number[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const list = entries(N);
    const dir = join(base, `import-${r}`);
    let t = performance.now();
    const res = await importEntries(dir, list);
    const importMs = performance.now() - t;
    t = performance.now();
    const root = trieRoot(list);
    const rootMs = performance.now() - t;
    if (toHex(root) !== toHex(res.root)) throw new Error("import root differs from trieRoot");
    imports.push(importMs);
    roots.push(rootMs);
    let line = `run ${r + 1}: import ${importMs.toFixed(0)} ms (${(((N / importMs) * 1000) / 1e6).toFixed(2)}M keys/s), trieRoot ${rootMs.toFixed(0)} ms`;
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
  if (SYNC) console.log(`median sync: ${median(syncs).toFixed(0)} ms = ${(((N / median(syncs)) * 1000) / 1e3).toFixed(0)}k keys/s`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
