// The store's options and the figures it reports per commit.
import type { PageStoreFileSystem } from "../io/index.ts";
import type { KvTree } from "../kv/index.ts";
import type { PageStoreStats, UpdateStats } from "../merkle/index.ts";
import { type CheckpointStats, NO_CHECKPOINT } from "./checkpoint.ts";
import type { PreparedCommit } from "./prepared.ts";

/** Default commits between checkpoints. */
export const DEFAULT_CHECKPOINT_EVERY = 32;
/** Default bound on the redo log plus dirty merkle pages before a checkpoint, bytes. */
export const DEFAULT_CHECKPOINT_BYTES = 64 * 2 ** 20;

/** Options of `Store.open`. */
export interface StoreOptions {
  /** Page cache budget of the value tree, bytes (default: the kv default, 256 MiB). */
  valueCacheBytes?: number;
  /** Page cache budget of the merkle pages, bytes (default: the page store's, 128 MiB). */
  merkleCacheBytes?: number;
  /** File system seam, for tests that inject faults (default: the host's). */
  fs?: PageStoreFileSystem;
  /** Take the writer lock (default true; in-memory test file systems turn it off). */
  lock?: boolean;
  /**
   * Buckets of a new database's merkle page table (a power of two >= 4; default the page
   * store's, 4096); the table grows as needed. Used at creation only; small values keep
   * in-memory test databases small.
   */
  merkleInitialBuckets?: number;
  /**
   * Commits between checkpoints (default 32; 1 writes every commit's pages out at once). More
   * means fewer, larger page writes and a longer replay at open after a crash.
   */
  checkpointEvery?: number;
  /**
   * Checkpoint early when the redo log plus the dirty merkle pages reach this many bytes
   * (default 64 MiB). The value tree may hold 4x this in changed pages before it writes some
   * out early (they are otherwise written at the checkpoint, behind the caller).
   */
  checkpointBytes?: number;
  /**
   * Create the database when `path` holds none (default true). With false, a path without a
   * database is refused with `NOT_FOUND` and nothing is created (checked on the host file
   * system).
   */
  create?: boolean;
  /**
   * Let a worker thread write a checkpoint's pages (default true): the value pages while the
   * page WAL is built (both are synced before the commit point), and the merkle pages in
   * place while commits go on (the WAL holds them). False writes everything inline.
   */
  writeBehind?: boolean;
}

/** Time and work of one commit. */
export interface CommitStats extends UpdateStats {
  changes: number;
  /** Milliseconds per phase: the trie update, the value tree's in-memory apply, the redo log's append and sync. */
  updateMs: number;
  valuesMs: number;
  logMs: number;
  /**
   * True when this commit ran a checkpoint; its total and phase times follow (0 otherwise). A
   * commit applied behind (`commitPreparedAsync` with `applyBehind`) begins the checkpoint it
   * makes due only once it is in memory, so it never reports one: `StoreStats.checkpoints`
   * counts them.
   */
  checkpoint: boolean;
  /** The checkpoint runs in the background (`commitPrepared` with `background`): its phases are 0 here; see `Store.lastCheckpoint`. */
  checkpointBehind: boolean;
  checkpointMs: number;
  /**
   * Checkpoint phases: value pages handed to be written, page WAL built and handed on (or, with
   * `writeBehind: false`, written and synced), then meta record and in-place apply (0 here when
   * the checkpoint finishes with the next commit).
   */
  valuesWriteMs: number;
  merkleWalMs: number;
  metaMs: number;
  applyMs: number;
  /** Milliseconds this commit spent finishing the previous commit's checkpoint (see `Store`). */
  settleMs: number;
  /**
   * Held back: logged while a checkpoint ran in the background: durable, and applied to the
   * store's memory after that checkpoint is published (`valuesMs` is then 0; see
   * `Store.commitPreparedAsync`).
   */
  duringCheckpoint: boolean;
}

/** Counters of the page store, the value tree and the redo log (`Store.stats`). */
export interface StoreStats {
  merkle: PageStoreStats;
  values: ReturnType<KvTree["stats"]>;
  redo: { fsyncs: number; bytesWritten: number; records: number; bytes: number };
  /** Checkpoints published since open. */
  checkpoints: number;
  dirtyPages: number;
}

/** What `Store.lastCommit` reports: the update's figures, the commit's phases, its checkpoint's (`cp`). */
export function commitStats(
  prepared: PreparedCommit,
  cp: CheckpointStats,
  ms: { settleMs: number; valuesMs: number; logMs: number; checkpointMs: number },
  duringCheckpoint = false,
): CommitStats {
  return {
    ...prepared.update.stats,
    changes: prepared.changes.length,
    updateMs: prepared.updateMs,
    valuesMs: ms.valuesMs,
    logMs: ms.logMs,
    checkpoint: cp !== NO_CHECKPOINT,
    checkpointBehind: cp.background,
    checkpointMs: cp !== NO_CHECKPOINT ? ms.checkpointMs : 0,
    valuesWriteMs: cp.valuesWriteMs,
    merkleWalMs: cp.merkleWalMs,
    metaMs: cp.metaMs,
    applyMs: cp.applyMs,
    settleMs: ms.settleMs,
    duringCheckpoint,
  };
}
