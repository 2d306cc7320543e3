// The stepped trie update equals one update of the whole batch, and a from-scratch build, with
// the batch cut anywhere: chunks of one change, cuts between keys that part at a page boundary,
// subtries crossing the elision threshold both ways inside a chunk and across a cut, and
// deletes that empty the trie.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Change, drainSteps, EMPTY_TOP, type MerkleTop, type OldValues, updateTrie, updateTrieSteps } from "../../src/merkle/index.ts";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { compareKeys, type Entry, TrieError, toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { MemPages, ModelState, scratchBuild } from "./model.ts";

const seed = testSeed();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sorted = (c: Change[]) => c.sort((x, y) => compareKeys(x[0], y[0]));
type Plan = (lo: number, total: number) => number;

function fromScratch(entries: Entry[]): MemPages {
  return scratchBuild(entries).pages;
}

function samePages(a: MemPages, b: MemPages, label: string): void {
  assert.deepEqual([...a.pages.keys()].sort(), [...b.pages.keys()].sort(), `${label}: page ids`);
  for (const [id, page] of a.pages) assert.ok(Buffer.from(page).equals(Buffer.from(b.pages.get(id) as Uint8Array)), `${label}: page ${id}`);
}

function copyPages(p: MemPages): MemPages {
  const c = new MemPages();
  for (const [k, v] of p.pages) c.pages.set(k, v.slice());
  return c;
}

/** A database of the trie under test: pages, state and top, moved batch by batch. */
class Trie {
  pages = new MemPages();
  state = new ModelState();
  top: MerkleTop = EMPTY_TOP;
  /** Cuts seen so far (steps beyond the first). */
  cuts = 0;

  /**
   * Applies `batch` in steps cut by `plan` and checks the result against one update and a
   * from-scratch build (root, kind, every page write, old values); then moves to it.
   */
  step(batch: Change[], plan: Plan, label: string): void {
    const olds1: OldValues = [];
    const one = updateTrie(this.top, batch, this.pages, this.state, olds1);
    const olds2: OldValues = [];
    const before = copyPages(this.pages);
    let steps = 0;
    const gen = updateTrieSteps(this.top, batch, () => ({ pages: this.pages, state: this.state }), olds2, { plan });
    let r = gen.next();
    for (; !r.done; r = gen.next()) steps++;
    const stepped = r.value;
    this.cuts += steps;
    // The steps read the base and never change it (their writes go to their own copies).
    samePages(this.pages, before, `${label}: base pages untouched`);
    assert.equal(toHex(stepped.top.root), toHex(one.top.root), `${label}: root`);
    assert.equal(stepped.top.kind, one.top.kind, `${label}: kind`);
    // Every page write, by id: the same pages written or deleted, with the same bytes.
    const writes = (ws: typeof one.writes) => new Map(ws.map((w) => [hex(w.id), w.page === null ? null : hex(w.page)]));
    assert.deepEqual(writes(stepped.writes), writes(one.writes), `${label}: page writes`);
    assert.equal(stepped.stats.pagesWritten, one.writes.length, `${label}: pagesWritten`);
    assert.equal(olds2.length, batch.length, `${label}: old values length`);
    for (let i = 0; i < batch.length; i++) {
      // The steps may know an old value one update took in place, never a different one.
      if (olds1[i] === undefined || olds2[i] === undefined) continue;
      assert.equal(olds2[i] === null ? null : hex(olds2[i] as Uint8Array), olds1[i] === null ? null : hex(olds1[i] as Uint8Array), `${label}: old ${i}`);
    }
    for (let i = 0; i < batch.length; i++) {
      if (olds2[i] === undefined) continue;
      const was = this.state.map.get(hex(batch[i][0]))?.value ?? null;
      assert.equal(olds2[i] === null ? null : hex(olds2[i] as Uint8Array), was === null ? null : hex(was), `${label}: stepped old ${i}`);
    }
    const after = copyPages(this.pages);
    after.apply(stepped.writes);
    this.pages.apply(one.writes);
    for (const [k, v] of batch) this.state.set(k, v);
    this.top = one.top;
    const entries = this.state.sorted();
    assert.equal(toHex(this.top.root), toHex(trieRoot(entries)), `${label}: root vs trieRoot`);
    const scratch = fromScratch(entries);
    samePages(after, scratch, `${label}: stepped vs scratch`);
    samePages(this.pages, scratch, `${label}: one vs scratch`);
  }
}

function randomBatch(rng: Rng, state: ModelState, size: number, clustered: boolean, deleteBias: number): Change[] {
  const existing = state.sorted();
  const byKey = new Map<string, Change>();
  while (byKey.size < size) {
    let key: Uint8Array;
    if (existing.length > 0 && rng.int(100) < 60) key = rng.pick(existing).key;
    else if (clustered && existing.length > 0) key = keySharing(rng, rng.pick(existing).key, rng.int(2) ? 240 + rng.int(8) : rng.int(248));
    else key = rng.bytes(31);
    byKey.set(hex(key), [key, rng.int(100) < deleteBias ? null : randomValue(rng)]);
  }
  return sorted([...byKey.values()]);
}

