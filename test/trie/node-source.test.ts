import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BRANCH_NODE,
  commonPrefixBits,
  EMPTY_NODE,
  type Entry,
  entriesNodeSource,
  LEAF_NODE,
  proveKey,
  sortEntries,
  subtrieRoot,
  toHex,
  TrieError,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { refRoot } from "../support/reference.ts";

const seed = testSeed();

function shares(key: Uint8Array, path: Uint8Array, depth: number): boolean {
  return commonPrefixBits(key, path) >= depth;
}

/** Every node on the path of `path` checked against the reference model, down to its terminal. */
function checkPath(entries: Entry[], source: ReturnType<typeof entriesNodeSource>, path: Uint8Array): number {
  let depth = 0;
  let node = source.root();
  let before = -1;
  for (;;) {
    const under = entries.filter((e) => shares(e.key, path, depth));
    // Names from scratch where the key set changes, and on long single-child chains every 8th
    // level (each costs a chain of hashes).
    if (under.length !== before || depth % 8 === 0) {
      assert.equal(toHex(node.name), toHex(subtrieRoot(under, 0, under.length, depth)), `name at depth ${depth}`);
    }
    before = under.length;
    assert.equal(node.kind, under.length === 0 ? EMPTY_NODE : under.length === 1 ? LEAF_NODE : BRANCH_NODE);
    if (node.kind === LEAF_NODE) assert.equal(toHex(source.leaf(path, depth).key), toHex(under[0].key));
    if (node.kind !== BRANCH_NODE) return depth;
    depth++;
    node = source.node(path, depth);
  }
}

describe(`trie: entries node source (seed ${seed})`, () => {
  it("reports the kind and name of every node on random paths as computed from scratch", () => {
    const rng = new Rng(seed);
    let nodes = 0;
    for (let round = 0; round < 40; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(50), round % 2 === 0));
      const source = entriesNodeSource(entries);
      assert.equal(toHex(source.root().name), toHex(refRoot(entries)));
      for (let i = 0; i < 10; i++) {
        const path = entries.length > 0 && rng.int(3) > 0 ? keySharing(rng, rng.pick(entries).key, rng.int(248)) : rng.bytes(31);
        nodes += checkPath(entries, source, path);
      }
      for (const e of entries) checkPath(entries, source, e.key);
    }
    assert.ok(nodes > 500);
  });

  it("refuses positions below a leaf or an empty node, and bad arguments, with typed errors", () => {
    const rng = new Rng(seed + 1);
    const entries = sortEntries(randomEntries(rng, 20, false));
    const source = entriesNodeSource(entries);
    const key = entries[3].key;
    const p = proveKey(source, key);
    const leafDepth = p.siblings.length;
    assert.equal(source.node(key, leafDepth).kind, LEAF_NODE);
    assert.throws(
      () => source.node(key, leafDepth + 1),
      (e) => e instanceof TrieError && e.code === "BAD_PATH",
    );
    assert.throws(
      () => source.leaf(key, leafDepth - 1),
      (e) => e instanceof TrieError && e.code === "BAD_PATH",
    );
    assert.throws(
      () => source.node(key, 0),
      (e) => e instanceof TrieError && e.code === "BAD_ARGUMENT",
    );
    assert.throws(
      () => source.node(key, 249),
      (e) => e instanceof TrieError && e.code === "BAD_ARGUMENT",
    );
    assert.throws(
      () => source.node(new Uint8Array(30), 1),
      (e) => e instanceof TrieError && e.code === "BAD_KEY",
    );
    const unsorted = [entries[1], entries[0]];
    assert.throws(
      () => entriesNodeSource(unsorted),
      (e) => e instanceof TrieError && e.code === "UNSORTED",
    );
    assert.throws(
      () => entriesNodeSource([entries[0], entries[0]]),
      (e) => e instanceof TrieError && e.code === "DUPLICATE_KEY",
    );
    const empty = entriesNodeSource([]);
    assert.equal(empty.root().kind, EMPTY_NODE);
    assert.throws(
      () => empty.leaf(key, 0),
      (e) => e instanceof TrieError && e.code === "BAD_PATH",
    );
  });

  it("scan lists the entries of an inclusive range in order, up to a limit", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 200, true));
    const source = entriesNodeSource(entries);
    for (let i = 0; i < 50; i++) {
      const a = rng.int(entries.length);
      const b = a + rng.int(entries.length - a);
      const limit = 1 + rng.int(300);
      const got = source.scan?.(entries[a].key, entries[b].key, limit) ?? [];
      assert.deepEqual(
        got.map((e) => toHex(e.key)),
        entries.slice(a, Math.min(b + 1, a + limit)).map((e) => toHex(e.key)),
      );
    }
  });

  it("proveKey over a source and over the entry array give the same proof", () => {
    const rng = new Rng(seed + 3);
    const entries = sortEntries(randomEntries(rng, 80, true));
    const source = entriesNodeSource(entries);
    for (let i = 0; i < 40; i++) {
      const key = i % 2 === 0 ? rng.pick(entries).key : rng.bytes(31);
      assert.deepEqual(proveKey(source, key), proveKey(entries, key));
    }
  });

  it("a source for the subtrie under shared top bits gives the same nodes below them", () => {
    const rng = new Rng(seed + 4);
    for (let run = 0; run < 30; run++) {
      const top = rng.int(230);
      const base = rng.bytes(31);
      const n = 2 + rng.int(14);
      const keys = new Map<string, Entry>();
      while (keys.size < n) {
        const key = keySharing(rng, base, top + rng.int(248 - top));
        keys.set(toHex(key), { key, value: rng.bytes(rng.int(2) ? 32 : 40) });
      }
      const entries = sortEntries([...keys.values()]);
      const whole = entriesNodeSource(entries);
      const sub = entriesNodeSource(entries, top);
      assert.equal(toHex(sub.root().name), toHex(subtrieRoot(entries, 0, entries.length, top)), `root at ${top}`);
      for (let i = 0; i < 6; i++) {
        const path = i % 2 === 0 ? rng.pick(entries).key : keySharing(rng, base, top + rng.int(248 - top));
        let d = top;
        for (; d < 248; d++) {
          const a = d === 0 ? whole.root() : whole.node(path, d);
          const kind = a.kind;
          const name = toHex(a.name);
          const b = d === top ? sub.root() : sub.node(path, d);
          assert.equal(b.kind, kind, `kind at ${d}`);
          assert.equal(toHex(b.name), name, `name at ${d}`);
          if (kind !== BRANCH_NODE) break;
        }
        if (d < 248 && (d === top ? sub.root() : sub.node(path, d)).kind === LEAF_NODE) {
          assert.equal(toHex(sub.leaf(path, d).key), toHex(whole.leaf(path, d).key));
        }
      }
      if (top > 0 && entries.length >= 2) {
        const apart = entries.slice();
        const far = base.slice();
        far[0] ^= 0x80;
        if (!keys.has(toHex(far))) {
          apart.push({ key: far, value: new Uint8Array(1) });
          assert.throws(
            () => entriesNodeSource(sortEntries(apart), top),
            (e: unknown) => e instanceof TrieError && e.code === "BAD_ARGUMENT",
          );
        }
      }
    }
  });
});
