// Randomized model test: over a million mixed operations against a Map, across many batches,
// commits, abandoned batches and reopens, with values from 0 B to 1 MiB and a few >= 16 MiB.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { type KvTree, openKv } from "../../src/kv/index.ts";
import { Rng, hex, same, tempDir } from "./helpers.ts";

const SEED = Number(process.env.KV_MODEL_SEED ?? 20240601);
const BATCHES = Number(process.env.KV_MODEL_BATCHES ?? 300);

test("kv matches a Map model over >= 1M mixed operations with reopens", () => {
  const { dir, cleanup } = tempDir("model");
  try {
    run(join(dir, "kv.db"));
  } finally {
    cleanup();
  }
});

function run(path: string): void {
  const rng = new Rng(SEED);
  // Values are views into one random pool: the model needs no copies.
  const pool = rng.bytes(24 * 1024 * 1024);
  const valueOf = (len: number): Uint8Array => {
    const at = rng.int(pool.length - len + 1);
    return pool.subarray(at, at + len);
  };
  // Key families share prefixes of many lengths, so separators and prefix seeks see deep
  // common prefixes as well as random keys.
  const families = Array.from({ length: 8 }, () => rng.bytes(31));
  const keyPool: Uint8Array[] = [];
  for (let i = 0; i < 44000; i++) {
    const k = rng.bytes(31);
    if (rng.float() < 0.5) {
      const f = families[rng.int(families.length)];
      k.set(f.subarray(0, rng.int(30)));
    }
    keyPool.push(k);
  }
  const boundaries = [0, 1, 1023, 1024, 1025, 1057, 4083, 4084, 4085, 8168, 8169];
  const valueLen = (): number => {
    const r = rng.float();
    if (r < 0.45) return rng.int(41);
    if (r < 0.75) return 41 + rng.int(160);
    if (r < 0.9) return 201 + rng.int(900);
    if (r < 0.98) return boundaries[rng.int(boundaries.length)];
    if (r < 0.9995) return 1101 + rng.int(16 * 1024);
    return rng.float() < 0.3 ? 1024 * 1024 : 65536 + rng.int(1024 * 1024 - 65536);
  };

  let model = new Map<string, Uint8Array>();
  let sorted: string[] = [];
  let durable = { model: new Map<string, Uint8Array>(), sorted: [] as string[] };
  const opts = { cacheBytes: 16 * 1024 * 1024, maxDirtyBytes: 2 * 1024 * 1024 };
  let tree: KvTree = openKv(path, opts);
  let ops = 0;
  let maxHeight = 0;
  let reopens = 0;
  let abandoned = 0;

  // Values >= 16 MiB: inserted, replaced by another big value, deleted, and one kept.
  const bigAt = new Map<number, number>([
    [30, 16 * 1024 * 1024 + 1],
    [150, 17 * 1024 * 1024],
    [250, 16 * 1024 * 1024],
  ]);
  const bigKeys: Uint8Array[] = [];

  const lowerBound = (h: string): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (sorted[m] < h) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const randomProbe = (): Uint8Array => {
    if (sorted.length > 0 && rng.float() < 0.5) return Buffer.from(sorted[rng.int(sorted.length)], "hex");
    return rng.float() < 0.5 ? keyPool[rng.int(keyPool.length)] : rng.bytes(31);
  };

  const verifyAll = (): void => {
    const report = tree.check();
    assert.equal(report.entries, model.size);
    assert.equal(tree.size, model.size);
    let i = 0;
    for (const [k, v] of tree.entries()) {
      const h = hex(k);
      assert.equal(h, sorted[i], `scan key ${i}`);
      assert.ok(same(v, model.get(h)), `scan value of ${h}`);
      i++;
    }
    assert.equal(i, sorted.length);
  };

  for (let b = 0; b < BATCHES; b++) {
    // Writes: distinct keys, unsorted (the tree sorts), a quarter deletes.
    const nWrites = 2000 + rng.int(1200);
    const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
    // Every third batch only rewrites existing values with new ones of the same length (the
    // in-place edit path, on pages written earlier in the same epoch as well as durable ones);
    // the others mix such rewrites with inserts, deletes and resizes.
    const rewritesOnly = b % 3 === 1 && sorted.length > 0;
    for (let w = 0; w < nWrites; w++) {
      if (sorted.length > 0 && (rewritesOnly || rng.float() < 0.2)) {
        const h = sorted[rng.int(sorted.length)];
        batch.set(h, [Buffer.from(h, "hex"), valueOf(model.get(h)!.length)]);
        continue;
      }
      const k = rng.float() < 0.95 ? keyPool[rng.int(keyPool.length)] : rng.bytes(31);
      const v = rng.float() < 0.25 ? null : valueOf(valueLen());
      batch.set(hex(k), [k, v]);
    }
    const big = bigAt.get(b);
    if (big !== undefined) {
      const k = rng.bytes(31);
      bigKeys.push(k);
      batch.set(hex(k), [k, valueOf(big)]);
    }
    if (b === 60) batch.set(hex(bigKeys[0]), [bigKeys[0], valueOf(16 * 1024 * 1024 + 4096)]);
    if (b === 90) batch.set(hex(bigKeys[0]), [bigKeys[0], null]);
    if (b === 200) batch.set(hex(bigKeys[1]), [bigKeys[1], null]);
    tree.apply(batch.values());
    ops += batch.size;
    for (const [h, [, v]] of batch) {
      if (v === null) model.delete(h);
      else model.set(h, v);
    }
    sorted = mergeSorted(sorted, batch);
    maxHeight = Math.max(maxHeight, tree.height);

    // Point reads, hits and misses.
    for (let g = 0; g < 1100; g++) {
      const k = randomProbe();
      assert.ok(same(tree.get(k), model.get(hex(k))), `get ${hex(k)} in batch ${b}`);
      ops++;
    }
    // Seeks: first key >= X, and first key with X's first n bits.
    for (let s = 0; s < 120; s++) {
      const x = randomProbe();
      const at = lowerBound(hex(x));
      const got = tree.seek(x);
      if (at === sorted.length) assert.equal(got, undefined);
      else {
        assert.ok(got !== undefined, `seek ${hex(x)}`);
        assert.equal(hex(got[0]), sorted[at]);
        assert.ok(same(got[1], model.get(sorted[at])));
      }
      const bits = rng.int(249);
      const pk = tree.seekPrefixKey(x, bits);
      const want = firstWithPrefix(sorted, lowerBound, x, bits);
      assert.equal(pk === undefined ? undefined : hex(pk), want, `seekPrefix ${hex(x)}/${bits}`);
      ops += 2;
    }
    // Prefix scans as views: every entry under a short prefix, in order, with its value.
    for (let s = 0; s < 10; s++) {
      const x = randomProbe();
      const bits = 4 + rng.int(20);
      const got: string[] = [];
      const n = tree.scanPrefix(x, bits, (kb, ko, vb, vo, vl) => {
        const h = hex(kb.subarray(ko, ko + 31));
        assert.ok(same(vb.subarray(vo, vo + vl), model.get(h)), `scanPrefix value of ${h}`);
        got.push(h);
      });
      const want: string[] = [];
      const first = firstWithPrefix(sorted, lowerBound, x, bits);
      for (
        let i = first === undefined ? sorted.length : lowerBound(first);
        i < sorted.length && firstWithPrefix([sorted[i]], () => 0, x, bits) !== undefined;
        i++
      )
        want.push(sorted[i]);
      assert.deepEqual(got, want, `scanPrefix ${hex(x)}/${bits}`);
      assert.equal(n, want.length);
      // With a limit: the first entries only.
      const limit = rng.int(4);
      const head: string[] = [];
      const m = tree.scanPrefix(x, bits, (kb, ko) => head.push(hex(kb.subarray(ko, ko + 31))), limit);
      assert.deepEqual(head, want.slice(0, limit), `scanPrefix ${hex(x)}/${bits} limit ${limit}`);
      assert.equal(m, head.length);
      ops++;
    }
    // Bounded range scans in both directions.
    for (let r = 0; r < 25; r++) {
      let a = randomProbe();
      let z = randomProbe();
      if (hex(a) > hex(z)) [a, z] = [z, a];
      const reverse = rng.float() < 0.5;
      const lo = lowerBound(hex(a));
      const hi = lowerBound(hex(z));
      const limit = 1 + rng.int(60);
      const want = reverse ? sorted.slice(Math.max(lo, hi - limit), hi).reverse() : sorted.slice(lo, Math.min(hi, lo + limit));
      const got: string[] = [];
      for (const [k, v] of tree.entries({ start: a, end: z, reverse })) {
        assert.ok(same(v, model.get(hex(k))));
        got.push(hex(k));
        if (got.length === limit) break;
      }
      assert.deepEqual(got, want, `range batch ${b}`);
      ops++;
    }

    // Commit most batches; sometimes abandon uncommitted work by reopening.
    const r = rng.float();
    if (r < 0.6) {
      tree.commit();
      durable = { model: new Map(model), sorted: sorted.slice() };
    }
    if (b % 10 === 9) {
      if (rng.float() < 0.3) abandoned++;
      else {
        tree.commit();
        durable = { model: new Map(model), sorted: sorted.slice() };
      }
      tree.close();
      tree = openKv(path, opts);
      reopens++;
      model = new Map(durable.model);
      sorted = durable.sorted.slice();
      verifyAll();
    } else if (b % 25 === 0) {
      verifyAll();
    }
    if (process.env.KV_MODEL_VERBOSE && b % 10 === 0) console.log(b, Math.round(performance.now()), JSON.stringify(tree.stats()));
  }
  verifyAll();
  if (process.env.KV_MODEL_VERBOSE) console.log({ ops, maxHeight, reopens, abandoned, ...tree.stats() });
  tree.close();
  assert.ok(ops >= 1_000_000, `only ${ops} operations`);
  assert.ok(maxHeight >= 3, `tree only reached depth ${maxHeight}`);
  assert.ok(reopens >= 25 && abandoned >= 1);
}

