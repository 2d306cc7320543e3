// Reading ahead the value pages and merkle pages a batch will touch (Store.readAhead, which a
// database session's finish() runs before its trie update): the update that follows reads no
// page from the files, and images that changed on disk while they were read are not cached.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Store, type StoreOptions } from "../../src/store/index.ts";
import { compareKeys, toHex, trieRoot } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-read-ahead-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function fromScratch(model: Map<string, Uint8Array>): Uint8Array {
  return trieRoot([...model.keys()].sort().map((k) => ({ key: Buffer.from(k, "hex"), value: model.get(k) as Uint8Array })));
}

/**
 * A store of 80k keys under 4 of the 64 6-bit prefixes (so that pages below the pinned depth,
 * at page-depth 2, hold more than the elision threshold), checkpointed and reopened (both
 * caches empty), and its model.
 */
function build(name: string, rng: Rng, options: StoreOptions = {}): { store: Store; keys: Uint8Array[]; model: Map<string, Uint8Array> } {
  const path = join(tmp, name);
  const first = Store.open(path);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < 80_000; i++) {
    const k = rng.bytes(31);
    k[0] = (k[0] & 0x03) | ((i % 4) << 2);
    keys.push(k);
  }
  const model = new Map<string, Uint8Array>();
  const batch = keys.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]);
  for (const [k, v] of batch) model.set(hex(k), v);
  first.commit(batch);
  // A last checkpoint of one page path: the reopen replays its page WAL (and caches those
  // pages), not that of the whole build.
  first.checkpoint();
  first.commit([batch[0]]);
  first.close();
  return { store: Store.open(path, options), keys, model };
}

const sorted = (keys: Uint8Array[]) => [...keys].sort(compareKeys);

describe(`store: reading ahead (seed ${seed})`, () => {
  it("caches the pages on the keys' paths: the lookups and the trie update that follow read nothing from the files", async () => {
    const rng = new Rng(seed);
    const { store, keys, model } = build("warm", rng);
    try {
      const picked = sorted(keys.filter(() => rng.int(200) === 0));
      const cold = store.stats();
      await store.readAhead(picked);
      const before = store.stats();
      assert.ok(before.values.pagesRead > cold.values.pagesRead && before.merkle.pagesRead > cold.merkle.pagesRead, "value and merkle pages were read ahead");
      for (const k of picked) assert.equal(hex(store.get(k) as Uint8Array), hex(model.get(hex(k)) as Uint8Array));
      assert.equal(store.stats().values.pagesRead, before.values.pagesRead, "value pages read by the lookups");
      // The update also scans the small subtries the keys fall in, over the leaves that hold
      // them (read ahead too); a scan that ends at a leaf's last key still reads the next leaf
      // to find its end, which is not read ahead, so value pages are not counted here.
      const batch = picked.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]);
      const prepared = store.prepare(batch);
      assert.equal(store.stats().merkle.pagesRead, before.merkle.pagesRead, "merkle pages read by the update");
      store.commitPrepared(prepared);
      for (const [k, v] of batch) model.set(hex(k), v);
      assert.equal(toHex(store.root), toHex(fromScratch(model)));
    } finally {
      store.close();
    }
  });

  it("drops what it read when a checkpoint rewrote the pages meanwhile: roots stay exact", async () => {
    const rng = new Rng(seed + 1);
    // Caches of 16 pages: the pages rewritten meanwhile have left memory when the reads return
    // (written inline, so that no image is still being written then).
    const { store, keys, model } = build("stale", rng, { valueCacheBytes: 16 * 4096, merkleCacheBytes: 16 * 4096, writeBehind: false });
    try {
      const picked = sorted(keys.filter((_, i) => i % 8 === 0));
      // In flight while every picked key changes and a checkpoint writes the pages in place
      // (and the value tree's new pages), twice: what it read is stale by then.
      const ahead = store.readAhead(picked);
      for (let round = 0; round < 2; round++) {
        const batch = picked.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]);
        store.commit(batch);
        store.checkpoint();
        for (const [k, v] of batch) model.set(hex(k), v);
      }
      await ahead;
      for (const k of picked) assert.equal(hex(store.get(k) as Uint8Array), hex(model.get(hex(k)) as Uint8Array));
      const batch = picked.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]);
      store.commit(batch);
      for (const [k, v] of batch) model.set(hex(k), v);
      assert.equal(toHex(store.root), toHex(fromScratch(model)));
    } finally {
      store.close();
    }
  });
});
