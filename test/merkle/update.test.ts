import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { type Change, EMPTY_TOP, type MerkleTop, type OldValues, updateTrie } from "../../src/merkle/index.ts";
import { compareKeys, type Entry, TrieError, toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { MemPages, ModelState } from "./model.ts";

const seed = testSeed();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The pages and top a from-scratch build of `entries` gives: the canonical form. */
function fromScratch(entries: Entry[]): { top: MerkleTop; pages: MemPages } {
  const pages = new MemPages();
  const state = new ModelState();
  const r = updateTrie(
    EMPTY_TOP,
    entries.map((e) => [e.key, e.value] as Change),
    pages,
    state,
  );
  pages.apply(r.writes);
  return { top: r.top, pages };
}

function samePages(a: MemPages, b: MemPages, label: string): void {
  assert.deepEqual([...a.pages.keys()].sort(), [...b.pages.keys()].sort(), `${label}: page ids`);
  for (const [id, page] of a.pages) assert.ok(Buffer.from(page).equals(Buffer.from(b.pages.get(id) as Uint8Array)), `${label}: page ${id}`);
}

/** A random sorted batch against the current state: inserts, updates, deletes (some absent). */
function randomBatch(rng: Rng, state: ModelState, size: number, clustered: boolean, deleteBias: number): Change[] {
  const existing = state.sorted();
  const byKey = new Map<string, Change>();
  while (byKey.size < size) {
    const roll = rng.int(100);
    let key: Uint8Array;
    if (existing.length > 0 && roll < 60) key = rng.pick(existing).key;
    else if (clustered && existing.length > 0) key = keySharing(rng, rng.pick(existing).key, rng.int(2) ? 240 + rng.int(8) : rng.int(248));
    else key = rng.bytes(31);
    const del = rng.int(100) < deleteBias;
    byKey.set(hex(key), [key, del ? null : randomValue(rng)]);
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a[0], b[0]));
}

