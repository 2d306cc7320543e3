// The page store's write-ahead log: one commit's bucket writes and meta-byte changes, tagged with
// the commit's sequence number and checksummed, so a crash during the in-place apply is repaired
// by replaying it. The file is rewritten for every commit; a torn rewrite fails its checksums
// and is never applied (the commit it would replace was fully applied before it began).
//
// Layout (little-endian):
//   0   u32 magic, u32 version, u32 seq low, u32 seq high, u32 generation, u32 log2(buckets),
//   24  u32 kind (0 = in-place writes, 1 = table rebuilt), u32 pages, u32 meta changes,
//   36  u32 body CRC (see bodyCrc), u32 length low, u32 length high, 12 reserved bytes,
//   60  u32 CRC-32 of bytes 0 .. 60
//   64  u32 bucket of each page, u32 bucket of each meta change, u8 value of each meta change,
//       zero padding to a multiple of 4096, then the page images in order.
import { crc32 } from "node:zlib";
import { CHAIN, type KvFile, runSteps, type StagingBuffer, STEP_PAGES, type Steps, type WriteJob } from "../io/index.ts";
import { CHECKSUM_OFFSET, checkPage, MERKLE_PAGE_BYTES, sealStamped, sealStampedBehind } from "./page.ts";

const WAL_MAGIC = 0x4c574d42;
// Version 1 checksummed every page body again; version 2 covers the pages through their own
// checksums. Both are read.
const WAL_VERSION = 2;
const WAL_HEADER_BYTES = 64;
const TWO_32 = 0x1_0000_0000;
// Replay reads page images in runs of this many, so a large commit costs few calls.
const CHUNK_PAGES = 64;

/** The geometry and identity of a WAL, readable without its body. */
export interface WalHeader {
  /** Format version (1 or 2: how the body CRC covers the pages). */
  readonly version: number;
  /** Sequence number of the commit the WAL belongs to. */
  readonly seq: number;
  /** Table generation the WAL applies to. */
  readonly gen: number;
  /** Bucket count of that table. */
  readonly buckets: number;
  /** True when the commit built a new table file (nothing to write in place). */
  readonly rebuilt: boolean;
  /** Number of page images. */
  readonly pageCount: number;
  /** Number of meta-byte changes. */
  readonly metaCount: number;
  /** Total length in bytes. */
  readonly length: number;
  /** CRC-32 of the body. */
  readonly bodyCrc: number;
}

/** Everything needed to apply one commit to a table. */
export interface WalRecord {
  /** Sequence number of the commit. */
  readonly seq: number;
  /** Table generation the record applies to. */
  readonly gen: number;
  /** Bucket count of that table. */
  readonly buckets: number;
  /** True when the commit built a new table file. */
  readonly rebuilt: boolean;
  /** Bucket of each page image. */
  readonly pageBuckets: Uint32Array;
  /** Page images (4096 bytes each), parallel to `pageBuckets`. */
  readonly pages: readonly Uint8Array[];
  /** Buckets whose meta byte changes. */
  readonly metaBuckets: Uint32Array;
  /** New meta bytes, parallel to `metaBuckets`. */
  readonly metaValues: Uint8Array;
}

// The body CRC runs over the index and then, per page, over its own checksum (version 2) or
// its body without that checksum (version 1). Each page's checksum is verified on its own, so
// chaining the checksums is enough to notice a page replaced by another sealed page, without a
// second pass over every byte. (Chaining whole sealed pages would not do: CRC-32 over "data +
// its own CRC" is the same for all data.)
function pageCrc(version: number, pages: Uint8Array, j: number, crc: number): number {
  const at = j * MERKLE_PAGE_BYTES;
  return version === 1 ? crc32(pages.subarray(at, at + CHECKSUM_OFFSET), crc) : crc32(pages.subarray(at + CHECKSUM_OFFSET, at + MERKLE_PAGE_BYTES), crc);
}

function indexBytes(pageCount: number, metaCount: number): number {
  const raw = WAL_HEADER_BYTES + 4 * pageCount + 5 * metaCount;
  return Math.ceil(raw / MERKLE_PAGE_BYTES) * MERKLE_PAGE_BYTES;
}

