// The store: values (kv B+tree) and the trie's interior (merkle pages) under one commit point.
//
// A commit, in order:
//   1. the trie update is computed against the current state (pure: nothing changes on error);
//   2. the value tree applies the batch in memory (copy-on-write pages, not yet written) and the
//      update's merkle pages join the dirty set;
//   3. the batch and the new root are appended to the redo log and synced: the commit is
//      durable, and acknowledged. (`commitPreparedAsync` syncs on the thread pool and applies
//      step 2 only once the sync returned, so reads meanwhile see acknowledged commits only;
//      during a checkpoint in the background, only after it is published: commits-ahead.ts.)
// Every `checkpointEvery` commits (or when the log and dirty pages pass `checkpointBytes`) a
// checkpoint writes the state out (checkpoint.ts: steps 4 to 7, 6 the meta record).
// Reopening starts from the meta record (a crash before 6 leaves the previous one in force, and
// nothing it names was overwritten: copy-on-write values, WAL not yet applied; a crash after 6
// is repaired by replaying the WAL) and replays the redo records after its seq through the same
// update, checking each root. A checkpoint writes a page once however many commits changed it,
// and a commit writes ~70 bytes per change instead of the 4 KiB value page and merkle page each
// change dirties; that is why commits are logged and pages checkpointed.
//
// Directory layout: `meta` (the record), `values` (the B+tree), `redo.0` and `redo.1` (the log,
// two files taking turns at checkpoints), `merkle/` (page table and WAL), `lock.<n>` and
// `lock-*.fifo` (the writer lock, see lock.ts).
//
// The store's parts: open.ts (the directory, creation, cleanup, closing the files),
// store-reads.ts (the reads, which `Store` extends), prepared.ts (batch checks, the prepared
// commit), dirty-pages.ts (merkle pages changed since the checkpoint), checkpoint.ts (the
// checkpoint pipeline), commits-ahead.ts (commits made during a checkpoint, held back from
// memory until it is published), bulk-load.ts and load-pages.ts (`beginLoad`),
// store-options.ts (the options and `lastCommit`'s figures). What stays here (~640 lines, over
// the ~500 of one file for a reason) is what changes the committed state: the commit paths
// (sync and async), the load's and the checkpoints' entry points, replay, failure and close.
// They share the handle's private state (root, seq, failure, the sync in flight, the checkpoint
// pipeline, the held-back commits); splitting them further would hand that state to other files.
import type { BatchEntry, KvTree } from "../kv/index.ts";
import { guardFileSystem, nodePageStoreFileSystem, type PageStoreFileSystem, WriteBehind } from "../io/index.ts";
import { type Change, MERKLE_PAGE_BYTES, type MerkleTop, type PageStore, type PageWrite, type UpdateResult, updateTrie } from "../merkle/index.ts";
import { compareKeys, EMPTY_NODE, TrieError } from "../trie/index.ts";
import { type StoreLoad, startLoad } from "./bulk-load.ts";
import { type CheckpointStats, Checkpoints, checkpointSliceMs, NO_CHECKPOINT } from "./checkpoint.ts";
import { DirtyPages } from "./dirty-pages.ts";
import { StoreError } from "./errors.ts";
import { CommitsAhead } from "./commits-ahead.ts";
import { LoadPages } from "./load-pages.ts";
import type { MetaRecord } from "./meta-record.ts";
import { closeOpened, type OpenedFiles, openStoreFiles, removeMade } from "./open.ts";
import { checkPrepared, checkPreparedValues, type PreparedCommit, sortBatch, valuesStateReader } from "./prepared.ts";
import type { RedoLog } from "./redo-log.ts";
import { type CommitStats, commitStats, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_EVERY, type StoreOptions, type StoreStats } from "./store-options.ts";
import { StoreReads } from "./store-reads.ts";

export { type CommitStats, DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_EVERY, type StoreOptions } from "./store-options.ts";
export { type PreparedCommit, sortBatch, valuesStateReader } from "./prepared.ts";
export { checkFilesPresent, type DirState, inspectDir } from "./open.ts";
export type { StoreLoad } from "./bulk-load.ts";

