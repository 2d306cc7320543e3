// Page geometry and the checksum every page carries.
//
// Every page starts with an 8-byte header: crc32 (u32 LE) of bytes 4..4096 seeded with the page
// number, then the page kind (u8), a spare byte and a u16 count whose meaning depends on the
// kind. Seeding with the page number makes a page written to the wrong place fail its check.
import { crc32 } from "node:zlib";
import type { WriteJob } from "../io/write-behind.ts";

/** Bytes per page. */
export const PAGE_SIZE = 4096;
/** Bytes of the common page header. */
export const PAGE_HEADER = 8;

/** Kind byte of the double-buffered meta pages 0 and 1. */
export const KIND_META = 1;
/** Kind byte of a leaf page. */
export const KIND_LEAF = 2;
/** Kind byte of a branch page. */
export const KIND_BRANCH = 3;
/** Kind byte of a page holding part of a large value. */
export const KIND_OVERFLOW = 4;
/** Kind byte of a page holding part of the free list. */
export const KIND_FREELIST = 5;

/** Pages 0 and 1 hold the meta record; data pages start here. */
export const FIRST_DATA_PAGE = 2;

/** Reads a little-endian u16. */
export function readU16(p: Uint8Array, off: number): number {
  return p[off] | (p[off + 1] << 8);
}

/** Writes a little-endian u16. */
export function writeU16(p: Uint8Array, off: number, v: number): void {
  p[off] = v & 0xff;
  p[off + 1] = (v >>> 8) & 0xff;
}

/** Reads a little-endian u32. */
export function readU32(p: Uint8Array, off: number): number {
  return (p[off] | (p[off + 1] << 8) | (p[off + 2] << 16) | (p[off + 3] << 24)) >>> 0;
}

/** Writes a little-endian u32. */
export function writeU32(p: Uint8Array, off: number, v: number): void {
  p[off] = v & 0xff;
  p[off + 1] = (v >>> 8) & 0xff;
  p[off + 2] = (v >>> 16) & 0xff;
  p[off + 3] = (v >>> 24) & 0xff;
}

/** Kind byte of a page. */
export function pageKind(p: Uint8Array): number {
  return p[4];
}

/** The u16 count field of the header. */
export function pageCount(p: Uint8Array): number {
  return p[6] | (p[7] << 8);
}

/** Starts a fresh page: zero-filled with the given kind. */
export function newPage(kind: number): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  p[4] = kind;
  return p;
}

/** Checksum of a page's body as it would be stored for page number `pageNo`. */
export function pageChecksum(p: Uint8Array, pageNo: number): number {
  return crc32(p.subarray(4, PAGE_SIZE), pageNo >>> 0);
}

/** Stamps the checksum into a finished page, just before it is written. */
export function sealValuePage(p: Uint8Array, pageNo: number): void {
  writeU32(p, 0, pageChecksum(p, pageNo));
}

/** `sealValuePage` for a copy at data[at..] that `job` writes: its worker stamps the checksum. */
export function sealBehind(job: WriteJob, data: Uint8Array, at: number, pageNo: number): void {
  job.checksum(data, at + 4, PAGE_SIZE - 4, pageNo >>> 0, at);
}

/** True when the stored checksum matches the page's body for page number `pageNo`. */
export function pageIsSound(p: Uint8Array, pageNo: number): boolean {
  return readU32(p, 0) === pageChecksum(p, pageNo);
}
