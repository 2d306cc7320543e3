// A merkle page: a rootless depth-6 subtrie of the GP trie, one 4 KiB unit of I/O.
//
// The page at page-depth p with prefix Q (the first 6p bits of a key) holds the nodes at trie
// depths 6p+1 .. 6p+6 under Q. A node at relative depth r (1..6) whose path below Q is the
// r-bit number x sits in slot 2^r - 2 + x; the 64 bottom slots (r = 6) are the roots of the
// 64 child pages. The page's own root (depth 6p) lives in its parent's bottom row, or, for
// the root page, in the store's meta record.
//
// Elision: a page is stored only when its subtrie holds at least ELISION_THRESHOLD leaves.
// Smaller subtries (most of the bottom levels of a random-key trie) keep no pages; their nodes
// are rebuilt from the few keys under the prefix when a change lands there. The rule depends
// on the leaf count alone, so the page set of a state is canonical.
//
// Layout (bytes):
//   0    .. 4032  126 node names x 32 (all zero = H0, the empty subtrie)
//   4032 .. 4048  leaf map: bit s set when slot s holds a leaf (GP names carry no kind)
//   4048 .. 4080  page id (see pageIdOf)
//   4080 .. 4084  leaf count of the page's subtrie (u32 LE): every key under the page's prefix
//   4084 .. 4092  reserved, zero
//   4092 .. 4096  CRC-32 of bytes 0 .. 4092
import { crc32 } from "node:zlib";
import type { WriteJob } from "../io/index.ts";
import { KEY_BITS } from "../trie/index.ts";

/** Bytes in a merkle page. */
export const MERKLE_PAGE_BYTES = 4096;
/** Trie levels per page. */
export const PAGE_LEVELS = 6;
/** Node slots per page: 2 + 4 + ... + 64. */
export const PAGE_SLOTS = 126;
/** Bytes of a page id. */
export const PAGE_ID_BYTES = 32;
/** Deepest page: its levels start at 6 * 41 + 1 = 247 and reach the deepest leaves (248). */
export const MAX_PAGE_DEPTH = Math.ceil(KEY_BITS / PAGE_LEVELS) - 1;

export const LEAF_MAP_OFFSET = PAGE_SLOTS * 32;
export const PAGE_ID_OFFSET = LEAF_MAP_OFFSET + 16;
export const LEAF_COUNT_OFFSET = PAGE_ID_OFFSET + PAGE_ID_BYTES;
export const CHECKSUM_OFFSET = MERKLE_PAGE_BYTES - 4;

/** A page is stored only when its subtrie holds at least this many leaves. */
export const ELISION_THRESHOLD = 128;

/** Leaves in the subtrie under the page's prefix. */
export function subtrieLeafCount(page: Uint8Array): number {
  return (page[LEAF_COUNT_OFFSET] | (page[LEAF_COUNT_OFFSET + 1] << 8) | (page[LEAF_COUNT_OFFSET + 2] << 16) | (page[LEAF_COUNT_OFFSET + 3] << 24)) >>> 0;
}

export function setSubtrieLeafCount(page: Uint8Array, n: number): void {
  page[LEAF_COUNT_OFFSET] = n & 0xff;
  page[LEAF_COUNT_OFFSET + 1] = (n >>> 8) & 0xff;
  page[LEAF_COUNT_OFFSET + 2] = (n >>> 16) & 0xff;
  page[LEAF_COUNT_OFFSET + 3] = (n >>> 24) & 0xff;
}

/** Slot of the node at relative depth `r` (1..6) with relative path `x` (r bits). */
export function slotOf(r: number, x: number): number {
  return (1 << r) - 2 + x;
}

/** Byte offset of slot `s`'s name within its page. */
export function slotOffset(s: number): number {
  return s * 32;
}

export function isLeafSlot(page: Uint8Array, s: number): boolean {
  return ((page[LEAF_MAP_OFFSET + (s >> 3)] >> (s & 7)) & 1) === 1;
}

export function setLeafSlot(page: Uint8Array, s: number, leaf: boolean): void {
  const at = LEAF_MAP_OFFSET + (s >> 3);
  if (leaf) page[at] |= 1 << (s & 7);
  else page[at] &= ~(1 << (s & 7));
}

