// ns per 64-byte node: the kernel batched and one at a time, beside @noble/hashes and
// hash-wasm, in one run. `npm run bench:hash`
import { blake2b as nobleBlake2b } from "@noble/hashes/blake2.js";
import { createBLAKE2b } from "hash-wasm";
import { blake2b256, HashKernel } from "../src/hash/index.ts";
import { interleaved, machine, table } from "./support.ts";

const BATCH = 4096;
const kernel = new HashKernel(BATCH);
const nodes = new Uint8Array(64 * BATCH);
for (let i = 0; i < nodes.length; i++) nodes[i] = (i * 131 + 7) & 0xff;
const out = new Uint8Array(32);
const hw = await createBLAKE2b(256);

/** ns per node for `count` nodes hashed by `step(i)`. */
function nsPerNode(count: number, step: (i: number) => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < count; i++) step(i);
  return Number(process.hrtime.bigint() - t) / count;
}

const cases = {
  "bmt kernel, batched (4096 per call)": () => {
    kernel.heap.set(nodes, kernel.inOffset);
    const t = process.hrtime.bigint();
    for (let r = 0; r < 100; r++) kernel.hashNodes(BATCH);
    return Number(process.hrtime.bigint() - t) / (100 * BATCH);
  },
  "bmt kernel, one node per call (hashNode)": () => nsPerNode(200_000, (i) => kernel.hashNode(nodes, (i & (BATCH - 1)) * 64, out, 0)),
  "bmt blake2b256 (any-length API, new digest)": () =>
    nsPerNode(200_000, (i) => blake2b256(nodes.subarray((i & (BATCH - 1)) * 64, (i & (BATCH - 1)) * 64 + 64))),
  "hash-wasm createBLAKE2b(256)": () =>
    nsPerNode(100_000, (i) => {
      hw.init();
      hw.update(nodes.subarray((i & (BATCH - 1)) * 64, (i & (BATCH - 1)) * 64 + 64));
      hw.digest("binary");
    }),
  "@noble/hashes blake2b (dkLen 32)": () =>
    nsPerNode(20_000, (i) => nobleBlake2b(nodes.subarray((i & (BATCH - 1)) * 64, (i & (BATCH - 1)) * 64 + 64), { dkLen: 32 })),
};

// Warm up every path so the JIT has settled before measuring.
for (const f of Object.values(cases)) f();
const rounds = Number(process.env.ROUNDS ?? 7);
const result = await interleaved(rounds, cases);
const base = result["bmt kernel, batched (4096 per call)"];
console.log(`# hash: ns per 64-byte node, median of ${rounds} interleaved runs\n# ${machine()}\n`);
console.log(
  table(
    ["implementation", "ns / node", "x batched kernel"],
    Object.entries(result).map(([name, ns]) => [name, ns.toFixed(0), (ns / base).toFixed(2)]),
  ),
);
