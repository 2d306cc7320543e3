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

/** Throws a typed error unless `key` is a 31-byte array; `name` is the argument's name. */
export function checkKey(key: unknown, name = "key"): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TrieError("BAD_KEY", `${name} must be a Uint8Array`);
  if (key.length !== KEY_BYTES) {
    throw new TrieError("BAD_KEY", `${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}
