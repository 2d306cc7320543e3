// Bulk load: entries in strictly increasing key order go to the value tree and the merkle pages
// directly, with no redo log and no commit per chunk; checkpoints are the load's commit points.
// The store hands the load the few operations it needs (`LoadTarget`).
import { MAX_VALUE_SIZE } from "../kv/index.ts";
import { compareKeys, KEY_BYTES } from "../trie/index.ts";
import { checkStoreKey } from "./args.ts";
import { StoreError } from "./errors.ts";

/** A bulk load in progress: see `Store.beginLoad`. */
export interface StoreLoad {
  /** Adds entries, keys strictly increasing (also from one chunk to the next). */
  add(chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void;
  /** The root of everything added so far. */
  root(): Uint8Array;
  /** Entries added so far. */
  count(): number;
  /** Makes everything added so far durable as one commit (a checkpoint); returns the root. */
  commit(): Uint8Array;
  /** Makes the rest durable as one commit and ends the load; returns the root. */
  finish(): Uint8Array;
  /** Gives up: what was added since the last `commit` is dropped; close the store (it refuses other calls). */
  abort(): void;
}

/** What a load does to its store. */
export interface LoadTarget {
  readonly path: string;
  /** Throws unless the store is open and sound. */
  live(): void;
  /** The committed root. */
  root(): Uint8Array;
  /** The greatest key stored, if any. */
  lastKey(): Uint8Array | undefined;
  /** Applies a checked, sorted chunk to the trie and the values, in memory (a failure fails the store). */
  apply(chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void;
  /** Makes everything applied so far durable as one commit, a checkpoint (a failure fails the store). */
  save(): void;
  /** Marks the load over (`loading` false) or begun. */
  setLoading(loading: boolean): void;
  /** Fails the store unless it failed already: memory holds what no commit point has. */
  fail(e: unknown): void;
}

/** The load over `target`, whose earlier commits are durable; `append`: the store may hold keys before the first added. */
export function startLoad(target: LoadTarget, append: boolean): StoreLoad {
  let last: Uint8Array | null = append ? (target.lastKey() ?? null) : null;
  let count = 0;
  let unsaved = 0;
  let done = false;
  target.setLoading(true);
  const save = (): void => {
    if (unsaved === 0) return;
    target.save();
    unsaved = 0;
  };
  const live = (): void => {
    target.live();
    if (done) throw new StoreError("BAD_ARGUMENT", `store ${target.path}: the load is over`);
  };
  return {
    add: (chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void => {
      live();
      if (!Array.isArray(chunk)) throw new StoreError("BAD_ARGUMENT", "chunk must be an array of [key, value] pairs");
      for (let i = 0; i < chunk.length; i++) {
        const e = chunk[i];
        if (!Array.isArray(e) || e.length !== 2) throw new StoreError("BAD_ARGUMENT", `entry ${count + i} must be a [key, value] pair`);
        // The name is made only for a bad key (a string per entry is most of this loop).
        if (!(e[0] instanceof Uint8Array) || e[0].length !== KEY_BYTES) checkStoreKey(e[0], `entry ${count + i} key`);
        if (!(e[1] instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `entry ${count + i} value must be a Uint8Array`);
        if (e[1].length > MAX_VALUE_SIZE)
          throw new StoreError("BAD_ARGUMENT", `entry ${count + i} value is ${e[1].length} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
        const prev = i > 0 ? chunk[i - 1][0] : last;
        if (prev !== null && compareKeys(prev, e[0]) >= 0) {
          throw new StoreError(
            "BAD_ARGUMENT",
            `entry ${count + i} key 0x${Buffer.from(e[0]).toString("hex")} is not after the previous key (a load takes sorted, distinct keys)`,
          );
        }
      }
      if (chunk.length === 0) return;
      // Checked above, so only damage or I/O can fail from here: the load is then over.
      target.apply(chunk);
      last = chunk[chunk.length - 1][0];
      count += chunk.length;
      unsaved += chunk.length;
    },
    commit: (): Uint8Array => {
      live();
      save();
      return target.root();
    },
    root: (): Uint8Array => target.root(),
    count: (): number => count,
    finish: (): Uint8Array => {
      live();
      save();
      done = true;
      target.setLoading(false);
      return target.root();
    },
    abort: (): void => {
      if (done) return;
      done = true;
      target.setLoading(false);
      // Memory now holds a state no commit point has: refuse everything until closed.
      if (unsaved > 0) target.fail(new StoreError("BAD_ARGUMENT", `store ${target.path}: a bulk load was aborted`));
    },
  };
}
