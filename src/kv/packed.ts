// Sorted entries packed into contiguous buffers, for bulk loads: the load copies each entry
// once, and the value tree and the merkle build then read keys and values in order from a few
// buffers instead of chasing one object per key (entries sorted in memory by key sit at random
// addresses, and every pass over them is a cache miss per object).
import type { EntryBatch } from "../trie/index.ts";
import { KEY_BYTES } from "./key.ts";
import { MAX_INLINE_VALUE } from "./leaf.ts";

/** The buffers of a `PackedEntries`, as another thread receives them (`adopt`). */
export interface PackedParts {
  readonly count: number;
  readonly keys: Uint8Array;
  readonly vals: Uint8Array;
  readonly starts: Int32Array;
  readonly lens: Int32Array;
  /** [entry index, value] of the values longer than MAX_INLINE_VALUE. */
  readonly large: readonly (readonly [number, Uint8Array])[];
}

/**
 * Entries i = 0..count-1: key i at keys[31i..31i+31), value i of `lens[i]` bytes at
 * vals[starts[i]..) when at most MAX_INLINE_VALUE bytes, else held by reference in `large`.
 * Reused from chunk to chunk (`reset`); the buffers only grow. With `shared`, the buffers are
 * SharedArrayBuffers, so that a worker thread reads them without a copy (`parts`).
 */
export class PackedEntries {
  count = 0;
  keys: Uint8Array;
  vals: Uint8Array;
  starts: Int32Array;
  lens: Int32Array;
  /** Values longer than MAX_INLINE_VALUE, by entry index. */
  readonly large: Map<number, Uint8Array> = new Map();
  readonly #shared: boolean;
  #valEnd = 0;

  constructor(shared = false) {
    this.#shared = shared;
    this.keys = this.#bytes(KEY_BYTES * 1024);
    this.vals = this.#bytes(64 * 1024);
    this.starts = new Int32Array(this.#buffer(4 * 1024));
    this.lens = new Int32Array(this.#buffer(4 * 1024));
  }

  /** Takes another thread's buffers as its entries (to be read, not pushed to). */
  adopt(parts: PackedParts): this {
    this.reset();
    this.count = parts.count;
    this.keys = parts.keys;
    this.vals = parts.vals;
    this.starts = parts.starts;
    this.lens = parts.lens;
    for (const [i, v] of parts.large) this.large.set(i, v);
    return this;
  }

  /** The buffers, for a worker thread: shared ones are handed over without a copy (large values are). */
  parts(): PackedParts {
    // A view posted to a thread takes its whole buffer along (a batch's values, a slab): only the value goes.
    const large: [number, Uint8Array][] = [];
    for (const [i, v] of this.large) large.push([i, v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : v.slice()]);
    return { count: this.count, keys: this.keys, vals: this.vals, starts: this.starts, lens: this.lens, large };
  }

  #buffer(bytes: number): ArrayBuffer | SharedArrayBuffer {
    return this.#shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  }

  #bytes(n: number): Uint8Array {
    return new Uint8Array(this.#buffer(n));
  }

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
    const keys = this.#bytes(KEY_BYTES * cap);
    keys.set(this.keys.subarray(0, KEY_BYTES * this.count));
    this.keys = keys;
    const starts = new Int32Array(this.#buffer(4 * cap));
    starts.set(this.starts.subarray(0, this.count));
    this.starts = starts;
    const lens = new Int32Array(this.#buffer(4 * cap));
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
        const vals = this.#bytes(Math.max(end, 2 * this.vals.length));
        vals.set(this.vals.subarray(0, this.#valEnd));
        this.vals = vals;
      }
      this.vals.set(value, this.#valEnd);
      this.#valEnd = end;
    }
    this.count = i + 1;
  }

  /**
   * Appends entries `from .. to` of a batch: the keys in one copy, the inline values in one copy
   * per run between large values (one in all, usually); a large value is held as a view, as
   * `push` holds it (the load is done with it before it returns to its caller; `parts` copies
   * it out for a thread). The caller checked the batch's offsets and sizes.
   */
  pushBatch(batch: EntryBatch, from: number, to: number): void {
    const n = to - from;
    const at = this.count;
    this.reserve(at + n);
    this.keys.set(batch.keys.subarray(KEY_BYTES * from, KEY_BYTES * to), KEY_BYTES * at);
    const { offsets, values } = batch;
    let inline = 0;
    for (let i = from; i < to; i++) {
      const len = offsets[i + 1] - offsets[i];
      if (len <= MAX_INLINE_VALUE) inline += len;
    }
    const need = this.#valEnd + inline;
    if (need > this.vals.length) {
      const vals = this.#bytes(Math.max(need, 2 * this.vals.length));
      vals.set(this.vals.subarray(0, this.#valEnd));
      this.vals = vals;
    }
    let run = offsets[from];
    let end = this.#valEnd;
    for (let i = 0; i < n; i++) {
      const start = offsets[from + i];
      const len = offsets[from + i + 1] - start;
      this.lens[at + i] = len;
      if (len > MAX_INLINE_VALUE) {
        this.vals.set(values.subarray(run, start), end);
        end += start - run;
        run = start + len;
        this.starts[at + i] = end;
        this.large.set(at + i, values.subarray(start, start + len));
      } else this.starts[at + i] = end + (start - run);
    }
    this.vals.set(values.subarray(run, offsets[to]), end);
    this.#valEnd = end + (offsets[to] - run);
    this.count = at + n;
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
