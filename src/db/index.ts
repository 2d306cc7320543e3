// Public surface of the database layer.
export { DEFAULT_ROLLBACK_WINDOW, type DbOptions } from "./options.ts";
export { Db, open } from "./db.ts";
export type { CommitMetrics, DbMetrics, PageMetrics } from "./metrics.ts";
export { DbCorruptionError, DbError, type DbErrorCode } from "./errors.ts";
export { IoError, type IoOp } from "../io/index.ts";
export { type KeyRange, Snapshot, StateReadable } from "./readers.ts";
export { FinishedSession, Overlay, type SessionStats, type WitnessKeys, type WriteOptions, WriteSession } from "./session.ts";
export { importEntries, type ImportItem, type ImportOptions, type ImportResult } from "./import.ts";
export { type StateRequest, WarpSync, type WarpSyncOptions, warpSync } from "./warp-sync.ts";
export { type ForkLimits, type ForkStateInfo, ForkStates, type ForkStats } from "./forks.ts";