/** A durable GP state on disk with its root, updated incrementally per commit. */
export class Store extends StoreReads {
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
  readonly #every: number;
  readonly #maxBytes: number;
  /** A bulk load is in progress (see `beginLoad`). */
  #loading = false;
  /** The load's page budget and spill edge. */
  readonly #load: LoadPages;
  /** Commits durable in the redo log, held back from memory while a checkpoint runs (commits-ahead.ts). */
  readonly #ahead: CommitsAhead;
  /** Set while `commit` runs its own update: owned images may change in place. */
  #inPlace = false;
  /** An image changed in place since `#inPlace` was set (a failure then leaves memory damaged). */
  #changedInPlace = false;
  /** The merkle pages of the current state: dirty ones first, then the page store's. */
  readonly #pageReader = {
    get: (id: Uint8Array) => this.committedPage(id),
    inPlace: (id: Uint8Array, page: Uint8Array) => {
      if (!this.#inPlace) return false;
      if (!this.#dirty.ownedImage(id, page)) return false;
      this.#changedInPlace = true;
      return true;
    },
  };

  private constructor(
    path: string,
    values: KvTree,
    pages: PageStore,
    private readonly redo: RedoLog,
    private readonly files: OpenedFiles,
    options: StoreOptions,
  ) {
    if (files === null || typeof files !== "object" || options === null || typeof options !== "object")
      throw new StoreError("BAD_ARGUMENT", "stores come from Store.open, not from new");
    const dirty = new DirtyPages(pages);
    super(path, values, pages, dirty);
    const rec: MetaRecord = files.rec;
    this.#top = rec.top;
    this.#seq = rec.seq;
    this.#every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.#behind = options.writeBehind === false ? null : new WriteBehind();
    this.#maxBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    this.#fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
    this.#made = files.made;
    this.#dirty = dirty;
    this.#load = new LoadPages(path, dirty, options.merkleCacheBytes);
    this.#ahead = new CommitsAhead({
      apply: (seq, prepared, from, to) => {
        const { changes } = prepared;
        if (to > from) this.values.apply(from === 0 && to === changes.length ? changes : changes.slice(from, to));
        if (to < changes.length) return;
        this.#stage(prepared.update.writes, prepared.pagesGiven === true);
        this.#top = prepared.update.top;
        this.#seq = seq;
      },
      applicable: () => !this.#closed && this.#failed === null && !this.#cp.running,
      fail: (e) => this.#halt(e),
      // Not while a commit's record is being synced (its apply checks again), since a
      // checkpoint switches the redo log's file.
      drained: () =>
        this.#guard(() => {
          if (!this.#syncing) this.#beginDueBehind();
        }),
      sliceMs: checkpointSliceMs,
    });
    this.#cp = new Checkpoints(
      {
        values,
        pages,
        redo,
        metaFile: files.metaFile,
        dirty: this.#dirty,
        readers: files.readers,
        behind: this.#behind,
        // A background checkpoint failed: memory and disk may disagree (reopen).
        fail: (e) => this.#halt(e),
        published: () => this.#ahead.drain(),
      },
      rec.seq,
    );
  }

  /**
   * Opens the store in directory `path`. A missing or empty directory gets a new database
   * (unless `create: false`); see `inspectDir` for what else is refused, and why.
   */
  static open(path: string, options: StoreOptions = {}): Store {
    return openStoreFiles(path, options, (files) => {
      const store = new Store(path, files.values, files.pages, files.redo, files, options);
      store.#replay(files.logged);
      return store;
    });
  }

  protected override readonly live = (): void => {
    if (this.#closed) throw new StoreError("CLOSED", `store ${this.path} is closed`);
    if (this.#failed) throw new StoreError("FAILED", `store ${this.path} failed during a commit; reopen it`, { cause: this.#failed });
  };

  protected override readonly usable = (): boolean => !this.#closed && this.#failed === null;

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

  /**
   * Applies a batch (any order; value null deletes) as one durable commit and returns the new
   * root. Bad input throws a typed error and changes nothing.
   */
  commit(batch: Iterable<BatchEntry>): Uint8Array {
    this.live();
    this.#notLoading();
    const changes = sortBatch(batch);
    // A checkpoint still copying the dirty pages must be done before any of them changes in place.
    this.#guard(() => this.#settle());
    // Nothing else can see this update's result, so the pages it writes stay this store's own,
    // and owned pages change in place (a checkpoint in flight writes copies it took when it
    // began). Input is checked before any page changes; a failure after one did is fatal.
    this.#inPlace = true;
    this.#changedInPlace = false;
    let prepared: PreparedCommit;
    try {
      prepared = this.#prepareSorted(changes);
    } catch (e) {
      if (this.#changedInPlace) this.#halt(e);
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
    this.live();
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
    this.live();
    this.#notLoading();
    checkPrepared(prepared);
    if (options === null || typeof options !== "object") throw new StoreError("BAD_ARGUMENT", "options must be an object");
    return this.#commitPrepared(prepared, prepared.pagesGiven === true, false, options.background === true);
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

  // Fails the store: memory and disk may disagree, or a write failed; nothing more is written,
  // so a checkpoint in flight stops (the redo log holds every acknowledged commit).
  #halt(e: unknown): void {
    this.#failed ??= e;
    this.#cp.abandon();
  }

  /** What failed the store, or null (a failed store throws `FAILED` from every call). */
  get failure(): unknown {
    return this.#failed;
  }

  /**
   * Fails the store because a layer above failed beside it (its own log): nothing more is
   * written, and a checkpoint running in the background is given up (the redo log holds every
   * acknowledged commit; the next open replays them). Later calls throw `FAILED`.
   */
  fail(cause: unknown): void {
    if (this.#closed) return;
    this.#halt(cause);
  }

  /**
   * `commitPrepared` whose redo-log sync runs on the thread pool: the caller's thread does not
   * block on it. Memory (what reads see) stays at the last commit until the sync returned, and
   * only then takes this one, so reads in the meantime see acknowledged commits only; no other
   * commit, checkpoint or load may begin meanwhile (`BAD_ARGUMENT`). A failed sync fails the
   * store, and nothing is written after it. `close` or `abandon` called meanwhile takes effect
   * when the sync returns (the descriptor must outlive it); the commit still resolves when its
   * sync succeeded, since it is durable.
   *
   * While a checkpoint runs in the background (`checkpointRunning`), the commit goes on beside
   * it: durable in the redo log's other file when this resolves, but held back from memory
   * (`seq`, `top` and reads stay at the state the checkpoint writes out) until the checkpoint is
   * published; then the held-back commits are applied in order, in slices with a turn of the
   * event loop between them (`commitsAhead` counts them, `loggedSeq` is the last durable
   * commit's seq). `prepared` must then be computed over the state with the held-back commits
   * (the database reads it as a delta: src/db/ahead.ts); its `base` is checked against the
   * newest of them. With `applyBehind` every commit is held back that way: it resolves once
   * durable and its in-memory apply follows in slices, so the caller must read the state
   * through the commits ahead as well; a checkpoint it makes due begins once they are applied.
   */
  async commitPreparedAsync(prepared: PreparedCommit, options: { applyBehind?: boolean } = {}): Promise<Uint8Array> {
    this.live();
    this.#notLoading();
    checkPrepared(prepared);
    const { changes, update } = prepared;
    this.#checkCommittable(prepared);
    // What the value tree would refuse after the sync, refused before the write.
    checkPreparedValues(changes);
    const t0 = performance.now();
    // A background checkpoint goes on beside the commit; one begun in one block is finished.
    if (this.#cp.pending && !this.#cp.running) this.#guard(() => this.#cp.finish());
    const t1 = performance.now();
    const seq = this.loggedSeq + 1;
    let length = 0;
    this.#guard(() => {
      length = this.redo.write(seq, update.top, changes);
    });
    this.#syncing = true;
    try {
      await this.redo.syncAsync();
    } catch (e) {
      this.#halt(e);
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
    // A background checkpoint that failed during the sync failed the store: the commit may be
    // durable (the reopen replays it), but memory has nothing more.
    this.live();
    const during = this.#cp.running;
    if (during || this.#ahead.length > 0 || options.applyBehind === true) {
      // Durable, and kept out of memory, which the checkpoint in flight is writing out: applied
      // after it is published, after the commits held back before it (or from the next turn,
      // when none runs). Reads of the store meanwhile see the state before it; the database
      // reads it as a forward delta.
      this.#guard(() => this.redo.synced(length));
      this.#ahead.push(seq, prepared);
      if (!during) this.#ahead.drain();
      this.#lastCommit = commitStats(prepared, NO_CHECKPOINT, { settleMs: t1 - t0, logMs: t2 - t1, valuesMs: 0, checkpointMs: 0 }, during);
      return update.top.root.slice();
    }
    let cp = NO_CHECKPOINT;
    this.#guard(() => {
      this.redo.synced(length);
      this.values.apply(changes);
      this.#stage(update.writes, prepared.pagesGiven === true);
      this.#top = update.top;
      this.#seq = seq;
    });
    const t3 = performance.now();
    this.#guard(() => {
      cp = this.#beginDueBehind();
    });
    this.#lastCommit = commitStats(prepared, cp, { settleMs: t1 - t0, logMs: t2 - t1, valuesMs: t3 - t2, checkpointMs: performance.now() - t3 });
    return this.#top.root.slice();
  }

  // After a commit is whole in memory: the checkpoint held for a reader applied once none is
  // left, and a checkpoint that became due begun in the background (in slices on the event
  // loop, see checkpoint.ts).
  #beginDueBehind(): CheckpointStats {
    this.#cp.applyHeldIfUnread();
    return !this.#cp.pending && this.#due() ? this.#cp.beginBehind(this.#seq, this.#top) : NO_CHECKPOINT;
  }

  /** The seq of the last durable commit: memory's (`seq`), or a commit logged ahead of it. */
  get loggedSeq(): number {
    return this.#ahead.last?.seq ?? this.#seq;
  }

  /** Commits logged while a background checkpoint runs, not yet in memory (see `commitPreparedAsync`). */
  get commitsAhead(): number {
    return this.#ahead.length;
  }

  /** True while a checkpoint runs in the background: `commitPreparedAsync` commits beside it. */
  get checkpointRunning(): boolean {
    return this.#cp.running;
  }

  // Before a synchronous change: the checkpoint in flight finished in one block, and the
  // commits held back applied.
  #settle(): void {
    if (this.#cp.pending) this.#cp.finish();
    this.#ahead.applyAll();
  }

  #checkCommittable(prepared: PreparedCommit): void {
    const { changes } = prepared;
    this.#notSyncing();
    const top = this.#ahead.last?.top ?? this.#top;
    if (prepared.base.kind !== top.kind || Buffer.compare(prepared.base.root, top.root) !== 0) {
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
    this.#guard(() => this.#settle());
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
      this.#halt(e);
      throw e;
    }
    this.#lastCommit = commitStats(prepared, cp, { settleMs: t1 - t0, valuesMs: t2 - t1, logMs: t3 - t2, checkpointMs: performance.now() - t3 });
    return this.#top.root.slice();
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
    this.live();
    if (this.#loading) throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a load is already in progress`);
    this.#notSyncing();
    // Commits held back count: they are durable.
    const top = this.#ahead.last?.top ?? this.#top;
    if (options.append !== true && (top.kind !== EMPTY_NODE || this.values.stats().entries !== 0)) {
      throw new StoreError("NOT_EMPTY", `store ${this.path} is not empty (root 0x${Buffer.from(top.root).toString("hex")}); a bulk load needs an empty store`);
    }
    this.#guard(() => this.#settle());
    // Durable first: the load's commit points are checkpoints, which take all before them.
    this.#guard(() => this.#cp.begin(this.#seq, this.#top, false));
    return startLoad(
      {
        path: this.path,
        live: () => this.live(),
        root: () => this.#top.root.slice(),
        lastKey: () => this.lastKey(),
        apply: (chunk) =>
          this.#guard(() => {
            const update = updateTrie(this.#top, chunk, this.#load.reader, valuesStateReader(this.path, this.values));
            this.values.apply(chunk);
            // Memory must not grow with the load: the value pages go to the file now (nothing
            // refers to them before the commit point), and the merkle pages of finished
            // subtries to the page store's spill once the changed ones pass the budget.
            this.values.writeDirty();
            this.#dirty.stage(update.writes, true);
            this.#top = update.top;
            this.#load.applied(chunk[chunk.length - 1][0]);
          }),
        values: (chunk) =>
          this.#guard(() => {
            this.values.appendSorted(chunk);
            this.values.writeDirty(false);
          }),
        pages: (pages, edge) =>
          this.#guard(() => {
            this.#dirty.stage(pages, true);
            this.#load.applied(edge);
          }),
        built: (top, pages) =>
          this.#guard(() => {
            this.#dirty.stage(pages, true);
            this.#top = top;
          }),
        save: () =>
          this.#guard(() => {
            this.#load.beforeSave();
            this.#seq++;
            this.#cp.begin(this.#seq, this.#top, false);
          }),
        setLoading: (loading) => {
          this.#loading = loading;
          this.#load.reset();
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
      this.#halt(e);
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
    this.live();
    this.#notSyncing();
    this.#guard(() => {
      this.#settle();
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
  stats(): StoreStats {
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
        this.#settle();
        this.#cp.begin(this.#seq, this.#top, false);
        this.#cp.applyHeld();
      } catch (e) {
        checkpointFailure = e;
      }
    }
    this.#closed = true;
    // A checkpoint left in flight by a failure: its meta record's write, if any, ends first.
    this.#cp.abandon();
    const closeFailure = closeOpened(this.files);
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
    closeOpened(this.files);
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
