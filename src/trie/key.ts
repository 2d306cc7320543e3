// State keys and their bits. Bits are read most significant first, so byte order is trie order
// and every subtrie is one contiguous range of sorted keys.

import { TrieError } from "./errors.ts";

/** Bytes in a state key. */
export const KEY_BYTES = 31;
/** Bits in a state key, and so the greatest depth of the trie. */
export const KEY_BITS = KEY_BYTES * 8;

/** Bit `i` of `key` (0 = left, 1 = right). */
export function keyBit(key: Uint8Array, i: number): number {
  return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

/**
 * Number of leading bits two keys share; KEY_BITS when equal. Also tells the order: when they
 * differ, `a` sorts first exactly when its bit at the returned position is 0.
 */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}

/** Byte-wise order of two keys: negative, zero or positive. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Sorts `items` in place by key order (`compareKeys` of `keyOf(item)`) and returns them. A
 * comparator sort of a big batch spends most of its time calling the comparator, so the items
 * are tagged with their keys' leading bits and index as one number, those numbers sorted by the
 * engine's native typed-array sort, and only runs of equal tags compared key by key (for random
 * keys almost none: 1000 keys sort in ~0.09 ms instead of ~0.2, 1M in ~0.4 s instead of ~3 s).
 */
export function sortByKey<T>(items: T[], keyOf: (item: T) => Uint8Array): T[] {
  const n = items.length;
  if (n < 32) return items.sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  // An item's tag: its key's first `bits` bits above its index, exact in a double (53 bits).
  const indexBits = Math.ceil(Math.log2(n));
  const bits = Math.min(32, 53 - indexBits);
  const scale = 2 ** indexBits;
  const tags = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = keyOf(items[i]);
    const lead = ((k[0] << 24) | (k[1] << 16) | (k[2] << 8) | k[3]) >>> 0;
    tags[i] = Math.floor(lead / 2 ** (32 - bits)) * scale + i;
  }
  tags.sort();
  const sorted = new Array<T>(n);
  for (let i = 0; i < n; i++) sorted[i] = items[tags[i] % scale];
  for (let i = 0; i < n; ) {
    const lead = Math.floor(tags[i] / scale);
    let j = i + 1;
    while (j < n && Math.floor(tags[j] / scale) === lead) j++;
    if (j - i > 1) {
      const run = sorted.slice(i, j).sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
      for (let x = i; x < j; x++) sorted[x] = run[x - i];
    }
    i = j;
  }
  for (let i = 0; i < n; i++) items[i] = sorted[i];
  return items;
}

const trieBadKey = (message: string) => new TrieError("BAD_KEY", message);

/**
 * Throws unless `key` is a 31-byte array; `name` is the argument's name. The one key check of
 * every layer: each passes `fail`, which makes its own typed error from the message.
 */
export function checkKey(key: unknown, name = "key", fail: (message: string) => Error = trieBadKey): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw fail(`${name} must be a Uint8Array of ${KEY_BYTES} bytes`);
  if (key.length !== KEY_BYTES) throw fail(`${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
}

/** The first index of `items` (sorted by `keyOf`) whose key is not below `key`. */
export function lowerBound<T>(items: readonly T[], key: Uint8Array, keyOf: (item: T) => Uint8Array): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keyOf(items[mid]), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first key in [lo, hi) whose bit `depth` is 1 (the range shares bits < depth). */
export function splitPoint(keys: readonly Uint8Array[], lo: number, hi: number, depth: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyBit(keys[mid], depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
