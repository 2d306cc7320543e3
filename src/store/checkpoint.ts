// The checkpoint pipeline: writes every change since the last checkpoint to the value tree and
// the page table under a new meta record; the redo log's commits after it go to its other file
// (redo-log.ts). Commits are durable without it; it bounds the log, the memory held by dirty pages and the replay at open.
//
// In order (steps 4 to 7 of a commit, see store.ts):
//   1. the value tree writes its new pages and syncs (on the worker thread when writing behind);
//   2. the page store builds its WAL of the dirty pages (or a grown table), and the worker
//      writes and syncs it; a checkpoint begun with `defer` returns here, and the next commit
//      (or `checkpoint`, or `close`) finishes it;
//   3. the meta record (seq, root, value-tree meta, page table) is written and synced: the
//      checkpoint is the new base;
//   4. the page store applies its WAL in place (on the worker, while commits go on), the value
//      tree may reuse the pages it freed, and the redo log's file of the records up to the
//      checkpoint may be started over by the next one. The first two are held back while
//      a reader in another process reads the checkpoint before (see readers.ts).
// A checkpoint runs either in one block (`begin`: `Store.commit`, `checkpoint`, `close`, a bulk
// load) or in the background (`beginBehind`: the database's commits): its work on the caller's
// thread (the value pages' copies for the worker, the pages' copies, placement, the WAL's
// images) in slices of a few milliseconds with the event loop free between them, then the
// waits for the worker with Atomics.waitAsync, the meta record written and synced by the worker,
// and step 4. The database's commits go on meanwhile: `Store.commitPreparedAsync` appends them
// to the redo log's other file and keeps them out of the store's memory until step 4, which
// applies them (`parts.published`); any synchronous call that changes the store first runs
// what is left of the checkpoint in one block (`finish`). Between slices the store's memory is
// only read (sessions' `finish`, snapshots, the commits' trie updates): the dirty pages and the
// value tree's memory stay as the checkpoint found them until step 4, and step 4 is one block.
// See docs/design.md, "Checkpoints in slices" and "Commits during a checkpoint".
// Reopening starts from the meta record: a crash before 3 leaves the previous one in force, and
// nothing it names was overwritten (copy-on-write values, WAL not yet applied); a crash after 3
// is repaired by replaying the WAL.
import { type KvFile, nextTurn, runSteps, type Steps, type WriteBehind, WriteJob } from "../io/index.ts";
import type { KvTree } from "../kv/index.ts";
import type { MerkleTop, PageStore } from "../merkle/index.ts";
import type { DirtyPages } from "./dirty-pages.ts";
import { metaRecordWrite, writeMetaRecord } from "./meta-record.ts";
import type { ReaderTable } from "./readers.ts";
import type { RedoLog } from "./redo-log.ts";

/** Time and work of one checkpoint. */
export interface CheckpointStats {
  /**
   * Milliseconds on the caller's thread: handing the value pages to be written, building the
   * page WAL (and, in one block, waiting for both to be written), the meta record, the apply.
   */
  valuesWriteMs: number;
  merkleWalMs: number;
  metaMs: number;
  applyMs: number;
  pages: number;
  /**
   * Run in the background: slices of the caller's thread, the longest, its longest single
   * step, and the wall time to durable.
   */
  background: boolean;
  slices: number;
  longestSliceMs: number;
  longestStepMs: number;
  wallMs: number;
}

/** What a commit that ran no checkpoint reports. */
export const NO_CHECKPOINT: CheckpointStats = Object.freeze({
  valuesWriteMs: 0,
  merkleWalMs: 0,
  metaMs: 0,
  applyMs: 0,
  pages: 0,
  background: false,
  slices: 0,
  longestSliceMs: 0,
  longestStepMs: 0,
  wallMs: 0,
});

/** Caller's-thread time a background checkpoint takes before it yields to the event loop (as a finish's step: update-steps.ts). */
export const SLICE_MS = 2;
let sliceMs = SLICE_MS;

/**
 * Sets the time per slice (tests set 0: one step per slice, so that reads run between every two
 * steps whatever the machine's speed); returns the previous value.
 */
export function setCheckpointSliceMs(ms: number): number {
  const old = sliceMs;
  sliceMs = ms;
  return old;
}

