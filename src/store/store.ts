// The store: values (kv B+tree) and the trie's interior (merkle pages) under one commit point.
//
// A commit, in order:
//   1. the trie update is computed against the current state (pure: nothing changes on error);
//   2. the value tree applies the batch in memory (copy-on-write pages, not yet written) and the
//      update's merkle pages join the dirty set;
//   3. the batch and the new root are appended to the redo log and synced: the commit is
//      durable, and acknowledged. (`commitPreparedAsync` syncs on the thread pool and applies
//      step 2 only once the sync returned, so reads meanwhile see acknowledged commits only.)
// Every `checkpointEvery` commits (or when the log and dirty pages pass `checkpointBytes`) a
// checkpoint writes the state out (checkpoint.ts: steps 4 to 7, 6 the meta record).
// Reopening starts from the meta record (a crash before 6 leaves the previous one in force, and
// nothing it names was overwritten: copy-on-write values, WAL not yet applied; a crash after 6
// is repaired by replaying the WAL) and replays the redo records after its seq through the same
// update, checking each root. A checkpoint writes a page once however many commits changed it,
// and a commit writes ~70 bytes per change instead of the 4 KiB value page and merkle page each
// change dirties; that is why commits are logged and pages checkpointed.
//
// Directory layout: `meta` (the record), `values` (the B+tree), `redo` (the log), `merkle/`
// (page table and WAL), `lock.<n>` and `lock-*.fifo` (the writer lock, see lock.ts).
//
// The store's parts: open.ts (the directory, creation, cleanup), prepared.ts (batch checks,
// the prepared commit), dirty-pages.ts (merkle pages changed since the checkpoint),
// checkpoint.ts (the checkpoint pipeline), bulk-load.ts (`beginLoad`). What stays here (~530
// lines) is the public surface, each method with its contract, and the commit path.
import { type BatchEntry, type KvTree, MAX_VALUE_SIZE, type RangeOptions } from "../kv/index.ts";
import { closeQuietly, guardFileSystem, nodePageStoreFileSystem, type PageStoreFileSystem, WriteBehind } from "../io/index.ts";
import {
  type Change,
  DEFAULT_PAGE_CACHE_BYTES,
  type EntryVisitor,
  MERKLE_PAGE_BYTES,
  type MerkleTop,
  type PageStore,
  type PageStoreStats,
  type PageWrite,
  type UpdateResult,
  updateTrie,
} from "../merkle/index.ts";
import { compareKeys, EMPTY_NODE, TrieError } from "../trie/index.ts";
import { checkPageId, checkPrefixBits, checkScanLimit, checkScanRange, checkStoreKey } from "./args.ts";
import { type StoreLoad, startLoad } from "./bulk-load.ts";
import { type CheckpointStats, Checkpoints, NO_CHECKPOINT } from "./checkpoint.ts";
import { beforePath, DirtyPages } from "./dirty-pages.ts";
import { StoreError } from "./errors.ts";
import type { DirLock } from "./lock.ts";
import type { MetaRecord } from "./meta-record.ts";
import { type OpenedFiles, openStoreFiles, removeMade } from "./open.ts";
import { checkPrepared, type PreparedCommit, sortBatch, valuesStateReader } from "./prepared.ts";
import type { ReaderTable } from "./readers.ts";
import type { RedoLog } from "./redo-log.ts";
import { type CommitStats, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_EVERY, type StoreOptions } from "./store-options.ts";

export { type CommitStats, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_EVERY, type StoreOptions } from "./store-options.ts";
export { type PreparedCommit, sortBatch, valuesStateReader } from "./prepared.ts";
export { checkFilesPresent, type DirState, inspectDir } from "./open.ts";
export type { StoreLoad } from "./bulk-load.ts";

/**
 * Most bytes of changed merkle pages a bulk load holds (less when the merkle cache is smaller).
 * Spilling more often costs a pass over this many pages; holding more only takes memory (the
 * load reads none of them again), and the checkpoint's copies of them more.
 */
const LOAD_PAGE_BYTES = 16 * 2 ** 20;

