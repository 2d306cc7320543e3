// The one I/O seam of the storage engine. Everything above reads and writes files only through
// `KvFile`, so tests can substitute an in-memory file or wrap one to inject failures, torn
// writes and crashes at any call.
import * as fs from "node:fs";
import { guardFileSystem } from "./io-error.ts";

/** A file addressed by byte position. All calls are synchronous. */
export interface KvFile {
  /** Path (or a name, for in-memory files) used in error messages. */
  readonly path: string;
  /** Reads up to `buf.length` bytes at `position`; returns how many were read (short at EOF). */
  read(buf: Uint8Array, position: number): number;
  /** Writes all of `buf` at `position`, growing the file if needed. */
  write(buf: Uint8Array, position: number): void;
  /** Makes every completed write durable (a barrier). */
  sync(): void;
  /** Sets the file length to `size` bytes. */
  truncate(size: number): void;
  /** Current length in bytes. */
  size(): number;
  /** Releases the file; no call is valid afterwards (nor while an async call is in flight). */
  close(): void;
  /**
   * Optional: `sync` on the thread pool, so that the caller's thread does not block; files
   * without it are synced with `sync`.
   */
  syncAsync?(): Promise<void>;
  /** Optional: `write` on the thread pool; files without it are written with `write`. */
  writeAsync?(buf: Uint8Array, position: number): Promise<void>;
  /**
   * Optional: `read` on the thread pool (for reading ahead of a caller that reads
   * synchronously later); files without it are not read ahead.
   */
  readAsync?(buf: Uint8Array, position: number): Promise<number>;
  /**
   * The OS file descriptor, for files a worker thread may write behind the caller (see the
   * page store's write-behind). Absent for in-memory and wrapped files, which are then
   * written inline.
   */
  readonly fd?: number;
}

/** Opens files by path; the factory layers above use to create `KvFile`s. */
export interface KvFileSystem {
  /** Opens `path` for reading and writing, creating an empty file if it does not exist. */
  open(path: string): KvFile;
}

/** A `KvFile` over a real file: positional `readSync`/`writeSync` and `fdatasyncSync`. */
export class NodeFile implements KvFile {
  /** Path of the open file. */
  readonly path: string;
  #fd: number;

  /** Opens (creating if needed) the file at `path`. */
  constructor(path: string) {
    this.path = path;
    this.#fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  }

  /** See `KvFile.fd`. */
  get fd(): number {
    return this.#fd;
  }

  /** See `KvFile.read`. */
  read(buf: Uint8Array, position: number): number {
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.#fd, buf, done, buf.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** See `KvFile.write`. */
  write(buf: Uint8Array, position: number): void {
    let done = 0;
    while (done < buf.length) {
      done += fs.writeSync(this.#fd, buf, done, buf.length - done, position + done);
    }
  }

  /** See `KvFile.sync`. */
  sync(): void {
    fs.fdatasyncSync(this.#fd);
  }

  /** See `KvFile.syncAsync`: an fdatasync on the thread pool. */
  syncAsync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.#fd, (e) => (e ? reject(e) : resolve())));
  }

  /** See `KvFile.writeAsync`: positional writes on the thread pool until all of `buf` is written. */
  async writeAsync(buf: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const fd = this.#fd;
      done += await new Promise<number>((resolve, reject) =>
        fs.write(fd, buf, done, buf.length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))),
      );
    }
  }

  /** See `KvFile.readAsync`: positional reads on the thread pool until `buf` is full or the file ends. */
  async readAsync(buf: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < buf.length) {
      const fd = this.#fd;
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, buf, done, buf.length - done, position + done, (e, r) => (e ? reject(e) : resolve(r))),
      );
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** See `KvFile.truncate`. */
  truncate(size: number): void {
    fs.ftruncateSync(this.#fd, size);
  }

  /** See `KvFile.size`. */
  size(): number {
    return fs.fstatSync(this.#fd).size;
  }

  /**
   * See `KvFile.close`. Closing again does nothing: the descriptor number may already belong to
   * another file by then.
   */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    fs.closeSync(fd);
  }
}

/** The file system of the host, through `NodeFile` (failures raised as `IoError`s). */
export const nodeFileSystem: KvFileSystem = guardFileSystem({
  open: (path: string) => new NodeFile(path),
});

/** Bytes of one in-memory file; survive close and reopen within a `MemFileSystem`. */
class MemData {
  bytes: Uint8Array = new Uint8Array(0);
  length = 0;
}

/** A `KvFile` held in memory; `sync` does nothing. */
export class MemFile implements KvFile {
  /** Name of the file inside its `MemFileSystem`. */
  readonly path: string;
  #data: MemData;
  #closed = false;

  /** Wraps shared bytes; use `MemFileSystem.open` instead of calling this directly. */
  constructor(path: string, data: MemData = new MemData()) {
    this.path = path;
    this.#data = data;
  }

  #live(): MemData {
    if (this.#closed) throw new Error(`${this.path}: file is closed`);
    return this.#data;
  }

  /** See `KvFile.read`. */
  read(buf: Uint8Array, position: number): number {
    const d = this.#live();
    const n = Math.max(0, Math.min(buf.length, d.length - position));
    if (n > 0) buf.set(d.bytes.subarray(position, position + n));
    return n;
  }

  /** See `KvFile.write`. */
  write(buf: Uint8Array, position: number): void {
    const d = this.#live();
    const end = position + buf.length;
    if (end > d.bytes.length) {
      const grown = new Uint8Array(Math.max(end, d.bytes.length * 2, 65536));
      grown.set(d.bytes.subarray(0, d.length));
      d.bytes = grown;
    }
    d.bytes.set(buf, position);
    if (end > d.length) d.length = end;
  }

  /** See `KvFile.sync`. */
  sync(): void {
    this.#live();
  }

  /** See `KvFile.truncate`. */
  truncate(size: number): void {
    const d = this.#live();
    if (size > d.bytes.length) this.write(new Uint8Array(size - d.length), d.length);
    else if (size < d.length) d.bytes.fill(0, size, d.length);
    d.length = size;
  }

  /** See `KvFile.size`. */
  size(): number {
    return this.#live().length;
  }

  /** See `KvFile.close`. */
  close(): void {
    this.#closed = true;
  }
}

/** An in-memory file system: files persist across close/open for the life of the object. */
export class MemFileSystem implements KvFileSystem {
  #files = new Map<string, MemData>();

  /** Opens (creating if needed) the in-memory file `path`. */
  open(path: string): KvFile {
    let data = this.#files.get(path);
    if (!data) {
      data = new MemData();
      this.#files.set(path, data);
    }
    return new MemFile(path, data);
  }
}
