// A commit's input before it is written: the batch, checked and sorted; the shape of a commit
// computed but not written (`Store.prepare`, or a layer above that ran the trie update); and
// what that update reads of the old state.
import { type BatchEntry, type KvReader, MAX_VALUE_SIZE } from "../kv/index.ts";
import type { Change, MerkleTop, StateReader, UpdateResult } from "../merkle/index.ts";
import { compareKeys, sortByKey } from "../trie/index.ts";
import { checkIterable, checkStoreKey } from "./args.ts";
import { StoreError } from "./errors.ts";

/** A commit computed but not written: see `Store.prepare` and `Store.commitPrepared`. */
export interface PreparedCommit {
  /** The committed root the update was computed against. */
  readonly base: MerkleTop;
  /** The changes, sorted by key, keys distinct. */
  readonly changes: readonly Change[];
  /** The trie update of `changes` over `base`. */
  readonly update: UpdateResult;
  /** Milliseconds the update took (reported as `CommitStats.updateMs`). */
  readonly updateMs: number;
  /**
   * The update's page images are handed to the store: the caller never reads them again, so
   * the store treats them as its own (changes them in place, reuses them once replaced).
   * Default false (the images may be shared, e.g. with a state the caller still reads).
   */
  readonly pagesGiven?: boolean;
}

/** What the trie update reads of the old state, from a value tree (the store's, or a reader's). */
export function valuesStateReader(path: string, values: KvReader): StateReader {
  return {
    leafKeyAt: (prefix, depth) => {
      const key = values.seekPrefixKey(prefix, depth);
      if (!key) throw new StoreError("CORRUPT", `${path}: the trie has a leaf under a ${depth}-bit prefix that holds no key`);
      return key;
    },
    scanUnder: (prefix, depth, visit) => values.scanPrefix(prefix, depth, visit),
  };
}

/** Sorted copy of a batch; refuses repeated keys and malformed entries with typed errors. */
export function sortBatch(batch: Iterable<BatchEntry>): Change[] {
  checkIterable(batch, "batch");
  const out: Change[] = [];
  let i = 0;
  for (const entry of batch) {
    if (!Array.isArray(entry) || entry.length !== 2) throw new StoreError("BAD_ARGUMENT", `batch[${i}] must be a [key, value | null] pair`);
    checkStoreKey(entry[0], `batch[${i}] key`);
    const v = entry[1];
    if (v !== null && !(v instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `batch[${i}] value must be a Uint8Array or null`);
    if (v !== null && v.length > MAX_VALUE_SIZE)
      throw new StoreError("BAD_ARGUMENT", `batch[${i}] value is ${v.length} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
    out.push([entry[0], v]);
    i++;
  }
  sortByKey(out, (c) => c[0]);
  for (let j = 1; j < out.length; j++) {
    if (compareKeys(out[j - 1][0], out[j][0]) === 0) {
      throw new StoreError("BAD_ARGUMENT", `batch repeats key 0x${Buffer.from(out[j][0]).toString("hex")}`);
    }
  }
  return out;
}

/** Throws `BAD_ARGUMENT` unless `p` has the shape `prepare` returns (its content is checked later). */
export function checkPrepared(p: unknown): asserts p is PreparedCommit {
  const q = p as Partial<PreparedCommit> | null;
  if (q === null || typeof q !== "object") throw new StoreError("BAD_ARGUMENT", "prepared must be what prepare() returned");
  const ok =
    q.base !== null &&
    typeof q.base === "object" &&
    q.base.root instanceof Uint8Array &&
    Array.isArray(q.changes) &&
    q.update !== null &&
    typeof q.update === "object" &&
    q.update.top !== null &&
    typeof q.update.top === "object" &&
    q.update.top.root instanceof Uint8Array &&
    Array.isArray(q.update.writes) &&
    typeof q.updateMs === "number";
  if (!ok) throw new StoreError("BAD_ARGUMENT", "prepared must be what prepare() returned ({ base, changes, update, updateMs })");
}

/** Throws `BAD_ARGUMENT` for a key or value of prepared changes that the value tree would refuse. */
export function checkPreparedValues(changes: readonly Change[]): void {
  for (let j = 0; j < changes.length; j++) {
    checkStoreKey(changes[j][0], `prepared commit: changes[${j}] key`);
    const v = changes[j][1];
    if (v !== null && (!(v instanceof Uint8Array) || v.length > MAX_VALUE_SIZE))
      throw new StoreError("BAD_ARGUMENT", `prepared commit: changes[${j}] value must be a Uint8Array of at most ${MAX_VALUE_SIZE} bytes, or null`);
  }
}