/** The time per slice now: a checkpoint's, and the commits applied behind (commits-ahead.ts). */
export function checkpointSliceMs(): number {
  return sliceMs;
}

let hold: (() => Promise<void>) | null = null;

/**
 * Tests: a background checkpoint awaits `h()` once its pages are written, before its meta
 * record (null: none), so that commits can be made during it whatever the machine's speed;
 * returns the previous hold.
 */
export function setCheckpointHold(h: (() => Promise<void>) | null): (() => Promise<void>) | null {
  const old = hold;
  hold = h;
  return old;
}

/** A checkpoint whose writes are in flight: what its commit point will record. */
interface PendingCheckpoint {
  seq: number;
  top: MerkleTop;
  kv: ReturnType<KvTree["prepareCommit"]>;
  table: ReturnType<PageStore["prepare"]>;
  stats: CheckpointStats;
}

// A step that asks its driver to wait (without blocking) for the page store's last in-place
// apply: the WAL it is about to overwrite is what repairs that apply.
const PAGES_IDLE = "pages idle";

/** A checkpoint running in the background. */
interface BackgroundRun {
  readonly steps: Steps<void>;
  /** `steps`: its slices run; `writes`: the worker writes its pages; `meta`: and then its meta record. */
  phase: "steps" | "writes" | "meta";
  /** Set once the run no longer drives (finished, failed, or taken over by `finish`). */
  over: boolean;
  readonly t0: number;
  slices: number;
  longestSliceMs: number;
  longestStepMs: number;
  busyMs: number;
  /** Settles when the driver stops (never rejects). */
  done: Promise<void>;
}

/** The files and state a checkpoint writes. */
export interface CheckpointParts {
  readonly values: KvTree;
  readonly pages: PageStore;
  readonly redo: RedoLog;
  readonly metaFile: KvFile;
  readonly dirty: DirtyPages;
  /** Readers of older checkpoints in other processes (null: an in-memory file system). */
  readonly readers: ReaderTable | null;
  /** Writes the value tree's checkpoint pages behind (null: inline). */
  readonly behind: WriteBehind | null;
  /** Called when a background checkpoint fails: the store is failed (memory and disk may disagree). */
  readonly fail: (e: unknown) => void;
  /**
   * Called at the end of the publication, in the same block: the store applies the commits it
   * logged while the checkpoint ran (see `Store.commitPreparedAsync`).
   */
  readonly published: () => void;
}

/** The checkpoints of one store: the last one's seq, and the one in flight. */
export class Checkpoints {
  /** Seq of the last durable checkpoint (the meta record's). */
  seq: number;
  /** Checkpoints written since open. */
  count = 0;
  /** The last checkpoint finished (its stats), or null. */
  last: CheckpointStats | null = null;
  /**
   * A checkpoint whose value pages and page WAL are being written and synced by the worker
   * while the caller goes on (the next commit's trie update reads the state meanwhile; its
   * writes wait for the finish). Memory stays the truth until then.
   */
  #pending: PendingCheckpoint | null = null;
  /** A checkpoint running in the background (its steps, or its writes), or null. */
  #run: BackgroundRun | null = null;

  constructor(
    private readonly parts: CheckpointParts,
    seq: number,
  ) {
    this.seq = seq;
  }

  /** True while a checkpoint is begun and not finished. */
  get pending(): boolean {
    return this.#pending !== null || this.#run !== null;
  }

  /** True while a checkpoint runs in the background (`beginBehind`), driven by the event loop. */
  get running(): boolean {
    return this.#run !== null;
  }

