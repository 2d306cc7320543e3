// A file system that keeps, across a simulated power loss, only what was synced:
//   - file data: per file, the bytes as of its last sync, plus each later write or truncate
//     kept whole, dropped, or (writes) torn to a random subset of its 512-byte sectors, a
//     seeded choice per operation (the disk may persist them in any order);
//   - directory entries: a file created, or removed, is so on the disk only once its directory
//     was synced (`syncDir`); until then the disk lists what it listed at the last directory
//     sync, so a new file vanishes and a removed one comes back with its synced bytes.
// Directories themselves are durable when made: the seam's `mkdir` contract (the host's syncs
// the parent of each directory it creates).
// Power is lost at a chosen sync point (a file sync or a directory sync), before that sync
// takes effect; every call from then on throws. `image` is the disk a restart finds.
import { dirname } from "node:path";
import type { KvFile } from "../../src/io/index.ts";
import type { PageStoreFileSystem } from "../../src/io/fs.ts";
import type { Rng } from "../support/random.ts";
import { Data } from "./file-bytes.ts";

const SECTOR = 512;

/** Runs `op` on a later turn of the event loop, as the thread pool would. */
function later(op: () => void): Promise<void> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        op();
        resolve();
      } catch (e) {
        reject(e);
      }
    }),
  );
}

/** Thrown by every call once the power is lost. */
export class PowerLoss extends Error {
  constructor() {
    super("power lost");
    this.name = "PowerLoss";
  }
}

type Pending = { write: Uint8Array; pos: number } | { truncate: number };

/** One file (an inode): its synced bytes, its bytes now, and the operations in between. */
class Inode {
  durable = new Data();
  current = new Data();
  pending: Pending[] = [];
}

/** See the module comment. */
export class PowerFs implements PageStoreFileSystem {
  /** What the directories list now. */
  #names = new Map<string, Inode>();
  /** What they list on the disk (as of each directory's last sync). */
  #durable = new Map<string, Inode>();
  /** Sync points passed (file syncs and directory syncs). */
  syncPoints = 0;
  /** Power is lost at this sync point (1-based), before it takes effect. */
  crashAt = Infinity;
  /** True once the power is lost. */
  lost = false;

  #alive(): void {
    if (this.lost) throw new PowerLoss();
  }

  #syncPoint(): void {
    this.#alive();
    this.syncPoints++;
    if (this.syncPoints >= this.crashAt) {
      this.lost = true;
      throw new PowerLoss();
    }
  }

  open(path: string): KvFile {
    this.#alive();
    let ino = this.#names.get(path);
    if (ino === undefined) {
      ino = new Inode();
      this.#names.set(path, ino);
    }
    const node = ino;
    const fs = this;
    let closed = false;
    const live = () => {
      fs.#alive();
      if (closed) throw new Error(`${path}: closed`);
    };
    const file: KvFile = {
      path,
      read(buf, position) {
        live();
        const n = Math.max(0, Math.min(buf.length, node.current.length - position));
        if (n > 0) buf.set(node.current.bytes.subarray(position, position + n));
        return n;
      },
      write(buf, position) {
        live();
        node.current.write(buf, position);
        node.pending.push({ write: buf.slice(), pos: position });
      },
      sync() {
        live();
        fs.#syncPoint();
        node.durable = node.current.copy();
        node.pending = [];
      },
      // As the host's: the operation happens on a later turn of the event loop.
      syncAsync() {
        return later(() => file.sync());
      },
      writeAsync(buf, position) {
        const copy = buf.slice();
        return later(() => file.write(copy, position));
      },
      truncate(size) {
        live();
        node.current.truncate(size);
        node.pending.push({ truncate: size });
      },
      size() {
        live();
        return node.current.length;
      },
      close() {
        closed = true;
      },
    };
    return file;
  }

  remove(path: string): void {
    this.#alive();
    this.#names.delete(path);
  }

  syncDir(dir: string): void {
    this.#syncPoint();
    for (const [path, ino] of this.#names) if (dirname(path) === dir) this.#durable.set(path, ino);
    for (const [path, ino] of this.#durable) if (dirname(path) === dir && this.#names.get(path) !== ino) this.#durable.delete(path);
  }

  mkdir(): void {
    this.#alive();
  }

  /** The disk a restart finds (see the module comment), as a healthy file system. */
  image(rng: Rng): PowerFs {
    const out = new PowerFs();
    for (const [path, ino] of this.#durable) {
      const data = ino.durable.copy();
      for (const op of ino.pending) {
        const choice = rng.int(3);
        if (choice === 0) continue; // never reached the disk
        if ("truncate" in op) data.truncate(op.truncate);
        else if (choice === 1) data.write(op.write, op.pos);
        else {
          for (let at = 0; at < op.write.length; at += SECTOR) {
            if (rng.int(2) === 0) data.write(op.write.subarray(at, Math.min(at + SECTOR, op.write.length)), op.pos + at);
          }
        }
      }
      const copy = new Inode();
      copy.durable = data;
      copy.current = data.copy();
      out.#names.set(path, copy);
      out.#durable.set(path, copy);
    }
    return out;
  }

  /** Files on the disk now, for diagnostics. */
  names(): string[] {
    return [...this.#names.keys()].sort();
  }
}
