// Opening a database from the command line: read-only handles (no lock, retried when a writer
// process committed meanwhile), writers (the lock), and committing a batch as one session.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Db, DbError, open, toHex } from "../index.ts";
import { CommandFailure } from "./command.ts";
import type { Progress } from "./progress.ts";

/** The root of an empty state. */
export const EMPTY_ROOT = toHex(new Uint8Array(32));

/** A path without a database is a CommandFailure naming it (nothing is created). */
export function requireDb(path: string): void {
  if (!existsSync(join(path, "meta"))) throw new CommandFailure(`no database at ${path}`);
}

/**
 * Runs `read` on a read-only handle. A handle keeps its state while a writer process commits,
 * up to the writer's second checkpoint after it opened (the reader table); a read that outlives
 * that bound fails `STALE` and runs again on a fresh handle.
 */
export function readOnly<T>(path: string, read: (db: Db) => T): T {
  requireDb(path);
  for (let attempt = 1; ; attempt++) {
    let db: Db | null = null;
    try {
      db = open(path, { readOnly: true, create: false });
      return read(db);
    } catch (e) {
      if (!(e instanceof DbError && e.code === "STALE") || attempt === 5) throw e;
    } finally {
      db?.close();
    }
  }
}

/** Runs `work` on the writer handle of an existing database (takes the lock), then closes it; `window`: see `--window`. */
export async function writer<T>(path: string, window: number, work: (db: Db) => T | Promise<T>): Promise<T> {
  requireDb(path);
  const db = open(path, { create: false, rollbackWindow: window });
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

/** Commits `changes` as one write session (reporting each change to `progress`); the new root as hex. */
export async function commitChanges(db: Db, changes: Iterable<readonly [Uint8Array, Uint8Array | null]>, progress?: Progress): Promise<string> {
  const session = db.beginWrite();
  let n = 0;
  for (const [key, value] of changes) {
    if (value === null) session.delete(key);
    else session.set(key, value);
    if ((++n & 1023) === 0) progress?.update(n);
  }
  progress?.update(n);
  return toHex(await (await session.finish()).commit());
}

/** The database's current state as hex key -> value. */
export function dbMap(db: Db): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  using snapshot = db.beginRead();
  for (const [key, value] of snapshot.entriesSync()) m.set(toHex(key), value);
  return m;
}
