// The reader table: how read-only handles in other processes keep the state they read from the
// writer's destructive steps, and how they learn when they no longer can.
//
// A checkpoint C+1 destroys the state of checkpoint C in two ways: its page WAL is applied in
// place over the page table, and the value pages C's tree used (freed by C+1) become reusable.
// Commits between checkpoints only append to the redo log, so a reader of checkpoint C (plus
// the log it read at open) reads an intact state until C+1 is applied.
//
// `readers/` in the store directory holds:
// - `marks`: two u64 written by the writer, no sync (coordination, not durability):
//   `intent`, the newest checkpoint whose meta record is written, and `applied`, the newest
//   checkpoint whose destructive steps have begun. A reader of checkpoint C reads an intact
//   state while `applied <= C`.
// - one FIFO per live reader, named `r-<C>-<random>`: the reader holds it open for reading, so
//   a writer opening it O_WRONLY|O_NONBLOCK gets ENXIO once the reader's process is gone (no
//   pids, no clocks: the kernel closes the descriptor of a dead process). The FIFOs are made and
//   probed as the writer lock's are (lock.ts: `makeFifo`, `fifoHasReader`).
//
// Protocol. Reader: read the meta record (C), register `r-C-…`, then read `intent`; if it is
// past C a newer checkpoint exists, so unregister and start over. Writer: write the meta record
// of C+1, set `intent` = C+1, then list the readers: while one of checkpoint C or older is live,
// defer the apply and the page release (the new meta record, its WAL and the redo log serve the
// writer and new readers meanwhile); else set `applied` = C+1 and apply. Either the writer's
// listing sees the reader, or the reader reads `intent` after the writer wrote it and retries.
// The bound: the writer applies C+1 at the latest when checkpoint C+2 begins (or at close, or
// when it reopens after a crash), whatever readers hold; their next check then fails.
import { randomBytes } from "node:crypto";
import { closeSync, constants, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fifoHasReader, makeFifo } from "./lock.ts";

const MARKS_BYTES = 16;

/** The writer's side: the marks, and the live readers by checkpoint. */
export class ReaderTable {
  #fd: number;
  readonly #dir: string;
  readonly #buf = Buffer.alloc(MARKS_BYTES);

  private constructor(dir: string, fd: number) {
    this.#dir = dir;
    this.#fd = fd;
  }

  /** Opens (creating) `storeDir/readers` for the writer, with both marks at `seq`. */
  static create(storeDir: string, seq: number): ReaderTable {
    const dir = join(storeDir, "readers");
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, "marks"), constants.O_RDWR | constants.O_CREAT, 0o644);
    const t = new ReaderTable(dir, fd);
    t.#write(seq, seq);
    return t;
  }

  #write(intent: number, applied: number): void {
    this.#buf.writeBigUInt64LE(BigInt(intent), 0);
    this.#buf.writeBigUInt64LE(BigInt(applied), 8);
    writeSync(this.#fd, this.#buf, 0, MARKS_BYTES, 0);
  }

  #intent = 0;
  #applied = 0;

  /** Checkpoint `seq`'s meta record is written; call before `liveBelow(seq)`. */
  intend(seq: number): void {
    this.#intent = seq;
    this.#write(seq, this.#applied);
  }

  /** Checkpoint `seq`'s destructive steps begin: readers of older checkpoints are past their bound. */
  applying(seq: number): void {
    this.#applied = seq;
    if (this.#intent < seq) this.#intent = seq;
    this.#write(this.#intent, seq);
  }

  /** True when a live reader reads a checkpoint older than `seq`; dead readers' FIFOs are removed. */
  liveBelow(seq: number): boolean {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return false;
    }
    for (const name of names) {
      const c = checkpointOf(name);
      if (c === null || c >= seq) continue;
      if (held(join(this.#dir, name))) return true;
      try {
        unlinkSync(join(this.#dir, name));
      } catch {
        // Another writer's sweep or the reader itself removed it.
      }
    }
    return false;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

function checkpointOf(name: string): number | null {
  const m = /^r-(\d+)-[0-9a-f]+$/.exec(name);
  return m === null ? null : Number(m[1]);
}

/** True when a reader holds the FIFO at `path`; a FIFO that cannot be probed counts as held (the bound still ends it). */
function held(path: string): boolean {
  try {
    return fifoHasReader(path);
  } catch {
    return true;
  }
}

/** Reads the marks file open at `fd` (zeros when the writer has not written them yet). */
function readMarks(fd: number): { intent: number; applied: number } {
  const buf = Buffer.alloc(MARKS_BYTES);
  const n = readSync(fd, buf, 0, MARKS_BYTES, 0);
  if (n < MARKS_BYTES) return { intent: 0, applied: 0 };
  return { intent: Number(buf.readBigUInt64LE(0)), applied: Number(buf.readBigUInt64LE(8)) };
}

/** A reader's registration: its FIFO held open, and the marks file to check. */
export class ReaderSlot {
  private constructor(
    readonly checkpoint: number,
    private readonly fifo: string | null,
    private fifoFd: number,
    private marksFd: number,
  ) {}

  /**
   * Registers a reader of checkpoint `seq` in `storeDir`. Without a reader table (no writer has
   * made one, or the directory is not writable) the slot is unregistered and only checks marks.
   */
  static register(storeDir: string, seq: number): ReaderSlot {
    const dir = join(storeDir, "readers");
    let marksFd = -1;
    try {
      marksFd = openSync(join(dir, "marks"), constants.O_RDONLY);
    } catch {
      return new ReaderSlot(seq, null, -1, -1);
    }
    let made: [string, number];
    try {
      // Node has no mkfifo; the coreutils command makes one in a few milliseconds.
      made = makeFifo(dir, () => `r-${seq}-${randomBytes(8).toString("hex")}`);
    } catch {
      return new ReaderSlot(seq, null, -1, marksFd);
    }
    return new ReaderSlot(seq, made[0], made[1], marksFd);
  }

  /** True when the writer has registered us in time to be protected (or there is no writer). */
  get registered(): boolean {
    return this.fifo !== null;
  }

  /** The writer's marks now (zeros without a reader table). */
  marks(): { intent: number; applied: number } {
    return this.marksFd < 0 ? { intent: 0, applied: 0 } : readMarks(this.marksFd);
  }

  /** Removes the FIFO and closes the files; idempotent. */
  release(): void {
    if (this.fifoFd >= 0) {
      closeSync(this.fifoFd);
      this.fifoFd = -1;
      if (this.fifo !== null) removeQuietly(this.fifo);
    }
    if (this.marksFd >= 0) {
      closeSync(this.marksFd);
      this.marksFd = -1;
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // The writer's sweep may have removed it.
  }
}
