// The page store: merkle pages by page id in an on-disk open-addressing hash table of 4 KiB
// buckets, with an in-memory meta byte per bucket, a write-ahead log, online growth and a
// bounded page cache.
//
// Commit protocol (the store layer above owns the single commit point):
//   1. `prepare(changes, seq)` places the commit's pages in buckets, writes the WAL tagged `seq`
//      and syncs it, and returns the `TableInfo` to record in the commit's meta record. When the
//      table would pass its load limit, it instead builds the next table generation, holding the
//      whole post-commit state, and syncs it; nothing committed is touched either way.
//   2. The store writes and syncs its meta record (seq, TableInfo): the commit point.
//   3. `apply()` writes the pages and meta bytes in place (or switches to the new generation and
//      removes the old one) and syncs, so the WAL may be overwritten by the next `prepare`.
//      On a real file the in-place writes and their sync run behind the caller on a worker
//      thread (write-behind): reads take the applied pages from memory meanwhile, and the next
//      `prepare` and `close` wait for them.
// `open` with the committed seq and TableInfo replays a WAL of exactly that seq (replay is
// idempotent, so a crash during apply or replay is repaired by the next open), discards a newer
// one, and removes table generations other than the committed one.
//
// Parts: page-table.ts (the live table, its cache and the probe), placement.ts (buckets for a
// checkpoint's pages), table-growth.ts (the next generation), wal.ts (the WAL's format),
// wal-apply.ts (the recovery at open, replay, the in-place apply, a read-only store's held WAL),
// table-info.ts.
import { KEY_BITS } from "../trie/index.ts";
import { BucketTable } from "./bucket-table.ts";
import { MAX_PAGE_DEPTH, MERKLE_PAGE_BYTES, PAGE_ID_BYTES, PAGE_ID_OFFSET, PAGE_LEVELS, pageIdOf, stampPage } from "./page.ts";
import { DEFAULT_PAGE_CACHE_BYTES, MerklePageCache } from "./page-cache.ts";
import { PageStoreError } from "./page-store-errors.ts";
import {
  DEFAULT_INITIAL_BUCKETS,
  DEFAULT_MAX_LOAD,
  DEFAULT_PIN_DEPTH,
  type PageChange,
  type PageStoreOptions,
  type PageStoreStats,
  WAL_FILE_NAME,
} from "./page-store-options.ts";
import { carriesId, PageTable } from "./page-table.ts";
import { PageSpill } from "./page-spill.ts";
import { placeSteps, type PreparedPages } from "./placement.ts";
import { discardNext, rebuildTable } from "./table-growth.ts";
import { TableFile, tableFileName } from "./table-file.ts";
import { checkTableInfo, type TableInfo } from "./table-info.ts";
import { applyBehind, applyRecord, inPlaceSteps, recoverAtOpen } from "./wal-apply.ts";
import { buildWalSteps, writeWal } from "./wal.ts";
import { nodePageStoreFileSystem, pathIn, type PageStoreFileSystem } from "../io/fs.ts";
import { closeQuietly, guardFileSystem, type KvFile, runSteps, StagingBuffer, STEP_PAGES, type Steps, WriteBehind, WriteJob } from "../io/index.ts";

export { DEFAULT_INITIAL_BUCKETS, DEFAULT_MAX_LOAD, DEFAULT_PIN_DEPTH, type PageChange, type PageStoreOptions, type PageStoreStats, WAL_FILE_NAME };
export { decodeTableInfo, encodeTableInfo, TABLE_INFO_BYTES, type TableInfo } from "./table-info.ts";

function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, PAGE_ID_BYTES).toString("latin1");
}

