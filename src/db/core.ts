// The database's machinery behind the public classes: the store (or, read-only, a store
// reader), the rollback log, the versions kept readable (versions.ts), and the queue commits and
// rollbacks go through. Its options are in options.ts, its figures in metrics.ts, the commits
// the store holds back during a checkpoint in ahead.ts. (~530 lines: the commit and rollback
// paths share the handle's failure, queue and versions; the rest is already split off.)
//
// The undo chain of the rollback log serves `rollback(n)` and `beginReadAt(root)`: its records
// are the reverse deltas of the last commits that were not rolled back, oldest first.
import { closeQuietly, ioErrorOf } from "../io/index.ts";
import { type Change, type MerkleTop, type UpdateResult, updateTrie } from "../merkle/index.ts";
import { nodePageStoreFileSystem } from "../io/index.ts";
import { type CheckpointStats, type CommitStats, type PreparedCommit, Store, StoreError } from "../store/index.ts";
import { StoreReader } from "../store/reader.ts";
import { DbError } from "./errors.ts";
import { equalBytes } from "./keys.ts";
import { toHex } from "../trie/index.ts";
import type { CommitMetrics, DbCounters } from "./metrics.ts";
import { checkDbOptions, DEFAULT_ROLLBACK_WINDOW, type DbOptions } from "./options.ts";
import { type LogEvent, RollbackLog, type UndoRecord } from "./rollback-log.ts";
import { typedReads } from "./typed-reads.ts";
import { AheadOfStore, MAX_AHEAD } from "./ahead.ts";
import { type StateView, stateReader, StoreState, type StoreSource } from "./state.ts";
import { composeReverse, type Pin, Versions } from "./versions.ts";

/** What a commit writes: a finished session's layer, as `core` sees it. */
export interface CommitSource {
  readonly changes: readonly Change[];
  readonly reverse: readonly Change[];
  readonly prevTop: MerkleTop;
  readonly update: UpdateResult;
  readonly updateMs: number;
}

function wrapStoreError(e: unknown): unknown {
  if (e instanceof DbError) return e;
  if (e instanceof StoreError) {
    const code = e.code === "NOT_EMPTY" ? "BAD_ARGUMENT" : e.code;
    return new DbError(code, e.message, { cause: code === "FAILED" ? (ioErrorOf(e) ?? e) : e });
  }
  // A failed file operation outside a commit (open, a read, a close): `IO`, the IoError as cause.
  const io = ioErrorOf(e);
  if (io !== undefined) return new DbError("IO", io.message, { cause: io });
  return e;
}

/** The shared state of one open database. */
export class DbCore {
  readonly path: string;
  readonly readOnly: boolean;
  readonly counters: DbCounters = {
    reads: 0,
    entriesIterated: 0,
    writes: 0,
    sessionsFinished: 0,
    commits: 0,
    rollbacks: 0,
    refusedCommits: 0,
    proofs: 0,
    witnesses: 0,
    deltaPageBuilds: 0,
    deltaPagesBuilt: 0,
  };
  readonly #store: Store | null;
  readonly #reader: StoreReader | null;
  readonly #storeState: StoreState;
  readonly #log: RollbackLog | null;
  readonly #window: number;
  readonly #versions: Versions;
  /** Commits the store logged while a checkpoint ran and applies when it is published. */
  readonly #ahead: AheadOfStore;
  #closed = false;
  #failed: unknown = null;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #inflight: Promise<unknown> | null = null;
  #lastCommit: CommitMetrics | null = null;
  snapshotsOpen = 0;
  /** Releases what snapshots, sessions and overlays dropped without a release kept. */
  readonly registry = new FinalizationRegistry<{ release(): void }>((held) => held.release());

  private constructor(path: string, store: Store | null, reader: StoreReader | null, log: RollbackLog | null, window: number) {
    this.path = path;
    this.#store = store;
    this.#reader = reader;
    this.readOnly = store === null;
    this.#log = log;
    this.#window = window;
    const source: StoreSource = store ?? {
      get top() {
        return (reader as StoreReader).top;
      },
      get: (key) => (reader as StoreReader).get(key),
      entries: (range) => (reader as StoreReader).entries(range),
      seekPrefixKey: (key, bits) => (reader as StoreReader).seekPrefixKey(key, bits),
      page: (id) => (reader as StoreReader).page(id),
    };
    this.#storeState = new StoreState(typedReads(path, source));
    this.#ahead = new AheadOfStore(() => store?.seq ?? Number.POSITIVE_INFINITY, this.#storeState, this.counters);
    this.#versions = new Versions(store ? store.seq : (reader as StoreReader).seq, window);
  }

