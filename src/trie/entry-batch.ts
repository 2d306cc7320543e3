// Entries laid out in three buffers instead of an object per entry: what a snapshot reader or a
// network receiver has at hand, and what a bulk load reads fastest (no pass over scattered
// objects, no garbage).

/**
 * `count = keys.length / 31` entries, in key order: key i is `keys[31i .. 31i + 31)`, value i is
 * `values[offsets[i] .. offsets[i + 1])` (so `offsets` has `count + 1` non-decreasing items).
 */
export interface EntryBatch {
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly offsets: Uint32Array;
}
