// Public surface of the database layer.
export type { CommitMetrics } from "./metrics.ts";
export { DEFAULT_ROLLBACK_WINDOW, type DbOptions } from "./options.ts";
export { Db, type DbMetrics, open, type PageMetrics } from "./db.ts";
export { DbCorruptionError, DbError, type DbErrorCode } from "./errors.ts";
export { IoError, type IoOp } from "../io/index.ts";
export { type KeyRange, Snapshot, StateReadable } from "./readers.ts";
export { FinishedSession, Overlay, type SessionStats, type WitnessKeys, type WriteOptions, WriteSession } from "./session.ts";
export { importEntries, type ImportOptions, type ImportResult } from "./import.ts";
export { type StateRequest, WarpSync, type WarpSyncOptions, warpSync } from "./warp-sync.ts";
export { type ForkLimits, type ForkStateInfo, ForkStates, type ForkStats } from "./forks.ts";