  /** Opens the database in `path` (see `DbOptions`). */
  static open(path: string, options: DbOptions = {}): DbCore {
    if (typeof path !== "string" || path.length === 0) throw new DbError("BAD_ARGUMENT", "path must be a non-empty string");
    checkDbOptions(options);
    const window = options.rollbackWindow ?? DEFAULT_ROLLBACK_WINDOW;
    try {
      if (options.readOnly) {
        let reader: StoreReader;
        try {
          reader = StoreReader.open(path, { fs: options.fs, valueCacheBytes: options.valueCacheBytes, merkleCacheBytes: options.merkleCacheBytes });
        } catch (e) {
          // A writer process checkpointed while the handle opened: try again, as for any read.
          if (e instanceof StoreError && e.code === "FAILED") throw new DbError("STALE", e.message, { cause: e });
          throw e;
        }
        return new DbCore(path, null, reader, null, 0);
      }
      const store = Store.open(path, {
        fs: options.fs,
        lock: options.lock,
        create: options.create,
        valueCacheBytes: options.valueCacheBytes,
        merkleCacheBytes: options.merkleCacheBytes,
        merkleInitialBuckets: options.merkleInitialBuckets,
      });
      let log: RollbackLog | null = null;
      try {
        if (window > 0) {
          const fs = options.fs ?? nodePageStoreFileSystem;
          log = RollbackLog.open(path, fs, fs === nodePageStoreFileSystem, store.seq, store.top, window);
        }
      } catch (e) {
        // Released without a checkpoint: `e` is what to report, and the redo log holds
        // everything (a database this open created is removed again).
        store.abandonOpen();
        throw e;
      }
      return new DbCore(path, store, null, log, window);
    } catch (e) {
      throw wrapStoreError(e);
    }
  }

