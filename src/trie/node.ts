// GP node encoding (Gray Paper D.2). Every node is 64 bytes and is named by its BLAKE2b-256;
// the name carries no kind, and an all-zero name (H0) is the empty subtrie.

import { HASH_BYTES, type HashKernel, NODE_BYTES } from "../hash/kernel.ts";
import { TrieError } from "./errors.ts";
import { KEY_BYTES } from "./key.ts";

export { HASH_BYTES, NODE_BYTES };

/** Largest value stored inside its leaf; longer values are stored as their hash. */
export const EMBED_MAX = 32;

/** The empty subtrie's name: 32 zero bytes (never the output of a hash). */
export const H0: Uint8Array = new Uint8Array(HASH_BYTES);

const LEAF_EMBEDDED = 0x80;
const LEAF_REGULAR = 0xc0;

/**
 * Writes a branch preimage into `out[at..at+64)` from the children's names. The left name
 * loses its top bit: the first bit of every node says branch (0) or leaf (1).
 */
export function encodeBranch(left: Uint8Array, right: Uint8Array, out: Uint8Array, at = 0): void {
  out.set(left.subarray(0, HASH_BYTES), at);
  out[at] &= 0x7f;
  out.set(right.subarray(0, HASH_BYTES), at + HASH_BYTES);
}

/**
 * Writes a leaf preimage into `out[at..at+64)`. `value` is embedded when it has at most 32
 * bytes; otherwise `valueHash` (its BLAKE2b-256) must be given and is stored instead.
 */
export function encodeLeaf(key: Uint8Array, value: Uint8Array, out: Uint8Array, at: number, valueHash?: Uint8Array): void {
  out.set(key.subarray(0, KEY_BYTES), at + 1);
  if (value.length <= EMBED_MAX) {
    out[at] = LEAF_EMBEDDED | value.length;
    out.set(value, at + 32);
    out.fill(0, at + 32 + value.length, at + NODE_BYTES);
  } else {
    if (!valueHash) throw new TrieError("BAD_VALUE", "valueHash is required for a value over 32 bytes");
    encodeHashedLeaf(key, valueHash, out, at);
  }
}

/** Writes a regular leaf preimage from a known value hash (used by proofs that omit the value). */
export function encodeHashedLeaf(key: Uint8Array, valueHash: Uint8Array, out: Uint8Array, at = 0): void {
  out[at] = LEAF_REGULAR;
  out.set(key.subarray(0, KEY_BYTES), at + 1);
  out.set(valueHash.subarray(0, HASH_BYTES), at + 32);
}

/** True if the 64-byte node at `at` is a leaf. */
export function isLeafNode(node: Uint8Array, at = 0): boolean {
  return (node[at] & 0x80) !== 0;
}

/** True if the 32 bytes at `at` are H0. */
export function isEmptyId(id: Uint8Array, at = 0): boolean {
  for (let i = 0; i < HASH_BYTES; i++) if (id[at + i] !== 0) return false;
  return true;
}

/**
 * Writes the leaf preimage of (key, value) into the kernel's heap at `at`, hashing a long
 * value with the kernel itself, ready for a batched `hashNodes`. Byte loops: for 31- and
 * 32-byte copies from foreign buffers they beat `set`.
 */
export function writeLeafPreimage(kernel: HashKernel, key: Uint8Array, value: Uint8Array, at: number): void {
  writeLeafPreimageAt(kernel, key, 0, value, 0, value.length, at);
}

/** `writeLeafPreimage` of the key at key[keyOff..+31] and the value at value[valOff..+len]. */
export function writeLeafPreimageAt(kernel: HashKernel, key: Uint8Array, keyOff: number, value: Uint8Array, valOff: number, len: number, at: number): void {
  const heap = kernel.heap;
  for (let j = 0; j < KEY_BYTES; j++) heap[at + 1 + j] = key[keyOff + j];
  if (len <= EMBED_MAX) {
    heap[at] = LEAF_EMBEDDED | len;
    for (let j = 0; j < len; j++) heap[at + 32 + j] = value[valOff + j];
    for (let j = len; j < EMBED_MAX; j++) heap[at + 32 + j] = 0;
  } else {
    heap[at] = LEAF_REGULAR;
    kernel.hash(valOff === 0 && len === value.length ? value : value.subarray(valOff, valOff + len), heap, at + 32);
  }
}
