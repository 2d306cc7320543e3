// The store: values (kv B+tree) and the trie's interior (merkle pages) under one commit point.
//
// A commit, in order:
//   1. the trie update is computed against the current state (pure: nothing changes on error);
//   2. the value tree applies the batch in memory (copy-on-write pages, not yet written) and the
//      update's merkle pages join the dirty set;
//   3. the batch and the new root are appended to the redo log and synced: the commit is
//      durable, and acknowledged.
// Every `checkpointEvery` commits (or when the log and dirty pages pass `checkpointBytes`) a
// checkpoint writes the state out:
//   4. the value tree writes its new pages and syncs (on a worker thread);
//   5. the page store builds its WAL of the dirty pages (or a grown table), and the worker
//      writes and syncs it; a commit that began the checkpoint returns here, and the next
//      commit (or `checkpoint`, or `close`) waits for 4 and 5 before its own writes;
//   6. the meta record (seq, root, value-tree meta, page table) is written and synced: the
//      checkpoint is the new base;
//   7. the page store applies its WAL in place (on a worker thread, while commits go on), the
//      value tree may reuse the pages it freed, and the redo log starts over.
// Reopening starts from the meta record (a crash before 6 leaves the previous one in force, and
// nothing it names was overwritten: copy-on-write values, WAL not yet applied; a crash after 6
// is repaired by replaying the WAL) and replays the redo records after its seq through the same
// update, checking each root. A checkpoint writes a page once however many commits changed it,
// and a commit writes ~70 bytes per change instead of the 4 KiB value page and merkle page each
// change dirties; that is why commits are logged and pages checkpointed.
//
// Directory layout: `meta` (the record), `values` (the B+tree), `redo` (the log), `merkle/`
// (page table and WAL), `lock.<n>` and `lock-*.fifo` (the writer lock, see lock.ts).
import { dirname, join } from "node:path";
import { type BatchEntry, encodeTreeMeta, type KvReader, type KvTree, MAX_VALUE_SIZE, openKv, type RangeOptions } from "../kv/index.ts";
import { closeQuietly, guardFileSystem, type KvFile, WriteBehind } from "../io/index.ts";
import {
  type Change,
  EMPTY_TOP,
  type EntryVisitor,
  MERKLE_PAGE_BYTES,
  type MerkleTop,
  pageIdKey,
  PageStore,
  type PageStoreStats,
  type PageWrite,
  type StateReader,
  tableFileName,
  type UpdateResult,
  type UpdateStats,
  updateTrie,
} from "../merkle/index.ts";
import { nodePageStoreFileSystem, type PageStoreFileSystem } from "../io/index.ts";
import { checkKey, compareKeys, EMPTY_NODE, sortByKey, TrieError } from "../trie/index.ts";
import { StoreError } from "./errors.ts";
import { checkIterable, checkPageId, checkPrefixBits, checkScanLimit, checkScanRange, checkStoreKey } from "./args.ts";
import { DirLock, isLockFileName } from "./lock.ts";
import { optionsProblem, STORE_OPTION_RULES } from "./options.ts";
import { META_VERSION_NO_REDO_HEADER, type MetaRecord, readMetaRecord, writeMetaRecord } from "./meta-record.ts";
import { ReaderTable } from "./readers.ts";
import { RedoLog, type RedoRecord } from "./redo-log.ts";

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
  /** True when this commit ran a checkpoint; its total and phase times follow (0 otherwise). */
  checkpoint: boolean;
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
}

/** Time and work of one checkpoint. */
interface CheckpointStats {
  valuesWriteMs: number;
  merkleWalMs: number;
  metaMs: number;
  applyMs: number;
  pages: number;
}

const NO_CHECKPOINT: CheckpointStats = { valuesWriteMs: 0, merkleWalMs: 0, metaMs: 0, applyMs: 0, pages: 0 };

/** A checkpoint whose writes are in flight: what its commit point will record. */
interface PendingCheckpoint {
  seq: number;
  top: MerkleTop;
  kv: ReturnType<KvTree["prepareCommit"]>;
  table: ReturnType<PageStore["prepare"]>;
  stats: CheckpointStats;
}