/** A durable GP state on disk with its root, updated incrementally per commit. */
export class Store {
  #top: MerkleTop;
  #seq: number;
  #closed = false;
  #failed: unknown = null;
  /** A commit's redo-log sync is in flight (see `commitPreparedAsync`). */
  #syncing = false;
  /** `close` or `abandon` came while it was: done when the sync returns. */
  #deferredClose: "close" | "abandon" | null = null;
  #lastCommit: CommitStats | null = null;
  readonly #fs: PageStoreFileSystem;
  /**
   * Set when this handle's open created the database: the directory's names before it, or the
   * outermost directory the open made. `abandon` removes what the open made.
   */
  #made: string[] | string | undefined = undefined;
  /** Merkle pages changed since the last checkpoint (and a checkpoint held back for readers). */
  readonly #dirty: DirtyPages;
  /** The checkpoint pipeline: the last checkpoint's seq, and the one in flight. */
  readonly #cp: Checkpoints;
  /** Writes the checkpoints' pages behind (null: inline). */
  readonly #behind: WriteBehind | null;
  /** Readers of older checkpoints in other processes (null: an in-memory file system). */
  readonly #readers: ReaderTable | null;
  readonly #every: number;
  readonly #maxBytes: number;
  /** A bulk load is in progress (see `beginLoad`). */
  #loading = false;
  /** Bytes of changed merkle pages a load holds before it spills the finished ones (see LOAD_PAGE_BYTES). */
  readonly #loadPageBytes: number;
  /** The last key of the load's previous chunk, once the load has spilled pages (null: none spilled). */
  #loadEdge: Uint8Array | null = null;
  /** The load's page reads: none may fall before the last key's path, where spilled pages are. */
  readonly #loadReader = {
    get: (id: Uint8Array) => {
      if (this.#loadEdge !== null && beforePath(id, this.#loadEdge)) {
        throw new StoreError("FAILED", `store ${this.path}: the bulk load read a finished page (depth ${id[0]}) behind its last key`);
      }
      return this.#dirty.page(id);
    },
    inPlace: () => false,
  };
  /** Set while `commit` runs its own update: owned images may change in place. */
  #inPlace = false;
  /** An image changed in place since `#inPlace` was set (a failure then leaves memory damaged). */
  #changedInPlace = false;
  /** The merkle pages of the current state: dirty ones first, then the page store's. */
  readonly #pageReader = {
    get: (id: Uint8Array) => this.#page(id),
    inPlace: (id: Uint8Array, page: Uint8Array) => {
      if (!this.#inPlace) return false;
      if (!this.#dirty.ownedImage(id, page)) return false;
      this.#changedInPlace = true;
      return true;
    },
  };

  private constructor(
    readonly path: string,
    private readonly values: KvTree,
    private readonly pages: PageStore,
    private readonly redo: RedoLog,
    private readonly lock: DirLock | null,
    private readonly files: OpenedFiles,
    options: StoreOptions,
  ) {
    if (files === null || typeof files !== "object" || options === null || typeof options !== "object")
      throw new StoreError("BAD_ARGUMENT", "stores come from Store.open, not from new");
    const rec: MetaRecord = files.rec;
    this.#top = rec.top;
    this.#seq = rec.seq;
    this.#every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.#behind = options.writeBehind === false ? null : new WriteBehind();
    this.#maxBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    this.#loadPageBytes = Math.min(options.merkleCacheBytes ?? DEFAULT_PAGE_CACHE_BYTES, LOAD_PAGE_BYTES);
    this.#fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
    this.#readers = files.readers;
    this.#made = files.made;
    this.#dirty = new DirtyPages(pages);
    this.#cp = new Checkpoints(
      { values, pages, redo, metaFile: files.metaFile, dirty: this.#dirty, readers: files.readers, behind: this.#behind, fail: (e) => this.#failBehind(e) },
      rec.seq,
    );
  }

  /**
   * Opens the store in directory `path`. A missing or empty directory gets a new database
   * (unless `create: false`); see `inspectDir` for what else is refused, and why.
   */
  static open(path: string, options: StoreOptions = {}): Store {
    return openStoreFiles(path, options, (files) => {
      const store = new Store(path, files.values, files.pages, files.redo, files.lock, files, options);
      store.#replay(files.logged);
      return store;
    });
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
    // Pages a bulk load spilled are in no table until its checkpoint is applied (page-spill.ts).
    if (this.pages.spilled > 0) {
      throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a bulk load's pages are not in the table yet; read them once the load has committed`);
    }
    return this.#dirty.page(id);
  }

  /**
   * Applies a batch (any order; value null deletes) as one durable commit and returns the new
   * root. Bad input throws a typed error and changes nothing.
   */
  commit(batch: Iterable<BatchEntry>): Uint8Array {
    this.#live();
    this.#notLoading();
    const changes = sortBatch(batch);
    // A checkpoint still copying the dirty pages must be done before any of them changes in place.
    if (this.#cp.pending) this.#guard(() => this.#cp.finish());
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
  commitPrepared(prepared: PreparedCommit, options: { background?: boolean } = {}): Uint8Array {
    this.#live();
    this.#notLoading();
    checkPrepared(prepared);
    if (options === null || typeof options !== "object") throw new StoreError("BAD_ARGUMENT", "options must be an object");
    return this.#commitPrepared(prepared, false, false, options.background === true);
  }

  /**
   * Resolves once no checkpoint is in flight, without blocking the thread (a checkpoint begun
   * by `commitPrepared(p, { background: true })` runs in slices on the event loop, and its
   * writes on the worker). A caller on the event loop awaits this before its next commit, which
   * would otherwise finish that checkpoint in one block. Never rejects: a checkpoint that
   * failed has failed the store, and the next call says so.
   */
  async idle(): Promise<void> {
    if (this.#closed || this.#failed !== null) return;
    await this.#cp.idle();
  }

  /** True while a checkpoint is begun and not finished (its slices, or its writes, in flight). */
  get checkpointPending(): boolean {
    return this.#cp.pending;
  }

  /** The last checkpoint's figures (its slices, when it ran in the background), or null. */
  get lastCheckpoint(): CheckpointStats | null {
    return this.#cp.last;
  }

  // A background checkpoint failed: memory and disk may disagree (reopen).
  #failBehind(e: unknown): void {
    this.#failed ??= e;
    this.#cp.abandon();
  }

  /**
   * `commitPrepared` whose redo-log sync runs on the thread pool: the caller's thread does not
   * block on it. Memory (what reads see) stays at the last commit until the sync returned, and
   * only then takes this one, so reads in the meantime see acknowledged commits only; no other
   * commit, checkpoint or load may begin meanwhile (`BAD_ARGUMENT`). A failed sync fails the
   * store, and nothing is written after it. `close` or `abandon` called meanwhile takes effect
   * when the sync returns (the descriptor must outlive it); the commit still resolves when its
   * sync succeeded, since it is durable.
   */
  async commitPreparedAsync(prepared: PreparedCommit): Promise<Uint8Array> {
    this.#live();
    this.#notLoading();
    checkPrepared(prepared);
    const { changes, update } = prepared;
    this.#checkCommittable(prepared);
    // What the value tree would refuse after the sync, refused before the write.
    for (let j = 0; j < changes.length; j++) {
      checkStoreKey(changes[j][0], `prepared commit: changes[${j}] key`);
      const v = changes[j][1];
      if (v !== null && (!(v instanceof Uint8Array) || v.length > MAX_VALUE_SIZE))
        throw new StoreError("BAD_ARGUMENT", `prepared commit: changes[${j}] value must be a Uint8Array of at most ${MAX_VALUE_SIZE} bytes, or null`);
    }
    const t0 = performance.now();
    if (this.#cp.pending) this.#guard(() => this.#cp.finish());
    const t1 = performance.now();
    const seq = this.#seq + 1;
    let length = 0;
    this.#guard(() => {
      length = this.redo.write(seq, update.top, changes);
    });
    this.#syncing = true;
    try {
      await this.redo.syncAsync();
    } catch (e) {
      this.#failed = e;
      throw e;
    } finally {
      this.#syncing = false;
      // Closed (or abandoned) while the sync ran: the files go now; a durable commit is kept
      // by the redo log (the next open replays it), so nothing more is written for it.
      if (this.#deferredClose !== null) {
        this.#closed = false;
        this.abandon();
      }
    }
    const t2 = performance.now();
    if (this.#closed) return update.top.root.slice();
    let cp = NO_CHECKPOINT;
    this.#guard(() => {
      this.redo.synced(length);
      this.values.apply(changes);
      this.#stage(update.writes, false);
      this.#top = update.top;
      this.#seq = seq;
    });
    const t3 = performance.now();
    this.#guard(() => {
      this.#cp.applyHeldIfUnread();
      // On the event loop: the checkpoint runs in the background, in slices (see checkpoint.ts).
      if (this.#due()) cp = this.#cp.beginBehind(this.#seq, this.#top);
    });
    this.#noteCommit(prepared, cp, { settleMs: t1 - t0, logMs: t2 - t1, valuesMs: t3 - t2, checkpointMs: performance.now() - t3 });
    return this.#top.root.slice();
  }

  #checkCommittable(prepared: PreparedCommit): void {
    const { changes } = prepared;
    this.#notSyncing();
    if (prepared.base.kind !== this.#top.kind || Buffer.compare(prepared.base.root, this.#top.root) !== 0) {
      throw new StoreError("BAD_ARGUMENT", "prepared commit: computed against another root than the committed one");
    }
    for (let j = 1; j < changes.length; j++) {
      if (compareKeys(changes[j - 1][0], changes[j][0]) >= 0) throw new StoreError("BAD_ARGUMENT", `prepared commit: changes not sorted and distinct at ${j}`);
    }
  }

  // `owned`: the update's page images are this store's alone. `damaged`: the update changed
  // owned images in place, so memory already holds part of this commit and any failure is fatal.
  #commitPrepared(prepared: PreparedCommit, owned: boolean, damaged: boolean, background = false): Uint8Array {
    const { changes, update } = prepared;
    this.#checkCommittable(prepared);
    const t0 = performance.now();
    if (this.#cp.pending) this.#guard(() => this.#cp.finish());
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
      this.#cp.applyHeldIfUnread();
      // The commit is durable: its checkpoint's writes may finish with the next commit.
      if (this.#due()) cp = background ? this.#cp.beginBehind(this.#seq, this.#top) : this.#cp.begin(this.#seq, this.#top, this.#behind !== null);
    } catch (e) {
      // Memory and disk may now disagree; the disk is at the old or the new commit, and a
      // reopen finds out which.
      this.#failed = e;
      throw e;
    }
    this.#noteCommit(prepared, cp, { settleMs: t1 - t0, valuesMs: t2 - t1, logMs: t3 - t2, checkpointMs: performance.now() - t3 });
    return this.#top.root.slice();
  }

  // What `lastCommit` reports: the update's figures, the commit's phases, its checkpoint's.
  #noteCommit(prepared: PreparedCommit, cp: CheckpointStats, ms: { settleMs: number; valuesMs: number; logMs: number; checkpointMs: number }): void {
    this.#lastCommit = {
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
    };
  }

  /**
   * Reads the value pages and merkle pages on the paths to `keys` (31-byte keys, best sorted)
   * that are not in memory on the thread pool, so that a trie update or lookups of those keys
   * that follow find them cached instead of blocking the thread on the file. Resolves to the
   * pages read. Best effort: a failed read is not reported here (the synchronous read that
   * meets the page reads it again, and reports a failure), and a closed or failed store reads
   * nothing.
   */
  async readAhead(keys: readonly Uint8Array[]): Promise<number> {
    if (!Array.isArray(keys)) throw new StoreError("BAD_ARGUMENT", "keys must be an array of 31-byte keys");
    for (let i = 0; i < keys.length; i++) checkStoreKey(keys[i], `keys[${i}]`);
    if (this.#closed || this.#failed !== null) return 0;
    // The page walk sets each key's span (where its path of pages ends) before it awaits: the
    // value tree reads the leaves an update's scan of that prefix reads.
    const spans: number[] = new Array(keys.length).fill(-1);
    const pages = this.pages.readAhead(keys, spans);
    const values = this.values.readAhead(keys, spans).catch(() => 0);
    return (await pages) + (await values);
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

  #notSyncing(): void {
    if (this.#syncing) throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a commit is being synced; wait for it`);
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
    this.#notSyncing();
    if (options.append !== true && (this.#top.kind !== EMPTY_NODE || this.values.stats().entries !== 0)) {
      throw new StoreError(
        "NOT_EMPTY",
        `store ${this.path} is not empty (root 0x${Buffer.from(this.#top.root).toString("hex")}); a bulk load needs an empty store`,
      );
    }
    if (this.#cp.pending) this.#guard(() => this.#cp.finish());
    // Durable first: the load's commit points are checkpoints, which take all before them.
    this.#guard(() => this.#cp.begin(this.#seq, this.#top, false));
    return startLoad(
      {
        path: this.path,
        live: () => this.#live(),
        root: () => this.#top.root.slice(),
        lastKey: () => this.lastKey(),
        apply: (chunk) =>
          this.#guard(() => {
            const update = updateTrie(this.#top, chunk, this.#loadReader, valuesStateReader(this.path, this.values));
            this.values.apply(chunk);
            // Memory must not grow with the load: the value pages go to the file now (nothing
            // refers to them before the commit point), and the merkle pages of finished
            // subtries to the page store's spill once the changed ones pass the budget.
            this.values.writeDirty();
            this.#dirty.stage(update.writes, true);
            this.#top = update.top;
            const edge = chunk[chunk.length - 1][0];
            if (this.#dirty.size * MERKLE_PAGE_BYTES > this.#loadPageBytes && this.#dirty.spillOffPath(edge) > 0) this.#loadEdge = edge;
            else if (this.#loadEdge !== null) this.#loadEdge = edge;
          }),
        save: () =>
          this.#guard(() => {
            // A load that spilled spills the rest off its path too: the checkpoint copies the
            // pages it is handed, which would hold the budget twice.
            if (this.#loadEdge !== null) this.#dirty.spillOffPath(this.#loadEdge);
            this.#seq++;
            this.#cp.begin(this.#seq, this.#top, false);
          }),
        setLoading: (loading) => {
          this.#loading = loading;
          this.#loadEdge = null;
        },
        fail: (e) => {
          this.#failed ??= e;
        },
      },
      options.append === true,
    );
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
    this.#dirty.stage(writes, owned);
  }

  #due(): boolean {
    return this.#seq - this.#cp.seq >= this.#every || this.redo.bytes + this.#dirty.size * MERKLE_PAGE_BYTES >= this.#maxBytes;
  }

  /**
   * Writes every change since the last checkpoint to the value tree and the page table under a
   * new meta record, and starts the redo log over. Commits are durable without it; it bounds
   * the log, the memory held by dirty pages and the replay at open.
   */
  checkpoint(): void {
    this.#live();
    this.#notSyncing();
    this.#guard(() => {
      if (this.#cp.pending) this.#cp.finish();
      this.#cp.begin(this.#seq, this.#top, false);
    });
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
      checkpoints: this.#cp.count,
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
   * replays it); a file that fails to close, as its `IoError`. While a commit's sync is in
   * flight (`commitPreparedAsync`) it only marks the store closed: the files and the lock are
   * released, without a checkpoint, when the sync returns (the redo log holds every commit).
   */
  close(): void {
    if (this.#closed) return;
    if (this.#syncing) {
      this.#closed = true;
      this.#deferredClose = "close";
      return;
    }
    let checkpointFailure: unknown = null;
    if (this.#failed === null) {
      try {
        if (this.#cp.pending) this.#cp.finish();
        this.#cp.begin(this.#seq, this.#top, false);
        this.#cp.applyHeld();
      } catch (e) {
        checkpointFailure = e;
      }
    }
    this.#closed = true;
    // A checkpoint left in flight by a failure: its meta record's write, if any, ends first.
    this.#cp.abandon();
    let closeFailure: unknown = null;
    for (const f of [{ close: () => this.#readers?.close() }, this.pages, this.values, this.redo, this.files.metaFile, { close: () => this.lock?.release() }]) {
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
    if (this.#syncing) {
      this.#deferredClose = "abandon";
      return;
    }
    this.#cp.abandon();
    for (const f of [{ close: () => this.#readers?.close() }, this.pages, this.values, this.redo, this.files.metaFile, { close: () => this.lock?.release() }])
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