const ones: Plan = () => 1;
const randomPlan =
  (rng: Rng, max: number): Plan =>
  () =>
    1 + rng.int(max);

describe(`merkle: trie update in steps (seed ${seed})`, () => {
  it("equals one update and a from-scratch build on random batches, cut at random and at every key", () => {
    const rng = new Rng(seed);
    let cuts = 0;
    for (let run = 0; run < 4; run++) {
      const t = new Trie();
      const clustered = run % 2 === 1;
      for (let round = 0; round < 24; round++) {
        const phase = round < 10 ? 10 : round < 18 ? 40 : 90;
        const batch = randomBatch(rng, t.state, 1 + rng.int(round < 18 ? 80 : 30), clustered, phase);
        t.step(batch, round % 3 === 0 ? ones : randomPlan(rng, 1 + rng.int(12)), `run ${run} round ${round}`);
      }
      // Deletes that empty the trie, cut anywhere.
      const all = t.state.sorted().map((e) => [e.key, null] as Change);
      t.step(all, randomPlan(rng, 5), `run ${run}: delete all`);
      assert.equal(t.pages.pages.size, 0);
      assert.equal(toHex(t.top.root), toHex(new Uint8Array(32)));
      cuts += t.cuts;
    }
    assert.ok(cuts > 500, `only ${cuts} cuts`);
  });

  it("cuts between keys that part at a page boundary, above and below a stored page", () => {
    const rng = new Rng(seed + 1);
    const t = new Trie();
    // 80 spread keys keep the top pages stored.
    t.step(sorted(Array.from({ length: 80 }, () => [rng.bytes(31), randomValue(rng)] as Change)), () => 80, "fill");
    const base = rng.bytes(31);
    for (const bits of [5, 6, 7, 11, 12, 13, 18, 24, 30]) {
      // Two groups that agree on `bits` bits and part at bit `bits`: cut exactly between them.
      const left: Change[] = [];
      const right: Change[] = [];
      for (let i = 0; i < ELISION_THRESHOLD + 3; i++) {
        const k = base.slice();
        for (let b = bits; b < 248; b++) if (rng.int(2)) k[b >> 3] ^= 0x80 >> (b & 7);
        const side = (k[bits >> 3] >> (7 - (bits & 7))) & 1;
        (side === 0 ? left : right).push([k, randomValue(rng)]);
      }
      const batch = sorted([...left, ...right]);
      const cut = batch.findIndex((c) => ((c[0][bits >> 3] >> (7 - (bits & 7))) & 1) === 1);
      t.step(batch, (lo) => (lo === 0 ? Math.max(1, cut) : batch.length), `boundary at bit ${bits}: insert`);
      // Then delete one side and change the other, cut at the boundary again.
      const mixed = sorted(batch.map(([k], i) => [k, i < cut ? null : randomValue(rng)] as Change));
      t.step(mixed, (lo) => (lo === 0 ? Math.max(1, cut) : 1), `boundary at bit ${bits}: delete one side`);
    }
  });

  it("crosses the elision threshold both ways inside a chunk and across a cut", () => {
    const rng = new Rng(seed + 2);
    for (const start of [ELISION_THRESHOLD - 1, ELISION_THRESHOLD, ELISION_THRESHOLD + 1, 3 * ELISION_THRESHOLD]) {
      const t = new Trie();
      t.step(sorted(Array.from({ length: 40 }, () => [rng.bytes(31), randomValue(rng)] as Change)), () => 40, "spread");
      // A subtrie at depth 20 with `start` keys.
      const anchor = rng.bytes(31);
      const keys = () => keySharing(rng, anchor, 20 + rng.int(3));
      const sub = new Map<string, Uint8Array>();
      while (sub.size < start) {
        const k = keys();
        sub.set(hex(k), k);
      }
      t.step(sorted([...sub.values()].map((k) => [k, randomValue(rng)] as Change)), () => start, `subtrie of ${start}`);
      for (let round = 0; round < 12; round++) {
        // Deletes in the first half of the subtrie, inserts in the second: the count falls
        // below the threshold in one chunk and rises above it in the next, or the reverse.
        const present = t.state.sorted().filter((e) => sub.has(hex(e.key)));
        const byKey = new Map<string, Change>();
        const dels = rng.int(present.length + 1);
        for (let i = 0; i < dels; i++) byKey.set(hex(present[i].key), [present[i].key, null]);
        const adds = rng.int(2 * ELISION_THRESHOLD);
        for (let i = 0; i < adds; i++) {
          const k = keys();
          sub.set(hex(k), k);
          if (!byKey.has(hex(k))) byKey.set(hex(k), [k, randomValue(rng)]);
        }
        const batch = sorted([...byKey.values()]);
        const plan: Plan = round % 2 === 0 ? randomPlan(rng, 4) : (lo, n) => (lo === 0 ? Math.max(1, n >> 1) : n);
        t.step(batch, plan, `start ${start} round ${round}`);
      }
      // The subtrie emptied in steps of one.
      const rest = t.state.sorted().filter((e) => sub.has(hex(e.key)));
      t.step(
        rest.map((e) => [e.key, null] as Change),
        ones,
        `start ${start}: empty the subtrie`,
      );
    }
  });

  it("finds a leaf's key an earlier chunk left or moved there", () => {
    // a < b share 40 bits and are alone under bit 0 = 0; the root page is stored (20 more keys
    // under bit 0 = 1). Deleting a in one chunk leaves b a leaf at depth 1; the next chunk sets
    // d, which shares 41+ bits with b and lands on that leaf: its key is b, not a (the first
    // key there in the base), and the new branch parts d from b below bit 40.
    const rng = new Rng(seed + 3);
    for (let trial = 0; trial < 20; trial++) {
      const t = new Trie();
      const a = rng.bytes(31);
      a[0] &= 0x7f;
      const b = keySharing(rng, a, 40);
      const lowA = compareKeys(a, b) < 0 ? a : b;
      const highB = lowA === a ? b : a;
      const fill = Array.from({ length: 20 }, () => {
        const k = rng.bytes(31);
        k[0] |= 0x80;
        return [k, randomValue(rng)] as Change;
      });
      t.step(sorted([[lowA, randomValue(rng)], [highB, randomValue(rng)], ...fill]), () => 100, "fill");
      const d = keySharing(rng, highB, 41 + rng.int(200));
      t.step(
        sorted([
          [lowA, null],
          [d, randomValue(rng)],
        ]),
        ones,
        `trial ${trial}`,
      );
    }
  });

  it("a reader that runs an update of its own while serving one (a past state's pages) changes nothing", () => {
    const rng = new Rng(seed + 6);
    const t = new Trie();
    t.step(sorted(Array.from({ length: 400 }, () => [rng.bytes(31), randomValue(rng)] as Change)), () => 400, "fill");
    const other = sorted(Array.from({ length: 40 }, () => [rng.bytes(31), randomValue(rng)] as Change));
    let nested = 0;
    const pages = {
      get: (id: Uint8Array) => {
        // Mid-update, as a past state computing its page map on first read does.
        updateTrie(EMPTY_TOP, other, new MemPages(), new ModelState());
        nested++;
        return t.pages.get(id);
      },
    };
    for (let round = 0; round < 5; round++) {
      const batch = randomBatch(rng, t.state, 60, round % 2 === 1, 30);
      const plain = updateTrie(t.top, batch, t.pages, t.state);
      const inner = updateTrie(t.top, batch, pages, t.state);
      assert.equal(toHex(inner.top.root), toHex(plain.top.root), `round ${round}`);
      t.step(batch, randomPlan(rng, 20), `round ${round}`);
    }
    assert.ok(nested > 0);
  });

  it("refuses a bad batch before any step, naming the change", () => {
    const rng = new Rng(seed + 4);
    const k1 = rng.bytes(31);
    const k2 = rng.bytes(31);
    const [lo, hi] = compareKeys(k1, k2) < 0 ? [k1, k2] : [k2, k1];
    const src = () => ({ pages: new MemPages(), state: new ModelState() });
    assert.throws(
      () =>
        drainSteps(
          updateTrieSteps(
            EMPTY_TOP,
            [
              [hi, new Uint8Array(1)],
              [lo, null],
            ],
            src,
          ),
        ),
      (e) => e instanceof TrieError && e.code === "UNSORTED" && e.message.includes("changes[1]"),
    );
    assert.throws(
      () =>
        drainSteps(
          updateTrieSteps(
            EMPTY_TOP,
            [
              [lo, new Uint8Array(1)],
              [hi, "x" as unknown as Uint8Array],
            ],
            src,
          ),
        ),
      (e) => e instanceof TrieError && e.code === "BAD_VALUE" && e.message.includes("changes[1]"),
    );
  });

  it("sizes steps by the budget and drains to the same result", () => {
    const rng = new Rng(seed + 5);
    const t = new Trie();
    const batch = sorted(Array.from({ length: 3000 }, () => [rng.bytes(31), randomValue(rng)] as Change));
    const run = (options: { stepMs: number; firstStepChanges?: number }) => {
      let steps = 0;
      const gen = updateTrieSteps(EMPTY_TOP, batch, () => ({ pages: t.pages, state: t.state }), undefined, options);
      let r = gen.next();
      for (; !r.done; r = gen.next()) steps++;
      return { steps, root: toHex(r.value.top.root) };
    };
    const root = toHex(trieRoot(batch.map(([key, value]) => ({ key, value: value as Uint8Array }))));
    // No budget: every change is a step of its own. An unbounded one: the first step, then the rest.
    assert.deepEqual(run({ stepMs: 0, firstStepChanges: 1 }), { steps: batch.length - 1, root });
    assert.deepEqual(run({ stepMs: 1e9 }), { steps: 1, root });
    assert.equal(toHex(drainSteps(updateTrieSteps(EMPTY_TOP, batch, () => ({ pages: t.pages, state: t.state }))).top.root), root);
  });
});
