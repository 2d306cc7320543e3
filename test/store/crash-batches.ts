// The crash test's workload: a fixed universe of keys from a seed (some sharing long
// prefixes) and batch number s as a function of (seed, s) alone, so the test can rebuild the
// expected state of any sequence number.
import { toHex } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng } from "../support/random.ts";

export const UNIVERSE_SIZE = 3000;
const VALUE_SIZES = [0, 5, 32, 33, 200, 5000];

function mix(seed: number, n: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(n + 0x7f4a7c15, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The fixed keys of a run: mostly random, a quarter sharing long prefixes with earlier keys. */
export function universe(seed: number): Uint8Array[] {
  const rng = new Rng(mix(seed, -1));
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  while (keys.length < UNIVERSE_SIZE) {
    let key: Uint8Array;
    const r = rng.int(8);
    if (keys.length > 0 && r === 0) key = keySharing(rng, rng.pick(keys), 200 + rng.int(48));
    else if (keys.length > 0 && r === 1) key = keySharing(rng, rng.pick(keys), rng.int(248));
    else key = rng.bytes(31);
    const hex = toHex(key);
    if (seen.has(hex)) continue;
    seen.add(hex);
    keys.push(key);
  }
  return keys;
}

/** Batch number `s` (s >= 1): 20..200 distinct universe keys, 30 % deletions. */
export function batchFor(seed: number, keys: readonly Uint8Array[], s: number): [Uint8Array, Uint8Array | null][] {
  const rng = new Rng(mix(seed, s));
  const n = 20 + rng.int(181);
  const picked = new Map<number, Uint8Array | null>();
  while (picked.size < n) {
    const i = rng.int(keys.length);
    if (picked.has(i)) continue;
    if (rng.int(100) < 30) picked.set(i, null);
    else picked.set(i, rng.bytes(rng.int(250) === 0 ? 100_000 : rng.pick(VALUE_SIZES)));
  }
  return [...picked].map(([i, v]) => [keys[i], v]);
}
