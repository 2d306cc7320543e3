// A commit's own trie update changes the dirty page images of earlier commits in place rather
// than copying them. These tests pin the three rules that make that safe: only images the store
// alone holds change, the results equal a from-scratch root, and a failure after an image
// changed stops the store (a reopen recovers the last commit from disk).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-in-place-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** First `bits` bits of a key as a number (bits <= 24). */
const prefix = (k: Uint8Array, bits: number) => ((k[0] << 16) | (k[1] << 8) | k[2]) >>> (24 - bits);

function fromScratch(model: Map<string, Uint8Array>): Uint8Array {
  return trieRoot([...model.keys()].sort().map((k) => ({ key: Buffer.from(k, "hex"), value: model.get(k) as Uint8Array })));
}

describe(`store: pages changed in place (seed ${seed})`, () => {
  it("changes its own earlier pages in place, with roots equal to the from-scratch root", () => {
    const rng = new Rng(seed);
    const store = Store.open(join(tmp, "own"));
    try {
      const model = new Map<string, Uint8Array>();
      const keys: Uint8Array[] = [];
      for (let i = 0; i < 3000; i++) keys.push(rng.bytes(31));
      store.commit(keys.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]));
      for (const k of keys) model.set(hex(k), store.get(k) as Uint8Array);
      let inPlace = 0;
      for (let c = 0; c < 20; c++) {
        const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
        while (batch.size < 200) {
          const k = rng.int(4) === 0 ? rng.bytes(31) : rng.pick(keys);
          batch.set(hex(k), [k, rng.int(10) === 0 ? null : rng.bytes(rng.pick([0, 32, 33, 100]))]);
        }
        const root = store.commit(batch.values());
        for (const [h, [, v]] of batch) {
          if (v === null) model.delete(h);
          else model.set(h, v);
        }
        assert.equal(toHex(root), toHex(fromScratch(model)), `commit ${c}`);
        const s = store.lastCommit as NonNullable<typeof store.lastCommit>;
        if (!s.checkpoint) inPlace += s.pagesWritten - s.pagesCopied;
      }
      // The first commit after a checkpoint copies; the later ones find most pages theirs.
      assert.ok(inPlace > 0, `pages changed in place: ${inPlace}`);
      store.close();
      const again = Store.open(join(tmp, "own"));
      try {
        assert.equal(toHex(again.root), toHex(fromScratch(model)));
      } finally {
        again.close();
      }
    } finally {
      store.close();
    }
  });

  it("with caches of a few pages: evictions, reloads and checkpoints between in-place commits", () => {
    const rng = new Rng(seed + 3);
    const dir = join(tmp, "tiny");
    const options = { merkleCacheBytes: 16 * 4096, valueCacheBytes: 32 * 4096, checkpointEvery: 4, merkleInitialBuckets: 16 };
    let store = Store.open(dir, options);
    try {
      const model = new Map<string, Uint8Array>();
      const keys: Uint8Array[] = [];
      let inPlace = 0;
      // Enough keys that most 6-bit prefixes (pinned pages) and a few clustered 12-bit ones
      // hold the threshold's number of leaves.
      const size = (150 * ELISION_THRESHOLD) / 16;
      for (let c = 0; c < 60; c++) {
        const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
        while (batch.size < size) {
          const r = rng.int(10);
          const k = keys.length === 0 || r < 3 ? rng.bytes(31) : r < 4 ? keySharing(rng, rng.pick(keys), 8 + rng.int(200)) : rng.pick(keys);
          batch.set(hex(k), [k, c > 10 && rng.int(8) === 0 ? null : rng.bytes(rng.pick([1, 32, 33]))]);
        }
        const root = store.commit(batch.values());
        for (const [h, [k, v]] of batch) {
          if (v === null) model.delete(h);
          else {
            if (!model.has(h)) keys.push(k);
            model.set(h, v);
          }
        }
        assert.equal(toHex(root), toHex(fromScratch(model)), `commit ${c}`);
        const s = store.lastCommit as NonNullable<typeof store.lastCommit>;
        inPlace += s.pagesWritten - s.pagesCopied;
        if (rng.int(12) === 0) {
          store.close();
          store = Store.open(dir, options);
          assert.equal(toHex(store.root), toHex(root));
        }
      }
      assert.ok(inPlace > 0, `pages changed in place: ${inPlace}`);
      assert.ok(store.stats().merkle.pages > 16, "more pages than the cache holds");
    } finally {
      store.close();
    }
  });

  it("never changes the pages of a commit a caller prepared", () => {
    const rng = new Rng(seed + 1);
    const store = Store.open(join(tmp, "prepared"));
    try {
      const keys: Uint8Array[] = [];
      for (let i = 0; i < 2000; i++) keys.push(rng.bytes(31));
      store.commit(keys.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]));
      const prepared = store.prepare(keys.slice(0, 300).map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]));
      const before = prepared.update.writes.map((w) => (w.page === null ? null : w.page.slice()));
      store.commitPrepared(prepared);
      // Later commits rewrite the same pages (every key of the first batch again).
      for (let c = 0; c < 3; c++) store.commit(keys.slice(0, 300).map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]));
      assert.ok(before.length > 0);
      prepared.update.writes.forEach((w, i) => {
        assert.deepEqual(w.page, before[i], `page ${i} of the prepared commit changed after it was committed`);
      });
    } finally {
      store.close();
    }
  });

  it("stops the store when an update fails after changing a page in place; a reopen has the last commit", () => {
    const rng = new Rng(seed + 2);
    const dir = join(tmp, "fail");
    let store = Store.open(dir);
    try {
      const keys: Uint8Array[] = [];
      for (let i = 0; i < 100 * ELISION_THRESHOLD; i++) keys.push(rng.bytes(31));
      store.commit(keys.map((k) => [k, rng.bytes(32)] as [Uint8Array, Uint8Array]));
      store.checkpoint();
      // A victim alone under its 12-bit prefix, in a stored page (the threshold's number of
      // keys under its 6-bit prefix, and a few more): its leaf sits in that page, so a key
      // inserted next to it needs its key.
      const count6 = new Map<number, number>();
      const count12 = new Map<number, number>();
      for (const k of keys) {
        count6.set(prefix(k, 6), (count6.get(prefix(k, 6)) ?? 0) + 1);
        count12.set(prefix(k, 12), (count12.get(prefix(k, 12)) ?? 0) + 1);
      }
      const sorted = keys.slice().sort(Buffer.compare);
      const victims = sorted.filter((k) => count12.get(prefix(k, 12)) === 1 && (count6.get(prefix(k, 6)) as number) >= ELISION_THRESHOLD + 4);
      const victim = victims[victims.length - 1];
      // A key before the victim, in another stored page, that the failing update writes first.
      const left = sorted.find((k) => prefix(k, 6) < prefix(victim, 6) && (count6.get(prefix(k, 6)) as number) >= ELISION_THRESHOLD + 4) as Uint8Array;
      assert.ok(victim && left, "key set has a victim and a key left of it");
      const neighbour = keySharing(rng, victim, 40);
      // Damage the value tree behind the store's back: the trie still names the victim's leaf.
      const damage = (s: Store) => (s as unknown as { values: { apply(c: [Uint8Array, null][]): void } }).values.apply([[victim, null]]);

      // Right after a checkpoint no page is the store's own: the failure changes nothing.
      damage(store);
      const root0 = store.root;
      assert.throws(
        () =>
          store.commit([
            [left, rng.bytes(32)],
            [neighbour, rng.bytes(32)],
          ]),
        (e: unknown) => e instanceof StoreError && e.code === "CORRUPT",
      );
      assert.equal(toHex(store.root), toHex(root0));
      assert.doesNotThrow(() => store.get(left), "the store stays usable after a pure failure");
      store.close();

      // Reopen (the redo log and pages know nothing of the damage), own the left key's page
      // with one commit, then fail again: this time a page changed in place first.
      store = Store.open(dir);
      const leftValue = rng.bytes(32);
      const root1 = store.commit([[left, leftValue]]);
      damage(store);
      assert.throws(
        () =>
          store.commit([
            [left, rng.bytes(32)],
            [neighbour, rng.bytes(32)],
          ]),
        (e: unknown) => e instanceof StoreError && e.code === "CORRUPT",
      );
      assert.throws(
        () => store.get(left),
        (e: unknown) => e instanceof StoreError && e.code === "FAILED",
      );
      store.close();

      store = Store.open(dir);
      assert.equal(toHex(store.root), toHex(root1));
      assert.equal(hex(store.get(left) as Uint8Array), hex(leftValue));
      assert.ok(store.get(victim) !== undefined, "the victim, deleted only in memory, is back");
    } finally {
      store.close();
    }
  });
});