/** True when every slot of the page, given as 32-bit words, is H0 (the page can be deleted). */
export function isEmptyPage(words: Int32Array): boolean {
  for (let i = 0; i < LEAF_MAP_OFFSET >> 2; i++) if (words[i] !== 0) return false;
  return true;
}

/**
 * Id of the page at page-depth `depth` on the path of `key`: byte 0 is the depth, bytes 1..31
 * the first 6 * depth bits of the key, MSB first, zero after. Ids are unique per page and
 * order-free; the store hashes them into buckets.
 */
export function pageIdOf(key: Uint8Array, depth: number, out: Uint8Array = new Uint8Array(PAGE_ID_BYTES)): Uint8Array {
  out.fill(0);
  out[0] = depth;
  const bits = depth * PAGE_LEVELS;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) out[1 + i] = key[i];
  const rem = bits & 7;
  if (rem !== 0) out[1 + whole] = key[whole] & (0xff << (8 - rem));
  return out;
}

/** Id of child `c` (0..63, the bottom slot's relative path) of the page named `parent`. */
export function childPageId(parent: Uint8Array, c: number, out: Uint8Array = new Uint8Array(PAGE_ID_BYTES)): Uint8Array {
  const depth = parent[0];
  out.set(parent.subarray(0, PAGE_ID_BYTES));
  out[0] = depth + 1;
  const start = depth * PAGE_LEVELS;
  for (let i = 0; i < PAGE_LEVELS; i++) {
    if ((c >> (PAGE_LEVELS - 1 - i)) & 1) {
      const bit = start + i;
      out[1 + (bit >> 3)] |= 0x80 >> (bit & 7);
    }
  }
  return out;
}

/** Stamps the page's id (and zeroes the reserved bytes); the checksum waits for `sealMerklePage`. */
export function stampPage(page: Uint8Array, id: Uint8Array): void {
  for (let i = 0; i < PAGE_ID_BYTES; i++) page[PAGE_ID_OFFSET + i] = id[i];
  for (let i = LEAF_COUNT_OFFSET + 4; i < CHECKSUM_OFFSET; i++) page[i] = 0;
}

/**
 * Map key of a page id: a number for pages down to page-depth 7 (the prefix's 42 bits and the
 * depth), else the id's significant bytes as a string. Cheaper than hex or a Buffer per lookup.
 */
export function pageIdKey(id: Uint8Array): number | string {
  const depth = id[0];
  const bytes = Math.ceil((depth * PAGE_LEVELS) / 8);
  if (depth <= 7) {
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + id[1 + i];
    return v * 8 + depth;
  }
  let s = "";
  for (let i = 0; i <= bytes; i++) s += String.fromCharCode(id[i]);
  return s;
}

/** Stamps the page's id and checksum; call before writing it out. */
export function sealMerklePage(page: Uint8Array, id: Uint8Array): void {
  page.set(id.subarray(0, PAGE_ID_BYTES), PAGE_ID_OFFSET);
  page.fill(0, LEAF_COUNT_OFFSET + 4, CHECKSUM_OFFSET);
  sealStamped(page);
}

/** Stamps the checksum of a page whose id is already stamped (`stampPage`). */
export function sealStamped(page: Uint8Array): void {
  const sum = crc32(page.subarray(0, CHECKSUM_OFFSET));
  new DataView(page.buffer, page.byteOffset, page.byteLength).setUint32(CHECKSUM_OFFSET, sum, true);
}

/** `sealStamped` for the stamped page at data[at..] that `job` writes: its worker takes the sum. */
export function sealStampedBehind(job: WriteJob, data: Uint8Array, at: number): void {
  job.checksum(data, at, CHECKSUM_OFFSET, 0, at + CHECKSUM_OFFSET);
}

/** True when the page's checksum matches and it carries `id` (when given). */
export function checkPage(page: Uint8Array, id?: Uint8Array): boolean {
  const sum = new DataView(page.buffer, page.byteOffset, page.byteLength).getUint32(CHECKSUM_OFFSET, true);
  if (crc32(page.subarray(0, CHECKSUM_OFFSET)) !== sum) return false;
  if (id) {
    for (let i = 0; i < PAGE_ID_BYTES; i++) if (page[PAGE_ID_OFFSET + i] !== id[i]) return false;
  }
  return true;
}
