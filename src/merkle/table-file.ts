// One generation of the bucket table on disk (format 3):
//
//   0             4096-byte header: u32 magic, u32 version, u32 generation, u32 log2(buckets),
//                 u32 elision threshold, 8 reserved bytes, u32 CRC-32 of bytes 0 .. 28
//   4096          meta region: one meta byte per bucket, padded to a multiple of 4096
//   4096 + M      unit checksums: u32 CRC-32 of each 4 KiB meta unit's bytes (the last unit's
//                 without its padding), padded to a multiple of 4096
//   4096 + M + C  bucket b at 4096 + M + C + 4096 * b, one sealed page each
//
// The meta region is rewritten in place in 4 KiB units by the WAL's apply, and the checksums of
// those units after them; a torn write only mixes old and new values of the bytes that commit
// changed, which a replay rewrites, checksums included. Open checks every unit once any replay
// is done, so a damaged meta byte (which could hide a page, or point a probe at an empty bucket)
// is reported with its offset instead of being believed.
//
// Which pages exist depends on the elision threshold (see page.ts), so a table records the one
// its pages were built with, and open refuses (`VERSION`) a table of another threshold or an
// older format (1 and 2: threshold 16): its pages would be misread as a state's page set.
import { crc32 } from "node:zlib";
import { closeQuietly, type KvFile } from "../io/index.ts";
import { ELISION_THRESHOLD, MERKLE_PAGE_BYTES } from "./page.ts";
import { PageStoreCorruptionError, PageStoreError } from "./page-store-errors.ts";

const TABLE_MAGIC = 0x54544d42;
/** Format of the tables this build writes and reads. */
export const TABLE_VERSION = 3;
/** The elision threshold of formats 1 and 2, which did not record it. */
const OLD_FORMAT_THRESHOLD = 16;
const UNIT = MERKLE_PAGE_BYTES;

/** File name of table generation `gen`. */
export function tableFileName(gen: number): string {
  return `merkle-table.${gen}`;
}

/** Bytes of the meta region of a table of `buckets` buckets. */
export function metaRegionBytes(buckets: number): number {
  return Math.ceil(buckets / UNIT) * UNIT;
}

/** Bytes of the unit-checksum region of a table of `buckets` buckets. */
export function checksumRegionBytes(buckets: number): number {
  return Math.ceil(((metaRegionBytes(buckets) / UNIT) * 4) / UNIT) * UNIT;
}

/** A table file of known geometry: positional access to its meta region and buckets. */
export class TableFile {
  /** The open file. */
  readonly file: KvFile;
  /** Generation number (part of the file name). */
  readonly gen: number;
  /** Bucket count, a power of two. */
  readonly buckets: number;
  /** Byte offset of bucket 0. */
  readonly base: number;
  /** The unit checksums as on disk (little-endian u32 each). */
  readonly #sums: Uint8Array;

  private constructor(file: KvFile, gen: number, buckets: number) {
    this.file = file;
    this.gen = gen;
    this.buckets = buckets;
    this.#sums = new Uint8Array(checksumRegionBytes(buckets));
    this.base = UNIT + metaRegionBytes(buckets) + this.#sums.length;
  }

  /** Byte length of a complete table of this geometry. */
  get byteLength(): number {
    return this.base + this.buckets * UNIT;
  }

  /** Byte offset of bucket `b`. */
  offsetOf(b: number): number {
    return this.base + b * UNIT;
  }

  /** Turns `file` into an empty table (all buckets empty, this format); the caller syncs. */
  static create(file: KvFile, gen: number, buckets: number): TableFile {
    const t = new TableFile(file, gen, buckets);
    try {
      file.truncate(0);
      const head = new Uint8Array(UNIT);
      const dv = new DataView(head.buffer);
      dv.setUint32(0, TABLE_MAGIC, true);
      dv.setUint32(4, TABLE_VERSION, true);
      dv.setUint32(8, gen, true);
      dv.setUint32(12, Math.log2(buckets), true);
      dv.setUint32(16, ELISION_THRESHOLD, true);
      dv.setUint32(28, crc32(head.subarray(0, 28)), true);
      file.write(head, 0);
      file.truncate(t.byteLength);
      t.writeMeta(new Uint8Array(buckets));
    } catch (e) {
      // The table owns `file` from the call on: a failed create closes it.
      closeQuietly(file);
      throw e;
    }
    return t;
  }

