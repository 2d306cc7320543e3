// The page store's options, its counters, and the shape of one page change: the types its
// callers and its parts (page-table.ts, placement.ts, table-growth.ts, wal-apply.ts) share.
import type { PageStoreFileSystem } from "../io/fs.ts";
import type { TableInfo } from "./table-info.ts";

/** File name of the WAL inside the store directory. */
export const WAL_FILE_NAME = "merkle.wal";
/** Default bucket count of a new table (16 MiB, allocated sparsely). */
export const DEFAULT_INITIAL_BUCKETS = 4096;
/** Default load limit: occupied plus tombstone buckets over all buckets. */
export const DEFAULT_MAX_LOAD = 0.75;
/** Default deepest pinned page depth: the root page and its 64 children stay cached. */
export const DEFAULT_PIN_DEPTH = 1;

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
