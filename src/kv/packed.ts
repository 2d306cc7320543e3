// Sorted entries packed into contiguous buffers, for bulk loads: the load copies each entry
// once, and the value tree and the merkle build then read keys and values in order from a few
// buffers instead of chasing one object per key (entries sorted in memory by key sit at random
// addresses, and every pass over them is a cache miss per object).
import { KEY_BYTES } from "./key.ts";
import { MAX_INLINE_VALUE } from "./leaf.ts";

/**
 * Entries i = 0..count-1: key i at keys[31i..31i+31), value i of `lens[i]` bytes at
 * vals[starts[i]..) when at most MAX_INLINE_VALUE bytes, else held by reference in `large`.
 * Reused from chunk to chunk (`reset`); the buffers only grow.
 */
export class PackedEntries {
  count = 0;
  keys: Uint8Array = new Uint8Array(KEY_BYTES * 1024);
  vals: Uint8Array = new Uint8Array(64 * 1024);
  starts: Int32Array = new Int32Array(1024);
  lens: Int32Array = new Int32Array(1024);
  /** Values longer than MAX_INLINE_VALUE, by entry index. */
  readonly large: Map<number, Uint8Array> = new Map();
  #valEnd = 0;

  /** Forgets every entry (and the references to large values). */
  reset(): void {
    this.count = 0;
    this.#valEnd = 0;
    this.large.clear();
  }

  /** Room for `n` entries in all (index arrays and keys). */
  reserve(n: number): void {
    if (n <= this.starts.length) return;
    const cap = Math.max(n, 2 * this.starts.length);
    const keys = new Uint8Array(KEY_BYTES * cap);
    keys.set(this.keys.subarray(0, KEY_BYTES * this.count));
    this.keys = keys;
    const starts = new Int32Array(cap);
    starts.set(this.starts.subarray(0, this.count));
    this.starts = starts;
    const lens = new Int32Array(cap);
    lens.set(this.lens.subarray(0, this.count));
    this.lens = lens;
  }

  /** Appends a copy of (key, value); `key` must be 31 bytes (the caller checked it). */
  push(key: Uint8Array, value: Uint8Array): void {
    const i = this.count;
    if (i === this.starts.length) this.reserve(i + 1);
    const ko = KEY_BYTES * i;
    this.keys.set(key, ko);
    const len = value.length;
    this.lens[i] = len;
    this.starts[i] = this.#valEnd;
    if (len > MAX_INLINE_VALUE) this.large.set(i, value);
    else if (len > 0) {
      const end = this.#valEnd + len;
      if (end > this.vals.length) {
        const vals = new Uint8Array(Math.max(end, 2 * this.vals.length));
        vals.set(this.vals.subarray(0, this.#valEnd));
        this.vals = vals;
      }
      this.vals.set(value, this.#valEnd);
      this.#valEnd = end;
    }
    this.count = i + 1;
  }

  /** A view of key i (valid until the next `push` or `reset`). */
  key(i: number): Uint8Array {
    return this.keys.subarray(KEY_BYTES * i, KEY_BYTES * i + KEY_BYTES);
  }

  /** A view of value i (valid until the next `push` or `reset`). */
  value(i: number): Uint8Array {
    const len = this.lens[i];
    if (len > MAX_INLINE_VALUE) return this.large.get(i) as Uint8Array;
    return this.vals.subarray(this.starts[i], this.starts[i] + len);
  }
}
