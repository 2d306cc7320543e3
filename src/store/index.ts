export { StoreError, type StoreErrorCode } from "./errors.ts";
export { type CommitStats, type PreparedCommit, sortBatch, Store, type StoreLoad, type StoreOptions } from "./store.ts";
export { checkBatch, type LoadChunk, type LoadEntry } from "./bulk-load.ts";
export type { CheckpointStats } from "./checkpoint.ts";
