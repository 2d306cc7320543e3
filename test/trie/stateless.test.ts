import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Entry,
  entriesNodeSource,
  proveForUpdate,
  proveMany,
  sortEntries,
  statelessUpdate,
  toHex,
  TrieError,
  trieRoot,
  type Change,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { refRoot } from "../support/reference.ts";

const seed = testSeed();

/** The state after `writes`, as a sorted entry list. */
function applied(entries: readonly Entry[], writes: readonly Change[]): Entry[] {
  const map = new Map(entries.map((e) => [toHex(e.key), e]));
  for (const [key, value] of writes) {
    if (value === null) map.delete(toHex(key));
    else map.set(toHex(key), { key, value });
  }
  return sortEntries([...map.values()]);
}

/** Random writes: updates, deletes, inserts (some next to existing keys, down to depth 248). */
function randomWrites(rng: Rng, entries: readonly Entry[], n: number): Change[] {
  const byKey = new Map<string, Change>();
  for (let i = 0; i < n; i++) {
    const r = rng.int(4);
    let key: Uint8Array;
    if (entries.length > 0 && r < 2) key = rng.pick(entries).key;
    else if (entries.length > 0 && r === 2) key = keySharing(rng, rng.pick(entries).key, rng.int(2) ? 247 - rng.int(4) : rng.int(248));
    else key = rng.bytes(31);
    byKey.set(toHex(key), [key, rng.int(3) === 0 ? null : randomValue(rng)]);
  }
  return [...byKey.values()];
}

function expectCode(code: string) {
  return (e: unknown) => e instanceof TrieError && e.code === code;
}

describe(`trie: stateless update (seed ${seed})`, () => {
  it("recomputes the root from scratch after random inserts, updates and deletes", () => {
    const rng = new Rng(seed);
    let collapses = 0;
    for (let round = 0; round < 300; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(120), round % 2 === 0));
      const source = entriesNodeSource(entries);
      const root = trieRoot(entries);
      const writes = randomWrites(rng, entries, 1 + rng.int(25));
      const post = trieRoot(applied(entries, writes));
      const proof = proveForUpdate(source, [], writes);
      assert.equal(toHex(statelessUpdate(root, proof, writes)), toHex(post), `round ${round}`);
      // A proof of the written keys alone suffices unless a delete collapses next to an
      // unopened sibling: then the update refuses rather than guess that sibling's kind.
      try {
        assert.equal(
          toHex(
            statelessUpdate(
              root,
              proveMany(
                source,
                writes.map((w) => w[0]),
              ),
              writes,
            ),
          ),
          toHex(post),
        );
      } catch (e) {
        assert.ok(e instanceof TrieError && e.code === "NOT_COVERED", String(e));
        collapses++;
      }
    }
    assert.ok(collapses > 10, `${collapses} collapses needed an opened sibling`);
  });

  it("handles the corner cases: empty trie, delete to empty, leaf moving up, depth-248 split, value sizes", () => {
    const rng = new Rng(seed + 1);
    const a = rng.bytes(31);
    const b = keySharing(rng, a, 247); // differs from a in the last bit only
    const c = keySharing(rng, a, 3);
    const values = [0, 1, 32, 33, 1000].map((n) => rng.bytes(n));
    const cases: [Entry[], Change[]][] = [
      [[], [[a, values[0]]]], // insert into empty
      [[], [[a, null]]], // delete from empty
      [[{ key: a, value: values[1] }], [[a, null]]], // delete to empty
      [[{ key: a, value: values[1] }], [[b, values[2]]]], // split at depth 248
      [
        [
          { key: a, value: values[3] },
          { key: b, value: values[4] },
        ],
        [[a, null]],
      ], // b moves up from depth 248 to the root
      [
        [
          { key: a, value: values[3] },
          { key: b, value: values[4] },
          { key: c, value: values[0] },
        ],
        [
          [a, null],
          [b, null],
        ],
      ], // c moves up to the root
      [
        [
          { key: a, value: values[3] },
          { key: b, value: values[4] },
          { key: c, value: values[0] },
        ],
        [
          [a, null],
          [b, null],
          [c, null],
        ],
      ], // everything deleted
      [
        [
          { key: a, value: values[3] },
          { key: c, value: values[0] },
        ],
        [
          [c, null],
          [b, values[4]],
        ],
      ], // delete and insert under one branch
    ];
    for (const [before, writes] of cases) {
      const entries = sortEntries(before);
      const post = applied(entries, writes);
      const proof = proveForUpdate(entriesNodeSource(entries), [], writes);
      const root = statelessUpdate(trieRoot(entries), proof, writes);
      assert.equal(toHex(root), toHex(refRoot(post)));
    }
    for (const v of values) {
      const entries = sortEntries(randomEntries(rng, 40, true));
      const writes: Change[] = entries.slice(0, 10).map((e) => [e.key, v]);
      const proof = proveForUpdate(entriesNodeSource(entries), [], writes);
      assert.equal(toHex(statelessUpdate(trieRoot(entries), proof, writes)), toHex(refRoot(applied(entries, writes))));
    }
  });

  it("refuses writes the proof does not cover, a proof of another root, and bad writes", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 50, false));
    const source = entriesNodeSource(entries);
    const root = trieRoot(entries);
    const proof = proveMany(source, [entries[0].key, entries[1].key]);
    assert.throws(() => statelessUpdate(root, proof, [[entries[2].key, null]]), expectCode("NOT_COVERED"));
    assert.throws(() => statelessUpdate(root, proof, [[rng.bytes(31), new Uint8Array(1)]]), expectCode("NOT_COVERED"));
    const other = root.slice();
    other[0] ^= 1;
    assert.throws(() => statelessUpdate(other, proof, []), expectCode("BAD_PROOF"));
    const siblings = proof.siblings.slice();
    siblings[0] = siblings[0].slice();
    siblings[0][9] ^= 1;
    assert.throws(() => statelessUpdate(root, { ...proof, siblings }, []), expectCode("BAD_PROOF"));
    const k = entries[0].key;
    assert.throws(
      () =>
        statelessUpdate(root, proof, [
          [k, null],
          [k, new Uint8Array(1)],
        ]),
      expectCode("DUPLICATE_KEY"),
    );
    assert.throws(() => statelessUpdate(root, proof, [[new Uint8Array(30), null]]), expectCode("BAD_KEY"));
    assert.throws(() => statelessUpdate(root, proof, [[k, "x" as unknown as Uint8Array]]), expectCode("BAD_VALUE"));
    assert.equal(toHex(statelessUpdate(root, proof, [])), toHex(root));
  });
});
