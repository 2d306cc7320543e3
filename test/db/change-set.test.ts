// A write session's change set (flat arrays and a hash table) against a Map model: random keys,
// keys sharing long prefixes and keys differing only in their last bytes, values rewritten at
// the same and other lengths, deletes and sets again; and sessions written that way committed
// and checked against the from-scratch root.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { open } from "../../src/db/index.ts";
import { ChangeSet, sortedEntries } from "../../src/db/change-set.ts";
import { compareKeys, toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { Model, tempDirs, universe } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-change-set-");

/** Keys that differ only in a few bytes: all zero but one byte, as GP's service keys nearly are. */
function sparseKeys(n: number): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(31);
    k[i % 31] = 1 + (i >> 5);
    k[30 - (i % 7)] ^= i & 0xff;
    keys.push(k);
  }
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(toHex(k)) && seen.add(toHex(k)) !== undefined);
}

function randomValue(rng: Rng): Uint8Array {
  return rng.bytes(rng.int(4) === 0 ? rng.int(300) : 32);
}

describe(`db: ChangeSet (seed ${seed})`, () => {
  it("puts, rewrites and deletes agree with a Map; sorted() is in key order with the last write of each key", () => {
    const rng = new Rng(seed);
    for (const keys of [universe(rng, 400), sparseKeys(300)]) {
      const set = new ChangeSet();
      const model = new Map<string, [Uint8Array, Uint8Array | null]>();
      for (let op = 0; op < 3000; op++) {
        const key = rng.pick(keys);
        // Writes go through a view at an odd offset, as a caller's subarray would be.
        const kb = new Uint8Array(40);
        kb.set(key, 3);
        const view = kb.subarray(3, 34);
        const value = rng.int(5) === 0 ? null : randomValue(rng);
        set.put(view, value);
        model.set(toHex(key), [key.slice(), value === null ? null : value.slice()]);
        kb.fill(0xee);
        value?.fill(0xdd);
        // The caller's buffers were overwritten after the put: the set kept copies.
        if (rng.int(10) === 0) {
          const probe = rng.pick(keys);
          const i = set.find(probe);
          const want = model.get(toHex(probe));
          if (want === undefined) assert.equal(i, -1);
          else assert.deepEqual(set.valueOf(i), want[1]);
        }
      }
      assert.equal(set.size, model.size);
      const sorted = set.sorted();
      const expected = [...model.values()].sort((a, b) => compareKeys(a[0], b[0]));
      assert.equal(sorted.length, expected.length);
      for (let i = 0; i < sorted.length; i++) {
        assert.deepEqual(sorted[i][0], expected[i][0]);
        assert.deepEqual(sorted[i][1], expected[i][1]);
      }
    }
  });

  it("sortedEntries orders keys with equal leading bytes by their remaining bytes", () => {
    const rng = new Rng(seed + 1);
    for (const n of [0, 1, 2, 31, 32, 33, 1000]) {
      const keys = new Uint8Array(n * 31);
      for (let i = 0; i < n; i++) {
        const k = rng.bytes(31);
        if (rng.int(2) === 0) k.fill(7, 0, 4 + rng.int(20));
        keys.set(k, i * 31);
      }
      const order = Array.from(sortedEntries(keys, n));
      const view = (i: number) => keys.subarray(i * 31, i * 31 + 31);
      const want = [...Array(n).keys()].sort((a, b) => compareKeys(view(a), view(b)) || a - b);
      assert.deepEqual(
        order.map((i) => toHex(view(i))),
        want.map((i) => toHex(view(i))),
      );
      assert.equal(new Set(order).size, n);
    }
  });

  it("sessions that set a key several times, delete and set it again commit the from-scratch root", async () => {
    const rng = new Rng(seed + 2);
    const keys = universe(rng, 600);
    const db = open(newDir(), { create: true });
    try {
      const model = new Model();
      for (let s = 0; s < 8; s++) {
        const w = db.beginWrite();
        const last = new Map<string, [Uint8Array, Uint8Array | null]>();
        for (let op = 0; op < 500; op++) {
          const key = rng.pick(keys);
          if (rng.int(4) === 0) {
            w.delete(key);
            last.set(toHex(key), [key, null]);
          } else {
            const v = randomValue(rng);
            w.set(key, v);
            last.set(toHex(key), [key, v]);
          }
          // Reads see the session's last write.
          const probe = rng.pick(keys);
          const own = last.get(toHex(probe));
          const got = w.get(probe);
          if (own !== undefined) assert.deepEqual(got, own[1] ?? undefined);
          else assert.deepEqual(got, model.get(probe));
        }
        const f = s % 2 === 0 ? await w.finish() : w.finishSync();
        model.apply(last.values());
        assert.equal(toHex(f.root), model.root(), `session ${s}`);
        assert.equal(f.changes.length, last.size);
        await f.commit();
        assert.equal(toHex(db.root), model.root());
      }
    } finally {
      db.close();
    }
  });
});
