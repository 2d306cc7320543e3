import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { proveKey, sortEntries, toHex, trieRoot, verifyKeyProof } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { traceFiles, traceStates, trieCases } from "../support/vector-states.ts";

const seed = testSeed();

describe("trie: JAM vectors", () => {
  it("computes all 11 trie.json roots", () => {
    const cases = trieCases();
    assert.equal(cases.length, 11);
    for (const c of cases) assert.equal(toHex(trieRoot(sortEntries(c.entries))), toHex(c.expectedRoot), c.label);
  });

  it("computes every genesis, pre_state and post_state root of every trace", () => {
    const files = traceFiles();
    assert.ok(files.length >= 100, `expected the whole storage_light run, found ${files.length} files`);
    const states = traceStates();
    assert.equal(states.length, files.filter((f) => !f.endsWith("genesis.json")).length * 2 + files.filter((f) => f.endsWith("genesis.json")).length);
    for (const s of states) {
      assert.equal(toHex(trieRoot(sortEntries(s.entries))), toHex(s.expectedRoot), `${s.file} ${s.label}`);
    }
  });

  it(`proves every key of every trace state and random absent keys (seed ${seed})`, () => {
    const rng = new Rng(seed);
    // Consecutive trace states mostly repeat; prove each distinct state once.
    const seen = new Set<string>();
    let proofs = 0;
    for (const s of traceStates()) {
      const root = toHex(s.expectedRoot);
      if (seen.has(root)) continue;
      seen.add(root);
      const entries = sortEntries(s.entries);
      for (const e of entries) {
        const p = proveKey(entries, e.key);
        assert.equal(toHex(p.root), root);
        assert.deepEqual(p.value, e.value);
        assert.ok(verifyKeyProof(p, s.expectedRoot), `inclusion ${toHex(e.key)} in ${s.file} ${s.label}`);
        proofs++;
      }
      const present = new Set(entries.map((e) => toHex(e.key)));
      for (let i = 0; i < 20; i++) {
        const key = rng.bytes(31);
        // Also near misses: a present key with its last bit flipped shares a 247-bit path.
        if (i % 2 === 1) {
          key.set(rng.pick(entries).key);
          key[30] ^= 1 << rng.int(8);
        }
        if (present.has(toHex(key))) continue;
        const p = proveKey(entries, key);
        assert.equal(p.value, null);
        assert.ok(verifyKeyProof(p, s.expectedRoot), `non-inclusion ${toHex(key)} in ${s.file} ${s.label}`);
        proofs++;
      }
    }
    assert.ok(proofs > 1000, `only ${proofs} proofs`);
  });
});