/** Byte offset of page image `i` in a WAL of `pageCount` pages and `metaCount` meta changes. */
export function walPageOffset(pageCount: number, metaCount: number, i: number): number {
  return indexBytes(pageCount, metaCount) + i * MERKLE_PAGE_BYTES;
}

/**
 * Writes `rec` as the whole content of `file` (no sync) in one call, and returns the bytes
 * written: built in shared memory (taken from `staging`, or fresh), so that the page images at
 * `walPageOffset` can be handed on to a worker thread as they are.
 */
export function writeWal(file: KvFile, rec: WalRecord, staging?: StagingBuffer): Uint8Array {
  const wal = buildWal(rec, staging);
  file.write(wal, 0);
  if (file.size() > wal.length) file.truncate(wal.length);
  return wal;
}

/**
 * The bytes `writeWal` would write for `rec`, in shared memory (from `staging`, or fresh). The
 * images need their ids stamped (`stampPage`); their copies in the WAL are sealed here, or,
 * with `job`, by the job's worker thread before it writes them (the page checksums, the body
 * CRC and the header CRC are then left to it: the caller must write the WAL through `job`).
 */
export function buildWal(rec: WalRecord, staging?: StagingBuffer, job?: WriteJob): Uint8Array {
  return runSteps(buildWalSteps(rec, staging, job));
}

/** `buildWal` in steps (see io/steps.ts): the page images are copied a few hundred at a time. */
export function* buildWalSteps(rec: WalRecord, staging?: StagingBuffer, job?: WriteJob): Steps<Uint8Array> {
  const pageCount = rec.pages.length;
  const metaCount = rec.metaBuckets.length;
  const length = walPageOffset(pageCount, metaCount, pageCount);
  const wal = staging ? staging.take(length) : new Uint8Array(new SharedArrayBuffer(length));
  const dv = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  let at = WAL_HEADER_BYTES;
  for (let i = 0; i < pageCount; i++, at += 4) dv.setUint32(at, rec.pageBuckets[i], true);
  for (let i = 0; i < metaCount; i++, at += 4) dv.setUint32(at, rec.metaBuckets[i], true);
  wal.set(rec.metaValues, at);
  const first = walPageOffset(pageCount, metaCount, 0);
  // A reused buffer holds the last WAL's bytes: the reserved header bytes and the padding are zero.
  wal.fill(0, 48, 60);
  wal.fill(0, at + metaCount, first);
  let crc = 0;
  if (job === undefined) {
    crc = crc32(wal.subarray(WAL_HEADER_BYTES, first));
    for (let i = 0; i < pageCount; i++) {
      if (i % STEP_PAGES === STEP_PAGES - 1) yield;
      const at = first + i * MERKLE_PAGE_BYTES;
      wal.set(rec.pages[i], at);
      sealStamped(wal.subarray(at, at + MERKLE_PAGE_BYTES));
      crc = pageCrc(WAL_VERSION, wal, first / MERKLE_PAGE_BYTES + i, crc);
    }
  } else {
    // The same sums, in the same order, taken by the worker (see pageCrc for the body CRC).
    for (let i = 0; i < pageCount; i++) {
      if (i % STEP_PAGES === STEP_PAGES - 1) yield;
      const at = first + i * MERKLE_PAGE_BYTES;
      wal.set(rec.pages[i], at);
      sealStampedBehind(job, wal, at);
    }
    job.checksum(wal, WAL_HEADER_BYTES, first - WAL_HEADER_BYTES, 0, pageCount === 0 ? 36 : -1);
    for (let i = 0; i < pageCount; i++) {
      const at = first + i * MERKLE_PAGE_BYTES;
      job.checksum(wal, at + CHECKSUM_OFFSET, 4, CHAIN, i === pageCount - 1 ? 36 : -1);
    }
  }
  dv.setUint32(0, WAL_MAGIC, true);
  dv.setUint32(4, WAL_VERSION, true);
  dv.setUint32(8, rec.seq % TWO_32, true);
  dv.setUint32(12, Math.floor(rec.seq / TWO_32), true);
  dv.setUint32(16, rec.gen, true);
  dv.setUint32(20, Math.log2(rec.buckets), true);
  dv.setUint32(24, rec.rebuilt ? 1 : 0, true);
  dv.setUint32(28, pageCount, true);
  dv.setUint32(32, metaCount, true);
  dv.setUint32(36, crc, true);
  dv.setUint32(40, length % TWO_32, true);
  dv.setUint32(44, Math.floor(length / TWO_32), true);
  if (job === undefined) dv.setUint32(60, crc32(wal.subarray(0, 60)), true);
  else job.checksum(wal, 0, 60, 0, 60);
  return wal;
}

