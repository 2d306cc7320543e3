// The root of a sorted entry list in one left-to-right pass, with no recursion and no object
// per node.
//
// Sorted keys k0 < k1 < ... split pairwise at b_i = commonPrefixBits(k_i, k_i+1): the branch
// that separates k_i from k_i+1 sits at depth b_i. A stack holds finished subtries whose split
// with their left neighbour strictly increases upwards (adjacent splits are never equal), so it
// never holds more than 249 entries. After pushing leaf i, every stack top whose split with its
// neighbour is deeper than b_i is complete and is merged into a branch.
//
// GP tries have no extension nodes: a subtrie of two or more keys whose keys share more bits
// than its parent's depth needs one branch per skipped bit, with H0 on the other side ("lift").
// A single leaf needs none: its name does not depend on its depth.
//
// Node names live in the hash kernel's scratch memory and branches are hashed in place there
// (one call each, no copy); leaves are hashed in batches of the kernel's capacity.

import { HashKernel } from "../hash/kernel.ts";
import { checkArray, checkInteger } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, keyBit } from "./key.ts";
import { HASH_BYTES, NODE_BYTES, writeLeafPreimage } from "./node.ts";

/** One state entry. */
export interface Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

const STACK_MAX = KEY_BITS + 2;

/** Throws a typed error naming `entries[i]` unless `e` is an entry of a 31-byte key and bytes. */
export function checkEntry(e: unknown, i: number): asserts e is Entry {
  if (e === null || typeof e !== "object") throw new TrieError("BAD_ARGUMENT", `entries[${i}] must be an entry { key, value }`);
  checkKey((e as Entry).key, `entries[${i}].key`);
  if (!((e as Entry).value instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `entries[${i}].value must be a Uint8Array`);
}

/** Reusable state for root computations; one per thread is enough. */
class RootMachine {
  readonly kernel = new HashKernel(2048);
  readonly heap = this.kernel.heap;
  /** The heap as 32-bit words: names sit at multiples of 32 bytes, so they copy as 8 words. */
  readonly words = new Int32Array(this.heap.buffer, this.heap.byteOffset, this.heap.length >> 2);
  /** Heap offset of stack slot 0's node name. */
  readonly ids = this.kernel.scratchOffset;
  readonly depth = new Int16Array(STACK_MAX);
  readonly split = new Int16Array(STACK_MAX);
  readonly keyOf = new Int32Array(STACK_MAX);
  readonly isLeaf = new Uint8Array(STACK_MAX);
  top = -1;

  /**
   * Root of the subtrie at `atDepth` holding entries[lo..hi). The caller guarantees that
   * those keys share their first `atDepth` bits.
   */
  run(entries: readonly Entry[], lo: number, hi: number, atDepth: number): Uint8Array {
    const { kernel, words } = this;
    const cap = kernel.capacity;
    this.top = -1;
    if (hi - lo === 0) return new Uint8Array(HASH_BYTES);
    let prevSplit = -1;
    for (let chunk = lo; chunk < hi; chunk += cap) {
      const end = Math.min(hi, chunk + cap);
      this.hashLeaves(entries, chunk, end);
      for (let i = chunk; i < end; i++) {
        let nextSplit = -1;
        if (i + 1 < hi) {
          const a = entries[i].key;
          const b = entries[i + 1].key;
          nextSplit = commonPrefixBits(a, b);
          if (nextSplit === KEY_BITS) throw new TrieError("DUPLICATE_KEY", `entries[${i + 1}].key repeats the previous key`);
          if (keyBit(a, nextSplit) === 1) throw new TrieError("UNSORTED", `entries[${i + 1}].key sorts before the previous key`);
        }
        const t = ++this.top;
        const src = (kernel.outOffset + (i - chunk) * HASH_BYTES) >> 2;
        const dst = (this.ids + t * HASH_BYTES) >> 2;
        for (let j = 0; j < 8; j++) words[dst + j] = words[src + j];
        this.isLeaf[t] = 1;
        this.split[t] = prevSplit;
        this.keyOf[t] = i;
        while (this.top > 0 && this.split[this.top] > nextSplit) this.merge(entries);
        prevSplit = nextSplit;
      }
    }
    this.lift(entries, 0, atDepth);
    const at = this.ids;
    return this.heap.slice(at, at + HASH_BYTES);
  }

  /** Leaf names of entries[from..to) into the kernel's digest region. */
  private hashLeaves(entries: readonly Entry[], from: number, to: number): void {
    const { kernel } = this;
    for (let i = from; i < to; i++) {
      checkEntry(entries[i], i);
      const { key, value } = entries[i];
      writeLeafPreimage(kernel, key, value, kernel.inOffset + (i - from) * NODE_BYTES);
    }
    kernel.hashNodes(to - from);
  }

  /** Replaces the two top subtries by their parent branch. */
  private merge(entries: readonly Entry[]): void {
    const r = this.top;
    const l = r - 1;
    const s = this.split[r];
    this.lift(entries, l, s + 1);
    this.lift(entries, r, s + 1);
    this.kernel.hashBranch(this.ids + l * HASH_BYTES, this.ids + r * HASH_BYTES, this.ids + l * HASH_BYTES);
    this.depth[l] = s;
    this.isLeaf[l] = 0;
    this.top = l;
  }

  /** Moves a branch subtrie up to `toDepth` through a chain of branches with H0 siblings. */
  private lift(entries: readonly Entry[], slot: number, toDepth: number): void {
    if (this.isLeaf[slot]) return;
    const { kernel } = this;
    const zero = kernel.zeroOffset;
    const id = this.ids + slot * HASH_BYTES;
    const key = entries[this.keyOf[slot]].key;
    for (let d = this.depth[slot] - 1; d >= toDepth; d--) {
      if (keyBit(key, d) === 0) kernel.hashBranch(id, zero, id);
      else kernel.hashBranch(zero, id, id);
    }
    this.depth[slot] = toDepth;
  }
}

let machine: RootMachine | undefined;

/**
 * Root of the subtrie at depth `atDepth` holding `entries[lo..hi)`, which must be sorted by
 * key, distinct, and share their first `atDepth` bits. `subtrieRoot(e, 0, e.length, 0)` is
 * the state root.
 */
export function subtrieRoot(entries: readonly Entry[], lo: number, hi: number, atDepth: number): Uint8Array {
  checkArray(entries, "entries");
  checkInteger(hi, "hi", 0, entries.length);
  checkInteger(lo, "lo", 0, hi);
  checkInteger(atDepth, "depth", 0, KEY_BITS);
  machine ??= new RootMachine();
  return machine.run(entries, lo, hi, atDepth);
}

/** State root (GP merklization M) of entries sorted by key with no duplicates. */
export function trieRoot(entries: readonly Entry[]): Uint8Array {
  checkArray(entries, "entries");
  return subtrieRoot(entries, 0, entries.length, 0);
}

/** Sorts a copy of `entries` by key (duplicates are refused with a typed error). */
export function sortEntries(entries: readonly Entry[]): Entry[] {
  checkArray(entries, "entries");
  entries.forEach((e, i) => checkEntry(e, i));
  return [...entries].sort((a, b) => compareKeys(a.key, b.key));
}

/** State root of entries in any order. */
export function trieRootUnsorted(entries: readonly Entry[]): Uint8Array {
  return trieRoot(sortEntries(entries));
}
