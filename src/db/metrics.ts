// What a database handle counts and times: `Db.metrics()` (`DbMetrics`), the counters it keeps
// for them (`DbCounters`), and the figures of its last commit or rollback (`CommitMetrics`).
import type { CommitStats } from "../store/index.ts";

/** Timings and work of one commit or rollback. */
export interface CommitMetrics {
  readonly kind: "commit" | "rollback";
  /** Version (store sequence number) it made. */
  readonly seq: number;
  /** Keys changed. */
  readonly changes: number;
  /** Milliseconds waiting in the commit queue. */
  readonly queuedMs: number;
  /**
   * Milliseconds waiting (without blocking the thread) for a background checkpoint: only when
   * it was begun by a blocking commit, or `MAX_AHEAD` (32) commits already went on beside it;
   * else the commit goes on beside it (`store.duringCheckpoint`).
   */
  readonly checkpointWaitMs: number;
  /**
   * The last background checkpoint, when it finished since the commit before this one (beside
   * the commits, or during the wait), else null: merkle pages written, slices of the caller's
   * thread, the longest and the longest single step in them, milliseconds from its start to
   * durable, and of them on the caller's
   * thread handing over the value pages and building the page WAL; `publishMs`, its publication
   * (one block: the commit point applied in memory, then the commits made beside it).
   */
  readonly checkpointBehind: {
    readonly pages: number;
    readonly slices: number;
    readonly longestSliceMs: number;
    readonly longestStepMs: number;
    readonly wallMs: number;
    readonly valuesWriteMs: number;
    readonly merkleWalMs: number;
    readonly publishMs: number;
  } | null;
  /** Milliseconds writing and syncing the rollback log event. */
  readonly logMs: number;
  /** Milliseconds of the store's durable write (its phases in `store`). */
  readonly storeMs: number;
  /** Milliseconds from the call to durable. */
  readonly totalMs: number;
  /**
   * The store's phases: `updateMs` is the trie update (seeks and hashing; for a session it ran
   * in `finish`), `valuesMs` the value tree's write and sync, `merkleWalMs` the page WAL's write
   * and sync, `metaMs` the commit record's write and sync, `applyMs` the in-place page writes.
   */
  readonly store: CommitStats;
}

/** Cache counters and I/O of one of the store's two page files. */
export interface PageMetrics {
  cacheHits: number;
  cacheMisses: number;
  pagesRead: number;
  pagesWritten: number;
}

/** What `Db.metrics()` reports: counters since open, gauges now, and the last commit. */
export interface DbMetrics {
  /** Point reads (`get`, `has`) of snapshots, sessions and overlays. */
  reads: number;
  /** Entries returned by scans. */
  entriesIterated: number;
  /** `set` and `delete` calls of write sessions. */
  writes: number;
  /** Write sessions finished. */
  sessionsFinished: number;
  /** Commits written, rollbacks written, and commits refused (stale, forks, order). */
  commits: number;
  rollbacks: number;
  refusedCommits: number;
  /** Proofs built by readers (`prove`, `proveMany`, `proveRange`), and session witnesses built. */
  proofs: number;
  witnesses: number;
  /** The value tree's page cache and I/O (zero on a read-only handle's merkle side). */
  values: PageMetrics;
  /** The merkle page store's bucket cache and I/O. */
  merkle: PageMetrics;
  /** Past states whose merkle pages were rebuilt from reverse deltas, and pages so built. */
  deltaPageBuilds: number;
  deltaPagesBuilt: number;
  /** Snapshots not yet released. */
  openSnapshots: number;
  /** Versions pinned by snapshots, sessions and overlays, and commits kept in memory for them. */
  pinnedVersions: number;
  retainedCommits: number;
  /** Commits `rollback` can undo now. */
  rollbackDepth: number;
  /** Checkpoints published since open (the store's pages written out; README "Durability and the files on disk"). */
  checkpoints: number;
  /** Snapshots of the rollback log written since open (it compacts itself every window). */
  rollbackLogSnapshots: number;
  /**
   * Why this open started the rollback log over instead of keeping the one on disk, or null:
   * `new` (no log yet), `missing` (both files gone), `behind-store` (the log ends before the
   * store's last commit: committed without it, or its tail cut), `damaged` (its last events do
   * not decode), `root-mismatch`. All but `new` also emit a process warning
   * `BMT_ROLLBACK_LOG_RESET`; damage a crash cannot explain is `CORRUPT` instead.
   */
  rollbackLogReset: string | null;
  /** Timings and work of the last commit or rollback, or null. */
  lastCommit: CommitMetrics | null;
}

/** Counters of a database handle since it opened: the counting fields of `DbMetrics`. */
export type DbCounters = Pick<
  DbMetrics,
  | "reads"
  | "entriesIterated"
  | "writes"
  | "sessionsFinished"
  | "commits"
  | "rollbacks"
  | "refusedCommits"
  | "proofs"
  | "witnesses"
  | "deltaPageBuilds"
  | "deltaPagesBuilt"
>;