describe(`merkle: incremental update (seed ${seed})`, () => {
  it("equals the from-scratch root and the canonical page set after every batch", () => {
    const rng = new Rng(seed);
    let knownOlds = 0;
    let allOlds = 0;
    for (let run = 0; run < 6; run++) {
      const clustered = run % 2 === 1;
      const state = new ModelState();
      // Every third run reads its pages at unaligned offsets (the update then works on copies).
      const pages = new MemPages(run % 3 === 2);
      let top = EMPTY_TOP;
      for (let round = 0; round < 40; round++) {
        // Grow, churn, then shrink to a handful, one and zero keys.
        const phase = round < 15 ? 10 : round < 30 ? 40 : 90;
        const batch = randomBatch(rng, state, 1 + rng.int(round < 30 ? 60 : 25), clustered, phase);
        const olds: OldValues = [];
        const r = updateTrie(top, batch, pages, state, olds);
        // What the update reports of the old values is right, and it knows most of them.
        assert.equal(olds.length, batch.length);
        let known = 0;
        for (let i = 0; i < batch.length; i++) {
          if (olds[i] === undefined) continue;
          known++;
          const was = state.map.get(hex(batch[i][0]))?.value ?? null;
          assert.equal(olds[i] === null ? null : hex(olds[i] as Uint8Array), was === null ? null : hex(was), `old value of change ${i}`);
        }
        knownOlds += known;
        allOlds += batch.length;
        pages.apply(r.writes);
        for (const [k, v] of batch) state.set(k, v);
        top = r.top;
        const entries = state.sorted();
        const label = `run ${run} round ${round} (${entries.length} keys)`;
        assert.equal(toHex(top.root), toHex(trieRoot(entries)), label);
        const scratch = fromScratch(entries);
        assert.equal(top.kind, scratch.top.kind, label);
        samePages(pages, scratch.pages, label);
      }
      // Delete everything: the empty trie has no pages.
      const all = state.sorted().map((e) => [e.key, null] as Change);
      const r = updateTrie(top, all, pages, state);
      pages.apply(r.writes);
      assert.equal(toHex(r.top.root), toHex(new Uint8Array(32)));
      assert.equal(pages.pages.size, 0);
    }
    assert.ok(knownOlds > 0.5 * allOlds, `the update knew only ${knownOlds} of ${allOlds} old values`);
  });

  it("handles neighbours at depth 248, pages along a deep chain, and leaves moving up when it thins out", () => {
    const rng = new Rng(seed + 1);
    const a = rng.bytes(31);
    a[30] &= 0xfe;
    const b = a.slice();
    b[30] |= 1;
    const far = a.slice();
    far[0] ^= 0x80;
    // Keys sharing a's first 240 bits: enough of them to keep pages stored all the way down.
    const cluster: Uint8Array[] = [];
    const used = new Set([a[30], b[30]]);
    while (cluster.length < ELISION_THRESHOLD + 2) {
      const k = a.slice();
      k[30] = rng.int(256);
      if (used.has(k[30])) continue;
      used.add(k[30]);
      cluster.push(k);
    }
    const state = new ModelState();
    const pages = new MemPages();
    let top = EMPTY_TOP;
    const step = (changes: Change[]) => {
      const r = updateTrie(top, changes, pages, state);
      pages.apply(r.writes);
      for (const [k, v] of changes) state.set(k, v);
      top = r.top;
      assert.equal(toHex(top.root), toHex(trieRoot(state.sorted())));
      samePages(pages, fromScratch(state.sorted()).pages, "chain");
    };
    const sorted = (c: Change[]) => c.sort((x, y) => compareKeys(x[0], y[0]));
    step(sorted([[far, rng.bytes(3)]]));
    step(sorted([[a, rng.bytes(40)]]));
    step(sorted([[b, new Uint8Array(0)]]));
    assert.equal(pages.pages.size, 0, "three keys: every subtrie is elided");
    step(sorted(cluster.map((k) => [k, rng.bytes(rng.int(2) ? 32 : 33)] as Change)));
    assert.equal(pages.pages.size, 41, `pages at every level down to the 240-bit prefix (${pages.pages.size})`);
    // Thin the cluster one key per commit: the deep pages go when the count falls below the threshold.
    for (const k of cluster.slice(0, 5)) step([[k, null]]);
    assert.equal(pages.pages.size, 1, "only the root page (16 keys) is left");
    step(sorted([[far, null]]));
    assert.equal(pages.pages.size, 0);
    step(sorted(cluster.slice(5).map((k) => [k, null] as Change)));
    step(sorted([[a, null]]));
    assert.equal(top.kind, 1, "a single key is a leaf at the root");
    step(
      sorted([
        [a, rng.bytes(5)],
        [b, null],
      ]),
    );
    assert.equal(top.kind, 1);
    step(sorted([[a, null]]));
    assert.equal(top.kind, 0);
  });

  it("keeps counts and elision canonical as subtries cross the threshold both ways", () => {
    const rng = new Rng(seed + 3);
    const state = new ModelState();
    const pages = new MemPages();
    let top = EMPTY_TOP;
    // A few 12-bit prefixes, each holding around the threshold's number of keys.
    const bases = Array.from({ length: 4 }, () => rng.bytes(31));
    const pool: Uint8Array[] = [];
    for (const base of bases) for (let i = 0; i < 2 * ELISION_THRESHOLD; i++) pool.push(keySharing(rng, base, 12 + rng.int(10)));
    let grew = 0;
    let shrank = 0;
    let before = 0;
    for (let round = 0; round < 200; round++) {
      const byKey = new Map<string, Change>();
      // About a sixteenth of a prefix's keys per round, so its count crosses the threshold often.
      const n = 1 + rng.int(ELISION_THRESHOLD / 2);
      while (byKey.size < n) {
        const k = rng.pick(pool);
        byKey.set(hex(k), [k, rng.int(2) ? null : randomValue(rng)]);
      }
      const batch = [...byKey.values()].sort((x, y) => compareKeys(x[0], y[0]));
      const r = updateTrie(top, batch, pages, state);
      pages.apply(r.writes);
      for (const [k, v] of batch) state.set(k, v);
      top = r.top;
      const entries = state.sorted();
      assert.equal(toHex(top.root), toHex(trieRoot(entries)), `round ${round}`);
      samePages(pages, fromScratch(entries).pages, `round ${round}`);
      if (pages.pages.size > before) grew++;
      if (pages.pages.size < before) shrank++;
      before = pages.pages.size;
    }
    assert.ok(grew >= 4 && shrank >= 4, `the page set grew ${grew} and shrank ${shrank} times`);
    assert.ok(state.scans > 0, "elided subtries were rebuilt from scans");
  });

  it("refuses unsorted or malformed batches with typed errors and returns nothing to write", () => {
    const rng = new Rng(seed + 2);
    const k1 = rng.bytes(31);
    const k2 = rng.bytes(31);
    const [lo, hi] = compareKeys(k1, k2) < 0 ? [k1, k2] : [k2, k1];
    const state = new ModelState();
    const pages = new MemPages();
    assert.throws(
      () =>
        updateTrie(
          EMPTY_TOP,
          [
            [hi, new Uint8Array(1)],
            [lo, new Uint8Array(1)],
          ],
          pages,
          state,
        ),
      (e: unknown) => e instanceof TrieError && e.code === "UNSORTED",
    );
    assert.throws(
      () =>
        updateTrie(
          EMPTY_TOP,
          [
            [lo, null],
            [lo, null],
          ],
          pages,
          state,
        ),
      (e: unknown) => e instanceof TrieError && e.code === "UNSORTED",
    );
    assert.throws(
      () => updateTrie(EMPTY_TOP, [[new Uint8Array(32), null]], pages, state),
      (e: unknown) => e instanceof TrieError && e.code === "BAD_KEY",
    );
    assert.throws(
      () => updateTrie(EMPTY_TOP, [[lo, "v" as unknown as Uint8Array]], pages, state),
      (e: unknown) => e instanceof TrieError && e.code === "BAD_VALUE",
    );
    assert.equal(pages.pages.size, 0);
  });
});
