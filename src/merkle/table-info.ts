// Which table generation is live, as the store layer records it in its meta record: the
// generation number and the bucket count, encoded in 8 bytes.
import { PageStoreError } from "./page-store-errors.ts";

/** Bytes of an encoded `TableInfo`. */
export const TABLE_INFO_BYTES = 8;
/** Largest table: 2^31 buckets. */
export const MAX_LOG2_BUCKETS = 31;

/** Which table generation is live; the store layer keeps it in its meta record. */
export interface TableInfo {
  /** Generation number of the table file. */
  readonly gen: number;
  /** Bucket count of that table (a power of two). */
  readonly buckets: number;
}

/** Encodes `info` in `TABLE_INFO_BYTES` bytes (u32 generation, u32 log2 buckets, little-endian). */
export function encodeTableInfo(info: TableInfo, out: Uint8Array = new Uint8Array(TABLE_INFO_BYTES)): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, TABLE_INFO_BYTES);
  dv.setUint32(0, info.gen, true);
  dv.setUint32(4, Math.log2(info.buckets), true);
  return out;
}

/** Decodes what `encodeTableInfo` wrote. */
export function decodeTableInfo(bytes: Uint8Array): TableInfo {
  if (bytes.length < TABLE_INFO_BYTES) throw new PageStoreError("BAD_ARGUMENT", "table info: too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, TABLE_INFO_BYTES);
  const log2 = dv.getUint32(4, true);
  if (log2 > MAX_LOG2_BUCKETS) throw new PageStoreError("BAD_ARGUMENT", `table info: 2^${log2} buckets`);
  return { gen: dv.getUint32(0, true), buckets: 2 ** log2 };
}

/** Throws `BAD_ARGUMENT` unless `info` describes a possible table. */
export function checkTableInfo(info: TableInfo): void {
  const ok =
    Number.isSafeInteger(info.gen) &&
    info.gen >= 0 &&
    info.gen < 0x1_0000_0000 &&
    Number.isSafeInteger(info.buckets) &&
    info.buckets >= 4 &&
    info.buckets <= 2 ** MAX_LOG2_BUCKETS &&
    (info.buckets & (info.buckets - 1)) === 0;
  if (!ok) throw new PageStoreError("BAD_ARGUMENT", `table info: bad geometry ${JSON.stringify(info)}`);
}
