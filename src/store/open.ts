// Opening a store's directory: what it holds (a database, nothing, or something to refuse),
// the creation of a new database under a marker, the upgrade of an old redo log, and the
// cleanup when an open fails.
import { dirname, join } from "node:path";
import { encodeTreeMeta, type KvTree, openKv } from "../kv/index.ts";
import { closeQuietly, guardFileSystem, type KvFile, nodePageStoreFileSystem, type PageStoreFileSystem } from "../io/index.ts";
import { EMPTY_TOP, PageStore, tableFileName } from "../merkle/index.ts";
import { StoreError } from "./errors.ts";
import { DirLock, isLockFileName } from "./lock.ts";
import { type MetaRecord, readMetaRecord, writeMetaRecord } from "./meta-record.ts";
import { optionsProblem, STORE_OPTION_RULES } from "./options.ts";
import { ReaderTable } from "./readers.ts";
import { openRedoLog, REDO_FILE_NAMES, type RedoLog, type RedoRecord } from "./redo-log.ts";
import { DEFAULT_CHECKPOINT_BYTES, type StoreOptions } from "./store-options.ts";

/** What `openStoreFiles` hands to the store it builds. */
export interface OpenedFiles {
  readonly metaFile: KvFile;
  readonly values: KvTree;
  readonly pages: PageStore;
  readonly redo: RedoLog;
  readonly lock: DirLock | null;
  /** Readers of older checkpoints in other processes (null: an in-memory file system). */
  readonly readers: ReaderTable | null;
  /** The commit point found (or written, for a new database). */
  readonly rec: MetaRecord;
  /** Redo records after it, to replay. */
  readonly logged: RedoRecord[];
  /** Set when this open created the database: what `removeMade` takes to undo it. */
  readonly made: string[] | string | undefined;
}

/** Marks a directory whose database is being created (written first, removed last). */
const CREATING = "CREATING";
/** Names a database directory may hold; any of them means a database is (or was) there. */
const DATABASE_NAMES = ["meta", "values", "redo", ...REDO_FILE_NAMES, "merkle", "readers", "rollback.0", "rollback.1"];

/** What `Store.open` found in a directory before touching it. */
export interface DirState {
  /** `database`: a meta file (its record is checked next); `new`: nothing there yet. */
  kind: "database" | "new";
  /** The creation marker of an unfinished creation is there. */
  marker: boolean;
  /** The directory's names (null: the file system cannot list; see `PageStoreFileSystem.list`). */
  names: string[] | null;
  /** The directory does not exist. */
  missing: boolean;
  /** When missing: the outermost directory creating it makes (it, or a missing parent). */
  top?: string;
}

/**
 * Decides what `path` holds, changing nothing. A database is created only where there is
 * nothing (a missing or empty directory, or one holding only a lock file) or where the marker
 * of an unfinished creation is. Database files without a meta file are `CORRUPT` (the commit
 * point is gone, and the data must not be taken for empty); other files are `NOT_EMPTY`.
 */
export function inspectDir(fs: PageStoreFileSystem, path: string): DirState {
  if (fs.list === undefined) {
    // No listing (the in-memory file system): an absent file reads as an empty one.
    const size = (name: string) => {
      const f = fs.open(join(path, name));
      let n: number;
      try {
        n = f.size();
      } catch (e) {
        closeQuietly(f);
        throw e;
      }
      f.close();
      return n;
    };
    const marker = size(CREATING) > 0;
    if (size("meta") > 0) return { kind: "database", marker, names: null, missing: false };
    const found = ["values", ...REDO_FILE_NAMES].filter((n) => size(n) > 0);
    if (!marker && found.length > 0)
      throw new StoreError("CORRUPT", `${join(path, "meta")} is missing beside ${found.join(", ")}: the database's commit point is gone`);
    return { kind: "new", marker, names: null, missing: false };
  }
  let names: string[] | null;
  try {
    names = fs.list(path);
  } catch (e) {
    // A path through a regular file: not a directory to inspect; creating it fails (mkdir).
    if ((e as { code?: unknown }).code === "ENOTDIR") return { kind: "new", marker: false, names: [], missing: true, top: path };
    throw e;
  }
  if (names === null) {
    let top = path;
    for (let up = dirname(top); up !== top && fs.list(up) === null; up = dirname(up)) top = up;
    return { kind: "new", marker: false, names: [], missing: true, top };
  }
  const marker = names.includes(CREATING);
  if (names.includes("meta")) return { kind: "database", marker, names, missing: false };
  if (!marker) {
    const found = names.filter((n) => DATABASE_NAMES.includes(n));
    if (found.length > 0) throw new StoreError("CORRUPT", `${join(path, "meta")} is missing beside ${found.join(", ")}: the database's commit point is gone`);
    const other = names.filter((n) => !isLockFileName(n));
    if (other.length > 0) {
      throw new StoreError(
        "NOT_EMPTY",
        `${path} holds files that are not a bmt database (${other.slice(0, 3).join(", ")}${other.length > 3 ? ", ..." : ""}); a database is created only in a missing or empty directory`,
      );
    }
  }
  return { kind: "new", marker, names, missing: false };
}

