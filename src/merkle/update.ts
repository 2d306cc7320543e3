// Incremental update of the GP trie stored as merkle pages.
//
// A sorted batch of changes descends the trie from the root, splitting at each branch by the
// key bit of that depth, so only nodes on the paths of changed keys are visited: O(changes x
// depth) hashes and, per changed key, the pages on its path (one per 6 levels).
//
//  - Where the batch meets a branch, each side is updated and the branch rehashed. If one side
//    becomes empty and the other holds a single leaf, the leaf moves up (a leaf's name does not
//    depend on its depth); if both become empty, so does the branch.
//  - Where the batch meets a leaf or H0 (a terminal), the subtrie there is rebuilt from the
//    changes under it plus the old leaf, if it survives. The old leaf's key is not stored in the
//    page (names carry no kind, let alone keys), so it comes from the value store by a prefix
//    seek; its name is reused from the page.
//  - Where the batch meets a branch whose page is not stored (an elided subtrie, fewer than
//    ELISION_THRESHOLD leaves), the subtrie is rebuilt from its keys and values, scanned from
//    the value store, merged with the changes. It gets pages only if it has grown to the
//    threshold. A stored page whose count falls below it is deleted with its stored
//    descendants (all touched by this batch: an untouched descendant's count was already below).
//
// Every visit leaves the positions strictly below it correct for its result; the caller writes
// the result itself, or clears it when the caller collapses. Node names are passed between
// levels in the hash kernel's scratch memory: two slots per depth, so a branch is hashed in
// place without copies.
//
// Pages in the working set are PageRefs (page-ref.ts); update-steps.ts runs a batch as a
// sequence of these updates, one per key-ordered chunk, for callers that must yield between.
// The file stays one class past 500 lines: the descent, the terminal and elided rebuilds and
// the leaf hashing share the updater's scratch (kernel slots, key pool, old leaf names), and
// splitting them would pass that state around on the hot path.

import { HashKernel } from "../hash/index.ts";
import { checkChanges, compareKeyTo } from "./changes.ts";
import { PageRef } from "./page-ref.ts";
import type { Change, MerkleTop, PageReader, PageWrite, StateReader, UpdateResult, UpdateStats } from "./types.ts";
import {
  BRANCH_NODE,
  compareKeys,
  EMPTY_NODE,
  keyBit,
  KEY_BYTES,
  LEAF_NODE,
  type TrieNodeKind,
  writeLeafPreimage,
  writeLeafPreimageAt,
} from "../trie/index.ts";
import {
  ELISION_THRESHOLD,
  isEmptyPage,
  subtrieLeafCount,
  setSubtrieLeafCount,
  isLeafSlot,
  PAGE_LEVELS,
  pageIdKey,
  pageIdOf,
  stampPage,
  setLeafSlot,
} from "./page.ts";

// A node's position is passed as three numbers, not an object: its depth, the page holding it
// (null for the root, which has no slot) and its slot there. The children of slot s sit in
// slots 2s+2 and 2s+3 of the same page, except below a page's bottom level (depth a multiple of
// PAGE_LEVELS), where they are slots 0 and 1 of the child page.

/** Slot of the child on side `bit` of the node in `slot` at `depth`. */
function childSlot(depth: number, slot: number, bit: number): number {
  return depth % PAGE_LEVELS === 0 ? bit : 2 * slot + 2 + bit;
}

class TrieUpdater {
  readonly kernel: HashKernel;
  readonly heap: Uint8Array;
  /** The kernel's memory as 32-bit words; every name slot is word aligned. */
  readonly heap32: Int32Array;
  readonly slots: number;
  readonly refs = new Map<number | string, PageRef>();
  readonly idScratch = new Uint8Array(32);
  /** Refs in creation order: a depth-first visit creates a page's descendants right after it. */
  readonly refList: PageRef[] = [];
  readonly stats: UpdateStats = { hashes: 0, pagesRead: 0, pagesWritten: 0, pagesCopied: 0, leafLookups: 0, elidedRebuilds: 0, elidedEntries: 0, seekMs: 0 };
  /** Leaves added minus leaves removed so far; a page's count moves by its subtrie's share. */
  delta = 0;
  /** Names of old leaves a rebuild reuses or recomputes; ids < 0 index it (-1 is 0). */
  extra: Int32Array;
  /** Names in `extra` so far in the current rebuild. */
  extraCount = 0;
  /** Copies of the old keys of the current rebuild. */
  keyPool: Uint8Array;
  keyPoolAt = 0;
  keys: Uint8Array[] = [];
  /** Per change: 1 if it sets a value, 0 if it deletes. */
  sets: Uint8Array = new Uint8Array(0);
  /** Per change: the new leaf's name (deletes: unused). */
  leafIds: Int32Array = new Int32Array(0);
  /** Per change, when the caller asked: the key's old value as the update saw it (see updateTrie). */
  olds: OldValues | null = null;
  /**
   * Where the old values handed out are copied: views into buffers of this update, never
   * reused, instead of a buffer each (a session's reverse delta keeps ~1000 of them for the
   * rollback window).
   */
  oldArena: Uint8Array = new Uint8Array(0);
  oldArenaAt = 0;

