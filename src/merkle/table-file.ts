// One generation of the bucket table on disk:
//
//   0             4096-byte header: u32 magic, u32 version, u32 generation, u32 log2(buckets),
//                 12 reserved bytes, u32 CRC-32 of bytes 0 .. 28
//   4096          meta region: one meta byte per bucket, padded to a multiple of 4096
//   4096 + M      bucket b at 4096 + M + 4096 * b, one sealed page each
//
// The meta region is rewritten in place in 4 KiB units by the WAL's apply; a torn unit only
// mixes old and new values of the bytes that commit changed, which a replay rewrites.
import { crc32 } from "node:zlib";
import type { KvFile } from "../kv/index.ts";
import { MERKLE_PAGE_BYTES } from "./page.ts";
import { PageStoreCorruptionError } from "./page-store-errors.ts";

const MAGIC = 0x54544d42;
const VERSION = 1;
const UNIT = MERKLE_PAGE_BYTES;

/** File name of table generation `gen`. */
export function tableFileName(gen: number): string {
  return `merkle-table.${gen}`;
}

/** Bytes of the meta region of a table of `buckets` buckets. */
export function metaRegionBytes(buckets: number): number {
  return Math.ceil(buckets / UNIT) * UNIT;
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

  private constructor(file: KvFile, gen: number, buckets: number) {
    this.file = file;
    this.gen = gen;
    this.buckets = buckets;
    this.base = UNIT + metaRegionBytes(buckets);
  }

  /** Byte length of a complete table of this geometry. */
  get byteLength(): number {
    return this.base + this.buckets * UNIT;
  }

  /** Byte offset of bucket `b`. */
  offsetOf(b: number): number {
    return this.base + b * UNIT;
  }

  /** Turns `file` into an empty table (all buckets empty); the caller syncs. */
  static create(file: KvFile, gen: number, buckets: number): TableFile {
    const t = new TableFile(file, gen, buckets);
    file.truncate(0);
    const head = new Uint8Array(UNIT);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, VERSION, true);
    dv.setUint32(8, gen, true);
    dv.setUint32(12, Math.log2(buckets), true);
    dv.setUint32(28, crc32(head.subarray(0, 28)), true);
    file.write(head, 0);
    file.truncate(t.byteLength);
    return t;
  }

  /** Opens an existing table, checking its header and length against the expected geometry. */
  static open(file: KvFile, gen: number, buckets: number): TableFile {
    const t = new TableFile(file, gen, buckets);
    const head = new Uint8Array(32);
    const bad = (detail: string) => new PageStoreCorruptionError(file.path, 0, detail);
    if (file.read(head, 0) < head.length) throw bad("table header missing");
    const dv = new DataView(head.buffer);
    if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) throw bad("not a page table");
    if (crc32(head.subarray(0, 28)) !== dv.getUint32(28, true)) throw bad("table header checksum mismatch");
    if (dv.getUint32(8, true) !== gen || 2 ** dv.getUint32(12, true) !== buckets) {
      throw bad(`table is generation ${dv.getUint32(8, true)} of ${2 ** dv.getUint32(12, true)} buckets, expected ${gen} of ${buckets}`);
    }
    if (file.size() < t.byteLength) throw bad(`table is ${file.size()} bytes, expected ${t.byteLength}`);
    return t;
  }

  /** Reads the whole meta region (one byte per bucket). */
  readMeta(): Uint8Array {
    const meta = new Uint8Array(this.buckets);
    if (this.file.read(meta, UNIT) < meta.length) {
      throw new PageStoreCorruptionError(this.file.path, UNIT, "meta region truncated");
    }
    return meta;
  }

  /** Writes the 4 KiB meta units numbered in `units` from `meta`. */
  writeMetaUnits(meta: Uint8Array, units: Iterable<number>): void {
    for (const u of units) {
      const start = u * UNIT;
      this.file.write(meta.subarray(start, Math.min(start + UNIT, meta.length)), UNIT + start);
    }
  }

  /** Writes the whole meta region. */
  writeMeta(meta: Uint8Array): void {
    this.file.write(meta, UNIT);
  }
}
