// The rollback log: what `rollback(n)` undoes, durable and consistent with the store's commit
// point without touching the store's meta record.
//
// Every commit of the database appends one event, tagged with the store sequence number the
// commit produces, and syncs it BEFORE the store's commit point:
//   - FORWARD(seq, prevTop, top, reverse changes): a commit; `reverse` holds, for each key it
//     changed, the value before it (null: absent).
//   - ROLLBACK(seq, n, remaining): a rollback, which removes the newest n FORWARD records from
//     the chain and leaves `remaining` records in it.
// Replaying the events gives the undo chain (newest last, at most `window` records). Store
// sequence numbers go up by one per commit, so the events of a file are consecutive; at open,
// an event tagged above the store's seq belongs to a commit that never reached its commit point
// and is cut off. A crash between any two writes therefore leaves a log that, cut at the store's
// seq, describes exactly the committed history. A torn or damaged tail fails its checksum or
// breaks the sequence and ends the replay there.
//
// Files `rollback.0` and `rollback.1` alternate: when the live one holds `window` events past its
// snapshot (at least 16), the chain is written to the other as a snapshot (records, then a sync,
// then a header naming a higher generation, then a sync), and events continue there. An async
// commit starts that snapshot in the background (async writes and syncs, each record's bytes as
// encoded for its event) while later commits append to the live file; the first commit after
// the snapshot is durable writes the events appended meanwhile after it, then its own event,
// and switches files under its sync. A blocking commit writes the snapshot at once. At open the
// valid header of the higher generation wins unless its file does not reach the store's seq
// while the other's does (a background snapshot whose carried-over events never became
// durable): the older file, which got every event, is then in force. So a crash while writing
// a snapshot, or before the switch, keeps the old file in force.
//
// Header (64 bytes): magic, version, gen, snapSeq (store seq of the snapshot), snapCount,
// snapBytes, crc32. Event: u32 body length, u32 crc32(body), body (see encodeEvent).
//
// Damage: what a crash cannot explain is `DbError` `CORRUPT` naming the file and offset: a
// snapshot record that fails (it was synced before its header), an event that fails while a
// whole later event follows it, a live file's header that fails while the other file does not
// reach the store (the damaged one was the newer; a newer file that does not reach the store
// while the older one does is taken for an unfinished switch, above), both headers failing in two files that
// were both written, a file missing beside one of a later generation. What stays ambiguous (the
// events end early with nothing whole after them: a zeroed or cut tail, or a database committed
// without its log, as with `rollbackWindow: 0`) opens with a shorter window and says so: the
// reason is kept (`resetReason`, `DbMetrics.rollbackLogReset`) and a process warning with code
// `BMT_ROLLBACK_LOG_RESET` is emitted.
import { join } from "node:path";
import { closeAll, closeQuietly, guardFile, guardFileSystem, IoError, type KvFile, NodeFile } from "../io/index.ts";
import type { MerkleTop } from "../merkle/index.ts";
import type { PageStoreFileSystem } from "../io/index.ts";
import { encodeEvent, encodeHeader, LOG_HEADER_BYTES, type LogEvent, type UndoRecord } from "./rollback-codec.ts";
import { applyEvent, encoded, inForce, type LogResetReason } from "./rollback-replay.ts";

export { decodeEvent, encodeEvent, type LogEvent, type UndoRecord } from "./rollback-codec.ts";

/** A file the log writes (host files sync and write on the thread pool: `syncAsync`, `writeAsync`). */
export type LogFile = KvFile;

function readAll(f: KvFile): Uint8Array {
  const out = new Uint8Array(f.size());
  const n = f.read(out, 0);
  return out.subarray(0, n);
}

/** The undo chain and its files. */
export class RollbackLog {
  readonly #files: [LogFile, LogFile];
  readonly #fs: PageStoreFileSystem;
  readonly #dir: string;
  #window: number;
  #cur: 0 | 1;
  #gen: number;
  #end: number;
  #events = 0;
  #chain: UndoRecord[];
  #staged: { event: LogEvent; bytes: Uint8Array; into: 0 | 1; end: number } | null = null;
  /** The snapshot being written in the background, or written and waiting to take over. */
  #bg: Background | null = null;
  #filesClosed = false;
  #closed = false;
  /** Set when open discarded the chain on disk, and why. */
  readonly resetReason: LogResetReason | null;
  /** Snapshots written (at open and as the log grows). */
  snapshots = 0;

  private constructor(
    dir: string,
    fs: PageStoreFileSystem,
    files: [LogFile, LogFile],
    window: number,
    cur: 0 | 1,
    gen: number,
    end: number,
    events: number,
    chain: UndoRecord[],
    reset: LogResetReason | null,
  ) {
    this.#dir = dir;
    this.#fs = fs;
    this.#files = files;
    this.#window = window;
    this.#cur = cur;
    this.#gen = gen;
    this.#end = end;
    this.#events = events;
    this.#chain = chain;
    this.resetReason = reset;
  }

