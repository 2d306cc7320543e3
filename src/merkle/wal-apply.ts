// Applying a WAL record to the live table: in place and synced (replay at open, or a store
// without write-behind), behind the caller on the worker thread (a checkpoint's apply: memory
// is updated now, the disk when the job is done), or, for a read-only store, held in memory
// over a table another process is writing.
import { META_EMPTY, META_OCCUPIED, META_TOMBSTONE } from "./bucket-table.ts";
import { MERKLE_PAGE_BYTES } from "./page.ts";
import { PageStoreCorruptionError } from "./page-store-errors.ts";
import type { PageTable } from "./page-table.ts";
import { walPageOffset, type WalRecord } from "./wal.ts";
import { type WriteBehind, WriteJob } from "../io/index.ts";

/** Sets a record's meta bytes in memory, each checked first (`walPath` names it in errors); `each` sees every change. */
function setMeta(pt: PageTable, rec: WalRecord, walPath: string, each: (b: number, v: number) => void): void {
  const t = pt.meta;
  for (let i = 0; i < rec.metaBuckets.length; i++) {
    const b = rec.metaBuckets[i];
    const v = rec.metaValues[i];
    if (b >= t.buckets || (v !== META_EMPTY && v !== META_TOMBSTONE && v < META_OCCUPIED)) {
      throw new PageStoreCorruptionError(walPath, 0, `WAL meta change ${i} out of range`);
    }
    t.set(b, v);
    each(b, v);
  }
}

// Sets a record's meta bytes in memory, uncaching vacated buckets; returns the meta units to write.
function publishMeta(pt: PageTable, rec: WalRecord, walPath: string): Set<number> {
  const units = new Set<number>();
  setMeta(pt, rec, walPath, (b, v) => {
    if (v < META_OCCUPIED) pt.cache.delete(b);
    units.add(Math.floor(b / MERKLE_PAGE_BYTES));
  });
  return units;
}

/** Read-only open: the committed WAL's changes are kept in memory, the files left as they are. */
export function holdRecord(pt: PageTable, rec: WalRecord, walPath: string): void {
  const held = pt.held as Map<number, Uint8Array>;
  for (let i = 0; i < rec.pages.length; i++) held.set(rec.pageBuckets[i], rec.pages[i]);
  setMeta(pt, rec, walPath, (b, v) => {
    if (v < META_OCCUPIED) held.delete(b);
  });
}

/**
 * Writes a record's pages and meta bytes into the live table and syncs; idempotent. The
 * sealed images are `wal`'s when given (a prepared record's own images are not sealed).
 */
export function applyRecord(pt: PageTable, rec: WalRecord, walPath: string, wal?: Uint8Array): void {
  const table = pt.table;
  const n = rec.pages.length;
  for (let i = 0; i < n; i++) {
    const b = rec.pageBuckets[i];
    const page = rec.pages[i];
    const at = wal === undefined ? 0 : walPageOffset(n, rec.metaBuckets.length, i);
    table.file.write(wal === undefined ? page : wal.subarray(at, at + MERKLE_PAGE_BYTES), table.offsetOf(b));
    pt.pagesWritten++;
    pt.cacheSet(b, page);
  }
  const units = publishMeta(pt, rec, walPath);
  table.writeMetaUnits(pt.meta.meta, units);
  table.file.sync();
  pt.fsyncs++;
}

/** Like `applyRecord`, but the writes and the sync go to `writer`'s worker; memory is updated now. */
export function applyBehind(pt: PageTable, rec: WalRecord, walPath: string, wal: Uint8Array, fd: number, writer: WriteBehind): void {
  const table = pt.table;
  const behind = new Map<number, Uint8Array>();
  const units = publishMeta(pt, rec, walPath);
  const job = new WriteJob();
  // Buckets ascend, so adjacent ones merge into one write.
  const n = rec.pages.length;
  for (let i = 0; i < n; i++) {
    const b = rec.pageBuckets[i];
    const page = rec.pages[i];
    job.add(wal, walPageOffset(n, rec.metaBuckets.length, i), MERKLE_PAGE_BYTES, table.offsetOf(b));
    behind.set(b, page);
    pt.pagesWritten++;
    pt.cacheSet(b, page);
  }
  for (const w of table.metaUnitWrites(pt.meta.meta, units)) job.addCopy(w.bytes, w.at);
  writer.submit(fd, table.file.path, job);
  pt.behind = behind;
  pt.fsyncs++;
}
