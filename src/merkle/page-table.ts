// The live table of a page store and its reads: the table file, its meta byte per bucket, the
// page cache, and the probe that finds a page by id. Images not yet on disk take precedence
// over the file: a read-only store's held WAL (see wal-apply.ts `holdRecord`), and the images
// an in-place write behind the caller is still writing. The page store's other parts
// (placement, growth, WAL apply) work on this state; the counters are the store's stats.
import { bucketHash, fingerprint, hashPageId } from "./bucket-hash.ts";
import { type BucketTable, META_EMPTY, occupiedMeta } from "./bucket-table.ts";
import { checkPage, MERKLE_PAGE_BYTES, PAGE_ID_BYTES, PAGE_ID_OFFSET } from "./page.ts";
import type { MerklePageCache } from "./page-cache.ts";
import { PageStoreCorruptionError } from "./page-store-errors.ts";
import type { TableFile } from "./table-file.ts";
import type { WriteBehind } from "../io/index.ts";

/** True when the sealed image carries `id`. */
export function carriesId(page: Uint8Array, id: Uint8Array): boolean {
  for (let i = 0; i < PAGE_ID_BYTES; i++) if (page[PAGE_ID_OFFSET + i] !== id[i]) return false;
  return true;
}

// Images cached between two looks at the clock while filling the cache.
const FILL_STEP = 256;

/** The live table, its meta bytes and cache, with the page store's counters. */
export class PageTable {
  table: TableFile;
  meta: BucketTable;
  /** Read-only stores: the images of a committed WAL not yet applied in place, by bucket. */
  readonly held: Map<number, Uint8Array> | null;
  /**
   * Images an in-place write behind the caller is writing, by bucket (null: none in flight).
   * Kept after the write is done until they are all cached (see `fillCache`).
   */
  behind: Map<number, Uint8Array> | null = null;
  /** The last in-place apply's images not cached yet: the cache is filled after its publication, in slices. */
  #fill: { readonly buckets: Uint32Array; readonly pages: readonly Uint8Array[]; next: number } | null = null;
  /** Bucket of the last successful `find`; avoids returning a pair from the hot path. */
  lastBucket = -1;
  pagesRead = 0;
  cacheHits = 0;
  cacheMisses = 0;
  pagesWritten = 0;
  probes = 0;
  walBytes = 0;
  fsyncs = 0;
  rebuilds = 0;
  replays = 0;
  /**
   * Bumped whenever bucket images may change on disk or the cache is emptied (an in-place
   * apply, a new table generation, `dropCache`): a read ahead begun before caches nothing.
   */
  epoch = 0;

  constructor(
    table: TableFile,
    meta: BucketTable,
    readonly cache: MerklePageCache,
    readonly pinDepth: number,
    readOnly: boolean,
    /** The write-behind client whose job `behind` belongs to. */
    readonly writer: WriteBehind | null,
  ) {
    this.table = table;
    this.meta = meta;
    this.held = readOnly ? new Map() : null;
  }

  /**
   * Hands the images of an in-place apply (`behind` holds them) to the cache a slice at a time,
   * so that the block that publishes it does not spend milliseconds on thousands of cache
   * insertions. Until the last is cached, `behind` answers for them.
   */
  startFill(buckets: Uint32Array, pages: readonly Uint8Array[]): void {
    this.fillCache();
    this.#fill = pages.length > 0 ? { buckets, pages, next: 0 } : null;
  }

  /**
   * Caches the images left by `startFill` until `deadline` (a `performance.now()` time; all of
   * them by default); true when none is left.
   */
  fillCache(deadline = Number.POSITIVE_INFINITY): boolean {
    const f = this.#fill;
    if (f === null) return true;
    const n = f.pages.length;
    while (f.next < n) {
      for (const end = Math.min(n, f.next + FILL_STEP); f.next < end; f.next++) this.cacheSet(f.buckets[f.next], f.pages[f.next]);
      if (performance.now() >= deadline) break;
    }
    if (f.next < n) return false;
    this.#fill = null;
    return true;
  }

  /** Caches `page` as bucket `b`'s image, pinned when it is shallow enough. */
  cacheSet(b: number, page: Uint8Array): void {
    this.cache.set(b, page, page[PAGE_ID_OFFSET] <= this.pinDepth);
  }

  /**
   * Probes for `id`; bucket images in `staged` (a prepare in progress) take precedence over the
   * table, and `t` (the meta bytes of a placement in progress) over the live meta bytes.
   */
  find(id: Uint8Array, staged: Map<number, Uint8Array> | null, t: BucketTable = this.meta): Uint8Array | undefined {
    const h = hashPageId(id);
    const want = occupiedMeta(fingerprint(h));
    const meta = t.meta;
    let b = bucketHash(h) & t.mask;
    for (let i = 0; i < t.buckets; i++) {
      this.probes++;
      const m = meta[b];
      if (m === META_EMPTY) return undefined;
      if (m === want) {
        const page = staged?.get(b) ?? this.load(b);
        if (carriesId(page, id)) {
          this.lastBucket = b;
          return page;
        }
      }
      b = (b + 1) & t.mask;
    }
    return undefined;
  }

