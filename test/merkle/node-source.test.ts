import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pagesNodeSource } from "../../src/merkle/node-source.ts";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { type Change, EMPTY_TOP, type MerkleTop, updateTrie } from "../../src/merkle/update.ts";
import { compareKeys, type Entry, entriesNodeSource, proveKey, proveMany, toHex, verifyKeyProof, verifyMultiProof } from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { MemPages, ModelState } from "./model.ts";

const seed = testSeed();

/** A stored trie (pages + value model) of `entries`, and the proof source over it. */
function stored(entries: Entry[]) {
  const state = new ModelState();
  const pages = new MemPages();
  const r = updateTrie(EMPTY_TOP, entries.map((e) => [e.key, e.value] as Change), pages, state);
  pages.apply(r.writes);
  for (const e of entries) state.set(e.key, e.value);
  const leaves = {
    entriesUnder: (path: Uint8Array, depth: number, limit = Infinity) => state.entriesUnder(path, depth).slice(0, limit),
  };
  return { top: r.top as MerkleTop, pages, source: pagesNodeSource(r.top, pages, leaves) };
}

function entriesOf(rng: Rng, n: number, clustered: boolean): Entry[] {
  const map = new Map<string, Entry>();
  const bases = Array.from({ length: 3 }, () => rng.bytes(31));
  while (map.size < n) {
    const key = clustered && rng.int(2) ? keySharing(rng, rng.pick(bases), 200 + rng.int(48)) : rng.bytes(31);
    map.set(toHex(key), { key, value: randomValue(rng) });
  }
  return [...map.values()].sort((a, b) => compareKeys(a.key, b.key));
}

describe(`merkle: proofs from stored pages (seed ${seed})`, () => {
  it("gives the same single and multi proofs as the entries, through stored and elided pages", () => {
    const rng = new Rng(seed);
    for (const [n, clustered] of [[0, false], [1, false], [ELISION_THRESHOLD - 1, false], [ELISION_THRESHOLD, true], [3000, false], [3000, true]] as const) {
      const entries = entriesOf(rng, n, clustered);
      const { top, pages, source } = stored(entries);
      const reference = entriesNodeSource(entries);
      if (n >= 3000) assert.ok(pages.pages.size > 1, "some pages are stored");
      const keys: Uint8Array[] = [];
      for (let i = 0; i < 60; i++) {
        const key = n > 0 && rng.int(2) ? rng.pick(entries).key : n > 0 && rng.int(2) ? keySharing(rng, rng.pick(entries).key, rng.int(248)) : rng.bytes(31);
        keys.push(key);
        const proof = proveKey(source, key);
        assert.deepEqual(proof, proveKey(reference, key), `n ${n}: proof of ${toHex(key)}`);
        assert.ok(verifyKeyProof(proof, top.root));
      }
      const multi = proveMany(source, keys);
      assert.deepEqual(multi, proveMany(reference, keys), `n ${n}: multiproof`);
      assert.ok(verifyMultiProof(multi, top.root));
    }
  });
});
