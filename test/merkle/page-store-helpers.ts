// Test helpers of the page store: an in-memory file system that crashes on a chosen operation
// (optionally tearing the write in flight) and recovers to a state a real disk could show after
// power loss, plus makers of page ids and sealed pages.
import { openSync } from "node:fs";
import { IoError, type KvFile } from "../../src/io/index.ts";
import { MERKLE_PAGE_BYTES, pageIdOf, sealMerklePage } from "../../src/merkle/page.ts";
import { nodePageStoreFileSystem, type PageStoreFileSystem } from "../../src/io/fs.ts";
import type { Rng } from "../kv/helpers.ts";

/** Thrown by every call of a `CrashFs` from its crash point on. */
export class CrashError extends Error {
  constructor() {
    super("injected crash");
    this.name = "CrashError";
  }
}

/** True for the crash of a `CrashFs`, as thrown or as the cause of the `IoError` the seam made of it. */
export function isCrash(e: unknown): boolean {
  return e instanceof CrashError || (e instanceof IoError && e.cause instanceof CrashError);
}

type Op = { write: Uint8Array; pos: number } | { truncate: number };

/** A growable byte array with a length. */
class Bytes {
  bytes = new Uint8Array(0);
  length = 0;

  write(buf: Uint8Array, pos: number): void {
    const end = pos + buf.length;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    if (pos > this.length) this.bytes.fill(0, this.length, pos);
    this.bytes.set(buf, pos);
    if (end > this.length) this.length = end;
  }

  truncate(size: number): void {
    if (size > this.length) this.write(new Uint8Array(size - this.length), this.length);
    else this.length = size;
  }

  apply(op: Op): void {
    if ("write" in op) this.write(op.write, op.pos);
    else this.truncate(op.truncate);
  }

  copy(): Bytes {
    const c = new Bytes();
    c.bytes = this.bytes.slice(0, this.length);
    c.length = this.length;
    return c;
  }
}

/** One file: what a sync made durable, what is visible now, and the writes in between. */
class FileState {
  durable = new Bytes();
  current = new Bytes();
  pending: Op[] = [];
}

const SECTOR = 512;

/**
 * An in-memory `PageStoreFileSystem` counting mutating calls (write, truncate, sync, remove,
 * directory sync, and `point` for the caller's own commit point). Call number `crashAt` fails
 * with CrashError, after applying a torn prefix of its write when `tear` is set, and so does
 * every call after it. `recover` then yields the disk a restart would find.
 */
export class CrashFs implements PageStoreFileSystem {
  #files = new Map<string, FileState>();
  /** Mutating calls so far. */
  ops = 0;
  /** Call number that crashes (1-based); Infinity for never. */
  crashAt = Infinity;
  /** Tear the crashing write (a prefix of whole sectors reaches the disk). */
  tear = false;
  /** True once crashed. */
  crashed = false;