/** The WAL's header when it is intact and well formed, else undefined. */
export function readWalHeader(file: KvFile): WalHeader | undefined {
  const head = new Uint8Array(WAL_HEADER_BYTES);
  if (file.read(head, 0) < WAL_HEADER_BYTES) return undefined;
  const dv = new DataView(head.buffer);
  const version = dv.getUint32(4, true);
  if (dv.getUint32(0, true) !== WAL_MAGIC || (version !== 1 && version !== WAL_VERSION)) return undefined;
  if (crc32(head.subarray(0, 60)) !== dv.getUint32(60, true)) return undefined;
  const log2 = dv.getUint32(20, true);
  if (log2 > 31) return undefined;
  const h: WalHeader = {
    version,
    seq: dv.getUint32(8, true) + dv.getUint32(12, true) * TWO_32,
    gen: dv.getUint32(16, true),
    buckets: 2 ** log2,
    rebuilt: dv.getUint32(24, true) === 1,
    pageCount: dv.getUint32(28, true),
    metaCount: dv.getUint32(32, true),
    bodyCrc: dv.getUint32(36, true),
    length: dv.getUint32(40, true) + dv.getUint32(44, true) * TWO_32,
  };
  if (h.length !== indexBytes(h.pageCount, h.metaCount) + h.pageCount * MERKLE_PAGE_BYTES) return undefined;
  return h;
}

/** The whole record behind `header` when its body is intact, else undefined. */
export function readWalBody(file: KvFile, header: WalHeader): WalRecord | undefined {
  if (file.size() < header.length) return undefined;
  const { pageCount, metaCount } = header;
  const head = new Uint8Array(indexBytes(pageCount, metaCount));
  if (file.read(head, 0) < head.length) return undefined;
  let crc = crc32(head.subarray(WAL_HEADER_BYTES));
  const pages: Uint8Array[] = [];
  const chunk = new Uint8Array(Math.min(pageCount, CHUNK_PAGES) * MERKLE_PAGE_BYTES);
  let pos = head.length;
  for (let i = 0; i < pageCount; ) {
    const n = Math.min(CHUNK_PAGES, pageCount - i);
    const part = chunk.subarray(0, n * MERKLE_PAGE_BYTES);
    if (file.read(part, pos) < part.length) return undefined;
    for (let j = 0; j < n; j++) {
      const page = part.slice(j * MERKLE_PAGE_BYTES, (j + 1) * MERKLE_PAGE_BYTES);
      if (!checkPage(page)) return undefined;
      crc = pageCrc(header.version, page, 0, crc);
      pages.push(page);
    }
    pos += part.length;
    i += n;
  }
  if (crc !== header.bodyCrc) return undefined;
  const dv = new DataView(head.buffer);
  const pageBuckets = new Uint32Array(pageCount);
  const metaBuckets = new Uint32Array(metaCount);
  let at = WAL_HEADER_BYTES;
  for (let i = 0; i < pageCount; i++, at += 4) pageBuckets[i] = dv.getUint32(at, true);
  for (let i = 0; i < metaCount; i++, at += 4) metaBuckets[i] = dv.getUint32(at, true);
  const metaValues = head.slice(at, at + metaCount);
  return { seq: header.seq, gen: header.gen, buckets: header.buckets, rebuilt: header.rebuilt, pageBuckets, pages, metaBuckets, metaValues };
}