  /** Bucket `b`'s image when it is in memory (held, being written, cached), else undefined. */
  #inMemory(b: number): Uint8Array | undefined {
    return this.held?.get(b) ?? this.behind?.get(b) ?? (this.cache.has(b) ? this.cache.get(b) : undefined);
  }

  /**
   * The buckets a probe for `id` may read from the file, judged from the meta bytes and the
   * images in memory alone: every bucket on its probe with its fingerprint whose image is not
   * in memory, up to its page's image in memory or an empty bucket, added to `out`. Returns
   * false when there is certainly no such page (an empty bucket came first).
   */
  probeAhead(id: Uint8Array, out: Set<number>): boolean {
    const t = this.meta;
    const h = hashPageId(id);
    const want = occupiedMeta(fingerprint(h));
    let b = bucketHash(h) & t.mask;
    let maybe = false;
    for (let i = 0; i < t.buckets; i++, b = (b + 1) & t.mask) {
      const m = t.meta[b];
      if (m === META_EMPTY) return maybe;
      if (m !== want) continue;
      const page = this.#inMemory(b);
      if (page === undefined) {
        out.add(b);
        maybe = true;
      } else if (carriesId(page, id)) {
        return true;
      }
    }
    return maybe;
  }

  /**
   * Reads buckets `buckets` of the live table on the thread pool and caches the sound images
   * not in memory by then, so that a synchronous `find` later meets them in memory. Resolves
   * to the images cached. Best effort: a file without `readAsync`, a failed or short read or a
   * damaged image caches nothing (the synchronous read reports it), and nothing read is cached
   * when the table changed meanwhile (`epoch`).
   */
  async readAhead(buckets: readonly number[]): Promise<number> {
    const table = this.table;
    const readAsync = table.file.readAsync;
    if (readAsync === undefined || buckets.length === 0) return 0;
    const epoch = this.epoch;
    let cached = 0;
    // Each image is checked and cached as its read returns: many small callbacks, not one block.
    const one = async (b: number): Promise<void> => {
      const page = new Uint8Array(MERKLE_PAGE_BYTES);
      const at = table.offsetOf(b);
      try {
        if ((await readAsync.call(table.file, page, at)) !== MERKLE_PAGE_BYTES) return;
      } catch {
        return;
      }
      if (this.epoch !== epoch || this.table !== table || this.#inMemory(b) !== undefined) return;
      try {
        verifyBucketPage(page, table.file.path, at, this.meta.meta[b]);
      } catch {
        return;
      }
      this.pagesRead++;
      this.cacheSet(b, page);
      cached++;
    };
    await Promise.all(buckets.map(one));
    return cached;
  }

  /** The image in bucket `b` of the live table: held, being written, cached, or read and verified. */
  load(b: number): Uint8Array {
    const held = this.held?.get(b);
    if (held !== undefined) return held;
    if (this.behind !== null) {
      // Until the worker's writes are done, the bucket on disk may be half written.
      // (After a failed write, memory stays the truth: the store refuses to go on anyway.)
      const behind = this.behind.get(b);
      if (this.#fill === null && (this.writer as WriteBehind).done) this.behind = null;
      else if (behind !== undefined) return behind;
    }
    const hit = this.cache.get(b);
    if (hit !== undefined) {
      this.cacheHits++;
      return hit;
    }
    this.cacheMisses++;
    const page = new Uint8Array(MERKLE_PAGE_BYTES);
    const table = this.table;
    const at = table.offsetOf(b);
    if (table.file.read(page, at) < MERKLE_PAGE_BYTES) throw new PageStoreCorruptionError(table.file.path, at, "bucket truncated");
    this.pagesRead++;
    verifyBucketPage(page, table.file.path, at, this.meta.meta[b]);
    this.cacheSet(b, page);
    return page;
  }
}

/** A page read from a bucket must pass its checksum and carry an id of the bucket's fingerprint. */
export function verifyBucketPage(page: Uint8Array, file: string, at: number, metaByte: number): void {
  if (!checkPage(page)) throw new PageStoreCorruptionError(file, at, "page checksum mismatch");
  if (occupiedMeta(fingerprint(hashPageId(page, PAGE_ID_OFFSET))) !== metaByte) {
    throw new PageStoreCorruptionError(file, at, "page id does not match its bucket's meta byte");
  }
}