  #tick(torn?: (keep: number) => void, len = 0): void {
    if (this.crashed) throw new CrashError();
    this.ops++;
    if (this.ops >= this.crashAt) {
      this.crashed = true;
      if (torn && this.tear && len > SECTOR) torn(Math.floor(len / SECTOR / 2) * SECTOR);
      throw new CrashError();
    }
  }

  /** A counted step of the caller (e.g. its commit record); throws at the crash point. */
  point(): void {
    this.#tick();
  }

  #state(path: string): FileState {
    let s = this.#files.get(path);
    if (!s) {
      s = new FileState();
      this.#files.set(path, s);
    }
    return s;
  }

  /** See `KvFileSystem.open`. */
  open(path: string): KvFile {
    if (this.crashed) throw new CrashError();
    const fs = this;
    const s = this.#state(path);
    let closed = false;
    const live = () => {
      if (fs.crashed) throw new CrashError();
      if (closed) throw new Error(`${path}: closed`);
      if (fs.#files.get(path) !== s) throw new Error(`${path}: removed`);
    };
    return {
      path,
      read(buf: Uint8Array, position: number): number {
        live();
        const n = Math.max(0, Math.min(buf.length, s.current.length - position));
        if (n > 0) buf.set(s.current.bytes.subarray(position, position + n));
        return n;
      },
      write(buf: Uint8Array, position: number): void {
        live();
        fs.#tick((keep) => {
          const op = { write: buf.slice(0, keep), pos: position };
          s.current.apply(op);
          s.pending.push(op);
        }, buf.length);
        const op = { write: buf.slice(), pos: position };
        s.current.apply(op);
        s.pending.push(op);
      },
      sync(): void {
        live();
        fs.#tick();
        s.durable = s.current.copy();
        s.pending = [];
      },
      truncate(size: number): void {
        live();
        fs.#tick();
        const op = { truncate: size };
        s.current.apply(op);
        s.pending.push(op);
      },
      size(): number {
        live();
        return s.current.length;
      },
      close(): void {
        closed = true;
      },
    };
  }

  /** See `PageStoreFileSystem.remove` (durable at once). */
  remove(path: string): void {
    this.#tick();
    this.#files.delete(path);
  }

  /** See `PageStoreFileSystem.syncDir`. */
  syncDir(): void {
    this.#tick();
  }

  /** See `PageStoreFileSystem.mkdir`. */
  mkdir(): void {}

  /** Current bytes of `path` (undefined when absent); for corrupting files in tests. */
  bytesOf(path: string): Uint8Array | undefined {
    const s = this.#files.get(path);
    return s?.current.bytes.subarray(0, s.current.length);
  }

  /** Names of the files present. */
  names(): string[] {
    return [...this.#files.keys()];
  }

  /**
   * The disk after a power loss: every file's durable bytes plus, per unsynced write, all of
   * it, none of it, or a random subset of its sectors (order of survival is arbitrary).
   */
  recover(rng: Rng): CrashFs {
    const out = new CrashFs();
    for (const [path, s] of this.#files) {
      const r = new FileState();
      r.current = s.durable.copy();
      const mode = rng.int(3);
      for (const op of s.pending) {
        if (mode === 0) continue;
        if (mode === 1 || !("write" in op)) {
          if (mode === 1 || rng.int(2) === 0) r.current.apply(op);
          continue;
        }
        for (let at = 0; at < op.write.length; at += SECTOR) {
          if (rng.int(2) === 0) r.current.apply({ write: op.write.subarray(at, Math.min(at + SECTOR, op.write.length)), pos: op.pos + at });
        }
      }
      r.durable = r.current.copy();
      out.#files.set(path, r);
    }
    return out;
  }
}

/** A random page id of depth 0..maxDepth (as the update algorithm forms them). */
export function randomPageId(rng: Rng, maxDepth = 8): Uint8Array {
  return pageIdOf(rng.bytes(31), rng.int(maxDepth + 1));
}

/** A sealed page carrying `id` whose content is derived from `tag`. */
export function makePage(id: Uint8Array, tag: number): Uint8Array {
  const page = new Uint8Array(MERKLE_PAGE_BYTES);
  const dv = new DataView(page.buffer);
  for (let i = 0; i < 16; i++) dv.setUint32(i * 4, Math.imul(tag + i, 0x9e3779b1) >>> 0, true);
  dv.setUint32(2000, tag >>> 0, true);
  sealMerklePage(page, id);
  return page;
}

/**
 * The host file system, except that files whose path passes `victim` hand write-behind workers a
 * read-only descriptor, so their writes fail. The descriptors are pushed to `fds` for closing.
 */
export function failingWorkerFs(victim: (path: string) => boolean, fds: number[]): PageStoreFileSystem {
  return {
    ...nodePageStoreFileSystem,
    open(path: string): KvFile {
      const file = nodePageStoreFileSystem.open(path);
      if (!victim(path)) return file;
      const fd = openSync(path, "r");
      fds.push(fd);
      return {
        path: file.path,
        fd,
        read: (buf, pos) => file.read(buf, pos),
        write: (buf, pos) => file.write(buf, pos),
        sync: () => file.sync(),
        truncate: (size) => file.truncate(size),
        size: () => file.size(),
        close: () => file.close(),
      };
    },
  };
}