  /**
   * Opens the log of the database in `dir` whose store is at `storeSeq` with root `storeTop`,
   * keeping at most `window` undo records. A log that does not reach the store's seq (the store
   * was committed without it), or is damaged, is replaced by an empty chain (`resetReason`).
   */
  static open(dir: string, fs: PageStoreFileSystem, hostFs: boolean, storeSeq: number, storeTop: MerkleTop, window: number): RollbackLog {
    // Every failure of these files and of `fs` leaves as an `IoError` (see io/io-error.ts).
    const guarded = guardFileSystem(fs);
    const name = (i: number) => join(dir, `rollback.${i}`);
    const open = (i: number): LogFile => {
      const path = name(i);
      if (!hostFs) return guarded.open(path);
      try {
        return guardFile(new NodeFile(path));
      } catch (e) {
        throw new IoError("open", path, e);
      }
    };
    // Which files exist, looked at before opening creates them (null: the file system cannot list).
    const listed = guarded.list?.(dir) ?? null;
    const present = [0, 1].map((i) => listed === null || listed.includes(`rollback.${i}`));
    const files: LogFile[] = [];
    try {
      const images: Uint8Array[] = [];
      for (const i of [0, 1]) {
        if (!present[i]) {
          images.push(new Uint8Array(0));
          continue;
        }
        const f = open(i);
        files.push(f);
        images.push(readAll(f));
      }
      const { cur, maxGen, reason, chain, end, events } = inForce(images, present, name, storeSeq, storeTop, window);
      for (const i of [0, 1]) if (!present[i]) files.splice(i, 0, open(i));
      const pair = files as [LogFile, LogFile];
      const log = new RollbackLog(dir, guarded, pair, window, cur === -1 ? 1 : cur, maxGen, end, events, chain, reason);
      if (reason !== null) {
        if (reason !== "new") {
          process.emitWarning(
            `${dir}: the rollback log was not usable (${reason}); it starts over empty at commit ${storeSeq}, so rollback and past reads reach no further back than now`,
            {
              code: "BMT_ROLLBACK_LOG_RESET",
            },
          );
        }
        log.#writeSnapshot(storeSeq);
      } else if (pair[log.#cur].size() > end) {
        // Cut what a commit that never reached its commit point left after the last event.
        pair[log.#cur].truncate(end);
        pair[log.#cur].sync();
      }
      return log;
    } catch (e) {
      for (const f of files) closeQuietly(f);
      throw e;
    }
  }

  /** The undo chain, oldest first; the last record's `top` is the store's root. */
  get chain(): readonly UndoRecord[] {
    return this.#chain;
  }

  /** Most records kept. */
  get window(): number {
    return this.#window;
  }

  /** Events in the live file after its snapshot. */
  get events(): number {
    return this.#events;
  }

  /**
   * Writes `event` after the last one, not yet synced; `commitStaged` makes it part of the log.
   * When a background snapshot is durable, the event goes to the snapshot's file instead, after
   * the events committed while it was written (carried over), and committing it switches files.
   */
  stage(event: LogEvent): void {
    const bytes = encodeEvent(event);
    const bg = this.#bg;
    if (bg !== null && bg.error !== null) throw bg.error;
    if (bg !== null && bg.done) {
      const f = this.#files[bg.next];
      let at = bg.end;
      for (const b of bg.since) {
        f.write(b, at);
        at += b.length;
      }
      f.write(bytes, at);
      this.#staged = { event, bytes, into: bg.next, end: at + bytes.length };
      return;
    }
    this.#files[this.#cur].write(bytes, this.#end);
    this.#staged = { event, bytes, into: this.#cur, end: this.#end + bytes.length };
  }

  /** Syncs the staged event (blocking). */
  sync(): void {
    this.#files[this.#stagedInto()].sync();
  }

  /** Syncs the staged event on the thread pool when the file allows it. */
  async syncAsync(): Promise<void> {
    await syncOf(this.#files[this.#stagedInto()]);
  }

  #stagedInto(): 0 | 1 {
    return this.#staged?.into ?? this.#cur;
  }

  /** The store committed the staged event's commit: the event is part of the log now. */
  commitStaged(): void {
    const s = this.#staged;
    if (s === null) throw new Error("rollback log: nothing staged");
    this.#staged = null;
    if (s.event.kind === "forward") encoded.set(s.event.record, s.bytes);
    const bg = this.#bg;
    if (s.into !== this.#cur && bg !== null) {
      // The snapshot's file, with every event since it, is durable: it is the live file now.
      this.#cur = bg.next;
      this.#gen = bg.gen;
      this.#events = bg.since.length + 1;
      this.#bg = null;
      this.snapshots++;
    } else {
      this.#events++;
      bg?.since.push(s.bytes);
    }
    this.#end = s.end;
    applyEvent(this.#chain, s.event, this.#window);
  }

  /** The background snapshot's failure, or null. */
  get backgroundError(): unknown {
    return this.#bg?.error ?? null;
  }

  /** Throws the failure of the background snapshot, if one failed. */
  checkBackground(): void {
    if (this.#bg !== null && this.#bg.error !== null) throw this.#bg.error;
  }

  /** The handle failed: a background snapshot starts no further write or sync. */
  stopBackground(): void {
    if (this.#bg !== null) this.#bg.stopped = true;
  }

  /** A background snapshot is being written (a blocking one must not start). */
  get snapshotRunning(): boolean {
    return this.#bg !== null;
  }

  /**
   * Starts writing the chain, at store seq `seq`, as a snapshot into the other file, in the
   * background: each record's bytes as they were encoded for its event, async writes, a sync,
   * the header naming the next generation, a sync. Commits meanwhile append to the live file;
   * the first `stage` after the snapshot is durable carries their events over and switches.
   * A failed write or sync is thrown by the next `stage` (never retried) and told to `failed`
   * when it happens. Call between commits.
   */
  startSnapshot(seq: number, failed?: (e: unknown) => void): void {
    const next = (1 - this.#cur) as 0 | 1;
    const f = this.#files[next];
    const parts = this.#chain.map((record) => encoded.get(record) ?? encodeEvent({ kind: "forward", record }));
    const gen = this.#gen + 1;
    const created = f.size() === 0;
    f.truncate(0);
    const bg: Background = { next, gen, end: 0, done: false, error: null, since: [], settled: null, stopped: false };
    this.#bg = bg;
    const run = async (): Promise<void> => {
      let at = LOG_HEADER_BYTES;
      const gone = () => this.#closed || bg.stopped;
      for (const b of parts) {
        if (gone()) return;
        await writeOf(f, b, at);
        at += b.length;
      }
      if (gone()) return;
      await syncOf(f);
      if (gone()) return;
      await writeOf(f, encodeHeader({ gen, snapSeq: seq, snapCount: parts.length, snapBytes: at - LOG_HEADER_BYTES }), 0);
      if (gone()) return;
      await syncOf(f);
      if (gone()) return;
      if (created) this.#fs.syncDir(this.#dir);
      bg.end = at;
      bg.done = true;
    };
    bg.settled = run()
      .catch((e: unknown) => {
        bg.error = e;
        failed?.(e);
      })
      .finally(() => {
        bg.settled = null;
        // Closed while it ran: the files were left open for it; abandoned, it is harmless (a
        // header-less file, or a newer one that does not reach the store: the older file wins).
        if (this.#closed) this.#closeFiles();
      });
  }

  /** The store did not commit the staged event's commit: forget it (the bytes are overwritten). */
  dropStaged(): void {
    this.#staged = null;
  }

  /** True when the live file holds enough events that a snapshot should replace it. */
  get wantsSnapshot(): boolean {
    return this.#events >= Math.max(this.#window, 16);
  }

  /**
   * Writes the chain as a snapshot at store seq `seq` to the other file and continues there
   * (see the module comment). Call only between commits, with the chain matching the store.
   */
  snapshot(seq: number): void {
    this.#writeSnapshot(seq);
  }

  #writeSnapshot(seq: number): void {
    const next = (1 - this.#cur) as 0 | 1;
    const f = this.#files[next];
    const created = f.size() === 0;
    f.truncate(0);
    let at = LOG_HEADER_BYTES;
    for (const record of this.#chain) {
      const bytes = encoded.get(record) ?? encodeEvent({ kind: "forward", record });
      f.write(bytes, at);
      at += bytes.length;
    }
    f.sync();
    const gen = this.#gen + 1;
    f.write(encodeHeader({ gen, snapSeq: seq, snapCount: this.#chain.length, snapBytes: at - LOG_HEADER_BYTES }), 0);
    f.sync();
    if (created) this.#fs.syncDir(this.#dir);
    this.#cur = next;
    this.#gen = gen;
    this.#end = at;
    this.#events = 0;
    this.snapshots++;
  }

  /**
   * Closes the files, each once, whatever fails (the first failure is thrown after). With a
   * background snapshot in flight the files close when its current write or sync returns, and
   * the snapshot is abandoned.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#bg?.settled) return;
    this.#closeFiles();
  }

  #closeFiles(): void {
    if (this.#filesClosed) return;
    this.#filesClosed = true;
    closeAll(this.#files);
  }
}

/** A snapshot written in the background (see `RollbackLog.startSnapshot`). */
interface Background {
  readonly next: 0 | 1;
  readonly gen: number;
  /** Where the snapshot ends in its file (once `done`). */
  end: number;
  /** Its records and header are durable. */
  done: boolean;
  /** The write or sync that failed. */
  error: unknown;
  /** Bytes of the events committed to the live file since the snapshot's seq. */
  readonly since: Uint8Array[];
  /** Settles when the background work has (null once it has). */
  settled: Promise<void> | null;
  /** The handle failed: start no further write or sync. */
  stopped: boolean;
}

async function syncOf(f: LogFile): Promise<void> {
  if (f.syncAsync) await f.syncAsync();
  else f.sync();
}

async function writeOf(f: LogFile, b: Uint8Array, at: number): Promise<void> {
  if (f.writeAsync) await f.writeAsync(b, at);
  else f.write(b, at);
}