  /**
   * Opens an existing table, checking its header and length against the expected geometry.
   * Throws `VERSION` for a table of another format or elision threshold, before reading more.
   */
  static open(file: KvFile, gen: number, buckets: number): TableFile {
    const head = new Uint8Array(32);
    const bad = (detail: string) => new PageStoreCorruptionError(file.path, 0, detail);
    if (file.read(head, 0) < head.length) throw bad("table header missing");
    const dv = new DataView(head.buffer);
    if (dv.getUint32(0, true) !== TABLE_MAGIC) throw bad("not a page table");
    if (crc32(head.subarray(0, 28)) !== dv.getUint32(28, true)) throw bad("table header checksum mismatch");
    const version = dv.getUint32(4, true);
    const threshold = version < 3 ? OLD_FORMAT_THRESHOLD : dv.getUint32(16, true);
    if (version !== TABLE_VERSION || threshold !== ELISION_THRESHOLD) {
      throw new PageStoreError(
        "VERSION",
        `${file.path}: page table format ${version} (pages of subtries of ${threshold}+ leaves) is not supported; this build reads format ${TABLE_VERSION} (${ELISION_THRESHOLD}+ leaves): export its entries with the build that wrote it (bmt export) and import them with this one`,
      );
    }
    if (dv.getUint32(8, true) !== gen || 2 ** dv.getUint32(12, true) !== buckets) {
      throw bad(`table is generation ${dv.getUint32(8, true)} of ${2 ** dv.getUint32(12, true)} buckets, expected ${gen} of ${buckets}`);
    }
    const t = new TableFile(file, gen, buckets);
    if (file.size() < t.byteLength) throw bad(`table is ${file.size()} bytes, expected ${t.byteLength}`);
    return t;
  }

  /** Reads the whole meta region (one byte per bucket), and its unit checksums; see `checkMeta`. */
  readMeta(): Uint8Array {
    const meta = new Uint8Array(this.buckets);
    if (this.file.read(meta, UNIT) < meta.length) {
      throw new PageStoreCorruptionError(this.file.path, UNIT, "meta region truncated");
    }
    const sums = this.#sums;
    if (this.file.read(sums, UNIT + metaRegionBytes(this.buckets)) < sums.length) {
      throw new PageStoreCorruptionError(this.file.path, UNIT + metaRegionBytes(this.buckets), "meta checksums truncated");
    }
    return meta;
  }

  /**
   * Throws `PageStoreCorruptionError` at the first meta unit of `meta` (as read, and changed
   * since only through this table) whose checksum does not match, skipping the units in `skip`.
   */
  checkMeta(meta: Uint8Array, skip?: ReadonlySet<number>): void {
    const sums = this.#sums;
    const dv = new DataView(sums.buffer, sums.byteOffset, sums.byteLength);
    for (let u = 0; u * UNIT < meta.length; u++) {
      if (skip?.has(u)) continue;
      if (unitSum(meta, u) !== dv.getUint32(4 * u, true)) {
        throw new PageStoreCorruptionError(this.file.path, UNIT + u * UNIT, "meta unit checksum mismatch");
      }
    }
  }

  /** Writes the 4 KiB meta units numbered in `units` from `meta`, then their checksums. */
  writeMetaUnits(meta: Uint8Array, units: Iterable<number>): void {
    for (const w of this.metaUnitWrites(meta, units)) this.file.write(w.bytes, w.at);
  }

  /**
   * What `writeMetaUnits` writes, as (bytes, position) pairs to write in any order; the
   * checksums kept in memory are updated now. The bytes are views into `meta` and this table's
   * checksum buffer: write them before either changes again.
   */
  metaUnitWrites(meta: Uint8Array, units: Iterable<number>): { bytes: Uint8Array; at: number }[] {
    const out: { bytes: Uint8Array; at: number }[] = [];
    const sums = this.#sums;
    const pages = new Set<number>();
    for (const u of units) {
      const start = u * UNIT;
      out.push({ bytes: meta.subarray(start, Math.min(start + UNIT, meta.length)), at: UNIT + start });
      new DataView(sums.buffer, sums.byteOffset, sums.byteLength).setUint32(4 * u, unitSum(meta, u), true);
      pages.add(Math.floor((4 * u) / UNIT));
    }
    for (const p of pages) out.push({ bytes: sums.subarray(p * UNIT, (p + 1) * UNIT), at: UNIT + metaRegionBytes(this.buckets) + p * UNIT });
    return out;
  }

  /** Writes the whole meta region, then all its checksums. */
  writeMeta(meta: Uint8Array): void {
    this.file.write(meta, UNIT);
    const sums = this.#sums;
    const dv = new DataView(sums.buffer, sums.byteOffset, sums.byteLength);
    for (let u = 0; u * UNIT < meta.length; u++) dv.setUint32(4 * u, unitSum(meta, u), true);
    for (let p = 0; p * UNIT < sums.length; p++) this.#writeSums(p);
  }

  #writeSums(p: number): void {
    const sums = this.#sums;
    this.file.write(sums.subarray(p * UNIT, (p + 1) * UNIT), UNIT + metaRegionBytes(this.buckets) + p * UNIT);
  }
}

/** CRC-32 of meta unit `u`'s bytes (the last unit without its padding). */
function unitSum(meta: Uint8Array, u: number): number {
  return crc32(meta.subarray(u * UNIT, Math.min((u + 1) * UNIT, meta.length)));
}
