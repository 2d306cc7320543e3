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
import { hashPageId, bucketHash, fingerprint } from "./bucket-hash.ts";
import { BucketTable, META_EMPTY, META_OCCUPIED, META_TOMBSTONE, occupiedMeta } from "./bucket-table.ts";
import { checkPage, MERKLE_PAGE_BYTES, PAGE_ID_BYTES, PAGE_ID_OFFSET, sealMerklePage, stampPage } from "./page.ts";
import { DEFAULT_PAGE_CACHE_BYTES, MerklePageCache } from "./page-cache.ts";
import { PageStoreCorruptionError, PageStoreError } from "./page-store-errors.ts";
import { nodePageStoreFileSystem, pathIn, type PageStoreFileSystem } from "../io/fs.ts";
import { TableFile, tableFileName } from "./table-file.ts";
import { buildWal, readWalBody, readWalHeader, walPageOffset, type WalRecord, writeWal } from "./wal.ts";
import { closeQuietly, guardFileSystem, type KvFile, StagingBuffer, WriteBehind, WriteJob } from "../io/index.ts";

/** File name of the WAL inside the store directory. */
export const WAL_FILE_NAME = "merkle.wal";
/** Default bucket count of a new table (16 MiB, allocated sparsely). */
export const DEFAULT_INITIAL_BUCKETS = 4096;
/** Default load limit: occupied plus tombstone buckets over all buckets. */
export const DEFAULT_MAX_LOAD = 0.75;
/** Default deepest pinned page depth: the root page and its 64 children stay cached. */
export const DEFAULT_PIN_DEPTH = 1;
/** Bytes of an encoded `TableInfo`. */
export const TABLE_INFO_BYTES = 8;

const MAX_LOG2_BUCKETS = 31;
// Bucket runs read at once when a rebuild scans the old table.
const SCAN_BUCKETS = 64;

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

/** One page a commit writes (its sealed image) or deletes (`page` null). */
export interface PageChange {
  /** The page's 32-byte id. */
  readonly id: Uint8Array;
  /** The new sealed 4096-byte image, or null to delete the page. */
  readonly page: Uint8Array | null;
}

/** Options of `PageStore.open`. */
export interface PageStoreOptions {
  /** File system to use; the host's by default. */
  fs?: PageStoreFileSystem;
  /** Sequence number in the store's last durable meta record; required with `table`. */
  committedSeq?: number;
  /** Table description from that record; omit to create a new, empty store. */
  table?: TableInfo;
  /** Page cache budget in bytes (pinned pages not counted); default 128 MiB. */
  cacheBytes?: number;
  /** Pages of depth <= this stay cached for good; -1 pins nothing. Default 1. */
  pinDepth?: number;
  /** Bucket count of a new store's table, a power of two >= 4; default 4096. */
  initialBuckets?: number;
  /** Load (occupied + tombstones) above which a commit rebuilds the table; default 0.75. */
  maxLoad?: number;
  /**
   * Open the committed state (`table` required) without writing anything: a WAL of the
   * committed seq is held in memory over the table instead of being replayed into it, and
   * `prepare` throws `READ_ONLY`. For readers beside a writer process, which must check that
   * the writer's committed seq did not move while they read (its next checkpoint rewrites
   * buckets in place).
   */
  readOnly?: boolean;
  /**
   * Run `apply`'s in-place writes and sync on a worker thread while the caller goes on
   * (default true; only for table files with an OS descriptor, others are written inline).
   */
  writeBehind?: boolean;
}

/** Counters and gauges of a page store. */
export interface PageStoreStats {
  /** Pages stored. */
  pages: number;
  /** Buckets of the live table. */
  buckets: number;
  /** Tombstone buckets. */
  tombstones: number;
  /** Live table generation. */
  gen: number;
  /** Pages read from the table file. */
  pagesRead: number;
  /** Bucket loads answered by the cache. */
  cacheHits: number;
  /** Bucket loads that went to disk. */
  cacheMisses: number;
  /** Page images written to table files (in place, replayed, or by rebuilds). */
  pagesWritten: number;
  /** Meta bytes examined by probes. */
  bucketsProbed: number;
  /** Bytes written to the WAL. */
  walBytes: number;
  /** Sync barriers issued. */
  fsyncs: number;
  /** Tables rebuilt (grown or cleaned of tombstones). */
  rebuilds: number;
  /** WALs replayed at open. */
  replays: number;
  /** Unpinned pages cached. */
  cachedPages: number;
  /** Pinned pages cached. */
  pinnedPages: number;
}