/** Merkle pages by id, durable through a WAL whose commit point the caller owns. */
export class PageStore {
  readonly #dir: string;
  readonly #fs: PageStoreFileSystem;
  readonly #wal: KvFile;
  readonly #maxLoad: number;
  /** The live table, its meta bytes, cache and counters (see page-table.ts). */
  readonly #pt: PageTable;
  #lastSeq: number;
  #prepared: PreparedPages | null = null;
  #closed = false;
  /** Write-behind, when enabled (the in-place apply, and the WAL with `walBehind`). */
  readonly #writer: WriteBehind | null;
  /** The WAL is built here; the in-place job reads its page images until settled. */
  readonly #staging = new StagingBuffer();
  /** Pages a bulk load wrote out before its commit point (page-spill.ts). */
  readonly #spill: PageSpill;
  #failed: unknown = null;

  private constructor(dir: string, fs: PageStoreFileSystem, wal: KvFile, table: TableFile, meta: BucketTable, options: PageStoreOptions, lastSeq: number) {
    this.#dir = dir;
    this.#fs = fs;
    this.#wal = wal;
    this.#lastSeq = lastSeq;
    this.#maxLoad = options.maxLoad ?? DEFAULT_MAX_LOAD;
    this.#spill = new PageSpill(dir, fs);
    this.#writer = options.writeBehind === false || options.readOnly === true ? null : new WriteBehind();
    const cache = new MerklePageCache(options.cacheBytes ?? DEFAULT_PAGE_CACHE_BYTES);
    this.#pt = new PageTable(table, meta, cache, options.pinDepth ?? DEFAULT_PIN_DEPTH, options.readOnly === true, this.#writer);
  }

  /** True when opened with `readOnly`. */
  get readOnly(): boolean {
    return this.#pt.held !== null;
  }

  /**
   * Opens the store in directory `dir`. Without `options.table` a new, empty store is created
   * (any previous content of its files is discarded). With it, the committed state is restored:
   * a valid WAL tagged `committedSeq` is replayed, a newer one discarded.
   */
  static open(dir: string, options: PageStoreOptions = {}): PageStore {
    const fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
    const maxLoad = options.maxLoad ?? DEFAULT_MAX_LOAD;
    if (!(maxLoad >= 0.1 && maxLoad <= 0.95)) throw new PageStoreError("BAD_ARGUMENT", `maxLoad ${maxLoad} not in 0.1 .. 0.95`);
    const cacheBytes = options.cacheBytes ?? DEFAULT_PAGE_CACHE_BYTES;
    if (!(cacheBytes >= 0)) throw new PageStoreError("BAD_ARGUMENT", `cacheBytes ${cacheBytes}`);
    const pinDepth = options.pinDepth ?? DEFAULT_PIN_DEPTH;
    if (!Number.isInteger(pinDepth) || pinDepth < -1) throw new PageStoreError("BAD_ARGUMENT", `pinDepth ${pinDepth}`);
    if (options.readOnly === true && options.table === undefined) throw new PageStoreError("BAD_ARGUMENT", "readOnly: a table description is required");
    if (options.readOnly !== true) fs.mkdir(dir);
    // `open` owns the WAL until a store is returned; `#create` and `#restore` close only the
    // table files they opened when they fail (a second close of the WAL once replaced a CORRUPT
    // error by EBADF, and could close a reused descriptor number under another file).
    const wal = fs.open(pathIn(dir, WAL_FILE_NAME));
    try {
      if (options.table === undefined) return PageStore.#create(dir, fs, wal, options);
      return PageStore.#restore(dir, fs, wal, options.table, options);
    } catch (e) {
      closeQuietly(wal);
      throw e;
    }
  }