/**
 * Throws `CORRUPT` when a file the commit point `rec` needs is missing: opening it would
 * create it, and an empty stand-in reads as damage further on, or as nothing at all.
 */
export function checkFilesPresent(fs: PageStoreFileSystem, path: string, dir: DirState, rec: MetaRecord): void {
  if (dir.names === null || fs.list === undefined) return;
  const table = tableFileName(rec.table.gen);
  for (const [file, present] of [
    [join(path, "values"), dir.names.includes("values")],
    ...REDO_FILE_NAMES.map((n) => [join(path, n), (dir.names as string[]).includes(n)] as const),
    [join(path, "merkle", table), (fs.list(join(path, "merkle")) ?? []).includes(table)],
  ] as const) {
    if (!present) throw new StoreError("CORRUPT", `${file} is missing: the commit point in ${join(path, "meta")} (seq ${rec.seq}) needs it`);
  }
}

/**
 * Closes what `openStoreFiles` opened, the lock last, each whatever the others do; returns the
 * first failure, or null.
 */
export function closeOpened(files: OpenedFiles): unknown {
  let failure: unknown = null;
  for (const f of [{ close: () => files.readers?.close() }, files.pages, files.values, files.redo, files.metaFile, { close: () => files.lock?.release() }]) {
    try {
      f.close();
    } catch (e) {
      failure ??= e;
    }
  }
  return failure;
}

/** Removes `path` and its parents up to `top` while each is empty (best effort). */
function removeEmptyDirs(fs: PageStoreFileSystem, path: string, top: string): void {
  if (fs.removeTree === undefined || fs.list === undefined) return;
  try {
    for (let d = path; ; d = dirname(d)) {
      if ((fs.list(d) ?? [""]).length !== 0) return;
      fs.removeTree(d);
      if (d === top || d === dirname(d)) return;
    }
  } catch {
    // Best effort: the error that failed the open is the one to report.
  }
}

/**
 * Removes what a failed creation made in `path`: the directories it made (`before` is then
 * the outermost of them), else every name not in the list `before`, the creation marker last
 * (so that a removal cut short leaves a directory the next open still recognises).
 */
export function removeMade(fs: PageStoreFileSystem, path: string, before: string[] | string): void {
  if (fs.removeTree === undefined || fs.list === undefined) return;
  try {
    if (typeof before === "string") {
      fs.removeTree(before);
      return;
    }
    // The lock's own files are the lock's to remove (a dead generation must stay: see lock.ts).
    const made = (fs.list(path) ?? []).filter((n) => !before.includes(n) && !isLockFileName(n));
    for (const n of made.filter((n) => n !== CREATING)) fs.removeTree(join(path, n));
    if (made.includes(CREATING)) fs.remove(join(path, CREATING));
  } catch {
    // Best effort: the error that failed the open is the one to report.
  }
}

/**
 * Opens (or creates) the database files in `path` under the writer lock and hands them to
 * `make`, which builds the store and replays its redo log; anything that fails, `make`
 * included, releases everything opened and removes what a creation made.
 */
