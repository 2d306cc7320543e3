// `npm start`: what bmt does today, end to end, with timings.
//  1. the state roots of the JAM vectors (../shared/vectors, or $BMT_VECTORS), checked;
//  2. the storage_light trace replayed block by block as incremental commits on disk;
//  3. the root of 1M random entries from scratch.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { readStateFile, stateDiff, stateMap } from "../src/cli/state-files.ts";
import { randomSortedEntries } from "../bench/support.ts";
import { toHex, trieRoot, trieRootUnsorted } from "../src/index.ts";
import { Store } from "../src/store/index.ts";

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
  replayOnDisk(join(traces, "storage_light"));
} else {
  console.log(`(no JAM vectors at ${vectors}; set BMT_VECTORS to check them)`);
}

/** Genesis, then each block's pre -> post difference as one durable commit; roots checked. */
function replayOnDisk(dir: string): void {
  if (!existsSync(join(dir, "genesis.json"))) return;
  const db = mkdtempSync(join(tmpdir(), "bmt-start-"));
  const store = Store.open(db);
  try {
    const t = performance.now();
    const genesis = readStateFile(join(dir, "genesis.json"))[0];
    store.commit(genesis.entries.map((e) => [e.key, e.value]));
    let bad = toHex(store.root) === toHex(genesis.expectedRoot) ? 0 : 1;
    const blocks = readdirSync(dir)
      .filter((f) => /^\d+\.json$/.test(f))
      .sort();
    const commitMs: number[] = [];
    for (const f of blocks) {
      const [pre, post] = readStateFile(join(dir, f));
      const batch = stateDiff(stateMap(pre.entries), stateMap(post.entries));
      const c = performance.now();
      store.commit(batch);
      commitMs.push(performance.now() - c);
      if (toHex(store.root) !== toHex(post.expectedRoot)) bad++;
    }
    failures += bad;
    commitMs.sort((a, b) => a - b);
    const median = commitMs[commitMs.length >> 1] ?? 0;
    console.log(
      `  ${"replay on disk".padEnd(26)} ${String(blocks.length).padStart(4)} blocks, ${bad === 0 ? "all roots match" : `${bad} MISMATCHED`} (${ms(t)}; median durable commit ${median.toFixed(1)} ms)`,
    );
  } finally {
    store.close();
    rmSync(db, { recursive: true, force: true });
  }
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