  static #create(dir: string, fs: PageStoreFileSystem, wal: KvFile, options: PageStoreOptions): PageStore {
    const buckets = options.initialBuckets ?? DEFAULT_INITIAL_BUCKETS;
    checkTableInfo({ gen: 0, buckets });
    wal.truncate(0);
    wal.sync();
    // A crash before the first commit point may have left a grown generation 1 behind, or a spill.
    fs.remove(pathIn(dir, tableFileName(1)));
    PageSpill.discard(dir, fs);
    const table = TableFile.create(fs.open(pathIn(dir, tableFileName(0))), 0, buckets);
    try {
      table.file.sync();
      fs.syncDir(dir);
    } catch (e) {
      closeQuietly(table.file);
      throw e;
    }
    const store = new PageStore(dir, fs, wal, table, new BucketTable(new Uint8Array(buckets)), options, -1);
    store.#pt.fsyncs += 2;
    return store;
  }

  static #restore(dir: string, fs: PageStoreFileSystem, wal: KvFile, info: TableInfo, options: PageStoreOptions): PageStore {
    checkTableInfo(info);
    const seq = options.committedSeq;
    if (seq === undefined || !Number.isSafeInteger(seq) || seq < 0) {
      throw new PageStoreError("BAD_ARGUMENT", "committedSeq: a non-negative integer is required with table");
    }
    const file = fs.open(pathIn(dir, tableFileName(info.gen)));
    let table: TableFile;
    try {
      table = TableFile.open(file, info.gen, info.buckets);
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
    let store: PageStore;
    try {
      store = new PageStore(dir, fs, wal, table, new BucketTable(table.readMeta()), options, seq);
    } catch (e) {
      closeQuietly(file);
      throw e;
    }
    try {
      recoverAtOpen(store.#pt, wal, table, info, seq, dir, fs);
    } catch (e) {
      // The table file only: the WAL is `open`'s to close. Nothing is in flight at open.
      closeQuietly(file);
      throw e;
    }
    return store;
  }

  /** The live table's description (as last applied). */
  get table(): TableInfo {
    return { gen: this.#pt.table.gen, buckets: this.#pt.table.buckets };
  }

  /** Sequence number of the last applied (or, after open, committed) commit; -1 for none. */
  get seq(): number {
    return this.#lastSeq;
  }

  /** Number of pages stored. */
  get size(): number {
    return this.#pt.meta.occupied;
  }

  /**
   * The sealed image of page `id`, or undefined when absent. The image is shared with the
   * cache: treat it as read-only and copy it before modifying. Throws PageStoreCorruptionError
   * (with file and offset) when a bucket it must read fails its checksum.
   */
  get(id: Uint8Array): Uint8Array | undefined {
    this.#live();
    if (!(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) throw new PageStoreError("BAD_ARGUMENT", "page id: expected 32 bytes");
    return this.#pt.find(id, null);
  }

  /**
   * Bulk load: writes out page `id` (copied) before the commit that holds it; the next `prepare`
   * puts it in the table it builds (`changes` must not name it). Reads see it once that commit
   * is applied; a crash before then forgets it (page-spill.ts).
   */
  spill(id: Uint8Array, page: Uint8Array): void {
    this.#live();
    if (this.#pt.held !== null) throw new PageStoreError("READ_ONLY", "page store opened read-only");
    if (!(page instanceof Uint8Array) || page.length !== MERKLE_PAGE_BYTES || !(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) {
      throw new PageStoreError("BAD_PAGE", "spill: expected a 32-byte id and a 4096-byte page");
    }
    this.#spill.add(id, page);
  }

  /** Pages spilled and not yet in the live table. */
  get spilled(): number {
    return this.#spill.size;
  }

  /**
   * Commit step 1: stages `changes` (at most one per id; the last wins) as commit `seq`, writes
   * and syncs the WAL (and, when the table must grow, the next table generation), and returns
   * the TableInfo the caller must record with `seq` at its commit point. Reads still see the
   * committed state until `apply`. Each image must carry its id (`stampPage`); the store keeps
   * a copy of it and seals what it writes. `options.walBehind` (with write-behind enabled): the
   * WAL is written and synced by the worker thread, and `settlePrepared` must return before the
   * caller's commit point is written. `options.distinct`: the caller vouches that no id repeats
   * (a store's dirty set, keyed by id), which skips the de-duplication.
   */
  prepare(changes: Iterable<PageChange>, seq: number, options: { walBehind?: boolean; distinct?: boolean } = {}): TableInfo {
    return runSteps(this.prepareSteps(changes, seq, options));
  }

  /**
   * `prepare` in steps (see io/steps.ts): the copies of the pages and the WAL's images are
   * made a few hundred at a time; placing the pages in buckets (or building a grown table) is
   * one step. Reads may run between steps; nothing may change the pages given, or the store,
   * until the last one. Await `idle` first, or the first step waits for the last apply.
   */
  *prepareSteps(changes: Iterable<PageChange>, seq: number, options: { walBehind?: boolean; distinct?: boolean } = {}): Steps<TableInfo> {
    const walBehind = options.walBehind === true;
    const distinct = options.distinct === true;
    this.#live();
    if (this.#pt.held !== null) throw new PageStoreError("READ_ONLY", "page store opened read-only");
    if (this.#prepared !== null) throw new PageStoreError("STATE", "a prepared commit awaits apply or abort");
    if (!Number.isSafeInteger(seq) || seq <= this.#lastSeq) {
      throw new PageStoreError("BAD_ARGUMENT", `seq ${seq} must be an integer above the last commit's ${this.#lastSeq}`);
    }
    // The WAL about to be overwritten is what repairs the last apply if its writes are lost.
    this.#settle();
    const byId = new Map<string, number>();
    const ids: Uint8Array[] = [];
    const pages: (Uint8Array | null)[] = [];
    for (const c of changes) {
      if (ids.length % STEP_PAGES === STEP_PAGES - 1) yield;
      const id = c.id;
      if (!(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) throw new PageStoreError("BAD_ARGUMENT", "page id: expected 32 bytes");
      const page = c.page;
      if (page !== null) {
        if (!(page instanceof Uint8Array) || page.length !== MERKLE_PAGE_BYTES || !carriesId(page, id)) {
          throw new PageStoreError("BAD_PAGE", "page image: expected a 4096-byte page carrying its id");
        }
      }
      // Copies are stamped here and sealed where they are written (the WAL, a rebuilt table).
      let copy: Uint8Array | null = null;
      if (page !== null) {
        copy = page.slice();
        stampPage(copy, id);
      }
      const key = distinct ? "" : idKey(id);
      const at = distinct ? undefined : byId.get(key);
      if (at === undefined) {
        if (!distinct) byId.set(key, ids.length);
        // The copy carries the id: a view of it spares an allocation.
        ids.push(copy !== null ? copy.subarray(PAGE_ID_OFFSET, PAGE_ID_OFFSET + PAGE_ID_BYTES) : id.slice());
        pages.push(copy);
      } else {
        pages[at] = copy;
      }
    }
    yield;
    const t = this.#pt.meta;
    // Placed in the live table unless a new page would take it past its load limit; then the
    // table is rebuilt instead. (Counting every write as a new page, as an upper bound, rebuilt
    // a table of 288k pages for a checkpoint of ~100k pages that were nearly all rewrites.)
    // Spilled pages always go to a rebuilt table: read from the spill in runs, never all at once.
    const at = { dir: this.#dir, fs: this.#fs };
    const prepared =
      this.#spill.size > 0
        ? rebuildTable(at, this.#pt, this.#maxLoad, ids, pages, seq, this.#spill)
        : ((yield* placeSteps(this.#pt, ids, pages, seq, this.#maxLoad * t.buckets)) ?? rebuildTable(at, this.#pt, this.#maxLoad, ids, pages, seq));
    try {
      const fd = this.#wal.fd;
      if (walBehind && this.#writer !== null && fd !== undefined) {
        // The old WAL is no longer needed (its apply was settled above), so it may be cut now.
        const job = new WriteJob();
        const wal = yield* buildWalSteps(prepared.rec, this.#staging, job);
        if (this.#wal.size() > wal.length) this.#wal.truncate(wal.length);
        job.add(wal, 0, wal.length, 0);
        this.#writer.submit(fd, this.#wal.path, job);
        prepared.wal = wal;
        prepared.walBehind = true;
        // The in-place apply's job, built now so that the publication only hands it over.
        if (prepared.next === null) prepared.inPlace = yield* inPlaceSteps(this.#pt, prepared.rec, wal);
      } else {
        prepared.wal = writeWal(this.#wal, prepared.rec, this.#staging);
        this.#wal.sync();
      }
      this.#pt.walBytes += prepared.wal.length;
      this.#pt.fsyncs++;
    } catch (e) {
      discardNext({ dir: this.#dir, fs: this.#fs }, prepared.next, false);
      throw e;
    }
    this.#prepared = prepared;
    return { gen: prepared.rec.gen, buckets: prepared.rec.buckets };
  }

  /**
   * Resolves once no write behind the caller is running (the last in-place apply, or the WAL
   * of a `prepare` with `walBehind`), without blocking the thread. Its outcome is reported by
   * the next call that waits for it (`settlePrepared`, `prepare`, `close`).
   */
  async idle(): Promise<void> {
    await this.#writer?.settled();
  }

  /**
   * Commit step 2 of a `prepare` with `walBehind`: waits until the WAL is written and synced.
   * Throws if that failed; the prepared commit must then not be published (the store fails:
   * reopen it). Returns at once when no WAL is in flight.
   */
  settlePrepared(): void {
    this.#live();
    const p = this.#prepared;
    if (p === null || p.walBehind !== true) return;
    if (this.#failed !== null) throw new PageStoreError("FAILED", `${this.#dir}: a write failed; reopen the store`, { cause: this.#failed });
    try {
      (this.#writer as WriteBehind).wait();
    } catch (e) {
      this.#failed = e;
      throw new PageStoreError("FAILED", `${this.#dir}: writing the WAL failed; reopen the store`, { cause: e });
    }
    p.walBehind = false;
  }

  /**
   * Commit step 3, after the caller's meta record naming the prepared seq is durable: writes
   * the commit into the table (or switches to the rebuilt one) and syncs. Reads then see it.
   */
  apply(): void {
    this.#live();
    const p = this.#prepared;
    if (p === null) throw new PageStoreError("STATE", "no prepared commit to apply");
    if (p.walBehind === true) throw new PageStoreError("STATE", "the prepared commit's WAL is still being written: settlePrepared first");
    this.#pt.epoch++;
    if (p.next === null) {
      const fd = this.#pt.table.file.fd;
      if (this.#writer !== null && fd !== undefined && p.wal !== undefined) {
        applyBehind(this.#pt, p.rec, this.#wal.path, p.inPlace ?? runSteps(inPlaceSteps(this.#pt, p.rec, p.wal)), fd, this.#writer);
      } else applyRecord(this.#pt, p.rec, this.#wal.path, p.wal);
    } else {
      const oldFile = this.#pt.table.file;
      this.#pt.table = p.next.table;
      this.#pt.meta = p.next.meta;
      this.#pt.cache.clear();
      for (const [b, page] of p.next.cache) this.#pt.cacheSet(b, page);
      oldFile.close();
      this.#fs.remove(pathIn(this.#dir, tableFileName(p.rec.gen - 1)));
      this.#spill.drop(p.spilled ?? 0);
      this.#fs.syncDir(this.#dir);
      this.#pt.fsyncs++;
    }
    this.#lastSeq = p.rec.seq;
    this.#prepared = null;
  }

  /** Drops a prepared commit whose commit point was never written (the WAL stays, harmless). */
  abort(): void {
    this.#live();
    const p = this.#prepared;
    if (p === null) return;
    if (p.walBehind === true) {
      try {
        (this.#writer as WriteBehind).wait();
      } catch {
        // The WAL of a commit never published is not needed; the table is intact.
      }
    }
    this.#prepared = null;
    discardNext({ dir: this.#dir, fs: this.#fs }, p.next);
  }

  // Waits for the write-behind job in flight, if any; its failure is thrown (the WAL still
  // holds the commit, so the next open repairs the table).
  #settle(): void {
    if (this.#failed !== null) throw new PageStoreError("FAILED", `${this.#dir}: an in-place write failed; reopen the store`, { cause: this.#failed });
    if (this.#writer === null) return;
    try {
      this.#writer.wait();
    } catch (e) {
      // The table on disk now lags memory; only the WAL, which the next prepare would
      // overwrite, can repair it.
      this.#failed = e;
      throw new PageStoreError("FAILED", `${this.#dir}: an in-place write failed; reopen the store`, { cause: e });
    }
    this.#pt.fillCache();
    this.#pt.behind = null;
  }

  /**
   * Caches the last in-place apply's page images until `deadline` (`performance.now()` time),
   * which its publication left to later slices (reads take them from memory meanwhile); true
   * when none is left. The next `prepare` caches what is left at once.
   */
  fillCache(deadline?: number): boolean {
    if (this.#closed) return true;
    return this.#pt.fillCache(deadline);
  }

  /** Counters since open and current gauges. */
  stats(): PageStoreStats {
    return {
      pages: this.#pt.meta.occupied,
      buckets: this.#pt.meta.buckets,
      tombstones: this.#pt.meta.tombstones,
      gen: this.#pt.table.gen,
      pagesRead: this.#pt.pagesRead,
      cacheHits: this.#pt.cacheHits,
      cacheMisses: this.#pt.cacheMisses,
      pagesWritten: this.#pt.pagesWritten,
      bucketsProbed: this.#pt.probes,
      walBytes: this.#pt.walBytes,
      fsyncs: this.#pt.fsyncs,
      rebuilds: this.#pt.rebuilds,
      replays: this.#pt.replays,
      cachedPages: this.#pt.cache.size,
      pinnedPages: this.#pt.cache.pinnedSize,
    };
  }

  /** Empties the page cache, pinned pages included (they come back on their next read). */
  dropCache(): void {
    this.#pt.cache.clear();
    this.#pt.epoch++;
  }

  /**
   * Reads the pages on the paths to `keys` (31-byte keys) that are in the table and not in
   * memory on the thread pool and caches them, so that `get` of those pages later does not
   * block on the file. A path is followed down while the meta bytes say its next page may be
   * there; with `spans`, `spans[i]` is set, before this returns its promise, to the bits of key
   * i's prefix where its path ends (the first page absent: a subtrie under the elision
   * threshold, which an update rebuilds from a scan of that prefix). Resolves to the pages
   * cached; best effort (see `PageTable.readAhead`), never rejects.
   */
  async readAhead(keys: readonly Uint8Array[], spans?: number[]): Promise<number> {
    if (this.#closed || this.#failed !== null) return 0;
    const buckets = new Set<number>();
    const id = new Uint8Array(PAGE_ID_BYTES);
    for (let i = 0; i < keys.length; i++) {
      let d = 0;
      while (d <= MAX_PAGE_DEPTH && this.#pt.probeAhead(pageIdOf(keys[i], d, id), buckets)) d++;
      if (spans !== undefined) spans[i] = Math.min(d * PAGE_LEVELS, KEY_BITS);
    }
    try {
      return await this.#pt.readAhead([...buckets]);
    } catch {
      return 0;
    }
  }

  /**
   * Closes the files, each once; a prepared, unapplied commit is dropped. No call is valid
   * afterwards. An in-place write behind the caller that failed, or a failed close, is thrown
   * once everything is released (a lost in-place write is repaired from the WAL at the next
   * open, so nothing committed is lost); a failure reported before is not thrown again.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const reported = this.#failed !== null;
    let failure: unknown = null;
    try {
      // The worker must be done with the table's descriptor before it is closed.
      this.#settle();
    } catch (e) {
      if (!reported) failure = e;
    }
    const p = this.#prepared;
    this.#prepared = null;
    const files = [this.#pt.table.file, this.#wal];
    if (p !== null && p.next !== null) files.unshift(p.next.table.file);
    for (const f of files) {
      try {
        f.close();
      } catch (e) {
        failure ??= e;
      }
    }
    this.#pt.cache.clear();
    this.#pt.epoch++;
    this.#staging.release();
    this.#spill.close();
    if (failure !== null) throw failure;
  }

  #live(): void {
    if (this.#closed) throw new PageStoreError("CLOSED", "page store is closed");
  }
}
