import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareKeys,
  decodeRangeProof,
  encodeRangeProof,
  type Entry,
  entriesNodeSource,
  proveRange,
  type RangeProof,
  sortEntries,
  toHex,
  TrieError,
  type TrieNodeSource,
  trieRoot,
  verifyRangeProof,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { traceStates } from "../support/vector-states.ts";

const seed = testSeed();

function inRange(entries: readonly Entry[], start: Uint8Array, end: Uint8Array): Entry[] {
  return entries.filter((e) => compareKeys(e.key, start) >= 0 && compareKeys(e.key, end) <= 0);
}

/** The same trie without `scan`, so proveRange walks it node by node. */
function withoutScan(source: TrieNodeSource): TrieNodeSource {
  return { root: () => source.root(), node: (p, d) => source.node(p, d), leaf: (p, d) => source.leaf(p, d) };
}

function randomBound(rng: Rng, entries: readonly Entry[]): Uint8Array {
  const r = rng.int(4);
  if (entries.length > 0 && r === 0) return rng.pick(entries).key;
  if (entries.length > 0 && r === 1) return keySharing(rng, rng.pick(entries).key, rng.int(248));
  if (r === 2) return new Uint8Array(31).fill(rng.int(2) ? 0 : 255);
  return rng.bytes(31);
}

