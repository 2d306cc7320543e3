// The redo log: each commit's batch, appended and synced, is what makes the commit durable
// (redo-file.ts: the format of one file, and what a crash may leave of it).
//
// Two files, `redo.0` and `redo.1`, take turns, so that commits can go on while a checkpoint is
// written. When checkpoint s begins, the commits after it go to the other file, started over (in
// memory: nothing is written until the next append overwrites its first record). That file
// holds only records of the interval before the last durable checkpoint (one checkpoint is in
// flight at a time, begun after the one before it was published), all covered by the commit
// point; and the file left holds records up to s until checkpoint s is durable. So no file is
// overwritten while it holds a record the durable commit point does not cover, and a crash at
// any instant leaves every acknowledged record in one of the two. Open replays them in the
// order of their first records (the file whose first whole record is older first): the
// records after the commit point's seq from the first, then the records after those from the
// second, each file under the rule above. (Not in the order of their headers: a slot may name
// a record torn by a crash, never acknowledged, whose number the other file took after the
// reopen.) When both held live records (a crash during a checkpoint that commits followed),
// the next checkpoint does not switch: it keeps appending to the second file, and frees the
// first once it is durable.
import { join } from "node:path";
import { closeAll, closeQuietly, type KvFile } from "../io/index.ts";
import type { Change, MerkleTop } from "../merkle/index.ts";
import { StoreError } from "./errors.ts";
import { RedoFile, type RedoRecord } from "./redo-file.ts";

export { REDO_DATA_START, type RedoRecord } from "./redo-file.ts";

/** The names of the log's two files in a store's directory. */
export const REDO_FILE_NAMES = ["redo.0", "redo.1"] as const;

/** Opens the log's two files in directory `dir` (neither read yet: see `replay`). */
export function openRedoLog(fs: { open(path: string): KvFile }, dir: string): RedoLog {
  const first = fs.open(join(dir, REDO_FILE_NAMES[0]));
  let second: KvFile;
  try {
    second = fs.open(join(dir, REDO_FILE_NAMES[1]));
  } catch (e) {
    closeQuietly(first);
    throw e;
  }
  return new RedoLog([first, second]);
}

/** Appends commits to two files taking turns at checkpoints, and replays them after a crash. */
export class RedoLog {
  readonly #files: readonly [RedoFile, RedoFile];
  /** The file appends go to. */
  #cur = 0;
  /** The other file holds no record the durable commit point does not cover. */
  #otherFree = true;
  /** The seq of the last durable checkpoint (each append's header slot names it). */
  #durable = 0;
  #fsyncs = 0;
  #bytesWritten = 0;

  /** The log in `files` (`redo.0`, `redo.1`); `replay` reads it, `create` makes it empty. */
  constructor(files: readonly [KvFile, KvFile]) {
    this.#files = [new RedoFile(files[0]), new RedoFile(files[1])];
  }

