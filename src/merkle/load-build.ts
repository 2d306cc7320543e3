// The merkle pages of a sorted load, built bottom-up in one pass with no reads.
//
// The trie of keys k0 < k1 < ... is built as trie/root.ts computes a root: a stack of finished
// subtries whose splits with their left neighbours (b_i = common prefix bits of k_i and k_i+1)
// increase upwards; a new key first merges every stack top whose split is deeper than its own
// split with the previous key. Here the stack lives across batches, and every node is also put
// in its page as soon as its depth is final:
//  - a branch made by a merge at split s sits at depth s;
//  - the stack top left after the merges for key k_i+1 is complete, and its parent will be the
//    branch at b_i (its left split is smaller), so it sits at depth b_i + 1: it is lifted there
//    (one branch with an H0 side per skipped level) and written, as is the right subtrie of a
//    merge, at the merge's split + 1.
// Whether a page is stored depends on its subtrie's leaf count (page.ts: elision), known only
// once its root node is written, after all the nodes below it. So nodes go first to a small log
// per page depth; writing the node at depth 6p (a page root) decides the page at depth p whose
// nodes the log holds: stored (a page image made from the log) or dropped. Sorted order makes
// this safe: every node under a prefix is written while that prefix's keys are being added, and
// its root before the first node of the next prefix at that depth.
//
// Node names live in the hash kernel's scratch memory and branches are hashed in place there.

import { HashKernel } from "../hash/index.ts";
import { BRANCH_NODE, KEY_BITS, KEY_BYTES, LEAF_NODE, PackedLeafWriter, writeLeafPreimageAt } from "../trie/index.ts";
import { MAX_INLINE_VALUE, type PackedEntries } from "../kv/index.ts";
import {
  ELISION_THRESHOLD,
  MERKLE_PAGE_BYTES,
  MAX_PAGE_DEPTH,
  PAGE_LEVELS,
  PAGE_SLOTS,
  pageIdOf,
  setLeafSlot,
  setSubtrieLeafCount,
  stampPage,
} from "./page.ts";
import { EMPTY_TOP, type MerkleTop, type PageWrite } from "./types.ts";

const BUILD_STACK = KEY_BITS + 2;

/**
 * A build's state between batches (`TrieLoadBuilder.state`), to go on with it elsewhere, e.g. on
 * a worker thread (`TrieLoadBuilder.resume`): typed arrays and numbers only.
 */
export interface LoadBuildState {
  readonly top: number;
  readonly added: number;
  readonly hashes: number;
  /** The stack's node names, 32 bytes each. */
  readonly names: Uint8Array;
  readonly depth: Int16Array;
  readonly split: Int16Array;
  readonly leaf: Uint8Array;
  readonly count: Float64Array;
  readonly saved: Uint8Array;
  readonly prev: Uint8Array;
  readonly logN: Int32Array;
  readonly logSlot: Uint8Array;
  readonly logLeaf: Uint8Array;
  readonly logWords: Int32Array;
}
const PAGE_DEPTHS = MAX_PAGE_DEPTH + 1;
const NAME_WORDS = 8;

/** Builds the trie and its pages from sorted batches (see the module comment). */
export class TrieLoadBuilder {
  readonly #kernel = new HashKernel(2048);
  readonly #heap = this.#kernel.heap;
  readonly #leaves = new PackedLeafWriter(this.#kernel);
  readonly #words = new Int32Array(this.#heap.buffer, this.#heap.byteOffset, this.#heap.length >> 2);
  /** Heap offset of stack slot 0's node name. */
  readonly #ids = this.#kernel.scratchOffset;
  readonly #depth = new Int16Array(BUILD_STACK);
  readonly #split = new Int16Array(BUILD_STACK);
  readonly #leaf = new Uint8Array(BUILD_STACK);
  readonly #count = new Float64Array(BUILD_STACK);
  /** A key of each entry's subtrie: at #keyOff in the current batch, or saved (#saved[31t..]). */
  readonly #keyOff = new Int32Array(BUILD_STACK);
  readonly #isSaved = new Uint8Array(BUILD_STACK);
  readonly #saved = new Uint8Array(BUILD_STACK * KEY_BYTES);
  #cur: Uint8Array = new Uint8Array(0);
  #top = -1;
  /** The last key added (a copy), for the split with the next batch's first key. */
  readonly #prev = new Uint8Array(KEY_BYTES);
  #added = 0;
  // Per page depth p, the nodes written at depths 6p+1..6p+6 under the current prefix.
  readonly #logN = new Int32Array(PAGE_DEPTHS);
  readonly #logSlot = new Uint8Array(PAGE_DEPTHS * PAGE_SLOTS);
  readonly #logLeaf = new Uint8Array(PAGE_DEPTHS * PAGE_SLOTS);
  readonly #logWords = new Int32Array(PAGE_DEPTHS * PAGE_SLOTS * NAME_WORDS);
  #out: PageWrite[] = [];
  #done = false;
  /** Node hashes so far (leaves and branches). */
  hashes = 0;