/** A commit computed but not written: see `Store.prepare` and `Store.commitPrepared`. */
export interface PreparedCommit {
  /** The committed root the update was computed against. */
  readonly base: MerkleTop;
  /** The changes, sorted by key, keys distinct. */
  readonly changes: readonly Change[];
  /** The trie update of `changes` over `base`. */
  readonly update: UpdateResult;
  /** Milliseconds the update took (reported as `CommitStats.updateMs`). */
  readonly updateMs: number;
}

/** What the trie update reads of the old state, from a value tree (the store's, or a reader's). */
export function valuesStateReader(path: string, values: KvReader): StateReader {
  return {
    leafKeyAt: (prefix, depth) => {
      const key = values.seekPrefixKey(prefix, depth);
      if (!key) throw new StoreError("CORRUPT", `${path}: the trie has a leaf under a ${depth}-bit prefix that holds no key`);
      return key;
    },
    scanUnder: (prefix, depth, visit) => values.scanPrefix(prefix, depth, visit),
  };
}

/** Sorted copy of a batch; refuses repeated keys and malformed entries with typed errors. */
export function sortBatch(batch: Iterable<BatchEntry>): Change[] {
  checkIterable(batch, "batch");
  const out: Change[] = [];
  let i = 0;
  for (const entry of batch) {
    if (!Array.isArray(entry) || entry.length !== 2) throw new StoreError("BAD_ARGUMENT", `batch[${i}] must be a [key, value | null] pair`);
    checkStoreKey(entry[0], `batch[${i}] key`);
    const v = entry[1];
    if (v !== null && !(v instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `batch[${i}] value must be a Uint8Array or null`);
    if (v !== null && v.length > MAX_VALUE_SIZE)
      throw new StoreError("BAD_ARGUMENT", `batch[${i}] value is ${v.length} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
    out.push([entry[0], v]);
    i++;
  }
  sortByKey(out, (c) => c[0]);
  for (let j = 1; j < out.length; j++) {
    if (compareKeys(out[j - 1][0], out[j][0]) === 0) {
      throw new StoreError("BAD_ARGUMENT", `batch repeats key 0x${Buffer.from(out[j][0]).toString("hex")}`);
    }
  }
  return out;
}

/** A bulk load in progress: see `Store.beginLoad`. */
export interface StoreLoad {
  /** Adds entries, keys strictly increasing (also from one chunk to the next). */
  add(chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void;
  /** The root of everything added so far. */
  root(): Uint8Array;
  /** Entries added so far. */
  count(): number;
  /** Makes everything added so far durable as one commit (a checkpoint); returns the root. */
  commit(): Uint8Array;
  /** Makes the rest durable as one commit and ends the load; returns the root. */
  finish(): Uint8Array;
  /** Gives up: what was added since the last `commit` is dropped; close the store (it refuses other calls). */
  abort(): void;
}

/** Throws `BAD_ARGUMENT` unless `p` has the shape `prepare` returns (its content is checked later). */
function checkPrepared(p: unknown): asserts p is PreparedCommit {
  const q = p as Partial<PreparedCommit> | null;
  if (q === null || typeof q !== "object") throw new StoreError("BAD_ARGUMENT", "prepared must be what prepare() returned");
  const ok =
    q.base !== null &&
    typeof q.base === "object" &&
    q.base.root instanceof Uint8Array &&
    Array.isArray(q.changes) &&
    q.update !== null &&
    typeof q.update === "object" &&
    q.update.top !== null &&
    typeof q.update.top === "object" &&
    q.update.top.root instanceof Uint8Array &&
    Array.isArray(q.update.writes) &&
    typeof q.updateMs === "number";
  if (!ok) throw new StoreError("BAD_ARGUMENT", "prepared must be what prepare() returned ({ base, changes, update, updateMs })");
}

/** Marks a directory whose database is being created (written first, removed last). */
const CREATING = "CREATING";
/** Names a database directory may hold; any of them means a database is (or was) there. */
const DATABASE_NAMES = ["meta", "values", "redo", "merkle", "readers", "rollback.0", "rollback.1"];

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
    const found = ["values", "redo"].filter((n) => size(n) > 0);
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
    [join(path, "redo"), dir.names.includes("redo")],
    [join(path, "merkle", table), (fs.list(join(path, "merkle")) ?? []).includes(table)],
  ] as const) {
    if (!present) throw new StoreError("CORRUPT", `${file} is missing: the commit point in ${join(path, "meta")} (seq ${rec.seq}) needs it`);
  }
}

/**
 * Upgrades a format-2 database (a redo log without a header) whose log holds no commit after
 * its commit point: a fresh log with the header, then the same record in format 3. Each step
 * is synced, and a crash between them leaves a format-2 record over a log this repeats. A log
 * still holding commits is refused (`VERSION`), changing nothing: the build that wrote it must
 * close it first.
 */
function upgradeRedoLog(path: string, metaFile: KvFile, redo: RedoLog, rec: MetaRecord): MetaRecord {
  if (RedoLog.legacyRecordAt(redo.file, rec.seq + 1)) {
    throw new StoreError(
      "VERSION",
      `${path}: a format-${META_VERSION_NO_REDO_HEADER} database with commits in its redo log since the last checkpoint; open and close it with the build that wrote it, then open it here to upgrade it`,
    );
  }
  RedoLog.create(redo.file, rec.seq);
  const upgraded = { seq: rec.seq, top: rec.top, kv: rec.kv, table: rec.table };
  writeMetaRecord(metaFile, upgraded);
  return upgraded;
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
function removeMade(fs: PageStoreFileSystem, path: string, before: string[] | string): void {
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

/** A durable GP state on disk with its root, updated incrementally per commit. */
export class Store {
  #top: MerkleTop;
  #seq: number;
  #closed = false;
  #failed: unknown = null;
  #lastCommit: CommitStats | null = null;
  readonly #fs: PageStoreFileSystem;
  /**
   * Set when this handle's open created the database: the directory's names before it, or the
   * outermost directory the open made. `abandon` removes what the open made.
   */
  #made: string[] | string | undefined = undefined;
  /**
   * Merkle pages changed since the last checkpoint, by id: the latest image, or null (deleted).
   * `owned` marks images only this store holds: the copies its own `commit` had the update
   * make. The next such commit may change them in place instead of copying them again (most
   * pages a commit writes were written by an earlier one since the checkpoint). Images a
   * caller's `PreparedCommit` brought in may be shared with it, so they are never owned.
   */
  #dirty = new Map<number | string, { id: Uint8Array; page: Uint8Array | null; owned: boolean }>();
  #checkpointSeq: number;
  #checkpoints = 0;
  /**
   * A checkpoint begun by a commit and not yet finished: its value pages and page WAL are being
   * written and synced by the worker while the caller goes on (the next commit's trie update
   * reads the state meanwhile; its writes wait for the finish). Memory stays the truth until then.
   */
  #pending: PendingCheckpoint | null = null;
  /** Writes the value tree's checkpoint pages behind (null: inline). */
  readonly #behind: WriteBehind | null;
  /** Readers of older checkpoints in other processes (null: an in-memory file system). */
  #readers: ReaderTable | null = null;
  /**
   * A checkpoint whose meta record is written but whose page WAL is not applied yet (a live
   * reader reads the checkpoint before it): its merkle pages, served from here meanwhile.
   */
  #unapplied: { seq: number; pages: Map<number | string, { id: Uint8Array; page: Uint8Array | null; owned: boolean }> } | null = null;
  readonly #every: number;
  readonly #maxBytes: number;
  /** A bulk load is in progress (see `beginLoad`). */
  #loading = false;
  /** Set while `commit` runs its own update: owned images may change in place. */
  #inPlace = false;
  /** An image changed in place since `#inPlace` was set (a failure then leaves memory damaged). */
  #changedInPlace = false;
  /** The merkle pages of the current state: dirty ones first, then the page store's. */
  readonly #pageReader = {
    get: (id: Uint8Array) => this.#page(id),
    inPlace: (id: Uint8Array, page: Uint8Array) => {
      if (!this.#inPlace) return false;
      const d = this.#dirty.get(pageIdKey(id));
      if (d === undefined || !d.owned || d.page !== page) return false;
      this.#changedInPlace = true;
      return true;
    },
  };

  private constructor(
    readonly path: string,
    private readonly metaFile: ReturnType<PageStoreFileSystem["open"]>,
    private readonly values: KvTree,
    private readonly pages: PageStore,
    private readonly redo: RedoLog,
    private readonly lock: DirLock | null,
    rec: MetaRecord,
    options: StoreOptions,
  ) {
    if (rec === null || typeof rec !== "object" || options === null || typeof options !== "object")
      throw new StoreError("BAD_ARGUMENT", "stores come from Store.open, not from new");
    this.#top = rec.top;
    this.#seq = rec.seq;
    this.#checkpointSeq = rec.seq;
    this.#every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.#behind = options.writeBehind === false ? null : new WriteBehind();
    this.#maxBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    this.#fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
  }

  /**
   * Opens the store in directory `path`. A missing or empty directory gets a new database
   * (unless `create: false`); see `inspectDir` for what else is refused, and why.
   */
  static open(path: string, options: StoreOptions = {}): Store {
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
        const redoFile = fs.open(join(path, "redo"));
        opened.push(redoFile); // closed as the log's file, once
        redo = RedoLog.create(redoFile, 0);
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
        redo = new RedoLog(fs.open(join(path, "redo")));
        opened.push(redo);
        if (rec.version === META_VERSION_NO_REDO_HEADER) rec = upgradeRedoLog(path, metaFile as KvFile, redo, rec);
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
      const store = new Store(path, metaFile as KvFile, values, pages, redo, lock, rec, options);
      store.#readers = readers;
      store.#replay(logged);
      if (dir.marker || creating) {
        // The commit point is durable: the database exists.
        fs.remove(markerPath);
        fs.syncDir(path);
      }
      if (creating) store.#made = before.missing ? (before.top ?? path) : (before.names ?? []);
      return store;
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

  #live(): void {
    if (this.#closed) throw new StoreError("CLOSED", `store ${this.path} is closed`);
    if (this.#failed) throw new StoreError("FAILED", `store ${this.path} failed during a commit; reopen it`, { cause: this.#failed });
  }

  /** The committed state root (GP merklization). */
  get root(): Uint8Array {
    return this.#top.root.slice();
  }

  /** The committed root node's kind (0 empty, 1 leaf, 2 branch). */
  get top(): MerkleTop {
    return this.#top;
  }

  /** Number of commits since creation. */
  get seq(): number {
    return this.#seq;
  }

  /** Number of entries. */
  get size(): number {
    return this.values.stats().entries;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#live();
    checkStoreKey(key, "key");
    return this.values.get(key);
  }

  /**
   * Entries with start <= key < end (bounds optional) in key order (sync). A scan belongs to the
   * committed state it started on: it throws if a commit happens before it ends.
   */
  entries(range: RangeOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    // Checked at the call, not at the first `next()`.
    this.#live();
    checkScanRange(range, "range");
    return this.#entries(range);
  }

  *#entries(range: RangeOptions): Generator<[Uint8Array, Uint8Array]> {
    for (const [k, v] of this.values.entries(range)) yield [k, v];
  }

  /** The first key whose first `bits` bits equal those of `key`, or undefined. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    this.#live();
    checkStoreKey(key, "key");
    checkPrefixBits(bits, "bits");
    return this.values.seekPrefixKey(key, bits);
  }

  /**
   * Passes every entry whose key shares `key`'s first `bits` bits to `visit`, in key order, as
   * views valid during the call (see `EntryVisitor`), at most `limit` of them; the cheapest way
   * to read a small subtrie.
   */
  scanPrefix(key: Uint8Array, bits: number, visit: EntryVisitor, limit = Infinity): void {
    this.#live();
    checkStoreKey(key, "key");
    checkPrefixBits(bits, "bits");
    if (typeof visit !== "function") throw new StoreError("BAD_ARGUMENT", "visit must be a function");
    checkScanLimit(limit, "limit");
    this.values.scanPrefix(key, bits, visit, limit);
  }

  /**
   * The committed merkle page `id`, or undefined. The image is shared: do not modify it, and
   * copy what you need before the next commit, which may change it in place.
   */
  page(id: Uint8Array): Uint8Array | undefined {
    this.#live();
    checkPageId(id, "id");
    return this.#page(id);
  }

  #page(id: Uint8Array): Uint8Array | undefined {
    if (this.#dirty.size > 0) {
      const d = this.#dirty.get(pageIdKey(id));
      if (d !== undefined) return d.page ?? undefined;
    }
    return this.#stored(id);
  }

  // The page as of the last checkpoint: its unapplied WAL's, else the table's.
  #stored(id: Uint8Array): Uint8Array | undefined {
    if (this.#unapplied !== null) {
      const d = this.#unapplied.pages.get(pageIdKey(id));
      if (d !== undefined) return d.page ?? undefined;
    }
    return this.pages.get(id);
  }

  /**
   * Applies a batch (any order; value null deletes) as one durable commit and returns the new
   * root. Bad input throws a typed error and changes nothing.
   */
  commit(batch: Iterable<BatchEntry>): Uint8Array {
    this.#live();
    this.#notLoading();
    const changes = sortBatch(batch);
    // Nothing else can see this update's result, so the pages it writes stay this store's own,
    // and owned pages change in place (a checkpoint in flight writes copies it took when it
    // began). Input is checked before any page changes; a failure after one did is fatal.
    this.#inPlace = true;
    this.#changedInPlace = false;
    let prepared: PreparedCommit;
    try {
      prepared = this.#prepareSorted(changes);
    } catch (e) {
      if (this.#changedInPlace) this.#failed = e;
      throw e;
    } finally {
      this.#inPlace = false;
    }
    return this.#commitPrepared(prepared, true, this.#changedInPlace);
  }

  /**
   * Step 1 of `commit`: validates and sorts the batch and computes its trie update against the
   * committed state. Pure: nothing changes, whatever it throws.
   */
  prepare(batch: Iterable<BatchEntry>): PreparedCommit {
    this.#live();
    return this.#prepareSorted(sortBatch(batch));
  }

  #prepareSorted(changes: Change[]): PreparedCommit {
    const t0 = performance.now();
    let update: UpdateResult;
    try {
      update = updateTrie(this.#top, changes, this.#pageReader, valuesStateReader(this.path, this.values));
    } catch (e) {
      if (e instanceof TrieError) throw new StoreError("BAD_ARGUMENT", e.message, { cause: e });
      throw e;
    }
    return { base: this.#top, changes, update, updateMs: performance.now() - t0 };
  }

  /**
   * Step 2 of `commit`: writes a prepared commit durably and returns the new root. `prepared`
   * may come from `prepare` or from a layer above that ran `updateTrie` over a view equal to the
   * committed state; one computed against another root is refused with `BAD_ARGUMENT` (nothing
   * changes).
   */
  commitPrepared(prepared: PreparedCommit): Uint8Array {
    this.#live();
    this.#notLoading();
    checkPrepared(prepared);
    return this.#commitPrepared(prepared, false, false);
  }

  // `owned`: the update's page images are this store's alone. `damaged`: the update changed
  // owned images in place, so memory already holds part of this commit and any failure is fatal.
  #commitPrepared(prepared: PreparedCommit, owned: boolean, damaged: boolean): Uint8Array {
    const { changes, update } = prepared;
    if (prepared.base.kind !== this.#top.kind || Buffer.compare(prepared.base.root, this.#top.root) !== 0) {
      throw new StoreError("BAD_ARGUMENT", "prepared commit: computed against another root than the committed one");
    }
    for (let j = 1; j < changes.length; j++) {
      if (compareKeys(changes[j - 1][0], changes[j][0]) >= 0) throw new StoreError("BAD_ARGUMENT", `prepared commit: changes not sorted and distinct at ${j}`);
    }
    const t0 = performance.now();
    if (this.#pending !== null) this.#guard(() => this.#finishCheckpoint());
    const t1 = performance.now();
    const seq = this.#seq + 1;
    // The value tree validates the whole batch before changing anything.
    if (damaged) this.#guard(() => this.values.apply(changes));
    else this.values.apply(changes);
    let t2 = t1;
    let t3 = t1;
    let cp = NO_CHECKPOINT;
    try {
      t2 = performance.now();
      this.#stage(update.writes, owned);
      this.redo.append(seq, update.top, changes);
      this.#top = update.top;
      this.#seq = seq;
      t3 = performance.now();
      // A checkpoint held back for a reader: applied once no reader of the one before is left.
      if (this.#unapplied !== null && !(this.#readers?.liveBelow(this.#unapplied.seq) ?? false)) this.#applyDeferred();
      // The commit is durable: its checkpoint's writes may finish with the next commit.
      if (this.#due()) cp = this.#checkpoint(this.#behind !== null);
    } catch (e) {
      // Memory and disk may now disagree; the disk is at the old or the new commit, and a
      // reopen finds out which.
      this.#failed = e;
      throw e;
    }
    const t4 = performance.now();
    this.#lastCommit = {
      ...update.stats,
      changes: changes.length,
      updateMs: prepared.updateMs,
      valuesMs: t2 - t1,
      logMs: t3 - t2,
      checkpoint: cp !== NO_CHECKPOINT,
      checkpointMs: cp !== NO_CHECKPOINT ? t4 - t3 : 0,
      valuesWriteMs: cp.valuesWriteMs,
      merkleWalMs: cp.merkleWalMs,
      metaMs: cp.metaMs,
      applyMs: cp.applyMs,
      settleMs: t1 - t0,
    };
    return this.#top.root.slice();
  }

  /** The greatest key in the store, or undefined when it is empty (one prefix probe per bit). */
  lastKey(): Uint8Array | undefined {
    this.#live();
    if (this.values.stats().entries === 0) return undefined;
    const key = new Uint8Array(31);
    for (let d = 0; d < 248; d++) {
      key[d >> 3] |= 0x80 >> (d & 7);
      if (this.values.seekPrefixKey(key, d + 1) === undefined) key[d >> 3] &= ~(0x80 >> (d & 7));
    }
    return key;
  }

  #notLoading(): void {
    if (this.#loading) throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a bulk load is in progress`);
  }

  /**
   * Begins a bulk load into this store, which must hold nothing (`NOT_EMPTY` otherwise, and
   * nothing changes). Chunks of entries in strictly increasing key order, across chunks too, go
   * to the value tree and the merkle pages directly: no redo log, no commit per chunk (each
   * chunk's trie update builds its subtries from nothing and only meets the previous chunk on
   * the trie's right edge). `finish()` makes the whole load durable as one checkpoint, whose
   * meta record is its commit point; `abort()` (or a crash, or a failure) before that leaves
   * the store empty, as it was: the store must then be closed. With `append`, the store may
   * hold entries already, all before the first key added, and `commit()` makes what was added
   * so far durable mid-load (warp sync resumes from there).
   */
  beginLoad(options: { append?: boolean } = {}): StoreLoad {
    this.#live();
    if (this.#loading) throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a load is already in progress`);
    if (options.append !== true && (this.#top.kind !== EMPTY_NODE || this.values.stats().entries !== 0)) {
      throw new StoreError(
        "NOT_EMPTY",
        `store ${this.path} is not empty (root 0x${Buffer.from(this.#top.root).toString("hex")}); a bulk load needs an empty store`,
      );
    }
    if (this.#pending !== null) this.#guard(() => this.#finishCheckpoint());
    // Durable first: the load's commit points are checkpoints, which take all before them.
    if (this.#seq !== this.#checkpointSeq) this.#guard(() => this.#checkpoint(false));
    this.#loading = true;
    let last: Uint8Array | null = options.append === true ? (this.lastKey() ?? null) : null;
    let count = 0;
    let unsaved = 0;
    let done = false;
    const save = (): void => {
      if (unsaved === 0) return;
      this.#guard(() => {
        this.#seq++;
        this.#checkpoint(false);
      });
      unsaved = 0;
    };
    const live = (): void => {
      this.#live();
      if (done) throw new StoreError("BAD_ARGUMENT", `store ${this.path}: the load is over`);
    };
    return {
      add: (chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void => {
        live();
        if (!Array.isArray(chunk)) throw new StoreError("BAD_ARGUMENT", "chunk must be an array of [key, value] pairs");
        for (let i = 0; i < chunk.length; i++) {
          const e = chunk[i];
          if (!Array.isArray(e) || e.length !== 2) throw new StoreError("BAD_ARGUMENT", `entry ${count + i} must be a [key, value] pair`);
          checkStoreKey(e[0], `entry ${count + i} key`);
          if (!(e[1] instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `entry ${count + i} value must be a Uint8Array`);
          if (e[1].length > MAX_VALUE_SIZE)
            throw new StoreError("BAD_ARGUMENT", `entry ${count + i} value is ${e[1].length} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
          const prev = i > 0 ? chunk[i - 1][0] : last;
          if (prev !== null && compareKeys(prev, e[0]) >= 0) {
            throw new StoreError(
              "BAD_ARGUMENT",
              `entry ${count + i} key 0x${Buffer.from(e[0]).toString("hex")} is not after the previous key (a load takes sorted, distinct keys)`,
            );
          }
        }
        if (chunk.length === 0) return;
        // Checked above, so only damage or I/O can fail from here: the load is then over.
        this.#guard(() => {
          const update = updateTrie(this.#top, chunk, this.#pageReader, valuesStateReader(this.path, this.values));
          this.values.apply(chunk);
          this.#stage(update.writes, true);
          this.#top = update.top;
        });
        last = chunk[chunk.length - 1][0];
        count += chunk.length;
        unsaved += chunk.length;
      },
      commit: (): Uint8Array => {
        live();
        save();
        return this.#top.root.slice();
      },
      root: (): Uint8Array => this.#top.root.slice(),
      count: (): number => count,
      finish: (): Uint8Array => {
        live();
        save();
        done = true;
        this.#loading = false;
        return this.#top.root.slice();
      },
      abort: (): void => {
        if (done) return;
        done = true;
        this.#loading = false;
        // Memory now holds a state no commit point has: refuse everything until closed.
        if (unsaved > 0) this.#failed ??= new StoreError("BAD_ARGUMENT", `store ${this.path}: a bulk load was aborted`);
      },
    };
  }

  // Runs `f`; a failure marks the store failed (memory and disk may disagree: reopen).
  #guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#failed = e;
      throw e;
    }
  }

  /** Adds an update's page writes to the dirty set (`owned`: images no one else holds). */
  #stage(writes: readonly PageWrite[], owned: boolean): void {
    for (const w of writes) {
      const key = pageIdKey(w.id);
      // A page created since the checkpoint and deleted again is simply forgotten.
      if (w.page === null && this.#stored(w.id) === undefined) this.#dirty.delete(key);
      else this.#dirty.set(key, { id: w.id, page: w.page, owned });
    }
  }

  #due(): boolean {
    return this.#seq - this.#checkpointSeq >= this.#every || this.redo.bytes + this.#dirty.size * MERKLE_PAGE_BYTES >= this.#maxBytes;
  }

  /**
   * Writes every change since the last checkpoint to the value tree and the page table under a
   * new meta record, and starts the redo log over. Commits are durable without it; it bounds
   * the log, the memory held by dirty pages and the replay at open.
   */
  checkpoint(): void {
    this.#live();
    this.#guard(() => {
      if (this.#pending !== null) this.#finishCheckpoint();
      this.#checkpoint(false);
    });
  }

  // Begins a checkpoint of everything up to the last commit: the value pages and the page WAL
  // go to the worker (when writing behind). With `defer` it returns with those writes in
  // flight, and the next commit (or `checkpoint`, or `close`) finishes it; else it finishes now.
  #checkpoint(defer: boolean): CheckpointStats {
    if (this.#seq === this.#checkpointSeq) return NO_CHECKPOINT;
    // The bound of a reader of the checkpoint before last: its state goes now.
    this.#applyDeferred();
    const seq = this.#seq;
    const t0 = performance.now();
    const kv = this.values.prepareCommit(this.#behind ?? undefined);
    const t1 = performance.now();
    const writes = [...this.#dirty.values()];
    const table = this.pages.prepare(writes, seq, { walBehind: this.#behind !== null, distinct: true });
    const t2 = performance.now();
    this.#pending = { seq, top: this.#top, kv, table, stats: { valuesWriteMs: t1 - t0, merkleWalMs: t2 - t1, metaMs: 0, applyMs: 0, pages: writes.length } };
    return defer ? this.#pending.stats : this.#finishCheckpoint();
  }

  // Waits for the pending checkpoint's writes, then writes its commit point and applies it.
  #finishCheckpoint(): CheckpointStats {
    const p = this.#pending as PendingCheckpoint;
    const t0 = performance.now();
    this.values.settleCommit();
    this.pages.settlePrepared();
    const t1 = performance.now();
    writeMetaRecord(this.metaFile, { seq: p.seq, top: p.top, kv: p.kv, table: p.table });
    const t2 = performance.now();
    // The in-place apply and the reuse of the old tree's pages destroy the checkpoint before
    // this one: held back while a reader in another process reads it (see readers.ts).
    this.#readers?.intend(p.seq);
    if (this.#readers?.liveBelow(p.seq)) {
      this.values.markDurable(p.kv, true);
      this.#unapplied = { seq: p.seq, pages: this.#dirty };
      this.#dirty = new Map();
    } else {
      this.#readers?.applying(p.seq);
      this.pages.apply();
      this.values.markDurable(p.kv);
      this.#dirty.clear();
    }
    this.#pending = null;
    this.redo.reset();
    this.#checkpointSeq = p.seq;
    this.#checkpoints++;
    p.stats.merkleWalMs += t1 - t0;
    p.stats.metaMs = t2 - t1;
    p.stats.applyMs = performance.now() - t2;
    return p.stats;
  }

  // Applies a checkpoint held back for readers, and lets the value tree reuse its freed pages.
  #applyDeferred(): void {
    const u = this.#unapplied;
    if (u === null) return;
    this.#readers?.applying(u.seq);
    this.pages.apply();
    this.values.releaseHeld();
    this.#unapplied = null;
  }

  /** Re-applies the redo records after the checkpoint, checking each root against the log. */
  #replay(records: ReturnType<RedoLog["replay"]>): void {
    for (const rec of records) {
      const prepared = this.prepare(rec.changes);
      const top = prepared.update.top;
      if (top.kind !== rec.top.kind || Buffer.compare(top.root, rec.top.root) !== 0) {
        throw new StoreError(
          "CORRUPT",
          `${this.path}: replaying commit ${rec.seq} from the redo log gives root 0x${Buffer.from(top.root).toString("hex")}, the log says 0x${Buffer.from(rec.top.root).toString("hex")}`,
        );
      }
      this.values.apply(prepared.changes);
      this.#stage(prepared.update.writes, true);
      this.#top = top;
      this.#seq = rec.seq;
    }
  }

  /** Work and timings of the last commit. */
  get lastCommit(): CommitStats | null {
    return this.#lastCommit;
  }

  /** Counters of the page store, the value tree and the redo log. */
  stats(): {
    merkle: PageStoreStats;
    values: ReturnType<KvTree["stats"]>;
    redo: { fsyncs: number; bytesWritten: number; records: number; bytes: number };
    checkpoints: number;
    dirtyPages: number;
  } {
    return {
      merkle: this.pages.stats(),
      values: this.values.stats(),
      redo: { ...this.redo.stats(), records: this.redo.records, bytes: this.redo.bytes },
      checkpoints: this.#checkpoints,
      dirtyPages: this.#dirty.size,
    };
  }

  /** True when the store holds no entries. */
  get empty(): boolean {
    return this.#top.kind === EMPTY_NODE;
  }

  /**
   * Checkpoints (unless a commit failed), closes the files and releases the lock; idempotent.
   * Everything is released whatever fails. A checkpoint that fails here is then thrown as
   * `FAILED` (nothing is lost: every commit is durable in the redo log, and the next open
   * replays it); a file that fails to close, as its `IoError`.
   */
  close(): void {
    if (this.#closed) return;
    let checkpointFailure: unknown = null;
    if (this.#failed === null) {
      try {
        if (this.#pending !== null) this.#finishCheckpoint();
        this.#checkpoint(false);
        this.#applyDeferred();
      } catch (e) {
        checkpointFailure = e;
      }
    }
    this.#closed = true;
    let closeFailure: unknown = null;
    for (const f of [{ close: () => this.#readers?.close() }, this.pages, this.values, this.redo, this.metaFile, { close: () => this.lock?.release() }]) {
      try {
        f.close();
      } catch (e) {
        closeFailure ??= e;
      }
    }
    if (checkpointFailure !== null) {
      throw new StoreError(
        "FAILED",
        `store ${this.path} closed, but its last checkpoint failed (${(checkpointFailure as Error).message}); every commit is in the redo log, and the next open replays it`,
        { cause: checkpointFailure },
      );
    }
    if (closeFailure !== null) throw closeFailure;
  }

  /** Releases the files and the lock without a checkpoint, for error paths; never throws. */
  abandon(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of [{ close: () => this.#readers?.close() }, this.pages, this.values, this.redo, this.metaFile, { close: () => this.lock?.release() }])
      closeQuietly(f);
  }

  /**
   * `abandon`, and when this handle's open created the database, removes what that open made:
   * for a layer above whose own open failed right after this one succeeded (nothing was
   * committed through the handle; never call it on a handle that was used).
   */
  abandonOpen(): void {
    if (this.#closed) return;
    this.abandon();
    if (this.#made !== undefined && this.#seq === 0) removeMade(this.#fs, this.path, this.#made);
  }
}