// Sorted hex keys after applying `batch`.
function mergeSorted(sorted: string[], batch: Map<string, [Uint8Array, Uint8Array | null]>): string[] {
  const changes = Array.from(batch.keys()).sort();
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < sorted.length || j < changes.length) {
    if (j >= changes.length || (i < sorted.length && sorted[i] < changes[j])) out.push(sorted[i++]);
    else {
      if (i < sorted.length && sorted[i] === changes[j]) i++;
      if (batch.get(changes[j])![1] !== null) out.push(changes[j]);
      j++;
    }
  }
  return out;
}

function firstWithPrefix(sorted: string[], lowerBound: (h: string) => number, x: Uint8Array, bits: number): string | undefined {
  const floor = new Uint8Array(31);
  floor.set(x.subarray(0, bits >> 3));
  if (bits & 7) floor[bits >> 3] = x[bits >> 3] & (0xff << (8 - (bits & 7)));
  const at = lowerBound(hex(floor));
  if (at === sorted.length) return undefined;
  const k = Buffer.from(sorted[at], "hex");
  for (let i = 0; i < bits; i++) {
    if (((k[i >> 3] >> (7 - (i & 7))) & 1) !== ((x[i >> 3] >> (7 - (i & 7))) & 1)) return undefined;
  }
  return sorted[at];
}