  /** Entries added so far. */
  get count(): number {
    return this.#added;
  }

  /** A copy of the state between batches, to go on elsewhere (`resume`). */
  state(): LoadBuildState {
    if (this.#done) throw new Error("trie load builder: already finished");
    // Between batches every stack key is saved (`add` saves them), so the batch is not needed.
    const top = this.#top;
    return {
      top,
      added: this.#added,
      hashes: this.hashes,
      names: this.#heap.slice(this.#ids, this.#ids + 32 * (top + 1)),
      depth: this.#depth.slice(),
      split: this.#split.slice(),
      leaf: this.#leaf.slice(),
      count: this.#count.slice(),
      saved: this.#saved.slice(),
      prev: this.#prev.slice(),
      logN: this.#logN.slice(),
      logSlot: this.#logSlot.slice(),
      logLeaf: this.#logLeaf.slice(),
      logWords: this.#logWords.slice(),
    };
  }

  /** A builder that goes on from `state` (taken from another builder between batches). */
  static resume(state: LoadBuildState): TrieLoadBuilder {
    const b = new TrieLoadBuilder();
    b.#top = state.top;
    b.#added = state.added;
    b.hashes = state.hashes;
    b.#heap.set(state.names, b.#ids);
    b.#depth.set(state.depth);
    b.#split.set(state.split);
    b.#leaf.set(state.leaf);
    b.#count.set(state.count);
    b.#saved.set(state.saved);
    for (let t = 0; t <= state.top; t++) {
      b.#keyOff[t] = KEY_BYTES * t;
      b.#isSaved[t] = 1;
    }
    b.#prev.set(state.prev);
    b.#logN.set(state.logN);
    b.#logSlot.set(state.logSlot);
    b.#logLeaf.set(state.logLeaf);
    b.#logWords.set(state.logWords);
    return b;
  }

  /**
   * Adds a batch whose keys strictly increase and follow every key added before (the caller
   * checked). Returns the pages finished by it: none of them changes again.
   */
  add(batch: PackedEntries): PageWrite[] {
    if (this.#done) throw new Error("trie load builder: already finished");
    this.#out = [];
    this.#cur = batch.keys;
    const kernel = this.#kernel;
    const cap = kernel.capacity;
    const n = batch.count;
    const keys = batch.keys;
    for (let from = 0; from < n; from += cap) {
      const to = Math.min(n, from + cap);
      this.#hashLeaves(batch, from, to);
      for (let i = from; i < to; i++) {
        const ko = KEY_BYTES * i;
        if (this.#added > 0) {
          const s = i === 0 ? prefixBits(this.#prev, 0, keys, 0) : prefixBits(keys, ko - KEY_BYTES, keys, ko);
          this.#close(s);
          this.#push(i - from, ko, s);
        } else this.#push(i - from, ko, -1);
        this.#added++;
      }
    }
    if (n > 0) {
      // The stack's keys must outlive the batch's buffer, which the caller reuses.
      for (let t = 0; t <= this.#top; t++) {
        if (this.#isSaved[t]) continue;
        this.#saved.set(keys.subarray(this.#keyOff[t], this.#keyOff[t] + KEY_BYTES), KEY_BYTES * t);
        this.#keyOff[t] = KEY_BYTES * t;
        this.#isSaved[t] = 1;
      }
      this.#prev.set(keys.subarray(KEY_BYTES * (n - 1), KEY_BYTES * n));
    }
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Ends the build: the trie's top, and the pages not handed out yet (the path of the last key). */
  finish(): { top: MerkleTop; writes: PageWrite[] } {
    if (this.#done) throw new Error("trie load builder: already finished");
    this.#done = true;
    this.#out = [];
    if (this.#top < 0) return { top: EMPTY_TOP, writes: [] };
    while (this.#top > 0) this.#merge();
    this.#place(0, 0);
    const at = this.#ids;
    const top: MerkleTop = { root: this.#heap.slice(at, at + 32), kind: this.#leaf[0] ? LEAF_NODE : BRANCH_NODE };
    return { top, writes: this.#out };
  }

  /** Leaf names of batch entries [from, to) into the kernel's digest region. */
  #hashLeaves(batch: PackedEntries, from: number, to: number): void {
    const kernel = this.#kernel;
    const { keys, vals, starts, lens } = batch;
    const leaves = this.#leaves;
    leaves.use(keys, vals);
    for (let i = from; i < to; i++) {
      const at = kernel.inOffset + (i - from) * 64;
      const len = lens[i];
      if (len <= MAX_INLINE_VALUE) leaves.write(KEY_BYTES * i, starts[i], len, at);
      else writeLeafPreimageAt(kernel, keys, KEY_BYTES * i, batch.large.get(i) as Uint8Array, 0, len, at);
    }
    kernel.hashNodes(to - from);
    this.hashes += to - from;
  }

  // Pushes leaf j of the kernel's digests (key at #cur[ko..]) whose split with its left neighbour is `split`.
  #push(j: number, ko: number, split: number): void {
    const t = ++this.#top;
    const words = this.#words;
    const src = (this.#kernel.outOffset >> 2) + j * NAME_WORDS;
    const dst = (this.#ids >> 2) + t * NAME_WORDS;
    for (let w = 0; w < NAME_WORDS; w++) words[dst + w] = words[src + w];
    this.#leaf[t] = 1;
    this.#split[t] = split;
    this.#count[t] = 1;
    this.#keyOff[t] = ko;
    this.#isSaved[t] = 0;
  }

  // The next key splits from the last at `s`: merge what is complete, and place the top at s + 1.
  #close(s: number): void {
    while (this.#top > 0 && this.#split[this.#top] > s) this.#merge();
    this.#place(this.#top, s + 1);
  }

  /** Replaces the two top subtries by their parent branch, written at its depth. */
  #merge(): void {
    const r = this.#top;
    const l = r - 1;
    const s = this.#split[r];
    this.#place(r, s + 1);
    const at = this.#ids + l * 32;
    this.#kernel.hashBranch(at, this.#ids + r * 32, at);
    this.hashes++;
    this.#depth[l] = s;
    this.#leaf[l] = 0;
    this.#count[l] += this.#count[r];
    this.#top = l;
    if (s > 0) this.#write(s, l, at, 0);
    else this.#decide(0, l);
  }

  /**
   * Lifts entry t (a branch at #depth[t], or a leaf not placed yet) to `to`, writing each node
   * of the way: the leaf at `to`, or the branches with an H0 side from #depth[t] - 1 up to `to`.
   */
  #place(t: number, to: number): void {
    const at = this.#ids + t * 32;
    if (this.#leaf[t]) {
      if (to > 0) this.#write(to, t, at, 1);
      return;
    }
    const kernel = this.#kernel;
    const zero = kernel.zeroOffset;
    const key = this.#isSaved[t] ? this.#saved : this.#cur;
    const ko = this.#keyOff[t];
    for (let d = this.#depth[t] - 1; d >= to; d--) {
      if ((key[ko + (d >> 3)] >> (7 - (d & 7))) & 1) kernel.hashBranch(zero, at, at);
      else kernel.hashBranch(at, zero, at);
      this.hashes++;
      if (d > 0) this.#write(d, t, at, 0);
      else this.#decide(0, t);
    }
    this.#depth[t] = to;
  }

  /** Logs the node of entry t at depth d (>= 1), named at heap[from]; a page root decides its page. */
  #write(d: number, t: number, from: number, leaf: number): void {
    const p = ((d - 1) / PAGE_LEVELS) | 0;
    const r = d - PAGE_LEVELS * p;
    const key = this.#isSaved[t] ? this.#saved : this.#cur;
    const ko = this.#keyOff[t];
    // The r bits of the key from bit 6p: at most two bytes.
    const bit = PAGE_LEVELS * p;
    const b = bit >> 3;
    const two = (key[ko + b] << 8) | (b + 1 < KEY_BYTES ? key[ko + b + 1] : 0);
    const x = (two >> (16 - (bit & 7) - r)) & ((1 << r) - 1);
    const k = this.#logN[p]++;
    const e = p * PAGE_SLOTS + k;
    this.#logSlot[e] = (1 << r) - 2 + x;
    this.#logLeaf[e] = leaf;
    const words = this.#words;
    const src = from >> 2;
    const dst = e * NAME_WORDS;
    const log = this.#logWords;
    for (let w = 0; w < NAME_WORDS; w++) log[dst + w] = words[src + w];
    if (r === PAGE_LEVELS) this.#decide(p + 1, t);
  }

  /** The root of the page at depth p on entry t's path is written: store the page or drop it. */
  #decide(p: number, t: number): void {
    if (p >= PAGE_DEPTHS) return;
    const n = this.#logN[p];
    if (n === 0) return;
    this.#logN[p] = 0;
    const count = this.#count[t];
    if (count < ELISION_THRESHOLD) return;
    const page = new Uint8Array(MERKLE_PAGE_BYTES);
    const words = new Int32Array(page.buffer);
    const log = this.#logWords;
    for (let k = 0; k < n; k++) {
      const e = p * PAGE_SLOTS + k;
      const slot = this.#logSlot[e];
      const src = e * NAME_WORDS;
      const dst = slot * NAME_WORDS;
      for (let w = 0; w < NAME_WORDS; w++) words[dst + w] = log[src + w];
      if (this.#logLeaf[e]) setLeafSlot(page, slot, true);
    }
    setSubtrieLeafCount(page, count);
    const key = this.#isSaved[t] ? this.#saved : this.#cur;
    const ko = this.#keyOff[t];
    const id = pageIdOf(key.subarray(ko, ko + KEY_BYTES), p);
    stampPage(page, id);
    this.#out.push({ id, page });
  }
}

/** Common leading bits of the keys at a[ao..] and b[bo..] (KEY_BITS when equal). */
function prefixBits(a: Uint8Array, ao: number, b: Uint8Array, bo: number): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const x = a[ao + i] ^ b[bo + i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}