export function openStoreFiles<T>(path: string, options: StoreOptions, make: (files: OpenedFiles) => T): T {
  if (typeof path !== "string" || path.length === 0) throw new StoreError("BAD_ARGUMENT", "path must be a non-empty string");
  const bad = optionsProblem(options, STORE_OPTION_RULES, "Store.open");
  if (bad !== null) throw new StoreError("BAD_ARGUMENT", bad);
  const fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
  // The value tree's dirty pages are written at checkpoints, behind the caller. Its own bound
  // only guards memory: at the 64 MiB kv default it spilled mid-commit, inline, every second
  // 10k-update commit on a large store. A checkpoint comes at about the merkle pages' bound,
  // and a commit dirties about as many value pages as merkle pages, so 4x leaves room.
  const valueDirtyBytes = Math.max(DEFAULT_CHECKPOINT_BYTES, 4 * (options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES));
  // Look before touching anything: a refused open leaves the directory as it was.
  const before = inspectDir(fs, path);
  if (before.kind !== "database" && options.create === false) throw new StoreError("NOT_FOUND", `no database at ${path}`);
  fs.mkdir(path);
  let lock: DirLock | null = null;
  const opened: { close(): void }[] = [];
  let creating = false;
  try {
    lock = options.lock === false ? null : DirLock.acquire(path);
    // Again under the lock: another process may have created the database meanwhile.
    const dir = inspectDir(fs, path);
    if (dir.kind !== "database" && options.create === false) throw new StoreError("NOT_FOUND", `no database at ${path}`);
    const metaPath = join(path, "meta");
    // The reader table is made once the directory is known to be this database's (or a new
    // one): before the WAL replay and the free list's reuse, since readers of older
    // checkpoints are past their bound (a reopen applies whatever a reader held back).
    let readers: ReaderTable | null = null;
    const openReaders = (seq: number): void => {
      if (fs !== nodePageStoreFileSystem) return;
      readers = ReaderTable.create(path, seq);
      opened.push(readers);
    };
    const valuesPath = join(path, "values");
    const merkleDir = join(path, "merkle");
    const markerPath = join(path, CREATING);
    let rec: MetaRecord | null = null;
    let metaFile: KvFile | null = null;
    if (dir.kind === "database" || dir.marker) {
      metaFile = fs.open(metaPath);
      opened.push(metaFile);
      rec = readMetaRecord(metaFile);
      if (rec === null && !dir.marker) {
        throw new StoreError(
          "CORRUPT",
          `${metaPath}: neither commit point slot (offsets 0 and 4096 of ${metaFile.size()} bytes) holds a valid record, beside the database's other files; refusing to take it for a new one`,
        );
      }
    }
    let values: KvTree;
    let pages: PageStore;
    let redo: RedoLog;
    let logged: RedoRecord[] = [];
    if (rec === null) {
      // A new database, or one whose creation did not reach its first commit point (the
      // marker says so): nothing in it was ever acknowledged. The marker is durable before
      // any other file is made and removed only after the commit point, so a crash during
      // creation is never mistaken for damage, nor damage for an unfinished creation.
      creating = true;
      if (!dir.marker) {
        const marker = fs.open(markerPath);
        try {
          marker.write(new TextEncoder().encode("bmt: database being created\n"), 0);
          marker.sync();
        } catch (e) {
          closeQuietly(marker);
          throw e;
        }
        marker.close();
        fs.syncDir(path);
      }
      openReaders(0);
      if (metaFile === null) {
        metaFile = fs.open(metaPath);
        opened.push(metaFile);
      }
      metaFile.truncate(0);
      const valuesFile = fs.open(valuesPath);
      try {
        valuesFile.truncate(0);
        valuesFile.sync();
      } catch (e) {
        closeQuietly(valuesFile);
        throw e;
      }
      valuesFile.close();
      const log = openRedoLog(fs, path);
      opened.push(log);
      redo = log;
      log.create(0);
      values = openKv(valuesPath, { fs, cacheBytes: options.valueCacheBytes, maxDirtyBytes: valueDirtyBytes });
      opened.push(values);
      pages = PageStore.open(merkleDir, {
        fs,
        cacheBytes: options.merkleCacheBytes,
        initialBuckets: options.merkleInitialBuckets,
        writeBehind: options.writeBehind,
      });
      opened.push(pages);
      rec = { seq: 0, top: EMPTY_TOP, kv: values.durableMeta, table: pages.table };
      writeMetaRecord(metaFile, rec);
      fs.syncDir(path);
    } else {
      checkFilesPresent(fs, path, dir, rec);
      redo = openRedoLog(fs, path);
      opened.push(redo);
      // The log is read whole before anything is opened for writing, so that damage there
      // is refused with the directory as it was.
      logged = redo.replay(rec.seq);
      openReaders(rec.seq);
      values = openKv(valuesPath, { fs, cacheBytes: options.valueCacheBytes, maxDirtyBytes: valueDirtyBytes, meta: encodeTreeMeta(rec.kv) });
      opened.push(values);
      pages = PageStore.open(merkleDir, {
        fs,
        cacheBytes: options.merkleCacheBytes,
        committedSeq: rec.seq,
        table: rec.table,
        writeBehind: options.writeBehind,
      });
      opened.push(pages);
    }
    const made = creating ? (before.missing ? (before.top ?? path) : (before.names ?? [])) : undefined;
    const result = make({ metaFile: metaFile as KvFile, values, pages, redo, lock, readers, rec, logged, made });
    if (dir.marker || creating) {
      // The commit point is durable: the database exists.
      fs.remove(markerPath);
      fs.syncDir(path);
    }
    return result;
  } catch (e) {
    // Each file once, by its owner, and all of them whatever fails: the error to report is `e`.
    for (const f of [...opened.reverse(), { close: () => lock?.release() }]) closeQuietly(f);
    if (creating) removeMade(fs, path, before.missing ? (before.top ?? path) : (before.names ?? []));
    // Not creating (the lock refused us, say): another process may have made a database here
    // since we looked, so only directories we made that are still empty go.
    else if (before.missing) removeEmptyDirs(fs, path, before.top ?? path);
    throw e;
  }
}
