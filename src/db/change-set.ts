// A write session's changes in flat typed arrays: the keys in one buffer, the values in one
// arena, and an open-addressing table from a key's hash to its entry. A `set` copies the key
// and value bytes into the buffers and makes no object: a Map of key strings to [key, value]
// pairs cost two slices, a string and a pair per key, and the string (Buffer.toString) was the
// dearest part of a `set`. `sorted()` makes the one pair per key the trie update and the commit
// take, their key and value views into the buffers (no copies).
import type { Change } from "../merkle/index.ts";
import { KEY_BYTES } from "../trie/index.ts";

const FIRST_CAPACITY = 16;

/** The changes of one write session, by key (the last write of a key wins). */
export class ChangeSet {
  #keys: Uint8Array = new Uint8Array(FIRST_CAPACITY * KEY_BYTES);
  /** Per entry: the key's hash (probes compare it before the bytes). */
  #hashes: Int32Array = new Int32Array(FIRST_CAPACITY);
  /** Per entry: where its value starts in the arena, and its length (-1: deleted). */
  #valueAt: Int32Array = new Int32Array(FIRST_CAPACITY);
  #valueLength: Int32Array = new Int32Array(FIRST_CAPACITY);
  #arena: Uint8Array = new Uint8Array(FIRST_CAPACITY * 32);
  #arenaUsed = 0;
  /** Entry + 1 per slot, 0 where empty; twice the capacity, so at most half full. */
  #table: Int32Array = new Int32Array(2 * FIRST_CAPACITY);
  #size = 0;

  /** Distinct keys changed. */
  get size(): number {
    return this.#size;
  }

  /** The entry of `key` (31 bytes), or -1. */
  find(key: Uint8Array): number {
    return this.#probe(key, hashKey(key)) - 1;
  }

  /** The value entry `i` sets (a view into the arena: copy it before handing it out), or null for a delete. */
  valueOf(i: number): Uint8Array | null {
    const n = this.#valueLength[i];
    if (n < 0) return null;
    const at = this.#valueAt[i];
    return this.#arena.subarray(at, at + n);
  }

  /** Records `key` (31 bytes) set to a copy of `value`, or deleted for null. */
  put(key: Uint8Array, value: Uint8Array | null): void {
    const h = hashKey(key);
    let i = this.#probe(key, h) - 1;
    if (i < 0) i = this.#add(key, h);
    if (value === null) {
      this.#valueLength[i] = -1;
      return;
    }
    // A value rewritten at the same length is rewritten where it is; else it is appended.
    const n = value.length;
    if (this.#valueLength[i] !== n) {
      if (this.#arenaUsed + n > this.#arena.length) this.#growArena(n);
      this.#valueAt[i] = this.#arenaUsed;
      this.#valueLength[i] = n;
      this.#arenaUsed += n;
    }
    this.#arena.set(value, this.#valueAt[i]);
  }

  /**
   * The changes sorted by key, as [key, value | null] with views into this set's buffers. The
   * set must not change afterwards while they are in use (a finished session changes no more).
   */
  sorted(): Change[] {
    const n = this.#size;
    const keys = this.#keys;
    const order = sortedEntries(keys, n);
    const out: Change[] = new Array(n);
    for (let x = 0; x < n; x++) {
      const i = order[x];
      out[x] = [keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES), this.valueOf(i)];
    }
    return out;
  }

  /** Entry + 1 of `key`, or 0 when absent. */
  #probe(key: Uint8Array, h: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    const keys = this.#keys;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = table[s];
      if (e === 0) return 0;
      if (this.#hashes[e - 1] !== h) continue;
      const at = (e - 1) * KEY_BYTES;
      let same = true;
      for (let b = 0; b < KEY_BYTES; b++) {
        if (keys[at + b] !== key[b]) {
          same = false;
          break;
        }
      }
      if (same) return e;
    }
  }

  #add(key: Uint8Array, h: number): number {
    if (this.#size === this.#hashes.length) this.#grow();
    const i = this.#size++;
    this.#keys.set(key, i * KEY_BYTES);
    this.#hashes[i] = h;
    this.#valueLength[i] = -1;
    this.#place(i);
    return i;
  }

  #place(i: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let s = this.#hashes[i] & mask;
    while (table[s] !== 0) s = (s + 1) & mask;
    table[s] = i + 1;
  }

  #grow(): void {
    const cap = this.#hashes.length * 2;
    const keys = new Uint8Array(cap * KEY_BYTES);
    keys.set(this.#keys);
    this.#keys = keys;
    this.#hashes = grownInt32(this.#hashes, cap);
    this.#valueAt = grownInt32(this.#valueAt, cap);
    this.#valueLength = grownInt32(this.#valueLength, cap);
    this.#table = new Int32Array(2 * cap);
    for (let i = 0; i < this.#size; i++) this.#place(i);
  }

  #growArena(need: number): void {
    const arena = new Uint8Array(Math.max(2 * this.#arena.length, this.#arenaUsed + need));
    arena.set(this.#arena.subarray(0, this.#arenaUsed));
    this.#arena = arena;
  }
}

function grownInt32(a: Int32Array, cap: number): Int32Array {
  const out = new Int32Array(cap);
  out.set(a);
  return out;
}

/**
 * A 32-bit hash of a 31-byte key over all its bytes (keys may share long runs, as GP's
 * service keys do, so no byte is skipped): each 4-byte word mixed in with murmur3's constants.
 */
export function hashKey(key: Uint8Array): number {
  let h = 0x9747b28c;
  for (let b = 0; b < 28; b += 4) {
    let w = key[b] | (key[b + 1] << 8) | (key[b + 2] << 16) | (key[b + 3] << 24);
    w = Math.imul(w, 0xcc9e2d51);
    w = (w << 15) | (w >>> 17);
    h ^= Math.imul(w, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= key[28] | (key[29] << 8) | (key[30] << 16);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The entries 0..n-1 of a key buffer in key order: each tagged with its key's leading 32 bits
 * and its index in one double, the tags sorted natively, and only runs of equal leading bits
 * compared byte by byte (as `sortByKey`, without a view per key).
 */
export function sortedEntries(keys: Uint8Array, n: number): Int32Array {
  const order = new Int32Array(n);
  if (n === 0) return order;
  const indexBits = Math.max(1, Math.ceil(Math.log2(n)));
  const bits = Math.min(32, 53 - indexBits);
  const scale = 2 ** indexBits;
  const tags = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * KEY_BYTES;
    const lead = ((keys[at] << 24) | (keys[at + 1] << 16) | (keys[at + 2] << 8) | keys[at + 3]) >>> 0;
    tags[i] = Math.floor(lead / 2 ** (32 - bits)) * scale + i;
  }
  tags.sort();
  for (let x = 0; x < n; x++) order[x] = tags[x] % scale;
  for (let x = 0; x < n; ) {
    const lead = Math.floor(tags[x] / scale);
    let y = x + 1;
    while (y < n && Math.floor(tags[y] / scale) === lead) y++;
    if (y - x > 1) {
      const run = Array.from(order.subarray(x, y)).sort((a, b) => compareStored(keys, a, b));
      order.set(run, x);
    }
    x = y;
  }
  return order;
}

function compareStored(keys: Uint8Array, a: number, b: number): number {
  const pa = a * KEY_BYTES;
  const pb = b * KEY_BYTES;
  for (let i = 0; i < KEY_BYTES; i++) {
    const d = keys[pa + i] - keys[pb + i];
    if (d !== 0) return d;
  }
  return 0;
}
