// The database: the public entry point over the store (see src/db/core.ts for the machinery).
import { DbCore } from "./core.ts";
import type { DbMetrics } from "./metrics.ts";
import type { DbOptions } from "./options.ts";
import { composeReverse } from "./versions.ts";
import { guardClass } from "./boundary.ts";
import { DbError } from "./errors.ts";
import { checkRoot, equalBytes } from "./keys.ts";
import { Snapshot } from "./readers.ts";
import { DeltaState } from "./state.ts";
import { parentOf, type WriteOptions, WriteSession } from "./session.ts";
import { toHex } from "../trie/index.ts";

/**
 * An open database: a JAM state on disk with its root, snapshots, write sessions, overlays and
 * rollback. Open with `open(path, options)`.
 *
 * Concurrency (one process, one event loop): reads are synchronous and always see one whole
 * state. Commits and rollbacks go through one queue in call order; each syncs its rollback log
 * event on the thread pool (reads, scans and new sessions run meanwhile and see the state before
 * it), then writes the store synchronously. A snapshot or an async scan is never affected by
 * commits made while it is open.
 */
export class Db implements Disposable, AsyncDisposable {
  readonly #core: DbCore;

  private constructor(core: DbCore) {
    if (!(core instanceof DbCore)) throw new DbError("BAD_ARGUMENT", "databases come from open(path, options), not from new");
    this.#core = core;
  }

  /** Same as `open(path, options)`. */
  static open(path: string, options: DbOptions = {}): Db {
    return new Db(DbCore.open(path, options));
  }

  /** The database's directory. */
  get path(): string {
    return this.#core.path;
  }

  /** True when opened with `readOnly`. */
  get readOnly(): boolean {
    return this.#core.readOnly;
  }

  /** The current state root (32 bytes). */
  get root(): Uint8Array {
    this.#core.live();
    return this.#core.top.root.slice();
  }

  /** Commits and rollbacks made since the database was created (the store's sequence number). */
  get seq(): number {
    this.#core.live();
    return this.#core.seq;
  }

  /** Commits `rollback(n)` can undo now (n at most this; up to `rollbackWindow`). */
  get rollbackDepth(): number {
    this.#core.live();
    return this.#core.rollbackDepth;
  }