/** A table built by `prepare` for a growing commit, waiting for `apply` to go live. */
interface NextTable {
  readonly table: TableFile;
  readonly meta: BucketTable;
  readonly cache: [bucket: number, page: Uint8Array][];
}

interface Prepared {
  readonly rec: WalRecord;
  readonly next: NextTable | null;
  /** The WAL as written (shared memory): write-behind writes its page images from there. */
  wal?: Uint8Array;
  /** The WAL is being written and synced by the worker (see `prepare`'s `walBehind`). */
  walBehind?: boolean;
}

function sameId(page: Uint8Array, id: Uint8Array): boolean {
  for (let i = 0; i < PAGE_ID_BYTES; i++) if (page[PAGE_ID_OFFSET + i] !== id[i]) return false;
  return true;
}

function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, PAGE_ID_BYTES).toString("latin1");
}

function checkTableInfo(info: TableInfo): void {
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

/** Merkle pages by id, durable through a WAL whose commit point the caller owns. */
export class PageStore {
  readonly #dir: string;
  readonly #fs: PageStoreFileSystem;
  readonly #wal: KvFile;
  readonly #cache: MerklePageCache;
  readonly #pinDepth: number;
  readonly #maxLoad: number;
  #table: TableFile;
  #meta: BucketTable;
  #lastSeq: number;
  #prepared: Prepared | null = null;
  #closed = false;
  /** Read-only stores: the images of a committed WAL not yet applied in place, by bucket. */
  readonly #held: Map<number, Uint8Array> | null;
  /** Write-behind, when enabled; `#behind` holds the images its job in flight is writing. */
  readonly #writer: WriteBehind | null;
  #behind: Map<number, Uint8Array> | null = null;
  /** The WAL is built here; the in-place job reads its page images until settled. */
  readonly #staging = new StagingBuffer();
  #failed: unknown = null;
  #pagesRead = 0;
  #cacheHits = 0;
  #cacheMisses = 0;
  #pagesWritten = 0;
  #probes = 0;
  #walBytes = 0;
  #fsyncs = 0;
  #rebuilds = 0;
  #replays = 0;

  private constructor(dir: string, fs: PageStoreFileSystem, wal: KvFile, table: TableFile, meta: BucketTable, options: PageStoreOptions, lastSeq: number) {
    this.#dir = dir;
    this.#fs = fs;
    this.#wal = wal;
    this.#table = table;
    this.#meta = meta;
    this.#lastSeq = lastSeq;
    this.#cache = new MerklePageCache(options.cacheBytes ?? DEFAULT_PAGE_CACHE_BYTES);
    this.#pinDepth = options.pinDepth ?? DEFAULT_PIN_DEPTH;
    this.#maxLoad = options.maxLoad ?? DEFAULT_MAX_LOAD;
    this.#held = options.readOnly === true ? new Map() : null;
    this.#writer = options.writeBehind === false || options.readOnly === true ? null : new WriteBehind();
  }

  /** True when opened with `readOnly`. */
  get readOnly(): boolean {
    return this.#held !== null;
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
    // A crash before the first commit point may have left a grown generation 1 behind.
    fs.remove(pathIn(dir, tableFileName(1)));
    const table = TableFile.create(fs.open(pathIn(dir, tableFileName(0))), 0, buckets);
    try {
      table.file.sync();
      fs.syncDir(dir);
    } catch (e) {
      closeQuietly(table.file);
      throw e;
    }
    const store = new PageStore(dir, fs, wal, table, new BucketTable(new Uint8Array(buckets)), options, -1);
    store.#fsyncs += 2;
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
            if (store.#held !== null) {
              // The writer may be rewriting the units this record changes: check the others.
              table.checkMeta(store.#meta.meta, new Set(Array.from(rec.metaBuckets, (b) => Math.floor(b / MERKLE_PAGE_BYTES))));
              store.#holdRecord(rec);
              store.#replays++;
              return store;
            }
            store.#applyRecord(rec);
          }
          store.#replays++;
        }
      } else if (store.#held === null && head !== undefined && head.seq > seq) {
        wal.truncate(0);
        wal.sync();
        store.#fsyncs++;
      }
      // Every meta unit as the committed state has it (any replay done): a damaged byte could
      // hide a page or send a probe to an empty bucket.
      table.checkMeta(store.#meta.meta);
      if (store.#held !== null) return store;
      // Either neighbour may be left over: the previous generation by a crash after a grow's
      // commit point, the next by a crash before it.
      if (info.gen > 0) fs.remove(pathIn(dir, tableFileName(info.gen - 1)));
      fs.remove(pathIn(dir, tableFileName(info.gen + 1)));
      fs.syncDir(dir);
    } catch (e) {
      // The table file only: the WAL is `open`'s to close. Nothing is in flight at open.
      closeQuietly(file);
      throw e;
    }
    return store;
  }

  /** The live table's description (as last applied). */
  get table(): TableInfo {
    return { gen: this.#table.gen, buckets: this.#table.buckets };
  }

  /** Sequence number of the last applied (or, after open, committed) commit; -1 for none. */
  get seq(): number {
    return this.#lastSeq;
  }

  /** Number of pages stored. */
  get size(): number {
    return this.#meta.occupied;
  }

  /**
   * The sealed image of page `id`, or undefined when absent. The image is shared with the
   * cache: treat it as read-only and copy it before modifying. Throws PageStoreCorruptionError
   * (with file and offset) when a bucket it must read fails its checksum.
   */
  get(id: Uint8Array): Uint8Array | undefined {
    this.#live();
    if (!(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) throw new PageStoreError("BAD_ARGUMENT", "page id: expected 32 bytes");
    return this.#find(id, null);
  }

  // Probes for `id`; bucket images staged by a prepare in progress take precedence over disk.
  #find(id: Uint8Array, staged: Map<number, Uint8Array> | null): Uint8Array | undefined {
    const h = hashPageId(id);
    const want = occupiedMeta(fingerprint(h));
    const t = this.#meta;
    const meta = t.meta;
    let b = bucketHash(h) & t.mask;
    for (let i = 0; i < t.buckets; i++) {
      this.#probes++;
      const m = meta[b];
      if (m === META_EMPTY) return undefined;
      if (m === want) {
        const page = staged?.get(b) ?? this.#load(b);
        if (sameId(page, id)) {
          this.#lastBucket = b;
          return page;
        }
      }
      b = (b + 1) & t.mask;
    }
    return undefined;
  }

  // Bucket of the last successful `#find`; avoids returning a pair from the hot path.
  #lastBucket = -1;

  // The image in bucket `b` of the live table: from the cache, or read and verified.
  #load(b: number): Uint8Array {
    const held = this.#held?.get(b);
    if (held !== undefined) return held;
    if (this.#behind !== null) {
      // Until the worker's writes are done, the bucket on disk may be half written.
      // (After a failed write, memory stays the truth: the store refuses to go on anyway.)
      const behind = this.#behind.get(b);
      if ((this.#writer as WriteBehind).done) this.#behind = null;
      else if (behind !== undefined) return behind;
    }
    const hit = this.#cache.get(b);
    if (hit !== undefined) {
      this.#cacheHits++;
      return hit;
    }
    this.#cacheMisses++;
    const page = new Uint8Array(MERKLE_PAGE_BYTES);
    const table = this.#table;
    const at = table.offsetOf(b);
    if (table.file.read(page, at) < MERKLE_PAGE_BYTES) throw new PageStoreCorruptionError(table.file.path, at, "bucket truncated");
    this.#pagesRead++;
    this.#verify(page, table.file.path, at, this.#meta.meta[b]);
    this.#cache.set(b, page, page[PAGE_ID_OFFSET] <= this.#pinDepth);
    return page;
  }

  // A page read from a bucket must pass its checksum and carry an id of the bucket's fingerprint.
  #verify(page: Uint8Array, file: string, at: number, metaByte: number): void {
    if (!checkPage(page)) throw new PageStoreCorruptionError(file, at, "page checksum mismatch");
    if (occupiedMeta(fingerprint(hashPageId(page, PAGE_ID_OFFSET))) !== metaByte) {
      throw new PageStoreCorruptionError(file, at, "page id does not match its bucket's meta byte");
    }
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
    const walBehind = options.walBehind === true;
    const distinct = options.distinct === true;
    this.#live();
    if (this.#held !== null) throw new PageStoreError("READ_ONLY", "page store opened read-only");
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
      const id = c.id;
      if (!(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) throw new PageStoreError("BAD_ARGUMENT", "page id: expected 32 bytes");
      const page = c.page;
      if (page !== null) {
        if (!(page instanceof Uint8Array) || page.length !== MERKLE_PAGE_BYTES || !sameId(page, id)) {
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
    const t = this.#meta;
    // Placed in the live table unless a new page would take it past its load limit; then the
    // table is rebuilt instead. (Counting every write as a new page, as an upper bound, rebuilt
    // a table of 288k pages for a checkpoint of ~100k pages that were nearly all rewrites.)
    const prepared = this.#stageInPlace(ids, pages, seq, this.#maxLoad * t.buckets) ?? this.#stageRebuild(ids, pages, seq);
    try {
      const fd = this.#wal.fd;
      if (walBehind && this.#writer !== null && fd !== undefined) {
        // The old WAL is no longer needed (its apply was settled above), so it may be cut now.
        const job = new WriteJob();
        const wal = buildWal(prepared.rec, this.#staging, job);
        if (this.#wal.size() > wal.length) this.#wal.truncate(wal.length);
        job.add(wal, 0, wal.length, 0);
        this.#writer.submit(fd, this.#wal.path, job);
        prepared.wal = wal;
        prepared.walBehind = true;
      } else {
        prepared.wal = writeWal(this.#wal, prepared.rec, this.#staging);
        this.#wal.sync();
      }
      this.#walBytes += prepared.wal.length;
      this.#fsyncs++;
    } catch (e) {
      this.#discardNext(prepared.next, false);
      throw e;
    }
    this.#prepared = prepared;
    return { gen: prepared.rec.gen, buckets: prepared.rec.buckets };
  }

  // Places the changes in the live table's buckets. Meta bytes are changed while placing (so
  // later changes see earlier ones) and restored afterwards: only `apply` publishes them.
  // Returns null (nothing staged) as soon as a new page would take the buckets that end no
  // probe (occupied or tombstone) past `limit`.
  #stageInPlace(ids: Uint8Array[], pages: (Uint8Array | null)[], seq: number, limit: number): Prepared | null {
    const t = this.#meta;
    const meta = t.meta;
    const before = new Map<number, number>();
    const note = (b: number, old: number) => {
      if (!before.has(b)) before.set(b, old);
    };
    const staged = new Map<number, Uint8Array>();
    try {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        const page = pages[i];
        if (this.#find(id, staged) !== undefined) {
          const b = this.#lastBucket;
          if (page !== null) staged.set(b, page);
          else {
            staged.delete(b);
            t.vacate(b, note);
          }
          continue;
        }
        if (page === null) continue;
        const h = hashPageId(id);
        let b = bucketHash(h) & t.mask;
        while (meta[b] >= META_OCCUPIED) b = (b + 1) & t.mask;
        if (meta[b] === META_EMPTY && t.occupied + t.tombstones + 1 > limit) return null;
        note(b, meta[b]);
        t.set(b, occupiedMeta(fingerprint(h)));
        staged.set(b, page);
      }
      const metaBuckets: number[] = [];
      for (const [b, old] of before) if (meta[b] !== old) metaBuckets.push(b);
      metaBuckets.sort((x, y) => x - y);
      const metaValues = new Uint8Array(metaBuckets.length);
      for (let i = 0; i < metaBuckets.length; i++) metaValues[i] = meta[metaBuckets[i]];
      const pageBuckets = Uint32Array.from(staged.keys()).sort();
      const images = Array.from(pageBuckets, (b) => staged.get(b) as Uint8Array);
      return {
        rec: {
          seq,
          gen: this.#table.gen,
          buckets: this.#table.buckets,
          rebuilt: false,
          pageBuckets,
          pages: images,
          metaBuckets: Uint32Array.from(metaBuckets),
          metaValues,
        },
        next: null,
      };
    } finally {
      for (const [b, old] of before) t.set(b, old);
    }
  }

  // Builds the next generation holding the post-commit state, sized so it ends at most half
  // full, and syncs it. The live table is only read.
  #stageRebuild(ids: Uint8Array[], pages: (Uint8Array | null)[], seq: number): Prepared {
    const old = this.#meta;
    const replaced = new Set<number>();
    let writes = 0;
    for (let i = 0; i < ids.length; i++) {
      if (this.#find(ids[i], null) !== undefined) replaced.add(this.#lastBucket);
      if (pages[i] !== null) writes++;
    }
    const total = old.occupied - replaced.size + writes;
    let buckets = Math.max(old.buckets, 4);
    while (total > (this.#maxLoad / 2) * buckets && buckets < 2 ** MAX_LOG2_BUCKETS) buckets *= 2;
    if (total > this.#maxLoad * buckets) throw new PageStoreError("BAD_ARGUMENT", `${total} pages exceed the largest table`);
    const gen = this.#table.gen + 1;
    const path = pathIn(this.#dir, tableFileName(gen));
    this.#fs.remove(path);
    const table = TableFile.create(this.#fs.open(path), gen, buckets);
    const next: NextTable = { table, meta: new BucketTable(new Uint8Array(buckets)), cache: [] };
    try {
      const place = (page: Uint8Array, recache: boolean) => {
        const h = hashPageId(page, PAGE_ID_OFFSET);
        const b = next.meta.firstEmpty(bucketHash(h));
        next.meta.set(b, occupiedMeta(fingerprint(h)));
        table.file.write(page, table.offsetOf(b));
        this.#pagesWritten++;
        if (recache) next.cache.push([b, page]);
      };
      const src = this.#table;
      const run = new Uint8Array(SCAN_BUCKETS * MERKLE_PAGE_BYTES);
      for (let first = 0; first < old.buckets; first += SCAN_BUCKETS) {
        const n = Math.min(SCAN_BUCKETS, old.buckets - first);
        let any = false;
        for (let b = first; b < first + n; b++) if (old.meta[b] >= META_OCCUPIED && !replaced.has(b)) any = true;
        if (!any) continue;
        const at = src.offsetOf(first);
        if (src.file.read(run.subarray(0, n * MERKLE_PAGE_BYTES), at) < n * MERKLE_PAGE_BYTES) {
          throw new PageStoreCorruptionError(src.file.path, at, "bucket run truncated");
        }
        for (let b = first; b < first + n; b++) {
          if (old.meta[b] < META_OCCUPIED || replaced.has(b)) continue;
          const page = run.slice((b - first) * MERKLE_PAGE_BYTES, (b - first + 1) * MERKLE_PAGE_BYTES);
          this.#pagesRead++;
          this.#verify(page, src.file.path, src.offsetOf(b), old.meta[b]);
          place(page, this.#cache.has(b));
        }
      }
      for (let i = 0; i < pages.length; i++) {
        const page = pages[i];
        if (page === null) continue;
        sealMerklePage(page, ids[i]);
        place(page, true);
      }
      table.writeMeta(next.meta.meta);
      table.file.sync();
      this.#fs.syncDir(this.#dir);
      this.#fsyncs += 2;
    } catch (e) {
      this.#discardNext(next, false);
      throw e;
    }
    this.#rebuilds++;
    const none = new Uint32Array(0);
    return { rec: { seq, gen, buckets, rebuilt: true, pageBuckets: none, pages: [], metaBuckets: none, metaValues: new Uint8Array(0) }, next };
  }

  // Drops a next table never published. After a failed write it is only closed: nothing more
  // goes to a device that just failed, and the next open (or grow) removes the file anyway.
  #discardNext(next: NextTable | null, remove = true): void {
    if (next === null) return;
    try {
      next.table.file.close();
      if (remove) this.#fs.remove(pathIn(this.#dir, tableFileName(next.table.gen)));
    } catch {
      // As above: the next open removes it.
    }
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
    if (p.next === null) {
      const fd = this.#table.file.fd;
      if (this.#writer !== null && fd !== undefined && p.wal !== undefined) this.#applyBehind(p.rec, p.wal, fd);
      else this.#applyRecord(p.rec, p.wal);
    } else {
      const oldFile = this.#table.file;
      this.#table = p.next.table;
      this.#meta = p.next.meta;
      this.#cache.clear();
      for (const [b, page] of p.next.cache) this.#cache.set(b, page, page[PAGE_ID_OFFSET] <= this.#pinDepth);
      oldFile.close();
      this.#fs.remove(pathIn(this.#dir, tableFileName(p.rec.gen - 1)));
      this.#fs.syncDir(this.#dir);
      this.#fsyncs++;
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
    this.#discardNext(p.next);
  }

  // Read-only open: the committed WAL's changes are kept in memory, the files left as they are.
  #holdRecord(rec: WalRecord): void {
    const held = this.#held as Map<number, Uint8Array>;
    for (let i = 0; i < rec.pages.length; i++) held.set(rec.pageBuckets[i], rec.pages[i]);
    this.#setMeta(rec, (b, v) => {
      if (v < META_OCCUPIED) held.delete(b);
    });
  }

  // Sets a record's meta bytes in memory, each checked first; `each` sees every change.
  #setMeta(rec: WalRecord, each: (b: number, v: number) => void): void {
    const t = this.#meta;
    for (let i = 0; i < rec.metaBuckets.length; i++) {
      const b = rec.metaBuckets[i];
      const v = rec.metaValues[i];
      if (b >= t.buckets || (v !== META_EMPTY && v !== META_TOMBSTONE && v < META_OCCUPIED)) {
        throw new PageStoreCorruptionError(this.#wal.path, 0, `WAL meta change ${i} out of range`);
      }
      t.set(b, v);
      each(b, v);
    }
  }

  // Sets a record's meta bytes in memory, uncaching vacated buckets; returns the meta units to write.
  #publishMeta(rec: WalRecord): Set<number> {
    const units = new Set<number>();
    this.#setMeta(rec, (b, v) => {
      if (v < META_OCCUPIED) this.#cache.delete(b);
      units.add(Math.floor(b / MERKLE_PAGE_BYTES));
    });
    return units;
  }

  // Writes a record's pages and meta bytes into the live table and syncs; idempotent. The
  // sealed images are `wal`'s when given (a prepared record's own images are not sealed).
  #applyRecord(rec: WalRecord, wal?: Uint8Array): void {
    const table = this.#table;
    const t = this.#meta;
    const n = rec.pages.length;
    for (let i = 0; i < n; i++) {
      const b = rec.pageBuckets[i];
      const page = rec.pages[i];
      const at = wal === undefined ? 0 : walPageOffset(n, rec.metaBuckets.length, i);
      table.file.write(wal === undefined ? page : wal.subarray(at, at + MERKLE_PAGE_BYTES), table.offsetOf(b));
      this.#pagesWritten++;
      this.#cache.set(b, page, page[PAGE_ID_OFFSET] <= this.#pinDepth);
    }
    const units = this.#publishMeta(rec);
    table.writeMetaUnits(t.meta, units);
    table.file.sync();
    this.#fsyncs++;
  }

  // Like #applyRecord, but the writes and the sync go to the worker; memory is updated now.
  #applyBehind(rec: WalRecord, wal: Uint8Array, fd: number): void {
    const table = this.#table;
    const behind = new Map<number, Uint8Array>();
    const units = this.#publishMeta(rec);
    const job = new WriteJob();
    // Buckets ascend, so adjacent ones merge into one write.
    const n = rec.pages.length;
    for (let i = 0; i < n; i++) {
      const b = rec.pageBuckets[i];
      const page = rec.pages[i];
      job.add(wal, walPageOffset(n, rec.metaBuckets.length, i), MERKLE_PAGE_BYTES, table.offsetOf(b));
      behind.set(b, page);
      this.#pagesWritten++;
      this.#cache.set(b, page, page[PAGE_ID_OFFSET] <= this.#pinDepth);
    }
    for (const w of table.metaUnitWrites(this.#meta.meta, units)) job.addCopy(w.bytes, w.at);
    (this.#writer as WriteBehind).submit(fd, table.file.path, job);
    this.#behind = behind;
    this.#fsyncs++;
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
    this.#behind = null;
  }

  /** Counters since open and current gauges. */
  stats(): PageStoreStats {
    return {
      pages: this.#meta.occupied,
      buckets: this.#meta.buckets,
      tombstones: this.#meta.tombstones,
      gen: this.#table.gen,
      pagesRead: this.#pagesRead,
      cacheHits: this.#cacheHits,
      cacheMisses: this.#cacheMisses,
      pagesWritten: this.#pagesWritten,
      bucketsProbed: this.#probes,
      walBytes: this.#walBytes,
      fsyncs: this.#fsyncs,
      rebuilds: this.#rebuilds,
      replays: this.#replays,
      cachedPages: this.#cache.size,
      pinnedPages: this.#cache.pinnedSize,
    };
  }

  /** Empties the page cache, pinned pages included (they come back on their next read). */
  dropCache(): void {
    this.#cache.clear();
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
    const files = [this.#table.file, this.#wal];
    if (p !== null && p.next !== null) files.unshift(p.next.table.file);
    for (const f of files) {
      try {
        f.close();
      } catch (e) {
        failure ??= e;
      }
    }
    this.#cache.clear();
    this.#staging.release();
    if (failure !== null) throw failure;
  }

  #live(): void {
    if (this.#closed) throw new PageStoreError("CLOSED", "page store is closed");
  }
}
