// The kv tree: a persistent copy-on-write B+tree of 31-byte keys to byte-string values.
//
// Commit protocol. `prepareCommit` writes every new page and the free list, syncs, and returns
// the tree-meta record; nothing refers to the new pages yet. The commit point is publishing that
// record: `publish` writes it to the older of the two meta pages and syncs (standalone use), or
// a store layer writes the encoded record into its own commit record and then calls
// `markDurable`. Only then do pages replaced since the previous commit become reusable, so the
// previous tree stays intact and readable until the new one is durable.
import { type BatchEntry, validateBatch } from "./batch.ts";
import { type CheckReport, checkTree } from "./check.ts";
import { DEFAULT_CACHE_BYTES } from "./cache.ts";
import { KvCorruptionError, KvError } from "./errors.ts";
import { type KvFile, type KvFileSystem, nodeFileSystem } from "../io/file.ts";
import { closeQuietly, guardFileSystem } from "../io/io-error.ts";
import type { WriteBehind } from "../io/write-behind.ts";
import { runSteps, type Steps } from "../io/steps.ts";
import { decodeTreeMeta, readMetaPages, type TreeMeta, writeMetaPage } from "./meta.ts";
import { FIRST_DATA_PAGE, PAGE_SIZE } from "./page.ts";
import type { PackedEntries } from "./packed.ts";
import { Pager, type PagerStats } from "./pager.ts";
import { KvReader } from "./reader.ts";
import { TreeUpdater } from "./update.ts";

/** Options of `KvTree.open` and `openKv`. */
export interface KvOptions {
  /** Budget of the page cache in bytes (default 256 MiB). */
  cacheBytes?: number;
  /** Dirty pages are written out (not synced) beyond this many bytes (default 64 MiB). */
  maxDirtyBytes?: number;
  /**
   * An encoded tree-meta record kept by an outer commit record. When given, the tree opens at
   * that state and the meta pages are neither read nor needed.
   */
  meta?: Uint8Array;
}

/** Options of `openKv`: `KvOptions` plus the file system to open the path with. */
export interface OpenKvOptions extends KvOptions {
  /** File system to use (default: the host's). */
  fs?: KvFileSystem;
}

/** Counters and sizes of an open tree. */
export interface KvStats extends PagerStats {
  /** Entries in the live tree. */
  entries: number;
  /** Levels of the live tree. */
  height: number;
  /** Pages below the high-water mark. */
  highWater: number;
  /** Pages free for reuse now. */
  reusablePages: number;
  /** Pages freed since the last durable commit, reusable after the next. */
  pendingPages: number;
}

function emptyMeta(): TreeMeta {
  return { seq: 0, root: 0, height: 0, highWater: FIRST_DATA_PAGE, freeHead: 0, freeCount: 0, entries: 0 };
}

/** A read-only view of the last durable commit; valid until the next commit is durable. */
export class KvSnapshot extends KvReader {
  #tree: KvTree;
  #seq: number;
  /** Number of entries in this version. */
  readonly size: number;

  /** @internal Use `KvTree.snapshot`. */
  constructor(tree: KvTree, pager: Pager, meta: TreeMeta) {
    super(pager);
    this.#tree = tree;
    this.#seq = meta.seq;
    this._root = meta.root;
    this._height = meta.height;
    this.size = meta.entries;
  }

  /** Commit sequence number of this version. */
  get seq(): number {
    return this.#seq;
  }

  /** @internal */
  protected _token(): number {
    return this.#seq;
  }

  /** @internal */
  protected _ensure(token: number): void {
    this.#tree.ensureSnapshot(token);
  }
}

/** A persistent B+tree of 31-byte keys to values; see the module comment for commits. */
export class KvTree extends KvReader {
  #file: KvFile;
  #updater: TreeUpdater;
  #entries: number;
  #durable: TreeMeta;
  #prepared: TreeMeta | null = null;
  #version = 0;
  #closed = false;
  #failure: unknown = null;

  private constructor(file: KvFile, pager: Pager, meta: TreeMeta) {
    super(pager);
    this.#file = file;
    this.#updater = new TreeUpdater(pager);
    this.#durable = meta;
    this._root = meta.root;
    this._height = meta.height;
    this.#entries = meta.entries;
  }