  /** Throws unless the handle is usable. */
  live(): void {
    if (this.#closed) throw new DbError("CLOSED", `database ${this.path} is closed`);
    // The store failed on its own: a checkpoint running in the background failed.
    if (this.#failed === null && this.#store !== null && this.#store.failure !== null) this.#failed = this.#store.failure;
    if (this.#failed !== null) throw new DbError("FAILED", `database ${this.path} failed; reopen it`, { cause: ioErrorOf(this.#failed) ?? this.#failed });
  }

  /** Throws `READ_ONLY` on a read-only handle. */
  writable(what: string): void {
    this.live();
    if (this.readOnly) throw new DbError("READ_ONLY", `${what}: database ${this.path} was opened read-only`);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The current seq (the store's sequence number: commits and rollbacks so far). */
  get seq(): number {
    return this.#versions.seq;
  }

  /** The current root node. */
  get top(): MerkleTop {
    return this.#current().top;
  }

  // The current version: the store, or the store plus the commits it holds back (ahead.ts).
  #current(): StateView {
    return this.#ahead.view() ?? this.#storeState;
  }

  /** Commits the undo chain holds (what `rollback` can undo). */
  get rollbackDepth(): number {
    return this.#log?.chain.length ?? 0;
  }

  /** The undo chain, oldest first. */
  get chain(): readonly UndoRecord[] {
    return this.#log?.chain ?? [];
  }

  get window(): number {
    return this.#window;
  }

  get lastCommit(): CommitMetrics | null {
    return this.#lastCommit;
  }

  get pinnedVersions(): number {
    return this.#versions.pinned;
  }

  get retainedTransitions(): number {
    return this.#versions.retained;
  }

  get logSnapshots(): number {
    return this.#log?.snapshots ?? 0;
  }

  get logResetReason(): string | null {
    return this.#log?.resetReason ?? null;
  }

  /** Cache and I/O counters of the store. */
  storeStats(): ReturnType<Store["stats"]> | null {
    return this.#store?.stats() ?? null;
  }

  /** Keeps `seq` readable until the pin is released. */
  pin(seq: number): Pin {
    return this.#versions.pin(seq);
  }

  /** After a read on a read-only handle: fails when a writer process has committed since open. */
  checkReadOnlyCurrent(): void {
    if (this.#reader === null) return;
    try {
      this.#reader.checkCurrent();
    } catch (e) {
      const err = wrapStoreError(e);
      if (err instanceof DbError && err.code === "FAILED") throw new DbError("STALE", err.message, { cause: e });
      throw err;
    }
  }

  /**
   * Reads ahead, on the thread pool, the value pages on the paths to `keys` (sorted, checked)
   * that are not in memory (`Store.readAhead`); resolves to the pages read. A hint: never rejects.
   */
  async readAhead(keys: readonly Uint8Array[]): Promise<number> {
    if (this.#closed || this.#failed !== null || this.#store === null) return 0;
    return await this.#store.readAhead(keys).catch(() => 0);
  }

  /** The state at `version` (current or kept in memory); use synchronously, do not keep. */
  viewAt(seq: number): StateView {
    this.live();
    if (seq === this.#versions.seq) return this.#current();
    return this.#versions.pastView(seq, () => this.#current(), this.counters);
  }

  /** The base key of the commit that made `version`, if kept (for telling forks from stale). */
  baseOfSeq(seq: number): object | number | null | undefined {
    return this.#versions.baseOf(seq);
  }

  /** True while a commit or rollback is queued or being written. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /**
   * Runs `work` after every commit queued before it; `work` runs with the handle live. The
   * returned promise settles with `work`'s outcome.
   */
  enqueue<T>(work: (queuedMs: number) => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.#pending++;
    const run = this.#queue.then(async () => {
      try {
        this.live();
        return await work(performance.now() - t0);
      } finally {
        this.#pending--;
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** A promise that settles once every queued commit has. */
  drained(): Promise<void> {
    return this.#queue.then(() => {});
  }

  /**
   * Writes a forward commit of `src` (checked committable by the caller, at its turn in the
   * queue): the log event and its sync on the thread pool, then the store's redo record, its
   * sync also on the thread pool; the version advances once both are durable.
   */
  async writeCommit(src: CommitSource, base: object | number, queuedMs: number): Promise<number> {
    await this.#awaitCheckpoint();
    const t0 = performance.now();
    const event = this.#forwardEvent(src);
    await this.#logAsync(event);
    const t1 = performance.now();
    const seq = this.#versions.seq + 1;
    // The layer reads its page images no more once committed (its reads go to the version it
    // made), so the store takes them as its own.
    await this.#storeWriteAsync({ base: src.prevTop, changes: src.changes, update: src.update, updateMs: src.updateMs, pagesGiven: true });
    this.#ahead.note(seq, src.changes, src.update);
    this.#versions.advance(seq, { reverse: src.reverse, prevTop: src.prevTop, base });
    this.counters.commits++;
    this.#finishMetrics("commit", seq, src.changes.length, queuedMs, t0, t1);
    return seq;
  }

  /** `writeCommit` with a blocking log sync, for callers that cannot await. */
  writeCommitSync(src: CommitSource, base: object | number): number {
    const t0 = performance.now();
    const event = this.#forwardEvent(src);
    this.#logSync(event);
    return this.#storeCommit(src, base, 0, t0);
  }

  #forwardEvent(src: CommitSource): LogEvent {
    return { kind: "forward", record: { seq: this.#versions.seq + 1, prevTop: src.prevTop, top: src.update.top, reverse: src.reverse } };
  }

  #storeCommit(src: CommitSource, base: object | number, queuedMs: number, t0: number): number {
    const store = this.#store as Store;
    const t1 = performance.now();
    const seq = this.#versions.seq + 1;
    this.#storeWrite(() => store.commitPrepared({ base: src.prevTop, changes: src.changes, update: src.update, updateMs: src.updateMs, pagesGiven: true }));
    this.#versions.advance(seq, { reverse: src.reverse, prevTop: src.prevTop, base });
    this.counters.commits++;
    this.#finishMetrics("commit", seq, src.changes.length, queuedMs, t0, t1);
    return seq;
  }

  /** Undoes the newest `n` records of the undo chain as one durable commit (at its queue turn). */
  async writeRollback(n: number, queuedMs: number): Promise<number> {
    const chain = this.chain;
    if (!Number.isInteger(n) || n < 0 || n > chain.length) {
      throw new DbError("BAD_ARGUMENT", `n must be an integer in 0 .. ${chain.length} (the commits the rollback log holds), got ${String(n)}`);
    }
    if (n === 0) return this.#versions.seq;
    await this.#awaitCheckpoint();
    const t0 = performance.now();
    const records = chain.slice(chain.length - n).reverse();
    const target = records[records.length - 1].prevTop;
    const changes = composeReverse(records.map((r) => r.reverse));
    const current = this.#current();
    const prevTop = current.top;
    // The values now, for the transition that lets older snapshots read past the rollback.
    const forward: Change[] = changes.map(([k]) => [k, current.value(k) ?? null]);
    const u0 = performance.now();
    const update = updateTrie(prevTop, changes, current.pages, stateReader(current));
    const updateMs = performance.now() - u0;
    if (!equalBytes(update.top.root, target.root) || update.top.kind !== target.kind) {
      throw new DbError("CORRUPT", `rolling back ${n} commits gives root ${toHex(update.top.root)}, the log says ${toHex(target.root)}`);
    }
    const seq = this.#versions.seq + 1;
    await this.#logAsync({ kind: "rollback", seq, n, remaining: chain.length - n });
    const t1 = performance.now();
    await this.#storeWriteAsync({ base: prevTop, changes, update, updateMs, pagesGiven: true });
    this.#ahead.note(seq, changes, update);
    this.#versions.advance(seq, { reverse: forward, prevTop, base: null });
    this.counters.rollbacks++;
    this.#finishMetrics("rollback", seq, changes.length, queuedMs, t0, t1);
    return seq;
  }

  // The rollback log's rewrite, when due, comes first: it runs between commits, and a failure
  // there fails this commit before anything of it is written.
  // With `background`, the rewrite is started and written behind the commits that follow
  // (`RollbackLog.startSnapshot`); a blocking caller writes it now unless one is running.
  #logStage(log: RollbackLog, event: LogEvent, background: boolean): void {
    if (log.wantsSnapshot && !log.snapshotRunning) {
      // A failed rewrite fails the handle at once, so that the first failure is the one reported.
      if (background)
        log.startSnapshot(this.#versions.seq, (e) => {
          this.#failed ??= this.#store?.failure ?? e;
          this.#store?.fail(e);
        });
      else log.snapshot(this.#versions.seq);
    }
    log.stage(event);
  }

  // A failed write or sync of the log (its rewrite included) fails the handle: after a failed
  // fsync the kernel may have dropped the pages it held, so the sync is never tried again.
  #logFailed(log: RollbackLog, e: unknown): DbError {
    log.dropStaged();
    log.stopBackground();
    return this.#fail(e, "writing the rollback log failed");
  }

  #logSync(event: LogEvent): void {
    const log = this.#log;
    if (log === null) return;
    try {
      this.#logStage(log, event, false);
      log.sync();
    } catch (e) {
      throw this.#logFailed(log, e);
    }
  }

  async #logAsync(event: LogEvent): Promise<void> {
    const log = this.#log;
    if (log === null) return;
    try {
      this.#logStage(log, event, true);
      const p = log.syncAsync();
      this.#inflight = p;
      try {
        await p;
      } finally {
        this.#inflight = null;
      }
      // The log's rewrite failed behind this commit: it fails here, before the store has any of it.
      log.checkBackground();
    } catch (e) {
      // The first failure is the one to report: the rewrite's, when it failed before this.
      const err = this.#logFailed(log, log.backgroundError ?? e);
      if (this.#closed) closeQuietly(log);
      throw err;
    }
    if (this.#closed) {
      // Closed while the log synced: the commit never happens; its event is cut at reopen.
      log.dropStaged();
      closeQuietly(log);
      throw new DbError("CLOSED", `database ${this.path} was closed before the commit was written`);
    }
  }

  #storeWrite(write: () => void): void {
    try {
      write();
    } catch (e) {
      throw this.#storeFailed(e);
    }
    this.#log?.commitStaged();
  }

  // The store's commit with its redo-log sync on the thread pool. Until the sync returns the
  // store's memory, and so every read, stays at the last acknowledged commit, and the version
  // does not advance. A `close` meanwhile closes the store when the sync returns; the commit
  // then still resolves if its sync succeeded (it is durable: the next open replays it).
  async #storeWriteAsync(prepared: PreparedCommit): Promise<void> {
    try {
      // Applied to the store's memory behind, in slices: the current version reads it through
      // the forward delta until then (ahead.ts).
      await (this.#store as Store).commitPreparedAsync(prepared, { applyBehind: true });
    } catch (e) {
      throw this.#storeFailed(e);
    }
    this.#log?.commitStaged();
  }

  #storeFailed(e: unknown): DbError {
    this.#log?.dropStaged();
    this.#log?.stopBackground();
    // A refused prepared commit changed nothing; anything else may have failed mid-write.
    if (e instanceof StoreError && e.code === "BAD_ARGUMENT") return new DbError("CORRUPT", `database ${this.path}: ${e.message}`, { cause: e });
    return this.#fail(e, "the commit failed");
  }

  // Marks the handle failed by `e` and returns the `FAILED` error to throw; its cause is the
  // failed file operation (an `IoError`, with the system error as its cause) when there is one.
  // The first failure wins: a rewrite of the rollback log that failed in the background before
  // this commit's own write is the cause, whichever the commit met.
  #fail(e: unknown, what: string): DbError {
    // A checkpoint that failed in the background failed the store before this.
    this.#failed ??= this.#store?.failure ?? e;
    // Nothing more is written: not even the store's checkpoint in flight.
    this.#store?.fail(e);
    const first = this.#failed;
    return new DbError("FAILED", `database ${this.path}: ${what} (${(first as Error)?.message ?? String(first)}); reopen it`, {
      cause: ioErrorOf(first) ?? first,
    });
  }

  #finishMetrics(kind: CommitMetrics["kind"], seq: number, changes: number, queuedMs: number, t0: number, t1: number): void {
    const t2 = performance.now();
    const wait = this.#checkpointWait;
    this.#checkpointWait = { ms: 0, finished: null };
    this.#lastCommit = {
      kind,
      seq,
      changes,
      queuedMs,
      checkpointWaitMs: wait.ms,
      checkpointBehind: wait.finished,
      logMs: t1 - t0,
      storeMs: t2 - t1,
      totalMs: queuedMs + wait.ms + (t2 - t0),
      store: (this.#store as Store).lastCommit as CommitStats,
    };
  }

  /** What the commit being written waited for, and the background checkpoint that finished since the last one. */
  #checkpointWait: { ms: number; finished: CommitMetrics["checkpointBehind"] } = { ms: 0, finished: null };
  /** The store's last checkpoint as the commit before saw it. */
  #seenCheckpoint: CheckpointStats | null = null;

  // A checkpoint running in the background takes the commit beside it (the store logs it now
  // and applies it to memory when the checkpoint is published), up to MAX_AHEAD commits. One
  // begun by a blocking commit, or a longer backlog, finishes first, without blocking the thread
  // (a commit that found it in flight would otherwise finish it in one block).
  async #awaitCheckpoint(): Promise<void> {
    const store = this.#store as Store;
    let ms = 0;
    if (store.checkpointPending && (!store.checkpointRunning || store.commitsAhead >= MAX_AHEAD)) {
      const t = performance.now();
      await store.idle();
      ms = performance.now() - t;
    }
    const last = store.lastCheckpoint;
    const finished = last !== null && last !== this.#seenCheckpoint && last.background ? { ...last, publishMs: last.applyMs } : null;
    this.#seenCheckpoint = last;
    this.#checkpointWait = { ms, finished };
  }

  /**
   * Closes the files (idempotent). Queued commits are refused; one syncing its log is abandoned;
   * one syncing its redo record completes, and the store's files close when that sync returns.
   * Everything is released whatever fails; then a checkpoint that failed is thrown as `FAILED`
   * and a file that failed to close as `IO` (nothing acknowledged is lost either way).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown = null;
    const release = (f: () => void) => {
      try {
        f();
      } catch (e) {
        failure ??= e;
      }
    };
    // A failed handle writes nothing more, not even the checkpoint a close would write (the
    // failure may have been the rollback log's, beside a store that does not know of it).
    if (this.#failed !== null) this.#store?.abandon();
    else release(() => this.#store?.close());
    release(() => this.#reader?.close());
    // A log file with a sync in flight is closed when that sync returns (see #logAsync).
    if (this.#inflight === null) release(() => this.#log?.close());
    if (failure !== null) throw wrapStoreError(failure);
  }
}