  /**
   * Begins a checkpoint of the state at `seq` with root `top` and runs its caller's-thread work
   * in one block: the value pages and the page WAL go to the worker (when writing behind). With
   * `defer` it returns with those writes in flight, and `finish` (the next commit, `checkpoint`
   * or `close`) completes it; else it finishes now.
   */
  begin(seq: number, top: MerkleTop, defer: boolean): CheckpointStats {
    if (seq === this.seq) return NO_CHECKPOINT;
    this.parts.redo.beginCheckpoint();
    runSteps(this.#steps(seq, top));
    const stats = (this.#pending as PendingCheckpoint).stats;
    return defer ? stats : this.finish();
  }

  /**
   * Begins a checkpoint of the state at `seq` with root `top` in the background (see the file's
   * head) and returns at once. `idle` resolves when it is done; `finish` completes it in one
   * block. A failure fails the store through `parts.fail`.
   */
  beginBehind(seq: number, top: MerkleTop): CheckpointStats {
    if (seq === this.seq) return NO_CHECKPOINT;
    this.parts.redo.beginCheckpoint();
    const run: BackgroundRun = {
      steps: this.#steps(seq, top),
      phase: "steps",
      over: false,
      t0: performance.now(),
      slices: 0,
      longestSliceMs: 0,
      longestStepMs: 0,
      busyMs: 0,
      done: Promise.resolve(),
    };
    this.#run = run;
    run.done = this.#drive(run);
    return { ...NO_CHECKPOINT, background: true };
  }

  /**
   * Resolves once no checkpoint is in flight, without blocking the thread: a background one has
   * finished (or failed: the store is then failed), and one begun with `defer` has had its
   * writes awaited and been finished. Never rejects.
   */
  async idle(): Promise<void> {
    while (this.#run !== null) await this.#run.done;
    if (this.#pending === null) return;
    await Promise.all([this.parts.behind?.settled(), this.parts.pages.idle()]);
    if (this.#pending === null || this.#run !== null) return this.idle();
    try {
      this.finish();
    } catch (e) {
      this.parts.fail(e);
    }
  }

  // The checkpoint's work on the caller's thread, in steps; at its end the writes are in flight.
  *#steps(seq: number, top: MerkleTop): Steps<void> {
    const { values, pages, dirty, behind } = this.parts;
    // The bound of a reader of the checkpoint before last: its state goes now.
    this.applyHeld();
    yield PAGES_IDLE;
    const t0 = performance.now();
    const kv = yield* values.prepareCommitSteps(behind ?? undefined);
    const t1 = performance.now();
    const writes = dirty.list();
    const table = yield* pages.prepareSteps(writes, seq, { walBehind: behind !== null, distinct: true });
    const t2 = performance.now();
    this.#pending = {
      seq,
      top,
      kv,
      table,
      stats: { ...NO_CHECKPOINT, valuesWriteMs: t1 - t0, merkleWalMs: t2 - t1, pages: writes.length, slices: 1, longestSliceMs: t2 - t0, wallMs: t2 - t0 },
    };
  }

  // Runs a background checkpoint: slices, then the waits and the meta record off the thread.
  async #drive(run: BackgroundRun): Promise<void> {
    const { values, pages, behind, metaFile } = this.parts;
    try {
      for (;;) {
        // The first wait lets the commit that began the checkpoint return first.
        await nextTurn();
        if (run.over) return;
        const t = performance.now();
        let r: IteratorResult<unknown, void>;
        // A slice stops before a step that, as long as the last one, would take it past its time.
        let now = t;
        let step = 0;
        do {
          const s = now;
          r = run.steps.next();
          now = performance.now();
          step = now - s;
          if (step > run.longestStepMs) run.longestStepMs = step;
        } while (r.done !== true && r.value !== PAGES_IDLE && now - t + step < sliceMs);
        const ms = now - t;
        run.slices++;
        run.busyMs += ms;
        if (ms > run.longestSliceMs) run.longestSliceMs = ms;
        if (r.done === true) break;
        if (r.value === PAGES_IDLE) await pages.idle();
        if (run.over) return;
      }
      run.phase = "writes";
      const p = this.#pending as PendingCheckpoint;
      await Promise.all([behind?.settled(), pages.idle()]);
      if (hold !== null) await hold();
      if (run.over) return;
      // Both have stopped: these report a failure at once, or return.
      values.settleCommit();
      pages.settlePrepared();
      const fd = metaFile.fd;
      if (behind !== null && fd !== undefined) {
        const { bytes, at } = metaRecordWrite(metaFile, { seq: p.seq, top: p.top, kv: p.kv, table: p.table });
        const job = new WriteJob();
        job.addCopy(bytes, at);
        behind.submit(fd, metaFile.path, job);
        run.phase = "meta";
        await behind.settled();
        if (run.over) return;
        behind.wait();
      } else {
        writeMetaRecord(metaFile, { seq: p.seq, top: p.top, kv: p.kv, table: p.table });
      }
      run.over = true;
      this.#run = null;
      const t = performance.now();
      this.#publish(p);
      p.stats.applyMs = performance.now() - t;
      this.#ended(p, run);
      // The applied page images go into the page cache in slices (reads find them meanwhile).
      while (!pages.fillCache(performance.now() + sliceMs)) await nextTurn();
    } catch (e) {
      run.over = true;
      this.#run = null;
      this.#pending = null;
      this.parts.fail(e);
    } finally {
      if (this.#run === run) this.#run = null;
    }
  }

  #ended(p: PendingCheckpoint, run: BackgroundRun | null): void {
    if (run !== null) {
      p.stats.background = true;
      p.stats.slices = run.slices;
      p.stats.longestSliceMs = run.longestSliceMs;
      p.stats.longestStepMs = run.longestStepMs;
      p.stats.wallMs = performance.now() - run.t0;
    }
    this.last = p.stats;
  }

  /**
   * Completes the checkpoint in flight in one block: what is left of a background one's steps,
   * then waits for the writes (Atomics.wait), writes the commit point and applies it.
   */
  finish(): CheckpointStats {
    const run = this.#run;
    if (run !== null) {
      // The driver stops at its next turn; from here this call owns the checkpoint.
      run.over = true;
      this.#run = null;
      if (run.phase === "steps") runSteps(run.steps);
      if (run.phase === "meta") {
        const p = this.#pending as PendingCheckpoint;
        (this.parts.behind as WriteBehind).wait();
        this.#publish(p);
        this.#ended(p, run);
        return p.stats;
      }
    }
    const p = this.#pending as PendingCheckpoint;
    const { values, pages, metaFile } = this.parts;
    const t0 = performance.now();
    values.settleCommit();
    pages.settlePrepared();
    const t1 = performance.now();
    writeMetaRecord(metaFile, { seq: p.seq, top: p.top, kv: p.kv, table: p.table });
    const t2 = performance.now();
    this.#publish(p);
    p.stats.merkleWalMs += t1 - t0;
    p.stats.metaMs = t2 - t1;
    p.stats.applyMs = performance.now() - t2;
    this.#ended(p, run);
    return p.stats;
  }

  // Step 4, once the meta record naming `p` is durable: one block, so that a read between two
  // slices of anything sees the pages either all before it or all after.
  #publish(p: PendingCheckpoint): void {
    const { values, pages, dirty, readers, redo } = this.parts;
    // The in-place apply and the reuse of the old tree's pages destroy the checkpoint before
    // this one: held back while a reader in another process reads it (see readers.ts).
    readers?.intend(p.seq);
    if (readers?.liveBelow(p.seq)) {
      values.markDurable(p.kv, true);
      dirty.hold(p.seq);
    } else {
      readers?.applying(p.seq);
      pages.apply();
      values.markDurable(p.kv);
      dirty.clear();
    }
    this.#pending = null;
    // The log's file of the records up to p.seq may be started over by the next checkpoint.
    redo.checkpointed(p.seq);
    this.seq = p.seq;
    this.count++;
    this.parts.published();
  }

  /**
   * Gives up the checkpoint in flight without finishing it (the store is failing or being
   * abandoned): the driver stops, and a meta record the worker may be writing is waited for,
   * so that its file can be closed. Never throws.
   */
  abandon(): void {
    const run = this.#run;
    if (run !== null) {
      run.over = true;
      this.#run = null;
    }
    try {
      this.parts.behind?.wait();
    } catch {
      // The store is failing or being abandoned: nothing more is published.
    }
  }

  /** Applies a checkpoint held back for readers, and lets the value tree reuse its freed pages. */
  applyHeld(): void {
    const seq = this.parts.dirty.heldSeq;
    if (seq === null) return;
    this.parts.readers?.applying(seq);
    this.parts.pages.apply();
    this.parts.values.releaseHeld();
    this.parts.dirty.release();
  }

  /** Applies a checkpoint held back for readers once no reader of the one before is left. */
  applyHeldIfUnread(): void {
    const seq = this.parts.dirty.heldSeq;
    if (seq !== null && !(this.parts.readers?.liveBelow(seq) ?? false)) this.applyHeld();
  }
}
