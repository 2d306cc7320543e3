// The directory operations the page store needs beyond `KvFileSystem`: removing a table file
// that a grow replaced, and making a newly created file's directory entry durable.
import * as fs from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type KvFileSystem, type MemFileSystem, nodeFileSystem } from "./file.ts";
import { guardFileSystem } from "./io-error.ts";

/** `KvFileSystem` plus removal and a directory barrier. */
export interface PageStoreFileSystem extends KvFileSystem {
  /** Removes the file at `path`; no error when it does not exist. */
  remove(path: string): void;
  /** Makes creations and removals in directory `dir` durable. */
  syncDir(dir: string): void;
  /** Creates directory `dir` (and parents) when missing; what it creates is durable on return. */
  mkdir(dir: string): void;
  /**
   * The names in directory `dir`, or null when it does not exist. Optional: a file system
   * without it (the in-memory one) is inspected through file sizes instead.
   */
  list?(dir: string): string[] | null;
  /** Removes `path` and everything under it; no error when it does not exist. Optional. */
  removeTree?(path: string): void;
}

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The host file system; failures are raised as `IoError`s (see `guardFileSystem`). */
export const nodePageStoreFileSystem: PageStoreFileSystem = guardFileSystem({
  open: (path: string) => nodeFileSystem.open(path),
  remove: (path: string) => fs.rmSync(path, { force: true }),
  syncDir: syncDirectory,
  mkdir: (dir: string) => {
    // A new directory's entry is durable only once its parent is synced: without that, a power
    // loss after the first commit could take the whole database directory with it.
    const first = fs.mkdirSync(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = resolve(dir); ; d = dirname(d)) {
      syncDirectory(dirname(d));
      if (d === resolve(first) || d === dirname(d)) break;
    }
  },
  list: (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  },
  removeTree: (path: string) => fs.rmSync(path, { recursive: true, force: true }),
});

/**
 * A `PageStoreFileSystem` over a `MemFileSystem`, which cannot delete: a removed file is
 * truncated to zero bytes, which the page store treats like an absent one.
 */
export function memPageStoreFileSystem(mem: MemFileSystem): PageStoreFileSystem {
  return {
    open: (path) => mem.open(path),
    remove: (path) => {
      const f = mem.open(path);
      f.truncate(0);
      f.close();
    },
    syncDir: () => {},
    mkdir: () => {},
  };
}

/** Joins a directory and a file name. */
export function pathIn(dir: string, name: string): string {
  return join(dir, name);
}