  /**
   * Opens the tree stored in `file`: at `options.meta` when given, else at the newer intact
   * meta page. A file without data pages and without an intact meta page (new, or its creation
   * was interrupted) becomes an empty tree, and its meta page is written at once.
   */
  static open(file: KvFile, options: KvOptions = {}): KvTree {
    const cacheBytes = positive(options.cacheBytes, DEFAULT_CACHE_BYTES, "options.cacheBytes");
    const dirtyBytes = positive(options.maxDirtyBytes, 64 * 1024 * 1024, "options.maxDirtyBytes");
    let meta: TreeMeta;
    if (options.meta !== undefined) {
      meta = decodeTreeMeta(options.meta);
    } else {
      const found = readMetaPages(file);
      if (found !== null) meta = found;
      else if (file.size() <= FIRST_DATA_PAGE * PAGE_SIZE) {
        // New file, or a crash while creating one: no data page can exist before the first
        // meta page is durable, so starting empty loses nothing.
        meta = emptyMeta();
        writeMetaPage(file, meta);
      } else {
        throw new KvCorruptionError(file.path, 0, "no intact meta page");
      }
    }
    if (meta.highWater < FIRST_DATA_PAGE || meta.root >= meta.highWater || (meta.root === 0) !== (meta.height === 0)) {
      throw new KvError("BAD_META", "tree meta: inconsistent fields");
    }
    const pager = new Pager(file, meta.highWater, cacheBytes, Math.max(64, Math.floor(dirtyBytes / PAGE_SIZE)));
    pager.loadFreeList(meta.freeHead, meta.freeCount);
    return new KvTree(file, pager, meta);
  }

  /** The file the tree lives in. */
  get file(): KvFile {
    return this.#file;
  }

  /** Number of entries in the live tree (including uncommitted batches). */
  get size(): number {
    return this.#entries;
  }

  /** The tree-meta record of the last durable commit. */
  get durableMeta(): TreeMeta {
    return this.#durable;
  }

  /** @internal */
  protected _token(): number {
    return this.#version;
  }

  /** @internal */
  protected _ensure(token: number): void {
    this.#live();
    if (token !== this.#version) {
      throw new KvError("STALE", "the tree changed since this iteration began");
    }
  }

  /** @internal Throws unless the snapshot of commit `seq` is still readable. */
  ensureSnapshot(seq: number): void {
    this.#live();
    if (seq !== this.#durable.seq) {
      throw new KvError("STALE", `snapshot of commit ${seq} was released by commit ${this.#durable.seq}`);
    }
  }

  #live(): void {
    if (this.#closed) throw new KvError("CLOSED", "kv tree is closed");
    if (this.#failure !== null) {
      throw new KvError("FAILED", `an earlier write failed (${String(this.#failure)}); reopen the tree`);
    }
  }

