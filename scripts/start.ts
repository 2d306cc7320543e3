// `npm start`: what bmt does today, end to end, with timings.
//  1. the state roots of the JAM vectors (../shared/vectors, or $BMT_VECTORS), checked;
//  2. the root of 1M random entries from scratch.
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { readStateFile } from "../src/cli/state-files.ts";
import { randomSortedEntries } from "../bench/support.ts";
import { toHex, trieRoot, trieRootUnsorted } from "../src/index.ts";

const vectors = resolve(process.env.BMT_VECTORS ?? join(import.meta.dirname ?? ".", "..", "..", "shared", "vectors"));
const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
let failures = 0;



function checkFiles(label: string, files: string[]): void {
  const t = performance.now();
  let states = 0;
  let bad = 0;
  for (const file of files) {
    for (const s of readStateFile(file)) {
      states++;
      if (toHex(trieRootUnsorted(s.entries)) !== toHex(s.expectedRoot)) {
        bad++;
        console.log(`  MISMATCH ${relative(process.cwd(), file)} ${s.label}`);
      }
    }
  }
  failures += bad;
  console.log(`  ${label.padEnd(26)} ${String(states).padStart(4)} states, ${bad === 0 ? "all roots match" : `${bad} MISMATCHED`} (${ms(t)})`);
}

if (existsSync(join(vectors, "trie", "trie.json"))) {
  console.log(`JAM vectors in ${vectors}`);
  checkFiles("trie/trie.json", [join(vectors, "trie", "trie.json")]);
  const traces = join(vectors, "traces");
  for (const dir of readdirSync(traces, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const files = readdirSync(join(traces, dir.name))
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => join(traces, dir.name, f));
    checkFiles(`traces/${dir.name}`, files);
  }
} else {
  console.log(`(no JAM vectors at ${vectors}; set BMT_VECTORS to check them)`);
}

const N = Number(process.env.N ?? 1_000_000);
console.log(`\n${N} random entries (31-byte keys, 32-byte values)`);
let t = performance.now();
const entries = randomSortedEntries(N);
console.log(`  generate, sorted    ${ms(t)}`);
t = performance.now();
const root = trieRoot(entries);
console.log(`  root from scratch   ${ms(t)}  ${toHex(root)}`);
process.exitCode = failures === 0 ? 0 : 1;