  /**
   * Roots `beginReadAt` accepts, newest first: the current root, then the root before each of the
   * last `rollbackDepth` commits (index i is the state i commits ago).
   */
  history(): Uint8Array[] {
    this.#core.live();
    const chain = this.#core.chain;
    const out = [this.#core.top.root.slice()];
    for (let i = chain.length - 1; i >= 0; i--) out.push(chain[i].prevTop.root.slice());
    return out;
  }

  /** A snapshot of the current state. */
  beginRead(): Snapshot {
    this.#core.live();
    return new Snapshot(this.#core, this.#core.pin(this.#core.seq), null);
  }

  /**
   * A snapshot of the state at `root`: the current root, or one of `history()` (a root in the
   * rollback window). `ROOT_NOT_FOUND` otherwise.
   */
  beginReadAt(root: Uint8Array): Snapshot {
    checkRoot(root, "root");
    const core = this.#core;
    core.live();
    if (equalBytes(root, core.top.root)) return this.beginRead();
    const chain = core.chain;
    for (let k = 1; k <= chain.length; k++) {
      const record = chain[chain.length - k];
      if (!equalBytes(record.prevTop.root, root)) continue;
      const pin = core.pin(core.seq);
      const version = pin.seq;
      const deltas = chain
        .slice(chain.length - k)
        .reverse()
        .map((r) => r.reverse);
      const state = new DeltaState(() => core.viewAt(version), composeReverse(deltas), record.prevTop, null, core.counters);
      return new Snapshot(core, pin, state);
    }
    throw new DbError("ROOT_NOT_FOUND", `root ${toHex(root)} is neither the current root nor in the rollback window (${chain.length} commits)`);
  }

  /**
   * A write session on the current state, or on `options.overlays` (newest first), recording
   * the keys it reads and writes when `options.witness` is set.
   */
  beginWrite(options: WriteOptions = {}): WriteSession {
    if (options === null || typeof options !== "object" || Array.isArray(options)) throw new DbError("BAD_ARGUMENT", "beginWrite: options must be an object");
    for (const name of Object.keys(options)) {
      if (name !== "overlays" && name !== "witness")
        throw new DbError("BAD_ARGUMENT", `beginWrite: options.${name} is not an option (known: overlays, witness)`);
    }
    this.#core.writable("beginWrite");
    if (options.witness !== undefined && typeof options.witness !== "boolean") throw new DbError("BAD_ARGUMENT", "options.witness must be a boolean");
    return new WriteSession(this.#core, parentOf(this.#core, options.overlays), options.witness === true);
  }

  /**
   * Undoes the last `n` commits (0 .. `rollbackDepth`) as one durable commit, after the commits
   * queued before it; resolves to the root it restores. Snapshots, sessions and overlays open
   * meanwhile keep reading what they read; sessions based on the undone states cannot commit.
   */
  async rollback(n: number): Promise<Uint8Array> {
    this.#core.writable("rollback");
    if (!Number.isInteger(n) || n < 0) throw new DbError("BAD_ARGUMENT", `n must be a non-negative integer, got ${String(n)}`);
    return this.#core.enqueue(async (queuedMs) => {
      await this.#core.writeRollback(n, queuedMs);
      return this.#core.top.root.slice();
    });
  }

  /** Counters, cache statistics, gauges and the last commit's timings. */
  metrics(): DbMetrics {
    const core = this.#core;
    core.live();
    const s = core.storeStats();
    const c = core.counters;
    return {
      reads: c.reads,
      entriesIterated: c.entriesIterated,
      writes: c.writes,
      sessionsFinished: c.sessionsFinished,
      commits: c.commits,
      rollbacks: c.rollbacks,
      refusedCommits: c.refusedCommits,
      proofs: c.proofs,
      witnesses: c.witnesses,
      values: {
        cacheHits: s?.values.cacheHits ?? 0,
        cacheMisses: s?.values.cacheMisses ?? 0,
        pagesRead: s?.values.pagesRead ?? 0,
        pagesWritten: s?.values.pagesWritten ?? 0,
      },
      merkle: {
        cacheHits: s?.merkle.cacheHits ?? 0,
        cacheMisses: s?.merkle.cacheMisses ?? 0,
        pagesRead: s?.merkle.pagesRead ?? 0,
        pagesWritten: s?.merkle.pagesWritten ?? 0,
      },
      deltaPageBuilds: c.deltaPageBuilds,
      deltaPagesBuilt: c.deltaPagesBuilt,
      openSnapshots: core.snapshotsOpen,
      pinnedVersions: core.pinnedVersions,
      retainedCommits: core.retainedTransitions,
      rollbackDepth: core.rollbackDepth,
      checkpoints: s?.checkpoints ?? 0,
      rollbackLogSnapshots: core.logSnapshots,
      rollbackLogReset: core.logResetReason,
      lastCommit: core.lastCommit,
    };
  }

  /** Resolves once every commit and rollback queued so far has settled. */
  async flush(): Promise<void> {
    await this.#core.drained();
  }

  /**
   * Closes the database; idempotent. Commits still queued are refused with `CLOSED` (await them,
   * or `flush()`, first); every commit already resolved is durable. Any later use throws `CLOSED`.
   */
  close(): void {
    this.#core.close();
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Waits for queued commits, then closes; for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#core.closed) await this.#core.drained();
    this.close();
  }
}

/**
 * Opens (creating by default) the database in directory `path`. Defaults: `rollbackWindow` 100,
 * `create` true, `readOnly` false, `valueCacheBytes` 256 MiB, `merkleCacheBytes` 128 MiB. One
 * writer process per directory (`LOCKED` names the holder); `readOnly` handles take no lock.
 */
export function open(path: string, options: DbOptions = {}): Db {
  return Db.open(path, options);
}

guardClass(Db);
