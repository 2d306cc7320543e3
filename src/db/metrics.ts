// What a database handle counts and times: its counters since open (`DbCounters`) and the
// figures of its last commit or rollback (`CommitMetrics`).
import type { CommitStats } from "../store/index.ts";
import type { DeltaCounters } from "./state.ts";

/** Timings and work of one commit or rollback. */
export interface CommitMetrics {
  readonly kind: "commit" | "rollback";
  /** Version (store sequence number) it made. */
  readonly seq: number;
  /** Keys changed. */
  readonly changes: number;
  /** Milliseconds waiting in the commit queue. */
  readonly queuedMs: number;
  /** Milliseconds waiting (without blocking the thread) for the last commit's background checkpoint. */
  readonly checkpointWaitMs: number;
  /**
   * That checkpoint, when it finished during the wait, else null: merkle pages written, slices
   * of the caller's thread and the longest, milliseconds from its start to durable, and of them
   * on the caller's thread handing over the value pages and building the page WAL.
   */
  readonly checkpointBehind: {
    readonly pages: number;
    readonly slices: number;
    readonly longestSliceMs: number;
    readonly wallMs: number;
    readonly valuesWriteMs: number;
    readonly merkleWalMs: number;
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

/** Counters of a database handle since it opened (see `DbMetrics` for their meaning). */
export interface DbCounters extends DeltaCounters {
  /** Point reads of snapshots, sessions and overlays. */
  reads: number;
  /** Entries returned by scans. */
  entriesIterated: number;
  /** `set` and `delete` calls. */
  writes: number;
  /** Sessions finished. */
  sessionsFinished: number;
  /** Commits and rollbacks written, and commits refused. */
  commits: number;
  rollbacks: number;
  refusedCommits: number;
  /** Proofs built (`prove`, `proveMany`, `proveRange`) and witnesses built. */
  proofs: number;
  witnesses: number;
}
