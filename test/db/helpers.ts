// Helpers of the database tests: a Map model of a state with its from-scratch root, random
// change sets over a key universe (some keys sharing long prefixes), temp directories.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import type { Db, StateReadable, WriteSession } from "../../src/db/index.ts";
import { toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import type { Rng } from "../support/random.ts";

/** A fresh temp directory per test file, removed at the end; `dir()` names a new database. */
export function tempDirs(prefix: string): () => string {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  return () => join(tmp, `db${++n}`);
}

/** A change: value, or null to delete. */
export type Change = [Uint8Array, Uint8Array | null];

/** The expected state: key hex -> [key, value]. Hex order is key order. */
export class Model {
  readonly map = new Map<string, [Uint8Array, Uint8Array]>();

  static of(other: Model): Model {
    const m = new Model();
    for (const [k, e] of other.map) m.map.set(k, e);
    return m;
  }

  apply(changes: Iterable<Change>): this {
    for (const [k, v] of changes) {
      if (v === null) this.map.delete(toHex(k));
      else this.map.set(toHex(k), [k, v]);
    }
    return this;
  }

  sorted(): [Uint8Array, Uint8Array][] {
    return [...this.map.keys()].sort().map((k) => this.map.get(k) as [Uint8Array, Uint8Array]);
  }

  root(): string {
    return toHex(trieRoot(this.sorted().map(([key, value]) => ({ key, value }))));
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(toHex(key))?.[1];
  }
}

/** A universe of `n` distinct keys; about one in six shares a long prefix with an earlier one. */
export function universe(rng: Rng, n: number): Uint8Array[] {
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  while (keys.length < n) {
    const r = rng.int(12);
    const key =
      keys.length > 0 && r === 0
        ? keySharing(rng, rng.pick(keys), 200 + rng.int(47))
        : keys.length > 0 && r === 1
          ? keySharing(rng, rng.pick(keys), rng.int(200))
          : rng.bytes(31);
    const h = toHex(key);
    if (seen.has(h)) continue;
    seen.add(h);
    keys.push(key);
  }
  return keys;
}

/** `n` changes on distinct keys of `keys`, a share `deletes` (0..1) of them deletions. */
export function randomChanges(rng: Rng, keys: readonly Uint8Array[], n: number, deletes = 0.3): Change[] {
  const picked = new Map<number, Change>();
  while (picked.size < Math.min(n, keys.length)) {
    const i = rng.int(keys.length);
    if (picked.has(i)) continue;
    picked.set(i, [keys[i], rng.int(1000) < deletes * 1000 ? null : randomValue(rng)]);
  }
  return [...picked.values()];
}

/** Applies `changes` to a write session. */
export function write(session: WriteSession, changes: Iterable<Change>): WriteSession {
  for (const [k, v] of changes) {
    if (v === null) session.delete(k);
    else session.set(k, v);
  }
  return session;
}

/** Hex of bytes or undefined, for comparing values. */
export const h = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : toHex(b));

/** Asserts that `reader` reads exactly `model`: root, sampled gets, full sync and async scans, a sub-range. */
export async function assertReads(reader: StateReadable, model: Model, probe: readonly Uint8Array[], what: string): Promise<void> {
  assert.equal(toHex(reader.root), model.root(), `${what}: root`);
  for (const k of probe) {
    assert.equal(h(reader.get(k)), h(model.get(k)), `${what}: get ${toHex(k)}`);
    assert.equal(reader.has(k), model.get(k) !== undefined, `${what}: has ${toHex(k)}`);
  }
  const want = model.sorted().map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
  const sync = [...reader.entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
  assert.deepEqual(sync, want, `${what}: entriesSync`);
  const got: string[] = [];
  for await (const [k, v] of reader.entries()) got.push(`${toHex(k)}=${toHex(v)}`);
  assert.deepEqual(got, want, `${what}: entries`);
  if (want.length > 4) {
    const all = model.sorted();
    const start = all[1][0];
    const end = all[all.length - 2][0];
    const part: string[] = [];
    for await (const [k, v] of reader.entries({ start, end })) part.push(`${toHex(k)}=${toHex(v)}`);
    assert.deepEqual(part, want.slice(1, -2), `${what}: entries in a range`);
  }
}

/**
 * Null when `db` is at the last state of `chain` with `depth` commits of it in its rollback
 * window (root, history and every value); else what differs.
 */
export function sameState(db: Db, chain: Model[], depth: number): string | null {
  const model = chain[chain.length - 1];
  if (toHex(db.root) !== model.root()) return "root";
  if (db.rollbackDepth !== depth) return `rollback depth ${db.rollbackDepth}, expected ${depth}`;
  const want = chain
    .slice(chain.length - 1 - depth)
    .reverse()
    .map((m) => m.root());
  if (db.history().map(toHex).join() !== want.join()) return "history";
  const values = [...db.beginRead().entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
  if (
    values.join() !==
    model
      .sorted()
      .map(([k, v]) => `${toHex(k)}=${toHex(v)}`)
      .join()
  )
    return "values";
  return null;
}