describe(`trie: range proofs (seed ${seed})`, () => {
  it("list exactly the entries of [start, end] (cut at limit) and verify, with and without scan", () => {
    const rng = new Rng(seed);
    let cut = 0;
    for (let round = 0; round < 300; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(150), round % 2 === 0));
      const source = entriesNodeSource(entries);
      const root = trieRoot(entries);
      let start = randomBound(rng, entries);
      let end = rng.int(8) === 0 ? start : randomBound(rng, entries);
      if (compareKeys(start, end) > 0) [start, end] = [end, start];
      const limit = 1 + rng.int(40);
      const proof = proveRange(round % 3 === 0 ? withoutScan(source) : source, start, end, limit);
      const all = inRange(entries, start, end);
      const listed = all.slice(0, limit);
      assert.deepEqual(
        proof.entries.map((e) => toHex(e.key)),
        listed.map((e) => toHex(e.key)),
      );
      assert.deepEqual(toHex(proof.end), all.length > limit ? toHex(listed[limit - 1].key) : toHex(end));
      if (all.length > limit) cut++;
      assert.ok(verifyRangeProof(proof, root), `round ${round}`);
      const again = decodeRangeProof(encodeRangeProof(proof));
      assert.ok(verifyRangeProof(again, root));
      assert.deepEqual(encodeRangeProof(again), encodeRangeProof(proof));
    }
    assert.ok(cut > 20);
  });

  it("prove random ranges of every JAM trace state", () => {
    const rng = new Rng(seed + 4);
    for (const state of traceStates()) {
      const entries = sortEntries(state.entries);
      const source = entriesNodeSource(entries);
      const root = source.root().name;
      for (let i = 0; i < 3; i++) {
        let start = randomBound(rng, entries);
        let end = randomBound(rng, entries);
        if (compareKeys(start, end) > 0) [start, end] = [end, start];
        const proof = proveRange(source, start, end, 1 + rng.int(50));
        assert.ok(verifyRangeProof(decodeRangeProof(encodeRangeProof(proof)), root), state.label);
        assert.deepEqual(
          proof.entries.map((e) => toHex(e.key)),
          inRange(entries, start, proof.end).map((e) => toHex(e.key)),
        );
      }
    }
  });

  it("is complete: dropping, adding or changing an entry, or widening the range, fails", () => {
    const rng = new Rng(seed + 1);
    let checked = 0;
    for (let round = 0; round < 80; round++) {
      const entries = sortEntries(randomEntries(rng, 20 + rng.int(100), round % 2 === 0));
      const source = entriesNodeSource(entries);
      const root = trieRoot(entries);
      const i = rng.int(entries.length);
      const j = Math.min(entries.length - 1, i + rng.int(20));
      const proof = proveRange(source, entries[i].key, entries[j].key, 1000);
      const n = proof.entries.length;
      assert.equal(n, j - i + 1);
      const variants: RangeProof[] = [];
      for (let d = 0; d < n; d++) variants.push({ ...proof, entries: proof.entries.filter((_, x) => x !== d) });
      const value = proof.entries[0].value;
      const changed = value.length > 0 ? Uint8Array.from(value, (b, x) => (x === 0 ? b ^ 1 : b)) : new Uint8Array(1);
      variants.push({ ...proof, entries: [{ key: proof.entries[0].key, value: changed }, ...proof.entries.slice(1)] });
      if (i > 0) variants.push({ ...proof, start: entries[i - 1].key }); // a wider range the proof does not cover
      if (j + 1 < entries.length) variants.push({ ...proof, end: entries[j + 1].key });
      const outside = keySharing(rng, entries[i].key, 200);
      if (compareKeys(outside, proof.start) >= 0 && compareKeys(outside, proof.end) <= 0 && !entries.some((e) => compareKeys(e.key, outside) === 0)) {
        const added = sortEntries([...proof.entries, { key: outside, value: new Uint8Array(3) }]);
        variants.push({ ...proof, entries: added });
      }
      for (const v of variants) {
        assert.equal(verifyRangeProof(v, root), false);
        checked++;
      }
      const boundary = proof.boundary.slice();
      if (boundary.length > 0) {
        boundary.pop();
        assert.equal(verifyRangeProof({ ...proof, boundary }, root), false);
      }
    }
    assert.ok(checked > 500);
  });

  it("proves an empty range, the whole key space and the empty trie", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 60, false));
    const source = entriesNodeSource(entries);
    const root = trieRoot(entries);
    const lo = new Uint8Array(31);
    const hi = new Uint8Array(31).fill(255);
    const whole = proveRange(source, lo, hi, 100);
    assert.equal(whole.entries.length, 60);
    assert.equal(whole.boundary.length, 0);
    assert.ok(verifyRangeProof(whole, root));
    const gap = entries[10].key.slice();
    gap[30] ^= 1;
    const none = proveRange(source, gap, gap, 5);
    assert.equal(none.entries.length, entries.some((e) => compareKeys(e.key, gap) === 0) ? 1 : 0);
    assert.ok(verifyRangeProof(none, root));
    const empty = proveRange(entriesNodeSource([]), lo, gap, 1);
    assert.deepEqual(empty.boundary, [{ kind: "empty" }]);
    assert.ok(verifyRangeProof(empty, new Uint8Array(32)));
    const emptyWhole = proveRange(entriesNodeSource([]), lo, hi, 1);
    assert.deepEqual([emptyWhole.entries, emptyWhole.boundary], [[], []]);
    assert.ok(verifyRangeProof(emptyWhole, new Uint8Array(32)));
  });

  it("refuses bad arguments with typed errors and malformed proofs without throwing", () => {
    const source = entriesNodeSource(sortEntries(randomEntries(new Rng(seed + 3), 10, false)));
    const a = new Uint8Array(31);
    const b = new Uint8Array(31).fill(9);
    const code = (c: string) => (e: unknown) => e instanceof TrieError && e.code === c;
    assert.throws(() => proveRange(source, b, a, 5), code("BAD_ARGUMENT"));
    assert.throws(() => proveRange(source, a, b, 0), code("BAD_ARGUMENT"));
    assert.throws(() => proveRange(source, a, b, 1.5), code("BAD_ARGUMENT"));
    assert.throws(() => proveRange(source, a.subarray(1), b, 5), code("BAD_KEY"));
    const good = proveRange(source, a, b, 5);
    for (const bad of [null, {}, { ...good, entries: null }, { ...good, boundary: [{ kind: "nope" }] }, { ...good, start: b, end: a }]) {
      assert.equal(verifyRangeProof(bad as RangeProof), false);
    }
  });
});
