// The bottom-up build of a sorted load: its top and every page it hands out equal a from-scratch
// update's, byte for byte, for random states around the page and elision boundaries, keys with
// long shared prefixes, values of 0-5, 31, 32, 33 bytes and large ones, and any split into batches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PackedEntries } from "../../src/kv/index.ts";
import { type MerkleTop, TrieLoadBuilder } from "../../src/merkle/index.ts";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { MemPages, scratchBuild } from "./model.ts";

const seed = testSeed();
const VALUE_SIZES = [0, 1, 2, 3, 4, 5, 31, 32, 33, 1024, 1025, 5000];

function entriesOf(rng: Rng, n: number, clustered: boolean): Entry[] {
  const byKey = new Map<string, Entry>();
  const keys: Uint8Array[] = [];
  while (byKey.size < n) {
    const key =
      clustered && keys.length > 0 && rng.int(2) === 0 ? keySharing(rng, rng.pick(keys), rng.int(2) === 0 ? 247 - rng.int(12) : rng.int(248)) : rng.bytes(31);
    const hex = toHex(key);
    if (byKey.has(hex)) continue;
    keys.push(key);
    byKey.set(hex, { key, value: rng.bytes(rng.pick(VALUE_SIZES)) });
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

function built(entries: Entry[], cuts: number[]): { top: MerkleTop; pages: MemPages; hashes: number } {
  const builder = new TrieLoadBuilder();
  const pages = new MemPages();
  const packed = new PackedEntries();
  let at = 0;
  for (const cut of [...cuts, entries.length]) {
    packed.reset();
    for (; at < cut; at++) packed.push(entries[at].key, entries[at].value);
    const writes = builder.add(packed);
    // A page is handed out once, finished.
    for (const w of writes) assert.equal(pages.get(w.id), undefined, "a page handed out twice");
    pages.apply(writes);
  }
  const { top, writes } = builder.finish();
  pages.apply(writes);
  return { top, pages, hashes: builder.hashes };
}

function randomCuts(rng: Rng, n: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; at < n; ) {
    at += 1 + rng.int(rng.int(3) === 0 ? 5 : 3000);
    if (at < n) cuts.push(at);
  }
  return cuts;
}

describe(`merkle: bottom-up load build (seed ${seed})`, () => {
  it("gives the top and the pages of a from-scratch update, whatever the batches", () => {
    const rng = new Rng(seed);
    const T = ELISION_THRESHOLD;
    const sizes = [0, 1, 2, 3, T - 1, T, T + 1, 2 * T, 64 * T - 1, 64 * T + 1, 20_000];
    for (const n of sizes) {
      for (const clustered of [false, true]) {
        const entries = entriesOf(rng, n, clustered);
        const want = scratchBuild(entries);
        for (const cuts of [[], randomCuts(rng, n), Array.from({ length: Math.min(n, 300) }, (_, i) => i + 1)]) {
          const label = `n ${n}${clustered ? " clustered" : ""}, ${cuts.length + 1} batches`;
          const got = built(entries, cuts);
          assert.equal(toHex(got.top.root), toHex(want.top.root), `${label}: root`);
          assert.equal(toHex(got.top.root), toHex(trieRoot(entries)), `${label}: trieRoot`);
          assert.equal(got.top.kind, want.top.kind, `${label}: kind`);
          assert.deepEqual([...got.pages.pages.keys()].sort(), [...want.pages.pages.keys()].sort(), `${label}: page ids`);
          for (const [id, page] of want.pages.pages)
            assert.ok(Buffer.from(page).equals(Buffer.from(got.pages.pages.get(id) as Uint8Array)), `${label}: page ${id}`);
        }
      }
    }
  });

  it("refuses more batches once finished", () => {
    const builder = new TrieLoadBuilder();
    builder.finish();
    assert.throws(() => builder.add(new PackedEntries()));
    assert.throws(() => builder.finish());
  });
});