  get #file(): RedoFile {
    return this.#files[this.#cur];
  }

  /** Bytes of records in the file appended to, since it was started over. */
  get bytes(): number {
    return this.#file.bytes;
  }

  /** Records in the file appended to, since it was started over. */
  get records(): number {
    return this.#file.records;
  }

  /** Where the next record will start in the file appends go to. */
  get tail(): number {
    return this.#file.tail;
  }

  /** The file appends go to (its path names it in messages). */
  get file(): KvFile {
    return this.#file.file;
  }

  /** Counters since open. */
  stats(): { fsyncs: number; bytesWritten: number } {
    return { fsyncs: this.#fsyncs, bytesWritten: this.#bytesWritten };
  }

  /** Makes both files an empty log whose commits so far end at `seq` (a new database), and syncs. */
  create(seq: number): void {
    for (const f of this.#files) {
      f.create(seq);
      f.file.sync();
      this.#fsyncs++;
    }
    this.#cur = 0;
    this.#otherFree = true;
    this.#durable = seq;
  }

  /**
   * The records after `afterSeq` (consecutive), from both files in order (see the module
   * comment); the next append goes after the last of them. Throws `CORRUPT` (file and offset)
   * for damage a crash cannot explain.
   */
  replay(afterSeq: number): RedoRecord[] {
    for (const f of this.#files) {
      f.readHead();
      // An append made after a newer commit point was durable: that one is damaged (a crash
      // cannot lose a synced record), and the pages it applied in place are not this one's.
      if (f.headDurable > afterSeq) {
        throw new StoreError(
          "CORRUPT",
          `${f.file.path}: the redo log's header names commit point ${f.headDurable} as durable, after the last one the meta file holds (seq ${afterSeq}); the newer one is damaged`,
        );
      }
    }
    this.#durable = afterSeq;
    // The file whose first record is older goes first. (Not by the headers: a slot may name a
    // record torn by a crash, never acknowledged, whose number the other file then took.)
    const leads = this.#files.map((f) => f.leadSeq());
    const first = leads[1] < leads[0] ? 1 : 0;
    const a = this.#files[first];
    const b = this.#files[1 - first];
    const older = a.replay(afterSeq);
    const last = afterSeq + older.length;
    const newer = b.replay(last, older.length > 0 ? `record ${last}, the last of ${a.file.path}` : null);
    // Appends continue in the file that holds the newest records (the second, when neither
    // does: every record of both is covered, so either may start over).
    this.#cur = newer.length > 0 || older.length === 0 ? 1 - first : first;
    this.#otherFree = newer.length === 0 || older.length === 0;
    if (older.length === 0 && newer.length === 0) this.#file.startOver();
    return older.concat(newer);
  }

  /**
   * True when the log moved on from what `replay` saw: a whole record numbered `seq` starts
   * where the next append would, or a header names another last commit (how a reader learns
   * that a writer has committed after the records it replayed; a damaged last record that
   * replay dropped does not count, nor does an append still being written). Also tells a
   * failed replay that a writer appended meanwhile.
   */
  movedSince(seq: number): boolean {
    return this.#files.some((f) => f.headMoved()) || this.#file.appendedAtTail(seq);
  }

  /** Appends one commit and syncs: when this returns, the commit is durable. */
  append(seq: number, top: MerkleTop, changes: readonly Change[]): void {
    const len = this.write(seq, top, changes);
    this.#file.file.sync();
    this.synced(len);
  }

  /**
   * Writes one commit's record and the header slot naming it, not synced: the commit is durable
   * once a sync of `file` returns, and then `synced(length)` makes it part of the log. Until
   * then the next write goes to the same place (a failed sync fails the store, so none does).
   */
  write(seq: number, top: MerkleTop, changes: readonly Change[]): number {
    return this.#file.write(seq, top, changes, this.#durable);
  }

  /** Syncs what `write` wrote on the thread pool when the file can (else blocking). */
  async syncAsync(): Promise<void> {
    const f = this.#file.file as KvFile & { syncAsync?(): Promise<void> };
    if (f.syncAsync) await f.syncAsync();
    else f.sync();
  }

  /** The record `write` wrote (`length` bytes) was synced: it is part of the log now. */
  synced(length: number): void {
    this.#fsyncs++;
    this.#bytesWritten += length;
    this.#file.synced(length);
  }

  /**
   * A checkpoint of every record so far begins: the commits after it go to the other file,
   * started over, when that file holds nothing the durable commit point does not cover (else,
   * after a crash during a checkpoint, to this one, until `checkpointed`). Nothing is written.
   */
  beginCheckpoint(): void {
    if (!this.#otherFree) return;
    this.#cur = 1 - this.#cur;
    this.#file.startOver();
    this.#otherFree = false;
  }

  /** The checkpoint begun last, at `seq`, is durable: the file it left holds nothing live any more. */
  checkpointed(seq: number): void {
    this.#otherFree = true;
    this.#durable = seq;
  }

  /** Closes both files; idempotent. */
  close(): void {
    closeAll(this.#files);
  }
}
