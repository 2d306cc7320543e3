// The directory operations the page store needs beyond `KvFileSystem`: removing a table file
// that a grow replaced, and making a newly created file's directory entry durable.
import * as fs from "node:fs";
import { join } from "node:path";
import { type KvFileSystem, type MemFileSystem, nodeFileSystem } from "../kv/index.ts";

/** `KvFileSystem` plus removal and a directory barrier. */
export interface PageStoreFileSystem extends KvFileSystem {
  /** Removes the file at `path`; no error when it does not exist. */
  remove(path: string): void;
  /** Makes creations and removals in directory `dir` durable. */
  syncDir(dir: string): void;
  /** Creates directory `dir` (and parents) when missing. */
  mkdir(dir: string): void;
}

/** The host file system. */
export const nodePageStoreFileSystem: PageStoreFileSystem = {
  open: (path) => nodeFileSystem.open(path),
  remove: (path) => fs.rmSync(path, { force: true }),
  syncDir: (dir) => {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  mkdir: (dir) => fs.mkdirSync(dir, { recursive: true }),
};

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