  constructor(
    scratch: UpdateScratch,
    readonly pages: PageReader,
    readonly state: StateReader,
    readonly top: MerkleTop,
  ) {
    const kernel = scratch.kernel;
    this.kernel = kernel;
    this.extra = scratch.extra;
    this.keyPool = scratch.keyPool;
    this.heap = kernel.heap;
    this.heap32 = new Int32Array(kernel.heap.buffer, kernel.heap.byteOffset, kernel.heap.byteLength >> 2);
    this.slots = kernel.scratchOffset;
  }

  /** Scratch slot for a result at `depth` on `side`. */
  res(depth: number, side: number): number {
    return this.slots + (2 * depth + side) * 32;
  }

  ref(key: Uint8Array, pageDepth: number): PageRef {
    const k = pageIdKey(pageIdOf(key, pageDepth, this.idScratch));
    let ref = this.refs.get(k);
    if (!ref) {
      const page = this.pages.get(this.idScratch);
      this.stats.pagesRead++;
      ref = this.addRef(k, page);
    }
    return ref;
  }

  addRef(k: number | string, page: Uint8Array | undefined): PageRef {
    const ref = new PageRef(this.idScratch.slice(), page, page !== undefined, this.pages);
    this.refs.set(k, ref);
    this.refList.push(ref);
    return ref;
  }

  /**
   * The ref of the stored page on `key`'s path at `pageDepth`, or null when none is stored (an
   * elided subtrie, met at most once per update: no ref is made for it, since most stay elided
   * and a rebuild that gives it a page makes the ref then).
   */
  storedRef(key: Uint8Array, pageDepth: number): PageRef | null {
    const k = pageIdKey(pageIdOf(key, pageDepth, this.idScratch));
    const ref = this.refs.get(k);
    if (ref !== undefined) return ref.existed ? ref : null;
    const page = this.pages.get(this.idScratch);
    this.stats.pagesRead++;
    return page === undefined ? null : this.addRef(k, page);
  }

  /** The page holding the children of the node at `depth` in page `ref`, on the path of `key`. */
  childRef(depth: number, ref: PageRef | null, key: Uint8Array): PageRef {
    return depth % PAGE_LEVELS === 0 ? this.ref(key, depth / PAGE_LEVELS) : (ref as PageRef);
  }

  /** Kind of the old node at (depth, ref, slot); its name is copied to heap[out]. */
  readOld(depth: number, ref: PageRef | null, slot: number, out: number): TrieNodeKind {
    const heap = this.heap;
    if (depth === 0) {
      heap.set(this.top.root, out);
      return this.top.kind;
    }
    const words = (ref as PageRef).words;
    const h = this.heap32;
    const ho = out >> 2;
    if (words === undefined) {
      for (let i = 0; i < 8; i++) h[ho + i] = 0;
      return EMPTY_NODE;
    }
    const at = slot << 3;
    let any = 0;
    for (let i = 0; i < 8; i++) {
      const w = words[at + i];
      h[ho + i] = w;
      any |= w;
    }
    if (any === 0) return EMPTY_NODE;
    return isLeafSlot((ref as PageRef).page as Uint8Array, slot) ? LEAF_NODE : BRANCH_NODE;
  }

  /** Writes the node named at heap[from] with `kind` to `slot` of page `ref`. */
  write(ref: PageRef, slot: number, from: number, kind: TrieNodeKind): void {
    if (kind === EMPTY_NODE && !ref.page) return;
    const page = ref.writable(this.stats);
    const words = ref.words as Int32Array;
    const at = slot << 3;
    if (kind === EMPTY_NODE) for (let i = 0; i < 8; i++) words[at + i] = 0;
    else {
      const h = this.heap32;
      const ho = from >> 2;
      for (let i = 0; i < 8; i++) words[at + i] = h[ho + i];
    }
    setLeafSlot(page, slot, kind === LEAF_NODE);
  }

