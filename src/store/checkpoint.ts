// The checkpoint pipeline: writes every change since the last checkpoint to the value tree and
// the page table under a new meta record, and starts the redo log over. Commits are durable
// without it; it bounds the log, the memory held by dirty pages and the replay at open.
//
// In order (steps 4 to 7 of a commit, see store.ts):
//   1. the value tree writes its new pages and syncs (on the worker thread when writing behind);
//   2. the page store builds its WAL of the dirty pages (or a grown table), and the worker
//      writes and syncs it; a checkpoint begun with `defer` returns here, and the next commit
//      (or `checkpoint`, or `close`) finishes it;
//   3. the meta record (seq, root, value-tree meta, page table) is written and synced: the
//      checkpoint is the new base;
//   4. the page store applies its WAL in place (on the worker, while commits go on), the value
//      tree may reuse the pages it freed, and the redo log starts over. Both are held back while
//      a reader in another process reads the checkpoint before (see readers.ts).
// Reopening starts from the meta record: a crash before 3 leaves the previous one in force, and
// nothing it names was overwritten (copy-on-write values, WAL not yet applied); a crash after 3
// is repaired by replaying the WAL.
import type { KvFile, WriteBehind } from "../io/index.ts";
import type { KvTree } from "../kv/index.ts";
import type { MerkleTop, PageStore } from "../merkle/index.ts";
import type { DirtyPages } from "./dirty-pages.ts";
import { writeMetaRecord } from "./meta-record.ts";
import type { ReaderTable } from "./readers.ts";
import type { RedoLog } from "./redo-log.ts";

/** Time and work of one checkpoint. */
export interface CheckpointStats {
  valuesWriteMs: number;
  merkleWalMs: number;
  metaMs: number;
  applyMs: number;
  pages: number;
}

/** What a commit that ran no checkpoint reports. */
export const NO_CHECKPOINT: CheckpointStats = { valuesWriteMs: 0, merkleWalMs: 0, metaMs: 0, applyMs: 0, pages: 0 };

/** A checkpoint whose writes are in flight: what its commit point will record. */
interface PendingCheckpoint {
  seq: number;
  top: MerkleTop;
  kv: ReturnType<KvTree["prepareCommit"]>;
  table: ReturnType<PageStore["prepare"]>;
  stats: CheckpointStats;
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
}

/** The checkpoints of one store: the last one's seq, and the one in flight. */
export class Checkpoints {
  /** Seq of the last durable checkpoint (the meta record's). */
  seq: number;
  /** Checkpoints written since open. */
  count = 0;
  /**
   * A checkpoint begun by a commit and not yet finished: its value pages and page WAL are being
   * written and synced by the worker while the caller goes on (the next commit's trie update
   * reads the state meanwhile; its writes wait for the finish). Memory stays the truth until then.
   */
  #pending: PendingCheckpoint | null = null;

  constructor(
    private readonly parts: CheckpointParts,
    seq: number,
  ) {
    this.seq = seq;
  }

  /** True while a checkpoint's writes are in flight. */
  get pending(): boolean {
    return this.#pending !== null;
  }

  /**
   * Begins a checkpoint of the state at `seq` with root `top`: the value pages and the page WAL
   * go to the worker (when writing behind). With `defer` it returns with those writes in flight,
   * and `finish` (the next commit, `checkpoint` or `close`) completes it; else it finishes now.
   */
  begin(seq: number, top: MerkleTop, defer: boolean): CheckpointStats {
    if (seq === this.seq) return NO_CHECKPOINT;
    const { values, pages, dirty, behind } = this.parts;
    // The bound of a reader of the checkpoint before last: its state goes now.
    this.applyHeld();
    const t0 = performance.now();
    const kv = values.prepareCommit(behind ?? undefined);
    const t1 = performance.now();
    const writes = dirty.list();
    const table = pages.prepare(writes, seq, { walBehind: behind !== null, distinct: true });
    const t2 = performance.now();
    this.#pending = { seq, top, kv, table, stats: { valuesWriteMs: t1 - t0, merkleWalMs: t2 - t1, metaMs: 0, applyMs: 0, pages: writes.length } };
    return defer ? this.#pending.stats : this.finish();
  }

  /** Waits for the pending checkpoint's writes, then writes its commit point and applies it. */
  finish(): CheckpointStats {
    const p = this.#pending as PendingCheckpoint;
    const { values, pages, dirty, readers, redo, metaFile } = this.parts;
    const t0 = performance.now();
    values.settleCommit();
    pages.settlePrepared();
    const t1 = performance.now();
    writeMetaRecord(metaFile, { seq: p.seq, top: p.top, kv: p.kv, table: p.table });
    const t2 = performance.now();
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
    redo.reset();
    this.seq = p.seq;
    this.count++;
    p.stats.merkleWalMs += t1 - t0;
    p.stats.metaMs = t2 - t1;
    p.stats.applyMs = performance.now() - t2;
    return p.stats;
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
