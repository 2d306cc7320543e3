// State root from scratch over N random sorted entries (32-byte values, so every leaf embeds).
// `npm run bench:root` (N=1000000 by default; N=... to change).
import { HashKernel } from "../src/hash/index.ts";
import { commonPrefixBits, type Entry, trieRoot } from "../src/trie/index.ts";
import { interleaved, machine, randomSortedEntries, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);

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
      [
        "trieRoot (sorted entries -> root)",
        result.root.toFixed(0),
        ((result.root * 1e6) / entries.length).toFixed(0),
        (result.root / result.kernelOnly).toFixed(2),
      ],
      [`kernel floor: ${nodes} node hashes, batched`, result.kernelOnly.toFixed(0), ((result.kernelOnly * 1e6) / entries.length).toFixed(0), "1.00"],
    ],
  ),
);
