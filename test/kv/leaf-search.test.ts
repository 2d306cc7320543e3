// The leaf's lower-bound search guesses a position from the keys' leading bytes and gallops
// from there; it must give exactly the plain lower bound for any key set, not only even ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leafLowerBound } from "../../src/kv/leaf.ts";
import { KEY_BYTES } from "../../src/kv/key.ts";
import { PAGE_HEADER } from "../../src/kv/page.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The key array of a leaf holding `keys` (sorted, distinct), as `leafLowerBound` reads it. */
function leafOf(keys: Uint8Array[]): Uint8Array {
  const p = new Uint8Array(PAGE_HEADER + KEY_BYTES * keys.length);
  keys.forEach((k, i) => p.set(k, PAGE_HEADER + KEY_BYTES * i));
  return p;
}

function distinctSorted(keys: Uint8Array[]): Uint8Array[] {
  const sorted = keys.slice().sort(compare);
  return sorted.filter((k, i) => i === 0 || compare(sorted[i - 1], k) !== 0);
}

describe(`kv: leaf lower bound (seed ${seed})`, () => {
  it("equals a linear lower bound for even, skewed, tied and structured key sets, from any start", () => {
    const rng = new Rng(seed);
    const shapes: Record<string, () => Uint8Array> = {
      random: () => rng.bytes(KEY_BYTES),
      // Equal first 4 bytes: no guess possible, a plain binary search.
      "same lead": () => {
        const k = rng.bytes(KEY_BYTES);
        k.set([7, 7, 7, 7]);
        return k;
      },
      // Few distinct leads, many keys per lead.
      "tied leads": () => {
        const k = rng.bytes(KEY_BYTES);
        k.set([rng.int(3), 0, 0, rng.int(2)]);
        return k;
      },
      // A service's storage keys: constant bytes interleaved with hash bytes.
      interleaved: () => {
        const k = rng.bytes(KEY_BYTES);
        for (let i = 0; i < 8; i += 2) k[i] = 0x42;
        return k;
      },
      // Most keys in a narrow band, a few far away: a poor guess to gallop from.
      skewed: () => {
        const k = rng.bytes(KEY_BYTES);
        if (rng.int(10) > 0) k.set([0x80, 0, rng.int(4)]);
        return k;
      },
    };
    for (const [name, make] of Object.entries(shapes)) {
      for (let round = 0; round < 40; round++) {
        const n = 1 + rng.int(120);
        const keys = distinctSorted(Array.from({ length: n }, make));
        const p = leafOf(keys);
        const probes = [
          ...keys,
          ...keys.map((k) => {
            const q = k.slice();
            q[KEY_BYTES - 1] ^= 1;
            return q;
          }),
          new Uint8Array(KEY_BYTES),
          new Uint8Array(KEY_BYTES).fill(255),
          ...Array.from({ length: 20 }, make),
        ];
        for (const q of probes) {
          for (const from of [0, rng.int(keys.length + 1), keys.length]) {
            let want = from;
            while (want < keys.length && compare(keys[want], q) < 0) want++;
            assert.equal(leafLowerBound(p, keys.length, q, from), want, `${name}: n ${keys.length}, from ${from}`);
          }
        }
      }
    }
  });
});
