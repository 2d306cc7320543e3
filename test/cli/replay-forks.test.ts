// `bmt replay` with forks: block files whose pre_state is an earlier block's (siblings on one
// parent), interleaved with the trace's own chain; every root is checked, and the database ends
// at the last block imported.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../src/cli/main.ts";
import { fromHex, toHex, trieRootUnsorted } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { requireVectors } from "../support/vectors.ts";

interface JsonState {
  state_root: string;
  keyvals: { key: string; value: string }[];
}

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-forks-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** `state` with one value changed (a key chosen by `rng`), its root recomputed. */
function sibling(state: JsonState, rng: Rng): JsonState {
  const keyvals = state.keyvals.map((kv) => ({ ...kv }));
  const at = rng.int(keyvals.length);
  keyvals[at].value = toHex(rng.bytes(1 + rng.int(40)));
  const root = trieRootUnsorted(keyvals.map((kv) => ({ key: fromHex(kv.key), value: fromHex(kv.value) })));
  return { state_root: toHex(root), keyvals };
}

describe(`cli: bmt replay with sibling blocks (seed ${seed})`, () => {
  it("imports siblings of earlier blocks on their parent's state, checks every root, and ends at the last block", async () => {
    const rng = new Rng(seed ^ 0x5b1b);
    const src = join(requireVectors(), "traces", "storage_light");
    const dir = join(tmp, "trace");
    mkdirSync(dir);
    cpSync(join(src, "genesis.json"), join(dir, "genesis.json"));
    const chain = readdirSync(src)
      .filter((f) => /^\d+\.json$/.test(f))
      .sort()
      .slice(0, 12);
    // Each trace block, followed by 0-2 siblings of it (same pre_state, another post_state).
    let n = 0;
    let siblings = 0;
    for (const f of chain) {
      const block = JSON.parse(readFileSync(join(src, f), "utf8"));
      writeFileSync(join(dir, `${String(++n).padStart(8, "0")}.json`), JSON.stringify(block));
      for (let j = rng.int(3); j > 0; j--) {
        writeFileSync(
          join(dir, `${String(++n).padStart(8, "0")}.json`),
          JSON.stringify({ pre_state: block.pre_state, post_state: sibling(block.post_state, rng) }),
        );
        siblings++;
      }
    }
    // The last file is a trace block, so the database ends at the trace's state.
    const last = JSON.parse(readFileSync(join(src, chain[chain.length - 1]), "utf8"));
    writeFileSync(join(dir, `${String(++n).padStart(8, "0")}.json`), JSON.stringify({ pre_state: last.pre_state, post_state: sibling(last.post_state, rng) }));
    writeFileSync(join(dir, `${String(++n).padStart(8, "0")}.json`), JSON.stringify(last));
    siblings++; // the one of the last block
    const db = join(tmp, "db");
    const r = await run(["replay", dir, "--db", db]);
    assert.equal(r.code, 0, r.out.join("\n") + r.err.join("\n"));
    assert.equal(r.out[r.out.length - 1], `${n} passed, 0 failed`, `${siblings} siblings`);
    // No block needed a sync: each pre_state was a retained state.
    assert.ok(!r.out.some((l) => l.includes("synced")), r.out.join("\n"));
    const root = await run(["root", "--db", db]);
    assert.equal(root.out[0], last.post_state.state_root);
  });
});
