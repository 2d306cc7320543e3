// Sorted appends (the bulk load's path into the value tree): any split into batches, values on
// both sides of the inline and overflow limits, appends after a commit; the tree passes its full
// check and holds exactly what was appended; a batch that does not follow the last key is refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemFileSystem } from "../../src/io/index.ts";
import { KvError, MAX_INLINE_VALUE, openKv, PackedEntries } from "../../src/kv/index.ts";
import { compareKeys } from "../../src/trie/index.ts";
import { hex, Rng } from "./helpers.ts";

const SIZES = [0, 1, 32, 33, MAX_INLINE_VALUE, MAX_INLINE_VALUE + 1, 9000];

function sortedEntries(rng: Rng, n: number): [Uint8Array, Uint8Array][] {
  const byKey = new Map<string, [Uint8Array, Uint8Array]>();
  while (byKey.size < n) {
    const key = rng.bytes(31);
    byKey.set(hex(key), [key, rng.bytes(rng.int(3) === 0 ? SIZES[rng.int(SIZES.length)] : 32)]);
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a[0], b[0]));
}

test("kv: sorted appends give the tree of their entries, in any batches", () => {
  const rng = new Rng(0x5eed);
  for (const n of [1, 2, 100, 3000, 20_000]) {
    const entries = sortedEntries(rng, n);
    const tree = openKv("t.db", { fs: new MemFileSystem() });
    const packed = new PackedEntries();
    let at = 0;
    while (at < n) {
      const end = Math.min(n, at + 1 + rng.int(rng.int(2) === 0 ? 8 : 4000));
      packed.reset();
      for (; at < end; at++) packed.push(entries[at][0], entries[at][1]);
      tree.appendSorted(packed);
      // A commit now and then: later appends go on from a durable tree.
      if (rng.int(4) === 0) tree.commit();
    }
    assert.equal(tree.check().entries, n, `n ${n}: check`);
    assert.equal(tree.size, n);
    let i = 0;
    for (const [key, value] of tree.entries()) {
      assert.equal(hex(key), hex(entries[i][0]), `n ${n}: key ${i}`);
      assert.equal(hex(value), hex(entries[i][1]), `n ${n}: value ${i}`);
      i++;
    }
    assert.equal(i, n);
    tree.close();
  }
});

test("kv: an append whose first key does not follow the last key stored is refused", () => {
  const rng = new Rng(7);
  const entries = sortedEntries(rng, 50);
  const tree = openKv("t.db", { fs: new MemFileSystem() });
  const packed = new PackedEntries();
  for (const e of entries.slice(10, 20)) packed.push(e[0], e[1]);
  tree.appendSorted(packed);
  packed.reset();
  packed.push(entries[5][0], entries[5][1]);
  assert.throws(
    () => tree.appendSorted(packed),
    (e: unknown) => e instanceof KvError && e.code === "BAD_BATCH",
  );
});
