// Focused tests of the kv tree: input checks, structure at every level, overflow boundaries,
// corruption detection, the free-list delay, seeks and iteration, and the two-step commit.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { KvCorruptionError, KvError, type KvTree, MAX_INLINE_VALUE, MAX_VALUE_SIZE, PAGE_SIZE, encodeTreeMeta, openKv } from "../../src/kv/index.ts";
import { MemFileSystem } from "../../src/io/index.ts";
import { Rng, hex, same, seqKey, tempDir } from "./helpers.ts";

const OVERFLOW_DATA = PAGE_SIZE - 12;

function memTree(): { fs: MemFileSystem; tree: KvTree } {
  const fs = new MemFileSystem();
  return { fs, tree: openKv("t.db", { fs }) };
}

function kvCode(code: string, arg?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof KvError, `expected KvError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (arg !== undefined) assert.ok(e.message.includes(arg), `message "${e.message}" should name ${arg}`);
    return true;
  };
}

test("bad input throws typed errors naming the argument and changes nothing", () => {
  const { tree } = memTree();
  const v = new Uint8Array([1, 2, 3]);
  tree.apply([[seqKey(1), v]]);
  tree.commit();
  const short = new Uint8Array(30);
  const long = new Uint8Array(32);
  assert.throws(() => tree.get(short), kvCode("BAD_KEY", "key"));
  assert.throws(() => tree.get(long), kvCode("BAD_KEY", "key"));
  assert.throws(() => tree.get("x" as unknown as Uint8Array), kvCode("BAD_KEY", "key"));
  assert.throws(() => tree.seek(short), kvCode("BAD_KEY", "key"));
  assert.throws(() => tree.seekPrefix(seqKey(0), 249), kvCode("BAD_ARGUMENT", "bits"));
  assert.throws(() => tree.seekPrefix(seqKey(0), -1), kvCode("BAD_ARGUMENT", "bits"));
  assert.throws(() => tree.entries({ start: short }).next(), kvCode("BAD_KEY", "options.start"));
  assert.throws(() => tree.entries({ end: long }).next(), kvCode("BAD_KEY", "options.end"));
  // A batch fails as a whole, even when the bad element comes last.
  const before = tree.size;
  assert.throws(
    () =>
      tree.apply([
        [seqKey(2), v],
        [short, v],
      ]),
    kvCode("BAD_KEY", "batch[1][0]"),
  );
  assert.throws(
    () =>
      tree.apply([
        [seqKey(2), v],
        [seqKey(3), "no" as unknown as Uint8Array],
      ]),
    kvCode("BAD_VALUE", "batch[1][1]"),
  );
  assert.throws(
    () =>
      tree.apply([
        [seqKey(3), v],
        [seqKey(2), v],
        [seqKey(3), null],
      ]),
    kvCode("BAD_BATCH", "duplicate"),
  );
  assert.throws(() => tree.apply([[seqKey(2)] as unknown as [Uint8Array, null]]), kvCode("BAD_BATCH", "batch[0]"));
  assert.throws(() => tree.apply(42 as unknown as []), kvCode("BAD_BATCH", "batch"));
  assert.throws(
    () =>
      tree.apply([
        [seqKey(2), v],
        [seqKey(4), new Uint8Array(MAX_VALUE_SIZE + 1)],
      ]),
    kvCode("VALUE_TOO_LARGE", "batch[1][1]"),
  );
  assert.equal(tree.size, before);
  assert.equal(tree.get(seqKey(2)), undefined);
  assert.ok(same(tree.get(seqKey(1)), v));
  assert.deepEqual(tree.check().entries, 1);
  assert.throws(() => openKv("u.db", { fs: new MemFileSystem(), cacheBytes: -1 }), kvCode("BAD_ARGUMENT", "options.cacheBytes"));
  assert.throws(() => openKv("u.db", { fs: new MemFileSystem(), meta: new Uint8Array(64) }), kvCode("BAD_META"));
  // A prepared commit blocks writes until it is durable.
  tree.apply([[seqKey(5), v]]);
  const meta = tree.prepareCommit();
  assert.throws(() => tree.apply([[seqKey(6), v]]), kvCode("BUSY"));
  tree.publish(meta);
  tree.close();
  assert.throws(() => tree.get(seqKey(1)), kvCode("CLOSED"));
});

test("empty tree, overwrite, delete to empty, unsorted batches, reopen", () => {
  const { fs, tree } = memTree();
  assert.equal(tree.get(seqKey(1)), undefined);
  assert.equal(tree.seek(seqKey(0)), undefined);
  assert.deepEqual([...tree.entries()], []);
  tree.apply([[seqKey(1), null]]);
  assert.equal(tree.size, 0);
  tree.apply([
    [seqKey(3), new Uint8Array([3])],
    [seqKey(1), new Uint8Array(0)],
    [seqKey(2), new Uint8Array([2])],
  ]);
  assert.equal(tree.size, 3);
  assert.deepEqual(tree.get(seqKey(1)), new Uint8Array(0));
  tree.apply([[seqKey(2), new Uint8Array([22])]]);
  assert.deepEqual(tree.get(seqKey(2)), new Uint8Array([22]));
  tree.commit();
  tree.close();
  let t = openKv("t.db", { fs });
  assert.deepEqual(
    [...t.keys()].map(hex),
    [1, 2, 3].map((i) => hex(seqKey(i))),
  );
  t.apply([
    [seqKey(1), null],
    [seqKey(2), null],
    [seqKey(3), null],
  ]);
  assert.equal(t.size, 0);
  assert.equal(t.height, 0);
  t.check();
  t.commit();
  t.close();
  t = openKv("t.db", { fs });
  assert.equal(t.size, 0);
  assert.equal(t.check().entries, 0);
  t.close();
});

// Keys sharing 28 bytes make separators long (small fanout), and 1000-byte values put about
// four cells in a leaf, so a few tens of thousands of keys give four levels.
function deepKey(i: number): Uint8Array {
  const k = new Uint8Array(31).fill(0xab);
  k[28] = (i >>> 16) & 0xff;
  k[29] = (i >>> 8) & 0xff;
  k[30] = i & 0xff;
  return k;
}

test("splits and merges happen at every level and keep nodes at least half full", () => {
  const { tree } = memTree();
  const rng = new Rng(7);
  const value = rng.bytes(1000);
  const N = 40000;
  const order = Array.from({ length: N }, (_, i) => i);
  for (let i = N - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const heights: number[] = [];
  const grew = [false, false, false, false];
  const shrank = [false, false, false, false];
  let prev: number[] = [];
  const step = (): void => {
    const rep = tree.check();
    const nodes = rep.levels.map((l) => l.nodes);
    for (let l = 0; l < Math.min(nodes.length, prev.length); l++) {
      if (nodes[l] > prev[l]) grew[l] = true;
      if (nodes[l] < prev[l]) shrank[l] = true;
    }
    // Below the root nothing stays under half full, give or take one cell of granularity.
    for (let l = 0; l < rep.levels.length; l++) {
      const slack = l === 0 ? 31 + 2 + 1000 : 6 + 31;
      assert.ok(rep.levels[l].minFill >= PAGE_SIZE / 2 - slack, `level ${l} min fill ${rep.levels[l].minFill}`);
    }
    prev = nodes;
    if (heights[heights.length - 1] !== tree.height) heights.push(tree.height);
  };
  // Random inserts in batches growing from 1 key: leaves and branches split one at a time.
  for (let at = 0; at < N; ) {
    const n = Math.max(1, Math.min(2000, at >> 2));
    tree.apply(order.slice(at, at + n).map((i) => [deepKey(i), value] as const));
    at += n;
    step();
  }
  assert.equal(tree.height, 4);
  assert.deepEqual(heights, [1, 2, 3, 4]);
  tree.commit();
  // Random deletes: merges and redistributions at every level, then the root collapses.
  for (let at = 0; at < N; ) {
    const n = Math.max(1, Math.min(2000, (N - at) >> 3));
    tree.apply(order.slice(at, at + n).map((i) => [deepKey(i), null] as const));
    at += n;
    step();
    for (let probe = 0; probe < 20; probe++) {
      const x = rng.int(N);
      assert.equal(tree.get(deepKey(order[x])) !== undefined, x >= at);
    }
  }
  assert.deepEqual(heights, [1, 2, 3, 4, 3, 2, 1, 0]);
  assert.deepEqual(grew, [true, true, true, false]);
  assert.deepEqual(shrank, [true, true, true, false]);
  tree.commit();
  assert.equal(tree.check().entries, 0);
});

test("sorted bulk load fills leaves to about three quarters", () => {
  const { tree } = memTree();
  const v = new Uint8Array(32);
  const batch: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 100000; i++) batch.push([seqKey(i), v]);
  tree.apply(batch);
  const rep = tree.check();
  assert.equal(rep.entries, 100000);
  const leafFill = rep.levels[0].avgFill / PAGE_SIZE;
  assert.ok(leafFill > 0.7 && leafFill < 0.8, `leaf fill ${leafFill}`);
  assert.equal(tree.height, 3);
  // Appending more sorted batches keeps the same shape.
  for (let b = 1; b <= 4; b++) {
    const more: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 25000; i++) more.push([seqKey(100000 * b + i), v]);
    tree.apply(more);
  }
  const after = tree.check();
  assert.equal(after.entries, 200000);
  assert.ok(after.levels[0].avgFill / PAGE_SIZE > 0.7);
});

test("overflow values round-trip at every boundary and free their pages", () => {
  const { dir, cleanup } = tempDir("overflow");
  try {
    const path = join(dir, "kv.db");
    let tree = openKv(path);
    const rng = new Rng(11);
    const sizes = [
      0,
      1,
      MAX_INLINE_VALUE - 1,
      MAX_INLINE_VALUE,
      MAX_INLINE_VALUE + 1,
      OVERFLOW_DATA - 1,
      OVERFLOW_DATA,
      OVERFLOW_DATA + 1,
      2 * OVERFLOW_DATA,
      2 * OVERFLOW_DATA + 1,
      64 * 1024 * 1024 + 1,
    ];
    const values = sizes.map((n) => rng.bytes(Math.min(n, 1 << 20)));
    // The 64 MiB value repeats a random MiB (cheap to make, still distinct page by page).
    const big = new Uint8Array(sizes[sizes.length - 1]);
    for (let at = 0; at < big.length; at += 1 << 20) big.set(values[values.length - 1].subarray(0, Math.min(1 << 20, big.length - at)), at);
    big[big.length - 1] = 0x5a;
    values[values.length - 1] = big;
    tree.apply(values.map((v, i) => [seqKey(i), v] as const));
    const expectedPages = sizes.reduce((s, n) => s + (n > MAX_INLINE_VALUE ? Math.ceil(n / OVERFLOW_DATA) : 0), 0);
    assert.equal(tree.check().overflowPages, expectedPages);
    tree.commit();
    tree.close();
    tree = openKv(path, { cacheBytes: 1 << 20 });
    values.forEach((v, i) => assert.ok(same(tree.get(seqKey(i)), v), `value of ${sizes[i]} bytes`));
    const scanned = [...tree.entries({ start: seqKey(3), end: seqKey(8) })];
    assert.equal(scanned.length, 5);
    scanned.forEach(([k, v], x) => assert.ok(same(k, seqKey(3 + x)) && same(v, values[3 + x])));
    // Deleting the big value frees its chain: after two commits its pages are reused.
    const hw = tree.stats().highWater;
    tree.apply([[seqKey(sizes.length - 1), null]]);
    tree.commit();
    assert.ok(tree.stats().reusablePages >= Math.ceil(big.length / OVERFLOW_DATA));
    tree.apply([[seqKey(100), big]]);
    tree.commit();
    // Only the free list's own pages (one per 1021 free pages) may extend the file.
    assert.ok(tree.stats().highWater <= hw + 20, "a freed chain is reused");
    assert.ok(same(tree.get(seqKey(100)), big));
    assert.equal(tree.check().entries, sizes.length);
    tree.close();
  } finally {
    cleanup();
  }
});

test("a damaged page is reported with file and offset, never used", () => {
  const { dir, cleanup } = tempDir("corrupt");
  try {
    const path = join(dir, "kv.db");
    const flip = (offset: number): void => {
      const bytes = readFileSync(path);
      bytes[offset] ^= 0x40;
      writeFileSync(path, bytes);
    };
    const expectCorrupt =
      (offset: number) =>
      (e: unknown): boolean => {
        assert.ok(e instanceof KvCorruptionError, String(e));
        assert.equal(e.code, "CORRUPT");
        assert.equal(e.file, path);
        assert.equal(e.offset, offset);
        assert.ok(e.message.includes(path) && e.message.includes(String(offset)));
        return true;
      };
    // One overflow value in a fresh file: overflow pages 2 and 3, then the leaf (the root).
    let tree = openKv(path);
    const v = new Rng(3).bytes(OVERFLOW_DATA + 10);
    tree.apply([
      [seqKey(1), v],
      [seqKey(2), new Uint8Array([7])],
    ]);
    tree.commit();
    const root = tree.rootPage;
    assert.equal(root, 4);
    tree.close();

    flip(3 * PAGE_SIZE + 100);
    tree = openKv(path);
    assert.ok(same(tree.get(seqKey(2)), new Uint8Array([7])), "undamaged pages still read");
    assert.throws(() => tree.get(seqKey(1)), expectCorrupt(3 * PAGE_SIZE));
    tree.close();
    flip(3 * PAGE_SIZE + 100);

    flip(root * PAGE_SIZE + 50);
    tree = openKv(path);
    assert.throws(() => tree.get(seqKey(2)), expectCorrupt(root * PAGE_SIZE));
    assert.throws(() => [...tree.entries()], expectCorrupt(root * PAGE_SIZE));
    assert.throws(() => tree.check(), expectCorrupt(root * PAGE_SIZE));
    tree.close();
    flip(root * PAGE_SIZE + 50);

    // A torn newest meta page falls back to the previous commit; both torn is corruption.
    tree = openKv(path);
    tree.apply([[seqKey(3), new Uint8Array([3])]]);
    const m = tree.commit();
    tree.close();
    flip((m.seq % 2) * PAGE_SIZE + 20);
    tree = openKv(path);
    assert.equal(tree.get(seqKey(3)), undefined);
    assert.ok(same(tree.get(seqKey(1)), v));
    tree.close();
    flip(((m.seq + 1) % 2) * PAGE_SIZE + 20);
    assert.throws(() => openKv(path), expectCorrupt(0));
  } finally {
    cleanup();
  }
});

test("replaced pages are reused only after the next durable commit", () => {
  const { fs, tree } = memTree();
  const N = 20000;
  const put = (tag: number) => Array.from({ length: N }, (_, i) => [seqKey(i), new Uint8Array([tag, i & 0xff])] as const);
  tree.apply(put(1));
  tree.commit();
  const s1 = tree.snapshot();
  // Rewrite every key; the uncommitted tree must not touch a page of the committed one.
  tree.apply(put(2));
  const m2 = tree.prepareCommit();
  tree.dropCache(); // every read below goes to the file
  assert.equal(s1.size, N);
  let i = 0;
  for (const [k, v] of s1.entries()) {
    assert.ok(same(k, seqKey(i)) && v[0] === 1 && v[1] === (i & 0xff), `old entry ${i}`);
    i++;
  }
  assert.equal(i, N);
  assert.deepEqual(tree.get(seqKey(5)), new Uint8Array([2, 5]));
  // Crash before the commit point: reopening sees the previous commit, intact.
  const crashed = openKv("t.db", { fs });
  assert.deepEqual(crashed.get(seqKey(5)), new Uint8Array([1, 5]));
  assert.equal(crashed.check().entries, N);
  crashed.close();
  const pendingBefore = tree.stats().pendingPages;
  assert.ok(pendingBefore > 0);
  tree.publish(m2);
  assert.throws(() => s1.get(seqKey(0)), kvCode("STALE"));
  // Once durable, the old tree's pages are reused instead of growing the file.
  const hw = tree.stats().highWater;
  assert.ok(tree.stats().reusablePages >= pendingBefore);
  tree.apply(put(3));
  tree.commit();
  // At most the free list's own page may extend the file (the tree needs ~460 pages).
  assert.ok(tree.stats().highWater <= hw + 1, `high water ${tree.stats().highWater} vs ${hw}`);
  tree.check();
  tree.close();
});

test("iterators over a changed tree throw STALE", () => {
  const { tree } = memTree();
  tree.apply(Array.from({ length: 100 }, (_, i) => [seqKey(i), new Uint8Array([i])] as const));
  const it = tree.entries();
  it.next();
  tree.apply([[seqKey(1000), new Uint8Array(1)]]);
  assert.throws(() => it.next(), kvCode("STALE"));
});

test("seek, bit-prefix seek, bounded ranges both ways, async iteration", async () => {
  const { tree } = memTree();
  const rng = new Rng(5);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < 5000; i++) keys.push(rng.bytes(31));
  const sorted = keys.map(hex).sort();
  tree.apply(keys.map((k) => [k, k.subarray(0, 4)] as const));
  const lower = (h: string): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (sorted[m] < h) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  for (let t = 0; t < 300; t++) {
    const x = t % 2 === 0 ? rng.bytes(31) : Buffer.from(sorted[rng.int(sorted.length)], "hex");
    const at = lower(hex(x));
    assert.equal(tree.seek(x)?.[0] && hex(tree.seek(x)![0]), sorted[at]);
    // Prefix of n bits: the answer is the first key >= the prefix floor if it shares the prefix.
    for (const bits of [0, 1, 7, 8, 9, 12, 16, 23, 248]) {
      const got = tree.seekPrefix(x, bits);
      const floor = Buffer.alloc(31);
      Buffer.from(x).copy(floor, 0, 0, bits >> 3);
      if (bits & 7) floor[bits >> 3] = x[bits >> 3] & (0xff << (8 - (bits & 7)));
      const cand = sorted[lower(floor.toString("hex"))];
      let want: string | undefined = cand;
      if (cand !== undefined) {
        const c = Buffer.from(cand, "hex");
        for (let b = 0; b < bits; b++) if (((c[b >> 3] ^ x[b >> 3]) >> (7 - (b & 7))) & 1) want = undefined;
      }
      assert.equal(got === undefined ? undefined : hex(got[0]), want, `prefix ${bits}`);
      if (got) assert.ok(same(got[1], got[0].subarray(0, 4)));
    }
  }
  // An exact 248-bit prefix finds the key itself; a missing one finds nothing.
  assert.equal(hex(tree.seekPrefix(keys[7], 248)![0]), hex(keys[7]));
  const all = [...tree.keys()].map(hex);
  assert.deepEqual(all, sorted);
  assert.deepEqual([...tree.keys({ reverse: true })].map(hex), sorted.slice().reverse());
  const a = Buffer.from(sorted[1000], "hex");
  const z = Buffer.from(sorted[3000], "hex");
  assert.deepEqual([...tree.keys({ start: a, end: z })].map(hex), sorted.slice(1000, 3000));
  assert.deepEqual([...tree.keys({ start: a, end: z, reverse: true })].map(hex), sorted.slice(1000, 3000).reverse());
  assert.deepEqual([...tree.keys({ start: z, end: a })], []);
  const viaAsync: string[] = [];
  for await (const [k, v] of tree.entriesAsync({ start: a })) {
    assert.ok(same(v, k.subarray(0, 4)));
    viaAsync.push(hex(k));
  }
  assert.deepEqual(viaAsync, sorted.slice(1000));
  const back: string[] = [];
  for await (const [k] of tree.entriesAsync({ end: z, reverse: true })) back.push(hex(k));
  assert.deepEqual(back, sorted.slice(0, 3000).reverse());
  assert.equal(tree.has(keys[3]), true);
  assert.equal(tree.has(rng.bytes(31)), false);
});

test("two-step commit: meta kept by an outer record reopens the tree", () => {
  const { fs, tree } = memTree();
  tree.apply([[seqKey(1), new Uint8Array([1])]]);
  tree.commit(); // published in the built-in meta page
  tree.apply([[seqKey(2), new Uint8Array([2])]]);
  const meta = tree.prepareCommit();
  const record = encodeTreeMeta(meta); // an outer store would write these bytes durably
  tree.markDurable(meta);
  tree.apply([[seqKey(3), new Uint8Array([3])]]);
  tree.close();
  const outer = openKv("t.db", { fs, meta: record });
  assert.deepEqual([...outer.keys()].map(hex), [hex(seqKey(1)), hex(seqKey(2))]);
  outer.check();
  outer.close();
  // The built-in meta pages were not touched by the outer commit.
  const own = openKv("t.db", { fs });
  assert.deepEqual([...own.keys()].map(hex), [hex(seqKey(1))]);
  own.close();
});

test("the page cache stays within its budget", () => {
  const fs = new MemFileSystem();
  const tree = openKv("c.db", { fs, cacheBytes: 64 * PAGE_SIZE });
  const rng = new Rng(17);
  const N = 30000;
  tree.apply(Array.from({ length: N }, (_, i) => [seqKey(i), seqKey(i).subarray(0, 20)] as const));
  tree.commit();
  tree.dropCache();
  assert.equal(tree.stats().cachedPages, 0);
  for (let t = 0; t < 20000; t++) {
    const i = rng.int(N);
    assert.ok(same(tree.get(seqKey(i)), seqKey(i).subarray(0, 20)));
    assert.ok(tree.stats().cachedPages <= 64);
  }
  const s = tree.stats();
  assert.equal(s.cacheCapacity, 64);
  assert.equal(s.cachedPages, 64);
  assert.ok(s.pagesRead > 5000, `only ${s.pagesRead} pages read: evictions must force re-reads`);
  assert.ok(s.cacheHits > 20000, "branch pages stay cached");
  assert.equal([...tree.keys()].length, N);
});

test("scans stay correct while other reads evict and recycle their pages", async () => {
  const fs = new MemFileSystem();
  const tree = openKv("r.db", { fs, cacheBytes: 16 * PAGE_SIZE });
  const rng = new Rng(23);
  const N = 20000;
  const valueOf = (i: number): Uint8Array => seqKey(i * 3).subarray(0, 4 + (i % 40));
  tree.apply(Array.from({ length: N }, (_, i) => [seqKey(i), valueOf(i)] as const));
  tree.commit();
  const snap = tree.snapshot();
  tree.apply([[seqKey(5), null]]); // the live tree now differs from the snapshot
  const forward = tree.entries();
  const backward = snap.entries({ reverse: true });
  const asyncScan = tree.entriesAsync({ start: seqKey(100) });
  for (let i = 0; i < N - 200; i++) {
    const f = forward.next().value!;
    const want = i < 5 ? i : i + 1;
    assert.ok(same(f[0], seqKey(want)) && same(f[1], valueOf(want)), `forward ${i}`);
    const b = backward.next().value!;
    assert.ok(same(b[0], seqKey(N - 1 - i)) && same(b[1], valueOf(N - 1 - i)), `backward ${i}`);
    const a = (await asyncScan.next()).value!;
    assert.ok(same(a[0], seqKey(100 + i)), `async ${i}`);
    // Random reads in between push every page of the scans out of the 16-page cache.
    for (let r = 0; r < 3; r++) {
      const k = rng.int(N);
      assert.ok(same(snap.get(seqKey(k)), valueOf(k)));
    }
  }
  assert.ok(tree.stats().pagesRead > N / 10);
});

test("same-length rewrites edit pages in place across early writes, evictions, commits and abandoned batches", () => {
  const fs = new MemFileSystem();
  // A 16-page cache and a 64-page dirty budget: rewritten pages are written out early and
  // evicted between batches, so in-place edits also start from pages read back from the file.
  const opts = { fs, cacheBytes: 16 * PAGE_SIZE, maxDirtyBytes: 64 * PAGE_SIZE };
  let tree = openKv("t.db", opts);
  const rng = new Rng(7);
  const N = 20_000;
  const model = new Map<number, Uint8Array>();
  tree.apply(
    Array.from({ length: N }, (_, i) => {
      const v = rng.bytes(i % 3 === 0 ? 0 : i % 3 === 1 ? 32 : 200);
      model.set(i, v);
      return [seqKey(i), v] as const;
    }),
  );
  tree.commit();
  const rewrite = (n: number): Map<number, Uint8Array> => {
    const batch = new Map<number, Uint8Array>();
    while (batch.size < n) {
      const i = rng.int(N);
      batch.set(i, rng.bytes(model.get(i)!.length));
    }
    tree.apply([...batch].map(([i, v]) => [seqKey(i), v] as const));
    return batch;
  };
  const verify = (): void => {
    tree.check();
    for (let i = 0; i < N; i++) assert.ok(same(tree.get(seqKey(i)), model.get(i)), `key ${i}`);
  };
  // Several uncommitted batches: the second and later edit pages the first made fresh.
  for (let r = 0; r < 4; r++) for (const [i, v] of rewrite(3000)) model.set(i, v);
  verify();
  tree.commit();
  tree.close();
  tree = openKv("t.db", opts);
  verify();
  // An abandoned run of rewrites leaves the durable tree as it was.
  for (let r = 0; r < 3; r++) rewrite(3000);
  tree.close();
  tree = openKv("t.db", opts);
  verify();
  const pages = tree.stats().highWater;
  // Rewrites of one committed tree, committed each time, allocate no more than COW needs: the
  // file does not grow without bound.
  for (let r = 0; r < 6; r++) {
    for (const [i, v] of rewrite(500)) model.set(i, v);
    tree.commit();
  }
  verify();
  assert.ok(tree.stats().highWater <= pages * 2, `file grew from ${pages} to ${tree.stats().highWater} pages`);
  tree.close();
});

test("overflow chains read back while many batches run between commits (read-ahead over pages freed unwritten)", () => {
  // Freed pages of the current window are reused at once, so a chain's pages need not be
  // adjacent, and the pages after one of them may have been freed before ever being written:
  // a chain read must not take its read-ahead for the chain.
  const { tree } = memTree();
  const rng = new Rng(0x0f1ee7);
  const model = new Map<string, [Uint8Array, Uint8Array]>();
  const sizes = [0, 40, 5000, 5000, 20_000, 100_000];
  for (let round = 0; round < 40; round++) {
    const batch: [Uint8Array, Uint8Array | null][] = [];
    const used = new Set<number>();
    for (let n = 0; n < 12; n++) {
      const i = rng.int(60);
      if (used.has(i)) continue;
      used.add(i);
      const v = rng.int(4) === 0 ? null : rng.bytes(sizes[rng.int(sizes.length)]);
      batch.push([seqKey(i), v]);
    }
    tree.apply(batch);
    for (const [k, v] of batch) {
      if (v === null) model.delete(hex(k));
      else model.set(hex(k), [k, v]);
    }
    for (const [k, v] of model.values()) assert.ok(same(tree.get(k), v), `round ${round}: value of ${hex(k)}`);
    let seen = 0;
    tree.scanPrefix(seqKey(0), 0, (kb, ko, vb, vo, vl) => {
      const want = model.get(hex(kb.subarray(ko, ko + 31)));
      assert.ok(want !== undefined && same(vb.subarray(vo, vo + vl), want[1]), `round ${round}: scanned value`);
      seen++;
    });
    assert.equal(seen, model.size, `round ${round}: entries scanned`);
    if (round % 13 === 12) tree.commit();
  }
});