  clear(ref: PageRef, slot: number): void {
    if (!ref.page) return;
    const page = ref.writable(this.stats);
    const words = ref.words as Int32Array;
    const at = slot << 3;
    for (let i = 0; i < 8; i++) words[at + i] = 0;
    setLeafSlot(page, slot, false);
  }

  /** First index in [lo, hi) of `keys` whose bit `depth` is 1. */
  split(keys: readonly Uint8Array[], lo: number, hi: number, depth: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyBit(keys[mid], depth) === 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Applies changes[lo..hi) under the node at (depth, ref, slot); its new name goes to heap[out]. */
  visit(lo: number, hi: number, depth: number, ref: PageRef | null, slot: number, out: number): TrieNodeKind {
    const old = this.readOld(depth, ref, slot, out);
    if (lo === hi) return old;
    if (old !== BRANCH_NODE) return this.rebuildTerminal(lo, hi, depth, ref, slot, old, out);
    if (depth % PAGE_LEVELS === 0) return this.visitPage(lo, hi, depth, ref, slot, out);
    return this.visitBranch(lo, hi, depth, ref, slot, out);
  }

  /** A branch at a page root: its page is stored (count kept, maybe elided now) or elided. */
  visitPage(lo: number, hi: number, depth: number, parent: PageRef | null, slot: number, out: number): TrieNodeKind {
    const start = this.refList.length;
    const ref = this.storedRef(this.keys[lo], depth / PAGE_LEVELS);
    if (ref === null) return this.rebuildElided(lo, hi, depth, parent, slot, out);
    const delta0 = this.delta;
    const kind = this.visitBranch(lo, hi, depth, parent, slot, out);
    if (this.delta === delta0) return kind;
    const count = subtrieLeafCount(ref.page as Uint8Array) + this.delta - delta0;
    if (count < ELISION_THRESHOLD) {
      for (let i = start; i < this.refList.length; i++) this.refList[i].pruned = true;
    } else {
      setSubtrieLeafCount(ref.writable(this.stats), count);
    }
    return kind;
  }

  visitBranch(lo: number, hi: number, d: number, ref: PageRef | null, slot: number, out: number): TrieNodeKind {
    const mid = this.split(this.keys, lo, hi, d);
    // Both children of a node lie in one page, named by bits above the node: any key under
    // the node locates either child.
    const cref = this.childRef(d, ref, this.keys[lo]);
    const s0 = childSlot(d, slot, 0);
    const r0 = this.res(d + 1, 0);
    const r1 = this.res(d + 1, 1);
    const k0 = this.visit(lo, mid, d + 1, cref, s0, r0);
    const k1 = this.visit(mid, hi, d + 1, cref, s0 + 1, r1);
    if ((k0 === EMPTY_NODE && k1 !== BRANCH_NODE) || (k1 === EMPTY_NODE && k0 !== BRANCH_NODE)) {
      // Collapse: the surviving leaf (if any) moves up to this position.
      this.clear(cref, s0);
      this.clear(cref, s0 + 1);
      const from = k0 === EMPTY_NODE ? r1 : r0;
      this.heap.copyWithin(out, from, from + 32);
      return k0 === EMPTY_NODE ? k1 : k0;
    }
    if (lo < mid) this.write(cref, s0, r0, k0);
    if (mid < hi) this.write(cref, s0 + 1, r1, k1);
    this.kernel.hashBranch(r0, r1, out);
    this.stats.hashes++;
    return BRANCH_NODE;
  }

  /** A leaf or H0 meets changes: rebuild from the surviving old leaf and the new leaves. */
  rebuildTerminal(lo: number, hi: number, depth: number, ref: PageRef | null, slot: number, old: TrieNodeKind, out: number): TrieNodeKind {
    const keys: Uint8Array[] = [];
    const ids: number[] = [];
    let oldKey: Uint8Array | null = null;
    if (old === LEAF_NODE) {
      const t = performance.now();
      oldKey = this.state.leafKeyAt(this.keys[lo], depth);
      this.stats.seekMs += performance.now() - t;
      this.stats.leafLookups++;
      this.copyName(this.heap32, out >> 2, this.extra, 0);
    }
    let oldPlaced = oldKey === null;
    const olds = this.olds;
    for (let i = lo; i < hi; i++) {
      const key = this.keys[i];
      // Every key here but the old leaf's own was absent; the old leaf's value was not read.
      if (olds !== null && (oldKey === null || compareKeys(oldKey, key) !== 0)) olds[i] = null;
      if (!oldPlaced) {
        const c = compareKeys(oldKey as Uint8Array, key);
        if (c <= 0) {
          oldPlaced = true;
          // An old key that is changed here is replaced by (or deleted with) the change.
          if (c < 0) {
            keys.push(oldKey as Uint8Array);
            ids.push(-1);
          }
        }
      }
      if (this.sets[i]) {
        keys.push(key);
        ids.push(i);
      }
    }
    if (!oldPlaced) {
      keys.push(oldKey as Uint8Array);
      ids.push(-1);
    }
    this.delta += keys.length - (old === LEAF_NODE ? 1 : 0);
    return this.build(keys, ids, 0, keys.length, depth, ref, slot, out);
  }

  /** A branch whose page is elided: rebuild its subtrie from the old entries and the changes. */
  rebuildElided(lo: number, hi: number, depth: number, ref: PageRef | null, slot: number, out: number): TrieNodeKind {
    const { kernel, keys: changed, sets } = this;
    const keys: Uint8Array[] = [];
    const ids: number[] = [];
    // Merge the old entries, as the scan visits them, with the changes; an old entry that is
    // changed gives way to the change. The preimages of the old leaves that survive are written
    // straight from the scan's views into the kernel and named in one batch.
    let j = lo;
    let olds = 0;
    let kept = 0;
    this.keyPoolAt = 0;
    this.extraCount = 0;
    const t = performance.now();
    const oldValues = this.olds;
    this.state.scanUnder(changed[lo], depth, (kb, ko, vb, vo, vl) => {
      olds++;
      let c = 1;
      while (j < hi && (c = compareKeyTo(changed[j], kb, ko)) < 0) {
        if (oldValues !== null) oldValues[j] = null;
        if (sets[j]) {
          keys.push(changed[j]);
          ids.push(j);
        }
        j++;
      }
      if (j < hi && c === 0) {
        if (oldValues !== null) oldValues[j] = this.keepOld(vb, vo, vl);
        if (sets[j]) {
          keys.push(changed[j]);
          ids.push(j);
        }
        j++;
        return;
      }
      if (kept - this.extraCount === kernel.capacity) this.flushOldLeaves(kept);
      keys.push(this.poolKey(kb, ko));
      ids.push(-1 - kept);
      writeLeafPreimageAt(kernel, kb, ko, vb, vo, vl, kernel.inOffset + (kept - this.extraCount) * 64);
      kept++;
    });
    this.stats.seekMs += performance.now() - t;
    for (; j < hi; j++) {
      if (oldValues !== null) oldValues[j] = null;
      if (sets[j]) {
        keys.push(changed[j]);
        ids.push(j);
      }
    }
    this.flushOldLeaves(kept);
    this.stats.elidedRebuilds++;
    this.stats.elidedEntries += olds;
    this.delta += keys.length - olds;
    const kind = this.build(keys, ids, 0, keys.length, depth, ref, slot, out);
    this.extraCount = 0;
    return kind;
  }

  /** Names the old leaves written to the kernel since the last flush, appending to this.extra. */
  flushOldLeaves(kept: number): void {
    const kernel = this.kernel;
    const n = kept - this.extraCount;
    if (n === 0) return;
    const need = (this.extraCount + n) * 8;
    if (this.extra.length < need) {
      const grown = new Int32Array(2 * need);
      grown.set(this.extra);
      this.extra = grown;
    }
    kernel.hashNodes(n);
    this.extra.set(this.heap32.subarray(kernel.outOffset >> 2, (kernel.outOffset >> 2) + n * 8), this.extraCount * 8);
    this.extraCount += n;
    this.stats.hashes += n;
  }

  /** A copy of the value vb[vo..+vl] for the caller (see oldArena). */
  keepOld(vb: Uint8Array, vo: number, vl: number): Uint8Array {
    if (vl > OLD_ARENA_MAX_VALUE) return vb.slice(vo, vo + vl);
    if (this.oldArenaAt + vl > this.oldArena.length) {
      this.oldArena = new Uint8Array(Math.min(OLD_ARENA_MAX, Math.max(OLD_ARENA_FIRST, 2 * this.oldArena.length)));
      this.oldArenaAt = 0;
    }
    const at = this.oldArenaAt;
    const arena = this.oldArena;
    for (let i = 0; i < vl; i++) arena[at + i] = vb[vo + i];
    this.oldArenaAt = at + vl;
    return arena.subarray(at, at + vl);
  }

  /** A copy of the key at kb[ko..+31] in the rebuild's key pool (reused by the next rebuild). */
  poolKey(kb: Uint8Array, ko: number): Uint8Array {
    if (this.keyPoolAt + KEY_BYTES > this.keyPool.length) {
      this.keyPool = new Uint8Array(this.keyPool.length * 2);
      this.keyPoolAt = 0;
    }
    const at = this.keyPoolAt;
    const pool = this.keyPool;
    for (let i = 0; i < KEY_BYTES; i++) pool[at + i] = kb[ko + i];
    this.keyPoolAt = at + KEY_BYTES;
    return pool.subarray(at, at + KEY_BYTES);
  }

  /** Copies the name of leaf `id` (a change's index, or -1 - k for this.extra[k]) to heap[out]. */
  leafName(id: number, out: number): void {
    if (id >= 0) this.copyName(this.leafIds, id * 8, this.heap32, out >> 2);
    else this.copyName(this.extra, (-1 - id) * 8, this.heap32, out >> 2);
  }

  /** Copies a 32-byte name as 8 words from from[f..] to to[t..]. */
  copyName(from: Int32Array, f: number, to: Int32Array, t: number): void {
    for (let i = 0; i < 8; i++) to[t + i] = from[f + i];
  }

  /** A subtrie of `n` (0 or 1) leaves: H0, or the leaf ids[lo] itself. */
  emptyOrLeaf(ids: number[], lo: number, n: number, out: number): TrieNodeKind {
    if (n === 0) {
      const h = this.heap32;
      for (let i = out >> 2, end = i + 8; i < end; i++) h[i] = 0;
      return EMPTY_NODE;
    }
    this.leafName(ids[lo], out);
    return LEAF_NODE;
  }

  /**
   * Builds the subtrie of keys[lo..hi) at (d, ref, slot), where nothing stored was below; name
   * to heap[out]. Pages are created only for subtries of at least ELISION_THRESHOLD leaves.
   */
  build(keys: Uint8Array[], ids: number[], lo: number, hi: number, d: number, ref: PageRef | null, slot: number, out: number): TrieNodeKind {
    const n = hi - lo;
    if (n < 2) return this.emptyOrLeaf(ids, lo, n, out);
    const pageRoot = d % PAGE_LEVELS === 0;
    if (pageRoot && n < ELISION_THRESHOLD) return this.nameOnly(keys, ids, lo, hi, d, out);
    const mid = this.split(keys, lo, hi, d);
    const cref = this.childRef(d, ref, keys[lo]);
    const s0 = childSlot(d, slot, 0);
    const r0 = this.res(d + 1, 0);
    const r1 = this.res(d + 1, 1);
    const k0 = this.build(keys, ids, lo, mid, d + 1, cref, s0, r0);
    if (k0 !== EMPTY_NODE) this.write(cref, s0, r0, k0);
    const k1 = this.build(keys, ids, mid, hi, d + 1, cref, s0 + 1, r1);
    if (k1 !== EMPTY_NODE) this.write(cref, s0 + 1, r1, k1);
    if (pageRoot) setSubtrieLeafCount(cref.writable(this.stats), n);
    this.kernel.hashBranch(r0, r1, out);
    this.stats.hashes++;
    return BRANCH_NODE;
  }

  /** The name of the subtrie of keys[lo..hi) at `depth`, with no pages (an elided subtrie). */
  nameOnly(keys: Uint8Array[], ids: number[], lo: number, hi: number, depth: number, out: number): TrieNodeKind {
    const n = hi - lo;
    if (n < 2) return this.emptyOrLeaf(ids, lo, n, out);
    const mid = this.split(keys, lo, hi, depth);
    const r0 = this.res(depth + 1, 0);
    const r1 = this.res(depth + 1, 1);
    this.nameOnly(keys, ids, lo, mid, depth + 1, r0);
    this.nameOnly(keys, ids, mid, hi, depth + 1, r1);
    this.kernel.hashBranch(r0, r1, out);
    this.stats.hashes++;
    return BRANCH_NODE;
  }

  /** Names of the new leaves, hashed in kernel-sized batches. */
  hashLeaves(changes: readonly Change[]): void {
    const kernel = this.kernel;
    const n = changes.length;
    checkChanges(changes);
    this.keys = new Array(n);
    this.sets = new Uint8Array(n);
    this.leafIds = new Int32Array(n * 8);
    let batch = 0;
    let first = 0;
    const flush = (end: number) => {
      kernel.hashNodes(batch);
      let j = 0;
      for (let i = first; i < end; i++) {
        if (!this.sets[i]) continue;
        this.copyName(this.heap32, (kernel.outOffset >> 2) + j * 8, this.leafIds, i * 8);
        j++;
      }
      this.stats.hashes += batch;
      batch = 0;
    };
    for (let i = 0; i < n; i++) {
      const [key, value] = changes[i];
      this.keys[i] = key;
      if (value === null) continue;
      this.sets[i] = 1;
      writeLeafPreimage(kernel, key, value, kernel.inOffset + batch * 64);
      if (++batch === kernel.capacity) {
        flush(i + 1);
        first = i + 1;
      }
    }
    flush(n);
  }

  run(changes: readonly Change[]): UpdateResult {
    this.hashLeaves(changes);
    const rootSlot = this.res(0, 0);
    const kind = this.visit(0, changes.length, 0, null, 0, rootSlot);
    const top: MerkleTop = { root: this.heap.slice(rootSlot, rootSlot + 32), kind };
    const writes: PageWrite[] = [];
    for (const ref of this.refList) {
      if (ref.pruned) {
        if (ref.existed) writes.push({ id: ref.id, page: null });
        continue;
      }
      if (!ref.dirty) continue;
      const page = ref.page as Uint8Array;
      if (isEmptyPage(ref.words as Int32Array)) {
        if (ref.existed) writes.push({ id: ref.id, page: null });
      } else {
        stampPage(page, ref.id);
        writes.push({ id: ref.id, page });
      }
    }
    this.stats.pagesWritten = writes.length;
    return { top, writes, stats: this.stats };
  }
}

// One kernel per level of nesting: a reader may run an update of its own while serving this one
// (a past state computes its pages on first read), and the kernel's memory holds this update's
// node names between reads. The rebuilds' scratch (old leaf names, the key pool) goes with it
// and is kept from one update to the next: a stepped finish runs an update per step, and
// nothing an update returns refers to it.
interface UpdateScratch {
  readonly kernel: HashKernel;
  extra: Int32Array;
  keyPool: Uint8Array;
}
const updateScratch: UpdateScratch[] = [];
let nesting = 0;
// Old values: the first arena of an update, the largest, and the largest value put in one.
const OLD_ARENA_FIRST = 1024;
const OLD_ARENA_MAX = 64 * 1024;
const OLD_ARENA_MAX_VALUE = 1024;
// Name slots and node inputs are copied as 32-bit words.
const WORD_ALIGNED = (o: number) => (o & 3) === 0;

/**
 * Per change of an update: the value its key had (a copy), null when the key was absent, or
 * undefined where the update did not read it (the key was the one leaf it met in place).
 */
export type OldValues = (Uint8Array | null | undefined)[];

/**
 * Applies a sorted batch of changes (strictly increasing keys; value null deletes) to the trie
 * whose root is `top` and whose pages `pages` serves. Reads nothing it does not need and
 * changes no page in place unless `pages.inPlace` allows it: returns the new top and the pages
 * to write or delete. `oldValues`, when given, receives what the update learnt of the changed
 * keys' old values (see OldValues): most of them, since it scans the small subtries the changes
 * land in.
 */
export function updateTrie(top: MerkleTop, changes: readonly Change[], pages: PageReader, state: StateReader, oldValues?: OldValues): UpdateResult {
  let scratch = updateScratch[nesting];
  if (scratch === undefined) {
    const kernel = new HashKernel(1024);
    if (!WORD_ALIGNED(kernel.scratchOffset) || !WORD_ALIGNED(kernel.outOffset) || !WORD_ALIGNED(kernel.heap.byteOffset))
      throw new Error("hash kernel scratch is not word aligned");
    scratch = { kernel, extra: new Int32Array(8 * ELISION_THRESHOLD), keyPool: new Uint8Array(KEY_BYTES * 64) };
    updateScratch[nesting] = scratch;
  }
  const updater = new TrieUpdater(scratch, pages, state, top);
  if (oldValues !== undefined) {
    oldValues.length = changes.length;
    updater.olds = oldValues;
  }
  nesting++;
  try {
    return updater.run(changes);
  } finally {
    nesting--;
    // Grown scratch is kept for the next update at this level.
    scratch.extra = updater.extra;
    scratch.keyPool = updater.keyPool;
  }
}
