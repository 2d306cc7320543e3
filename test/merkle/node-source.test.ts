import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pagesNodeSource } from "../../src/merkle/node-source.ts";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { type Change, EMPTY_TOP, type MerkleTop, updateTrie } from "../../src/merkle/index.ts";
import { compareKeys, type Entry, entriesNodeSource, proveKey, proveMany, toHex, TrieError, verifyKeyProof, verifyMultiProof } from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { MemPages, ModelState } from "./model.ts";

const seed = testSeed();

/** A stored trie (pages + value model) of `entries`, and the proof source over it. */
function stored(entries: Entry[]) {
  const state = new ModelState();
  const pages = new MemPages();
  const r = updateTrie(
    EMPTY_TOP,
    entries.map((e) => [e.key, e.value] as Change),
    pages,
    state,
  );
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

// Enough random keys for pages at page-depth 1 (64 prefixes of 6 bits, most over the threshold).
const MANY = 200 * ELISION_THRESHOLD;

describe(`merkle: proofs from stored pages (seed ${seed})`, () => {
  it("gives the same single and multi proofs as the entries, through stored and elided pages", () => {
    const rng = new Rng(seed);
    for (const [n, clustered] of [
      [0, false],
      [1, false],
      [ELISION_THRESHOLD - 1, false],
      [ELISION_THRESHOLD, true],
      [MANY, false],
      [MANY, true],
    ] as const) {
      const entries = entriesOf(rng, n, clustered);
      const { top, pages, source } = stored(entries);
      const reference = entriesNodeSource(entries);
      if (n >= MANY) assert.ok(pages.pages.size > 1, "some pages are stored");
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

  it("reports a stored page that has gone missing as BAD_PATH, reading a bounded number of entries", () => {
    const rng = new Rng(seed + 1);
    const entries = entriesOf(rng, MANY, false);
    const { pages, source } = stored(entries);
    // Drop one stored page below the root page; a proof of a key under it must not be made
    // from the entries alone (that would hide the damage), and the scan stops at the threshold.
    const ids = [...pages.pages.keys()].filter((id) => Number.parseInt(id.slice(0, 2), 16) === 1);
    assert.ok(ids.length > 0, "a page at page-depth 1 is stored");
    const id = ids[0];
    const page = pages.pages.get(id) as Uint8Array;
    pages.pages.delete(id);
    // A page id is its depth, then the key bits above it: at page-depth 1, a key's first 6 bits.
    const prefix = Buffer.from(id, "hex")[1];
    const under = entries.find((e) => (e.key[0] & 0xfc) === prefix);
    assert.ok(under, "an entry under the dropped page");
    let scanned = 0;
    const model = new ModelState();
    for (const e of entries) model.set(e.key, e.value);
    const counting = pagesNodeSource(stored(entries).top, pages, {
      entriesUnder: (path, depth, limit = Infinity) => {
        const out = model.entriesUnder(path, depth).slice(0, limit);
        scanned = Math.max(scanned, out.length);
        return out;
      },
    });
    for (const src of [source, counting]) {
      assert.throws(
        () => proveKey(src, (under as Entry).key),
        (e: unknown) => e instanceof TrieError && e.code === "BAD_PATH",
      );
    }
    assert.ok(scanned <= ELISION_THRESHOLD, `one scan returned ${scanned} entries`);
    pages.pages.set(id, page);
    assert.ok(verifyKeyProof(proveKey(source, (under as Entry).key), stored(entries).top.root));
  });
});
