// Applying a WAL record to the live table: in place and synced (replay at open, or a store
// without write-behind), behind the caller on the worker thread (a checkpoint's apply: memory
// is updated now, the disk when the job is done), or, for a read-only store, held in memory
// over a table another process is writing; and the recovery at open that replays it.
import { META_EMPTY, META_OCCUPIED, META_TOMBSTONE } from "./bucket-table.ts";
import { MERKLE_PAGE_BYTES } from "./page.ts";
import type { PageTable } from "./page-table.ts";
import { PageSpill } from "./page-spill.ts";
import { PageStoreCorruptionError, PageStoreError } from "./page-store-errors.ts";
import { type TableFile, tableFileName } from "./table-file.ts";
import type { TableInfo } from "./table-info.ts";
import { readWalBody, readWalHeader, walPageOffset, type WalRecord } from "./wal.ts";
import { pathIn, type PageStoreFileSystem } from "../io/fs.ts";
import { type KvFile, STEP_PAGES, type Steps, type WriteBehind, WriteJob } from "../io/index.ts";

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

/** The in-place apply of a prepared record, built before its publication (see `inPlaceSteps`). */
export interface InPlace {
  /** The page images' writes, from the WAL's sealed images to their buckets. */
  readonly job: WriteJob;
  /** The images by bucket, which reads take until the writes are done and the cache holds them. */
  readonly images: Map<number, Uint8Array>;
}

/**
 * Builds the in-place apply of `rec` (written as `wal`) in steps, ahead of its publication: the
 * publication then only sets the meta bytes and hands the job over.
 */
export function* inPlaceSteps(pt: PageTable, rec: WalRecord, wal: Uint8Array): Steps<InPlace> {
  const table = pt.table;
  const images = new Map<number, Uint8Array>();
  const job = new WriteJob();
  // Buckets ascend, so adjacent ones merge into one write.
  const n = rec.pages.length;
  for (let i = 0; i < n; i++) {
    if (i % STEP_PAGES === STEP_PAGES - 1) yield;
    const b = rec.pageBuckets[i];
    job.add(wal, walPageOffset(n, rec.metaBuckets.length, i), MERKLE_PAGE_BYTES, table.offsetOf(b));
    images.set(b, rec.pages[i]);
  }
  return { job, images };
}

/**
 * Like `applyRecord`, but the writes and the sync go to `writer`'s worker (`inPlace`, built by
 * `inPlaceSteps` for this record and table): memory is updated now, the disk when the job is
 * done, and the cache takes the images in slices (`PageTable.fillCache`).
 */
export function applyBehind(pt: PageTable, rec: WalRecord, walPath: string, inPlace: InPlace, fd: number, writer: WriteBehind): void {
  const table = pt.table;
  const units = publishMeta(pt, rec, walPath);
  const { job, images } = inPlace;
  for (const w of table.metaUnitWrites(pt.meta.meta, units)) job.addCopy(w.bytes, w.at);
  writer.submit(fd, table.file.path, job);
  pt.pagesWritten += rec.pages.length;
  pt.behind = images;
  pt.startFill(rec.pageBuckets, rec.pages);
  pt.fsyncs++;
}

/**
 * At open of the committed `seq` with table `info`: replays a WAL of that seq (a read-only
 * store holds it in memory instead), discards a newer one, checks every meta unit and, when
 * writable, removes what a crash may have left beside the committed generation.
 */
export function recoverAtOpen(pt: PageTable, wal: KvFile, table: TableFile, info: TableInfo, seq: number, dir: string, fs: PageStoreFileSystem): void {
  const head = readWalHeader(wal);
  if (head !== undefined && head.seq === seq) {
    // A torn WAL of the committed seq cannot be the commit's own (it was synced before the
    // commit point), so it is a later prepare's partial rewrite over an applied one.
    const rec = readWalBody(wal, head);
    if (rec !== undefined) {
      if (rec.gen !== info.gen || rec.buckets !== info.buckets) {
        throw new PageStoreError(
          "BAD_WAL",
          `WAL of seq ${seq} is for generation ${rec.gen} of ${rec.buckets} buckets, committed table is ${info.gen} of ${info.buckets}`,
        );
      }
      if (!rec.rebuilt) {
        if (pt.held !== null) {
          // The writer may be rewriting the units this record changes: check the others.
          table.checkMeta(pt.meta.meta, new Set(Array.from(rec.metaBuckets, (b) => Math.floor(b / MERKLE_PAGE_BYTES))));
          holdRecord(pt, rec, wal.path);
          pt.replays++;
          return;
        }
        applyRecord(pt, rec, wal.path);
      }
      pt.replays++;
    }
  } else if (pt.held === null && head !== undefined && head.seq > seq) {
    wal.truncate(0);
    wal.sync();
    pt.fsyncs++;
  }
  // Every meta unit as the committed state has it (any replay done): a damaged byte could
  // hide a page or send a probe to an empty bucket.
  table.checkMeta(pt.meta.meta);
  if (pt.held !== null) return;
  // Either neighbour may be left over: the previous generation by a crash after a grow's
  // commit point, the next by a crash before it.
  if (info.gen > 0) fs.remove(pathIn(dir, tableFileName(info.gen - 1)));
  fs.remove(pathIn(dir, tableFileName(info.gen + 1)));
  PageSpill.discard(dir, fs);
  fs.syncDir(dir);
}
