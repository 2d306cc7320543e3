// Hashing of page ids into buckets. Ids are structured (a depth byte, then a key prefix padded
// with zeros, and some JAM keys are mostly zeros themselves), so every word goes through a full
// multiply-rotate mix; the table is private to one node, so an unkeyed mix is enough. Two independent
// lanes give the bucket index and the 7-bit fingerprint kept in the meta byte, so the
// fingerprint stays informative however many index bits a large table uses.
import { PAGE_ID_BYTES } from "./page.ts";

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Hash of the 32-byte id at `bytes[at .. at + 32]`: a 32-bit bucket hash plus, above it, a
 * 7-bit fingerprint, packed into one (39-bit, exact) number so the hot path allocates nothing.
 * Take them apart with `bucketHash` and `fingerprint`.
 */
export function hashPageId(bytes: Uint8Array, at = 0): number {
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  for (let i = at; i < at + PAGE_ID_BYTES; i += 4) {
    const w = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    let k = Math.imul(w, 0xcc9e2d51);
    k = Math.imul(rotl(k, 15), 0x1b873593);
    a = Math.imul(rotl(a ^ k, 13), 5) + 0xe6546b64;
    let j = Math.imul(w, 0x9e3779b1);
    j = Math.imul(rotl(j, 17), 0x27d4eb2f);
    b = Math.imul(rotl(b ^ j, 11), 9) + 0x165667b1;
  }
  return (fmix(b ^ PAGE_ID_BYTES) >>> 25) * TWO_32 + fmix(a ^ PAGE_ID_BYTES);
}

/** The 32-bit bucket hash of a `hashPageId` result (mask it with the table size - 1). */
export function bucketHash(h: number): number {
  return h >>> 0;
}

/** The 7-bit fingerprint of a `hashPageId` result. */
export function fingerprint(h: number): number {
  return (h / TWO_32) | 0;
}