  // A failure in the middle of a write leaves the in-memory page bookkeeping half updated; the
  // file still holds the last durable commit, so the tree refuses further use until reopened.
  #guarded<T>(work: () => T): T {
    try {
      return work();
    } catch (e) {
      this.#failure = e;
      this.#version++;
      throw e;
    }
  }

  /**
   * Applies a batch of changes copy-on-write. Keys must be distinct; any order is accepted
   * (sorted input skips a sort). The whole batch is validated first: on bad input nothing
   * changes and a KvError names the offending element.
   */
  apply(batch: Iterable<BatchEntry>): void {
    this.#live();
    if (this.#prepared !== null) throw new KvError("BUSY", "a prepared commit awaits markDurable");
    const { keys, vals } = validateBatch(batch);
    const shape = this.#guarded(() => this._pager.pinned(() => this.#updater.apply({ root: this._root, height: this._height }, keys, vals)));
    this._root = shape.root;
    this._height = shape.height;
    this.#entries += this.#updater.delta;
    this.#version++;
  }

  /**
   * Appends sorted entries whose keys all follow the last key stored (a bulk load; the caller
   * checked keys, order and value sizes): only the tree's right edge is rebuilt.
   */
  appendSorted(batch: PackedEntries): void {
    this.#live();
    if (this.#prepared !== null) throw new KvError("BUSY", "a prepared commit awaits markDurable");
    const shape = this.#guarded(() => this._pager.pinned(() => this.#updater.append({ root: this._root, height: this._height }, batch)));
    this._root = shape.root;
    this._height = shape.height;
    this.#entries += this.#updater.delta;
    this.#version++;
  }

  /**
   * Writes the pages changed since the last commit to the file now (never over a page a
   * durable tree uses), after which they are ordinary cached pages, within the cache's budget:
   * a bulk load's memory then does not grow with its size. Nothing refers to them until the
   * next commit. Without `keepCached` their buffers are recycled instead of cached (a sorted
   * load never reads them again).
   */
  writeDirty(keepCached = true): void {
    this.#live();
    if (this.#prepared !== null) throw new KvError("BUSY", "a prepared commit awaits markDurable");
    this.#guarded(() => this._pager.writeDirty(keepCached));
  }

  /**
   * Commit step 1: writes all new pages and the free list, syncs the file, and returns the
   * tree-meta record of the new state. Nothing refers to the new pages until that record is
   * published (`publish`) or kept by an outer commit record (then call `markDurable`). With
   * `behind`, the pages are written and synced by a worker thread: call `settleCommit` before
   * writing the outer record.
   */
  prepareCommit(behind?: WriteBehind): TreeMeta {
    return runSteps(this.prepareCommitSteps(behind));
  }

  /**
   * `prepareCommit` in steps (see io/steps.ts), for a caller that runs it in slices on the
   * event loop. Reads may run between steps; nothing may change the tree until the last one.
   */
  *prepareCommitSteps(behind?: WriteBehind): Steps<TreeMeta> {
    this.#live();
    if (this.#prepared !== null) throw new KvError("BUSY", "a commit is already prepared");
    const steps = this._pager.prepareSteps(behind);
    let step = this.#guarded(() => this._pager.pinned(() => steps.next()));
    while (step.done !== true) {
      yield;
      step = this.#guarded(() => this._pager.pinned(() => steps.next()));
    }
    const free = step.value;
    this.#prepared = {
      seq: this.#durable.seq + 1,
      root: this._root,
      height: this._height,
      highWater: this._pager.highWater,
      freeHead: free.head,
      freeCount: free.count,
      entries: this.#entries,
    };
    return this.#prepared;
  }

  /** Waits until the pages of a commit prepared with `behind` are written and synced. */
  settleCommit(): void {
    this.#live();
    this._pager.settle();
  }

  /**
   * Commit step 2 (outer commit record): `meta`, from `prepareCommit`, is now durable. With
   * `hold`, the pages of the previous durable tree stay unused until `releaseHeld` (a reader in
   * another process may still read that tree).
   */
  markDurable(meta: TreeMeta, hold = false): void {
    this.#live();
    if (this.#prepared === null || meta.seq !== this.#prepared.seq) {
      throw new KvError("BAD_ARGUMENT", "meta: not the prepared commit");
    }
    this._pager.markDurable(hold);
    this.#durable = this.#prepared;
    this.#prepared = null;
  }

  /** The pages held by `markDurable(meta, true)` become reusable. */
  releaseHeld(): void {
    this.#live();
    this._pager.releaseHeld();
  }

  /** Commit step 2 (standalone): writes `meta` to its meta page, syncs, then `markDurable`. */
  publish(meta: TreeMeta): void {
    this.#live();
    if (this.#prepared === null || meta.seq !== this.#prepared.seq) {
      throw new KvError("BAD_ARGUMENT", "meta: not the prepared commit");
    }
    this.#guarded(() => writeMetaPage(this.#file, this.#prepared!));
    this.markDurable(meta);
  }

  /** Both commit steps with the built-in meta pages. Returns the published record. */
  commit(): TreeMeta {
    const meta = this.prepareCommit();
    this.publish(meta);
    return meta;
  }

  /** A read-only view of the last durable commit, valid until the next commit is durable. */
  snapshot(): KvSnapshot {
    this.#live();
    return new KvSnapshot(this, this._pager, this.#durable);
  }

  /** Counters and sizes. */
  stats(): KvStats {
    const free = this._pager.freeCounts();
    return {
      ...this._pager.stats(),
      entries: this.#entries,
      height: this._height,
      highWater: this._pager.highWater,
      reusablePages: free.reusable,
      pendingPages: free.pending,
    };
  }

  /** Drops all cached pages so that later reads go to the file. */
  dropCache(): void {
    this.#live();
    this._pager.dropCache();
  }

  /**
   * Walks the whole live tree and verifies it (see `checkTree`). Throws KvCorruptionError on the
   * first violation; returns per-level shape and fill.
   */
  check(): CheckReport {
    this.#live();
    // Free pages are counted only when no commit is prepared (its frees are not listed yet).
    return checkTree(this._pager, this._root, this._height, this.#file.path, this.#entries, this.#prepared === null);
  }

  /** Releases the file. Uncommitted batches are lost; the last durable commit remains. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // A worker may still be writing through the descriptor: it must not be closed (and its
      // number reused) under the worker.
      this._pager.settle();
    } catch {
      // Pages of a commit never published: nothing refers to them.
    }
    this.#file.close();
  }
}

/** Opens (creating if needed) the tree stored at `path`. */
export function openKv(path: string, options: OpenKvOptions = {}): KvTree {
  const fs = guardFileSystem(options.fs ?? nodeFileSystem);
  const file = fs.open(path);
  try {
    return KvTree.open(file, options);
  } catch (e) {
    closeQuietly(file);
    throw e;
  }
}

function positive(v: number | undefined, dflt: number, arg: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new KvError("BAD_ARGUMENT", `${arg}: expected a positive number`);
  }
  return v;
}
