export { StoreError, type StoreErrorCode } from "./errors.ts";
export { type CommitStats, sortBatch, Store, type StoreOptions } from "./store.ts";
