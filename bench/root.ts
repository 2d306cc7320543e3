// State root from scratch over N random sorted entries (32-byte values, so every leaf embeds).
// `npm run bench:root` (N=1000000 by default; N=... to change).
import { HashKernel } from "../src/hash/index.ts";
import { commonPrefixBits, type Entry, trieRoot } from "../src/trie/index.ts";
import { interleaved, machine, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);

function randomSortedEntries(n: number): Entry[] {
  const keys = Buffer.alloc(n * 31);
  for (let i = 0; i < keys.length; i += 4) keys.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, Math.min(i, keys.length - 4));
  const views: Buffer[] = [];
  for (let i = 0; i < n; i++) views.push(keys.subarray(i * 31, i * 31 + 31));
  views.sort(Buffer.compare);
  // Lay the keys out in sorted order, as a state dump or a scan of the store would give them.
  const sorted = Buffer.alloc(n * 31);
  views.forEach((v, i) => v.copy(sorted, i * 31));
  const values = Buffer.alloc(n * 32, 7);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const key = sorted.subarray(i * 31, i * 31 + 31);
    if (i > 0 && key.equals(entries[entries.length - 1].key)) continue;
    entries.push({ key, value: values.subarray(i * 32, i * 32 + 32) });
  }
  return entries;
}

/** Nodes the root needs: one leaf per entry plus one branch per prefix holding >= 2 keys. */
function nodeCount(entries: Entry[]): number {
  let branches = 0;
  let prev = -1;
  for (let i = 0; i + 1 < entries.length; i++) {
    const b = commonPrefixBits(entries[i].key, entries[i + 1].key);
    if (b > prev) branches += b - prev;
    prev = b;
  }
  return entries.length + branches;
}

const entries = randomSortedEntries(N);
const nodes = nodeCount(entries);
const kernel = new HashKernel(4096);
trieRoot(entries);
const rounds = Number(process.env.ROUNDS ?? 5);
const result = await interleaved(rounds, {
  root: () => {
    const t = performance.now();
    trieRoot(entries);
    return performance.now() - t;
  },
  kernelOnly: () => {
    // The same number of 64-byte hashes, batched, with nothing else: the floor.
    const t = performance.now();
    for (let done = 0; done < nodes; done += kernel.capacity) kernel.hashNodes(Math.min(kernel.capacity, nodes - done));
    return performance.now() - t;
  },
});
console.log(`# trie root from scratch, ${entries.length} random entries, median of ${rounds}\n# ${machine()}\n`);
console.log(
  table(
    ["what", "ms", "ns / entry", "x kernel floor"],
    [
      ["trieRoot (sorted entries -> root)", result.root.toFixed(0), ((result.root * 1e6) / entries.length).toFixed(0), (result.root / result.kernelOnly).toFixed(2)],
      [`kernel floor: ${nodes} node hashes, batched`, result.kernelOnly.toFixed(0), ((result.kernelOnly * 1e6) / entries.length).toFixed(0), "1.00"],
    ],
  ),
);
