// Growth: a checkpoint that would take the live table past its load limit builds the next table
// generation instead, holding the whole post-checkpoint state, sized so it ends at most half
// full, and syncs it. The live table is only read; the new one goes live at `apply`, and a
// crash before the commit point leaves a file the next open removes.
import { BucketTable, META_OCCUPIED, occupiedMeta } from "./bucket-table.ts";
import { bucketHash, fingerprint, hashPageId } from "./bucket-hash.ts";
import { MERKLE_PAGE_BYTES, PAGE_ID_OFFSET, sealMerklePage } from "./page.ts";
import { PageStoreCorruptionError, PageStoreError } from "./page-store-errors.ts";
import { type PageTable, verifyBucketPage } from "./page-table.ts";
import type { PageSpill } from "./page-spill.ts";
import type { NextTable, PreparedPages } from "./placement.ts";
import { TableFile, tableFileName } from "./table-file.ts";
import { MAX_LOG2_BUCKETS } from "./table-info.ts";
import { pathIn, type PageStoreFileSystem } from "../io/fs.ts";

// Bucket runs read at once when a rebuild scans the old table.
const SCAN_BUCKETS = 64;

/** Where the table files live, for building and discarding generations. */
export interface TableDir {
  readonly dir: string;
  readonly fs: PageStoreFileSystem;
}

/**
 * Drops a next table never published. After a failed write it is only closed (`remove`
 * false): nothing more goes to a device that just failed, and the next open (or grow) removes
 * the file anyway.
 */
export function discardNext(at: TableDir, next: NextTable | null, remove = true): void {
  if (next === null) return;
  try {
    next.table.file.close();
    if (remove) at.fs.remove(pathIn(at.dir, tableFileName(next.table.gen)));
  } catch {
    // As above: the next open removes it.
  }
}

/**
 * Builds the next generation holding the post-commit state, and syncs it. `spill`: pages a bulk
 * load wrote out, none of them among `ids` (page-spill.ts); the result's `spilled` says how
 * many it placed.
 */
export function rebuildTable(
  at: TableDir,
  pt: PageTable,
  maxLoad: number,
  ids: Uint8Array[],
  pages: (Uint8Array | null)[],
  seq: number,
  spill: PageSpill | null = null,
): PreparedPages {
  const old = pt.meta;
  const replaced = new Set<number>();
  let writes = spill?.size ?? 0;
  for (let i = 0; i < ids.length; i++) {
    if (pt.find(ids[i], null) !== undefined) replaced.add(pt.lastBucket);
    if (pages[i] !== null) writes++;
  }
  // A load appended to a stored state may have spilled pages it changed (its first keys' path).
  if (spill !== null && old.occupied > 0) {
    spill.each((_, id) => {
      if (pt.find(id, null) !== undefined) replaced.add(pt.lastBucket);
    });
  }
  const total = old.occupied - replaced.size + writes;
  let buckets = Math.max(old.buckets, 4);
  while (total > (maxLoad / 2) * buckets && buckets < 2 ** MAX_LOG2_BUCKETS) buckets *= 2;
  if (total > maxLoad * buckets) throw new PageStoreError("BAD_ARGUMENT", `${total} pages exceed the largest table`);
  const gen = pt.table.gen + 1;
  const path = pathIn(at.dir, tableFileName(gen));
  at.fs.remove(path);
  const table = TableFile.create(at.fs.open(path), gen, buckets);
  const next: NextTable = { table, meta: new BucketTable(new Uint8Array(buckets)), cache: [] };
  let spilled = 0;
  try {
    const place = (page: Uint8Array, recache: boolean) => {
      const h = hashPageId(page, PAGE_ID_OFFSET);
      const b = next.meta.firstEmpty(bucketHash(h));
      next.meta.set(b, occupiedMeta(fingerprint(h)));
      table.file.write(page, table.offsetOf(b));
      pt.pagesWritten++;
      if (recache) next.cache.push([b, page]);
    };
    const src = pt.table;
    const run = new Uint8Array(SCAN_BUCKETS * MERKLE_PAGE_BYTES);
    for (let first = 0; first < old.buckets; first += SCAN_BUCKETS) {
      const n = Math.min(SCAN_BUCKETS, old.buckets - first);
      let any = false;
      for (let b = first; b < first + n; b++) if (old.meta[b] >= META_OCCUPIED && !replaced.has(b)) any = true;
      if (!any) continue;
      const off = src.offsetOf(first);
      if (src.file.read(run.subarray(0, n * MERKLE_PAGE_BYTES), off) < n * MERKLE_PAGE_BYTES) {
        throw new PageStoreCorruptionError(src.file.path, off, "bucket run truncated");
      }
      for (let b = first; b < first + n; b++) {
        if (old.meta[b] < META_OCCUPIED || replaced.has(b)) continue;
        const page = run.slice((b - first) * MERKLE_PAGE_BYTES, (b - first + 1) * MERKLE_PAGE_BYTES);
        pt.pagesRead++;
        verifyBucketPage(page, src.file.path, src.offsetOf(b), old.meta[b]);
        place(page, pt.cache.has(b));
      }
    }
    // Sealed when spilled; never cached (a load spills far more than a cache holds).
    spilled = spill?.each((page) => place(page, false)) ?? 0;
    for (let i = 0; i < pages.length; i++) {
      const page = pages[i];
      if (page === null) continue;
      sealMerklePage(page, ids[i]);
      place(page, true);
    }
    table.writeMeta(next.meta.meta);
    table.file.sync();
    at.fs.syncDir(at.dir);
    pt.fsyncs += 2;
  } catch (e) {
    discardNext(at, next, false);
    throw e;
  }
  pt.rebuilds++;
  const none = new Uint32Array(0);
  return { rec: { seq, gen, buckets, rebuilt: true, pageBuckets: none, pages: [], metaBuckets: none, metaValues: new Uint8Array(0) }, next, spilled };
}
