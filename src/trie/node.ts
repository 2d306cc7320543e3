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

/**
 * Writes leaf preimages into a kernel's heap from keys back to back in one buffer and values in
 * another (a bulk load's packed chunk). A leaf with an embedded value is written in 32-bit
 * words, read unaligned: the byte loops of `writeLeafPreimageAt` cost as much as the hash.
 */
export class PackedLeafWriter {
  readonly #kernel: HashKernel;
  readonly #heap: DataView;
  #keys: Uint8Array = H0;
  #vals: Uint8Array = H0;
  #keyView = new DataView(H0.buffer);
  #valView = new DataView(H0.buffer);

  constructor(kernel: HashKernel) {
    this.#kernel = kernel;
    const heap = kernel.heap;
    this.#heap = new DataView(heap.buffer, heap.byteOffset, heap.byteLength);
  }

  /** Sets the buffers that `write` reads. */
  use(keys: Uint8Array, vals: Uint8Array): void {
    this.#keys = keys;
    this.#vals = vals;
    this.#keyView = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
    this.#valView = new DataView(vals.buffer, vals.byteOffset, vals.byteLength);
  }

  /** `writeLeafPreimageAt` of the key at keys[keyOff..+31] and the value at vals[valOff..+len]. */
  write(keyOff: number, valOff: number, len: number, at: number): void {
    const keys = this.#keys;
    // The last word of a value may be read past its end, never past the buffer's.
    if (len > EMBED_MAX || valOff + ((len + 3) & ~3) > this.#vals.length) {
      writeLeafPreimageAt(this.#kernel, keys, keyOff, this.#vals, valOff, len, at);
      return;
    }
    const heap = this.#heap;
    const kv = this.#keyView;
    const vv = this.#valView;
    // Byte 0 is the tag; the key fills bytes 1..31, so its first three bytes share word 0.
    heap.setUint32(at, LEAF_EMBEDDED | len | (keys[keyOff] << 8) | (keys[keyOff + 1] << 16) | (keys[keyOff + 2] << 24), true);
    for (let w = 1; w < 8; w++) heap.setUint32(at + 4 * w, kv.getUint32(keyOff + 4 * w - 1, true), true);
    const v = at + HASH_BYTES;
    const full = len >> 2;
    let w = 0;
    for (; w < full; w++) heap.setUint32(v + 4 * w, vv.getUint32(valOff + 4 * w, true), true);
    if ((len & 3) !== 0) {
      heap.setUint32(v + 4 * w, vv.getUint32(valOff + 4 * w, true) & ((1 << (8 * (len & 3))) - 1), true);
      w++;
    }
    for (; w < 8; w++) heap.setUint32(v + 4 * w, 0, true);
  }
}
