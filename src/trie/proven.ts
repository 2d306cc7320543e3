// What a verified proof establishes: for each proven key, its value or its absence.

import { checkArray } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, compareKeys } from "./key.ts";

/**
 * A verified map from 31-byte keys to values (null: proven absent). Only keys a proof covers
 * are in it: `get` returns undefined for any other key, which the proof says nothing about.
 */
export class ProvenValues {
  private readonly sortedKeys: readonly Uint8Array[];
  private readonly values: readonly (Uint8Array | null)[];

  /** `keys` sorted and distinct, `values[i]` the value of `keys[i]` or null. */
  constructor(keys: readonly Uint8Array[], values: readonly (Uint8Array | null)[]) {
    checkArray(keys, "keys");
    checkArray(values, "values");
    if (values.length !== keys.length) throw new TrieError("BAD_ARGUMENT", `values must have one entry per key (${keys.length}), got ${values.length}`);
    for (let i = 0; i < keys.length; i++) {
      checkKey(keys[i], `keys[${i}]`);
      if (i > 0 && compareKeys(keys[i - 1], keys[i]) >= 0) throw new TrieError("UNSORTED", `keys[${i}] must sort after keys[${i - 1}]`);
      const v = values[i];
      if (v !== null && !(v instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `values[${i}] must be a Uint8Array or null`);
    }
    this.sortedKeys = keys;
    this.values = values;
  }

  /** Number of proven keys. */
  get size(): number {
    return this.sortedKeys.length;
  }

  private indexOf(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(this.sortedKeys[mid], key);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** True when the proof covers `key` (present or absent). */
  has(key: Uint8Array): boolean {
    return key instanceof Uint8Array && key.length === 31 && this.indexOf(key) >= 0;
  }

  /** The proven value of `key`, null when proven absent, undefined when not covered. */
  get(key: Uint8Array): Uint8Array | null | undefined {
    if (!(key instanceof Uint8Array) || key.length !== 31) return undefined;
    const i = this.indexOf(key);
    return i < 0 ? undefined : this.values[i];
  }

  /** The proven keys and values in key order. */
  *entries(): IterableIterator<[Uint8Array, Uint8Array | null]> {
    for (let i = 0; i < this.sortedKeys.length; i++) yield [this.sortedKeys[i], this.values[i]];
  }
}
