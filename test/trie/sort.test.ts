import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareKeys, sortByKey } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

/** Checks that `sorted` is a permutation of `items` (`indexOf` gives an item's input index) in key order. */
function assertSortedPermutation(items: readonly Uint8Array[], sorted: readonly Uint8Array[], indexOf?: (k: Uint8Array) => number): void {
  assert.equal(sorted.length, items.length);
  const at = indexOf === undefined ? new Map(items.map((k, i) => [k, i])) : null;
  const seen = new Uint8Array(items.length);
  for (let i = 0; i < sorted.length; i++) {
    const x = at !== null ? at.get(sorted[i]) : (indexOf as (k: Uint8Array) => number)(sorted[i]);
    assert.ok(x !== undefined && seen[x] === 0, `item ${i} is not one of the inputs, or repeats`);
    seen[x] = 1;
    if (i > 0) assert.ok(compareKeys(sorted[i - 1], sorted[i]) <= 0, `items ${i - 1} and ${i} out of order`);
  }
}

describe(`trie: sortByKey (seed ${seed})`, () => {
  it("orders like a comparator sort: random keys, shared prefixes, equal leading bytes, repeats", () => {
    const rng = new Rng(seed);
    const shapes: [string, (n: number) => Uint8Array[]][] = [
      ["random", (n) => Array.from({ length: n }, () => rng.bytes(31))],
      [
        "long shared prefixes",
        (n) => {
          const base = rng.bytes(31);
          return Array.from({ length: n }, () => keySharing(rng, base, 20 + rng.int(220)));
        },
      ],
      [
        "zero leading bytes",
        (n) =>
          Array.from({ length: n }, () => {
            const k = rng.bytes(31);
            k.fill(0, 0, 4 + rng.int(3));
            return k;
          }),
      ],
      [
        "repeated keys",
        (n) => {
          const pool = Array.from({ length: 1 + (n >> 3) }, () => rng.bytes(31));
          return Array.from({ length: n }, () => rng.pick(pool).slice());
        },
      ],
    ];
    for (const [name, make] of shapes) {
      for (const n of [0, 1, 2, 31, 32, 33, 1000, 5000]) {
        const items = make(n);
        const expected = items.slice().sort(compareKeys);
        const got = sortByKey(items.slice(), (k) => k);
        assert.equal(got.length, n);
        for (let i = 0; i < n; i++) assert.equal(compareKeys(got[i], expected[i]), 0, `${name}, n = ${n}: item ${i}`);
        assertSortedPermutation(items, got);
      }
    }
  });

  it("sorts in place, items with their keys", () => {
    const rng = new Rng(seed + 1);
    const items = Array.from({ length: 500 }, (_, i) => ({ key: rng.bytes(31), i }));
    const out = sortByKey(items, (x) => x.key);
    assert.equal(out, items);
    for (let j = 1; j < items.length; j++) assert.ok(compareKeys(items[j - 1].key, items[j].key) < 0);
    assert.deepEqual(
      items.map((x) => x.i).sort((a, b) => a - b),
      Array.from({ length: 500 }, (_, i) => i),
    );
  });

  it("keeps order past 2^21 items, where fewer leading bits fit beside the index", () => {
    const n = 2 ** 21 + 3;
    const rng = new Rng(seed + 2);
    const bytes = new Uint8Array(n * 31);
    for (let i = 0; i < bytes.length; i += 65536) bytes.set(rng.bytes(Math.min(65536, bytes.length - i)), i);
    // Some keys equal in their first 32 bits, so runs of ties are sorted key by key.
    for (let i = 0; i < 1000; i++) {
      const from = rng.int(n) * 31;
      bytes.copyWithin(rng.int(n) * 31, from, from + 4);
    }
    const items = Array.from({ length: n }, (_, i) => bytes.subarray(i * 31, i * 31 + 31));
    const sorted = sortByKey(items.slice(), (k) => k);
    assertSortedPermutation(items, sorted, (k) => k.byteOffset / 31);
  });
});
