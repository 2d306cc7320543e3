// `open()`'s options (`DbOptions`), and their checks: type and range of each, and no unknown
// names (see src/store/options.ts for why).
import type { PageStoreFileSystem } from "../io/index.ts";
import { BOOLEAN_RULE, BUCKETS_RULE, BYTES_RULE, FS_RULE, type OptionRule, optionsProblem } from "../store/options.ts";
import { DbError } from "./errors.ts";

/** Options of `open`. */
export interface DbOptions {
  /**
   * Commits kept for `rollback` and `beginReadAt` (default 100). 0 keeps no rollback log (and
   * spares its write and sync per commit).
   */
  rollbackWindow?: number;
  /** Create the database when `path` holds none (default true); with false: `NOT_FOUND`. */
  create?: boolean;
  /**
   * Open for reading only, without the writer lock and without writing anything (default
   * false): snapshots of the current root only; see the README for what a concurrent writer
   * process means for such a handle.
   */
  readOnly?: boolean;
  /** Page cache budget of the value tree, bytes (default 256 MiB). */
  valueCacheBytes?: number;
  /** Page cache budget of the merkle pages, bytes (default 128 MiB). */
  merkleCacheBytes?: number;
  /** File system seam for tests that inject faults (default: the host's). */
  fs?: PageStoreFileSystem;
  /** Take the writer lock (default true; in-memory test file systems turn it off). */
  lock?: boolean;
  /** Buckets of a new database's merkle page table (default 4096; it grows as needed). */
  merkleInitialBuckets?: number;
}

/** Default of `DbOptions.rollbackWindow`. */
export const DEFAULT_ROLLBACK_WINDOW = 100;

/** Largest `rollbackWindow`: the undo chain is kept in memory. */
export const MAX_ROLLBACK_WINDOW = 1_000_000;

/** The rules of `DbOptions`, by name. */
export const DB_OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  rollbackWindow: { kind: "integer", min: 0, max: MAX_ROLLBACK_WINDOW },
  create: BOOLEAN_RULE,
  readOnly: BOOLEAN_RULE,
  valueCacheBytes: BYTES_RULE,
  merkleCacheBytes: BYTES_RULE,
  fs: FS_RULE,
  lock: BOOLEAN_RULE,
  merkleInitialBuckets: BUCKETS_RULE,
};

/** The rules of `ImportOptions`. */
export const IMPORT_OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  expectRoot: { kind: "bytes", length: 32 },
  chunk: { kind: "integer", min: 1, max: 2 ** 32 },
  onProgress: { kind: "function" },
  valueCacheBytes: BYTES_RULE,
  merkleCacheBytes: BYTES_RULE,
};

/** Throws `BAD_ARGUMENT` naming the option unless `options` are `importEntries`' options. */
export function checkImportOptions(options: unknown): void {
  const bad = optionsProblem(options, IMPORT_OPTION_RULES, "importEntries");
  if (bad !== null) throw new DbError("BAD_ARGUMENT", bad);
}

/** The rules of `WarpSyncOptions` (`warpSync` adds `onProgress`). */
export const WARP_SYNC_OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  maxSize: { kind: "integer", min: 0, max: 0xffffffff },
  commitEvery: { kind: "integer", min: 1, max: 2 ** 52 },
  valueCacheBytes: BYTES_RULE,
  merkleCacheBytes: BYTES_RULE,
};

/** Throws `BAD_ARGUMENT` naming the option unless `options` are a warp sync's options. */
export function checkWarpSyncOptions(options: unknown, what: string, withProgress: boolean): void {
  const rules = withProgress ? { ...WARP_SYNC_OPTION_RULES, onProgress: { kind: "function" } as const } : WARP_SYNC_OPTION_RULES;
  const bad = optionsProblem(options, rules, what);
  if (bad !== null) throw new DbError("BAD_ARGUMENT", bad);
}

/** Throws `BAD_ARGUMENT` naming the option unless `options` are `open()`'s options. */
export function checkDbOptions(options: unknown): void {
  const bad = optionsProblem(options, DB_OPTION_RULES, "open");
  if (bad !== null) throw new DbError("BAD_ARGUMENT", bad);
}
