import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commonPrefixBits, sortEntries, subtrieRoot, TrieError, toHex, trieRoot, trieRootUnsorted } from "../../src/trie/index.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { refRoot } from "../support/reference.ts";

const seed = testSeed();

describe(`trie: root of sorted entries (seed ${seed})`, () => {
  it("equals the by-the-book model on random sets of 0..300 entries", () => {
    const rng = new Rng(seed);
    for (let round = 0; round < 300; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(300), round % 2 === 1));
      assert.equal(toHex(trieRoot(entries)), toHex(refRoot(entries)), `round ${round}, ${entries.length} entries`);
    }
  });

  it("equals the model across kernel batch boundaries (5000 entries, clustered)", () => {
    const entries = sortEntries(randomEntries(new Rng(seed + 1), 5000, true));
    assert.equal(toHex(trieRoot(entries)), toHex(refRoot(entries)));
  });

  it("handles keys that differ only in the last bit (depth 248) and a lone chain to the bottom", () => {
    const rng = new Rng(seed + 2);
    const a = rng.bytes(31);
    a[30] &= 0xfe;
    const b = a.slice();
    b[30] |= 1;
    const pair = [
      { key: a, value: rng.bytes(5) },
      { key: b, value: rng.bytes(40) },
    ];
    assert.equal(commonPrefixBits(a, b), 247);
    assert.equal(toHex(trieRoot(pair)), toHex(refRoot(pair)));
    const c = a.slice();
    c[0] ^= 0x80;
    const three = sortEntries([...pair, { key: c, value: new Uint8Array(0) }]);
    assert.equal(toHex(trieRoot(three)), toHex(refRoot(three)));
  });

  it("gives the root of a subtrie at any depth its keys share", () => {
    const rng = new Rng(seed + 3);
    for (let round = 0; round < 50; round++) {
      const entries = sortEntries(randomEntries(rng, 2 + rng.int(40), true));
      const shared = commonPrefixBits(entries[0].key, entries[entries.length - 1].key);
      const depth = rng.int(shared + 1);
      assert.equal(toHex(subtrieRoot(entries, 0, entries.length, depth)), toHex(refRoot(entries, depth)), `depth ${depth}`);
    }
  });

  it("empty and single-entry tries", () => {
    assert.equal(toHex(trieRoot([])), `0x${"00".repeat(32)}`);
    const one = [{ key: new Uint8Array(31).fill(9), value: new Uint8Array(33).fill(1) }];
    assert.equal(toHex(trieRoot(one)), toHex(refRoot(one)));
  });

  it("trieRootUnsorted sorts a copy and agrees", () => {
    const entries = randomEntries(new Rng(seed + 4), 100, true);
    const before = entries.map((e) => toHex(e.key));
    assert.equal(toHex(trieRootUnsorted(entries)), toHex(refRoot(entries)));
    assert.deepEqual(
      entries.map((e) => toHex(e.key)),
      before,
    );
  });

  it("refuses unsorted, duplicate and malformed input with typed errors naming the entry", () => {
    const entries = sortEntries(randomEntries(new Rng(seed + 5), 10, false));
    const swapped = [...entries];
    [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
    assert.throws(
      () => trieRoot(swapped),
      (e: unknown) => e instanceof TrieError && e.code === "UNSORTED" && /entries\[4\]/.test(e.message),
    );
    const dup = [...entries.slice(0, 5), entries[4], ...entries.slice(5)];
    assert.throws(
      () => trieRoot(dup),
      (e: unknown) => e instanceof TrieError && e.code === "DUPLICATE_KEY",
    );
    const long = entries.map((e, i) => (i === 2 ? { key: new Uint8Array(32), value: e.value } : e));
    assert.throws(
      () => trieRoot(long),
      (e: unknown) => e instanceof TrieError && e.code === "BAD_KEY" && /entries\[2\]\.key/.test(e.message),
    );
    const bad = entries.map((e, i) => (i === 7 ? { key: e.key, value: "x" as unknown as Uint8Array } : e));
    assert.throws(
      () => trieRoot(bad),
      (e: unknown) => e instanceof TrieError && e.code === "BAD_VALUE",
    );
    assert.throws(() => subtrieRoot(entries, 3, 2, 0), TrieError);
    // A failed call leaves no state behind: the next root is still right.
    assert.equal(toHex(trieRoot(entries)), toHex(refRoot(entries)));
  });
});
