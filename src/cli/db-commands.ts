// Commands over a database directory: import, replay, root --db, get; on the public `Db` API.
// import and replay write (each state or block is one write session, committed durably); root
// --db and get open the database read-only, without the writer lock.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type Db, DbError, fromHex, KEY_BYTES, open, toHex } from "../index.ts";
import type { Io } from "./root-command.ts";
import { type NamedState, readStateFile, StateFileError, stateDiff, stateMap } from "./state-files.ts";

/** The database's current state as hex key -> value. */
function dbMap(db: Db): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  using snapshot = db.beginRead();
  for (const [key, value] of snapshot.entriesSync()) m.set(toHex(key), value);
  return m;
}

/** Commits `changes` as one write session; returns the new root as hex. */
function commitChanges(db: Db, changes: Iterable<readonly [Uint8Array, Uint8Array | null]>): string {
  const session = db.beginWrite();
  for (const [key, value] of changes) {
    if (value === null) session.delete(key);
    else session.set(key, value);
  }
  return toHex(session.finish().commitSync());
}

const EMPTY_ROOT = toHex(new Uint8Array(32));

/** Runs `read` on a read-only handle, reopening when a writer process committed meanwhile. */
export function readOnly<T>(path: string, read: (db: Db) => T): T {
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

function pick(file: string, label: string): NamedState {
  const states = readStateFile(file);
  const s = states.find((x) => x.label === label);
  if (!s) throw new StateFileError(file, `has no ${label}`);
  return s;
}

/** `bmt import FILE --db PATH`: a genesis `state` or a block's `post_state` into an empty DB. */
export function importCommand(file: string, db: string, io: Io): number {
  const states = readStateFile(file);
  const state = states.find((s) => s.label === "state") ?? states.find((s) => s.label === "post_state");
  if (!state) throw new StateFileError(file, "has no state or post_state to import");
  const handle = open(db);
  try {
    if (toHex(handle.root) !== EMPTY_ROOT) {
      io.err(`bmt import: ${db} is not empty (root ${toHex(handle.root)}); import needs a new or empty database`);
      return 1;
    }
    const root = commitChanges(handle, state.entries.map((e) => [e.key, e.value] as const));
    io.out(root);
    if (root !== toHex(state.expectedRoot)) {
      io.err(`bmt import: ${file}: root ${root} differs from the file's ${state.label}.state_root ${toHex(state.expectedRoot)}`);
      return 1;
    }
    return 0;
  } finally {
    handle.close();
  }
}

/** `bmt replay DIR --db PATH`: genesis, then every numbered block file in order. */
export function replayCommand(dir: string, db: string, io: Io): number {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /^\d+\.json$/.test(f))
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  } catch (e) {
    io.err(`bmt replay: ${dir}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 1;
  }
  const handle = open(db);
  let passed = 0;
  let failed = 0;
  try {
    const genesis = pick(join(dir, "genesis.json"), "state");
    const t = performance.now();
    const groot = commitChanges(handle, stateDiff(dbMap(handle), stateMap(genesis.entries)));
    const gok = groot === toHex(genesis.expectedRoot);
    io.out(`genesis ${gok ? "ok" : "FAIL"} ${groot} (${(performance.now() - t).toFixed(1)} ms)`);
    if (!gok) failed++;
    for (const name of files) {
      const file = join(dir, name);
      const block = name.replace(/\.json$/, "");
      let pre: NamedState;
      let post: NamedState;
      try {
        pre = pick(file, "pre_state");
        post = pick(file, "post_state");
      } catch (e) {
        if (!(e instanceof StateFileError)) throw e;
        io.out(`${block} FAIL ${e.message}`);
        failed++;
        continue;
      }
      const t0 = performance.now();
      let note = "";
      let ok = true;
      if (toHex(handle.root) !== toHex(pre.expectedRoot)) {
        // A gap in the numbering: bring the database to this block's pre-state first.
        const root = commitChanges(handle, stateDiff(dbMap(handle), stateMap(pre.entries)));
        const preOk = root === toHex(pre.expectedRoot);
        ok &&= preOk;
        note = preOk ? " (synced to pre_state)" : ` (pre_state root ${root} != ${toHex(pre.expectedRoot)})`;
      }
      const changes = stateDiff(stateMap(pre.entries), stateMap(post.entries));
      const root = commitChanges(handle, changes);
      const postOk = root === toHex(post.expectedRoot);
      ok &&= postOk;
      if (ok) passed++;
      else failed++;
      const ms = (performance.now() - t0).toFixed(1);
      io.out(`${block} ${ok ? "ok" : "FAIL"} ${root} ${changes.length} changes (${ms} ms)${note}${postOk ? "" : ` expected ${toHex(post.expectedRoot)}`}`);
    }
  } finally {
    handle.close();
  }
  io.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** `bmt root --db PATH` (read-only: no lock, works while a writer holds the database). */
export function dbRootCommand(db: string, io: Io): number {
  io.out(readOnly(db, (d) => toHex(d.root)));
  return 0;
}

/** `bmt get --db PATH KEY`: the value as hex; exit 1 and no output when absent. */
export function getCommand(db: string, keyHex: string, io: Io): number {
  const key = fromHex(keyHex, "KEY", KEY_BYTES);
  const value = readOnly(db, (d) => {
    using snapshot = d.beginRead();
    return snapshot.get(key);
  });
  if (value === undefined) return 1;
  io.out(toHex(value));
  return 0;
}
