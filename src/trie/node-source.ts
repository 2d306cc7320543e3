// The seam between proof builders and wherever a trie lives.
//
// GP node names carry no kind and a leaf's key is not in any branch, so a builder that walks a
// trie needs three things a bare name cannot give: the kind of each node, its name, and the key
// and value of a leaf. `TrieNodeSource` asks exactly that, by position: a node is addressed by
// the first `depth` bits of a 31-byte `path` (bit i = the side taken at depth i, 0 left). The
// same builders then run over a sorted entry array (`entriesNodeSource`, for tests and pure use)
// or over a store's on-disk merkle pages.

import { HashKernel, sharedKernel } from "../hash/kernel.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { H0, HASH_BYTES, NODE_BYTES, writeLeafPreimage } from "./node.ts";
import type { Entry } from "./root.ts";

/** Node kinds, which GP names do not carry: the empty subtrie (H0), a leaf, a branch. */
export const EMPTY_NODE = 0;
export const LEAF_NODE = 1;
export const BRANCH_NODE = 2;
/** `EMPTY_NODE`, `LEAF_NODE` or `BRANCH_NODE`. */
export type TrieNodeKind = typeof EMPTY_NODE | typeof LEAF_NODE | typeof BRANCH_NODE;

/** A node as a source reports it. `name` is H0 for an empty node; callers must not modify it. */
export interface TrieNode {
  readonly kind: TrieNodeKind;
  readonly name: Uint8Array;
}

/** A leaf's whole content: its 31-byte key and its value (callers must not modify either). */
export interface TrieLeaf {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * Read access to one trie (one root), by position. The contract every implementation keeps:
 *
 * - `root()` is the node at depth 0.
 * - `node(path, depth)` is the node reached from the root by following the first `depth` bits
 *   of `path` (a 31-byte array; bits from `depth` on are ignored), for 1 <= depth <= 248. It is
 *   only asked for when every node above it on that path is a branch: asking below a leaf or
 *   an empty node is a caller bug, which a source may report with `TrieError` `BAD_PATH`.
 *   A child of a branch may be empty (kind `EMPTY_NODE`, name H0): GP tries have no extension
 *   nodes, so a branch whose keys all go one way has H0 on the other side.
 * - `leaf(path, depth)` is the key and value of that node when it is a leaf (`BAD_PATH`
 *   otherwise). The leaf's key shares the first `depth` bits of `path`; it is whole (31 bytes)
 *   whatever the depth.
 * - `scan(start, end, limit)` (optional): the entries with start <= key <= end in key order, at
 *   most `limit`. Range proofs use it to list a range without visiting each leaf by position;
 *   it must agree with the nodes.
 *
 * Returned arrays may be views into the source's own memory: read them, copy what you keep.
 * A source describes one fixed state; it must not change while a proof is being built.
 */
export interface TrieNodeSource {
  root(): TrieNode;
  node(path: Uint8Array, depth: number): TrieNode;
  leaf(path: Uint8Array, depth: number): TrieLeaf;
  scan?(start: Uint8Array, end: Uint8Array, limit: number): readonly Entry[];
}

/** Throws `BAD_ARGUMENT` unless `depth` is an integer in [min, 248]. */
export function checkDepth(depth: unknown, min = 0, name = "depth"): asserts depth is number {
  if (!Number.isInteger(depth) || (depth as number) < min || (depth as number) > KEY_BITS) {
    throw new TrieError("BAD_ARGUMENT", `${name} must be an integer in ${min}..${KEY_BITS}, got ${String(depth)}`);
  }
}

const EMPTY: TrieNode = Object.freeze({ kind: EMPTY_NODE, name: H0 });
const LIFT_MEMO_MAX = 1 << 18;

/**
 * A node source over entries sorted by key, distinct (checked: `UNSORTED`, `DUPLICATE_KEY`,
 * `BAD_KEY`, `BAD_VALUE`). Building it hashes the whole trie once (as `trieRoot` does) and keeps
 * every leaf and branch name (64 bytes per entry); a node query is then a binary search. The
 * array and its entries must not change while the source is in use.
 */
export function entriesNodeSource(entries: readonly Entry[]): TrieNodeSource {
  return new EntriesNodeSource(entries);
}

/**
 * Sorted keys k0 < k1 < ... have one real branch (both sides non-empty) per adjacent pair: the
 * one at depth split[i] = commonPrefixBits(k_i, k_i+1), which separates k_i from k_i+1. Its name
 * at its own depth is kept per pair; the same subtrie seen from a shallower node on a chain of
 * single-child branches ("lifted") is hashed on demand and memoized.
 */
class EntriesNodeSource implements TrieNodeSource {
  private readonly keys: Uint8Array[];
  private readonly entries: readonly Entry[];
  private readonly split: Uint8Array;
  private readonly leafNames: Uint8Array;
  private readonly branchNames: Uint8Array;
  private readonly lifts = new Map<number, Uint8Array>();
  // A cursor: the key range of each depth along the last path asked for, so a walk down one
  // path (or to a sibling) refines the previous range by one bit instead of searching anew.
  private readonly cLo = new Int32Array(KEY_BITS + 1);
  private readonly cHi = new Int32Array(KEY_BITS + 1);
  private readonly cPath = new Uint8Array(KEY_BYTES);
  private cDepth = 0;
  private readonly node64 = new Uint8Array(NODE_BYTES);

  constructor(entries: readonly Entry[]) {
    if (!Array.isArray(entries)) throw new TrieError("BAD_ARGUMENT", "entries must be an array");
    const n = entries.length;
    this.entries = entries;
    this.keys = new Array<Uint8Array>(n);
    this.split = new Uint8Array(Math.max(0, n - 1));
    for (let i = 0; i < n; i++) {
      const { key, value } = entries[i] ?? ({} as Entry);
      checkKey(key, `entries[${i}].key`);
      if (!(value instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `entries[${i}].value must be a Uint8Array`);
      this.keys[i] = key;
      if (i > 0) {
        const s = commonPrefixBits(this.keys[i - 1], key);
        if (s === KEY_BITS) throw new TrieError("DUPLICATE_KEY", `entries[${i}].key repeats the previous key`);
        if (keyBit(key, s) === 0) throw new TrieError("UNSORTED", `entries[${i}].key sorts before the previous key`);
        this.split[i - 1] = s;
      }
    }
    this.leafNames = hashLeaves(entries);
    this.branchNames = new Uint8Array(Math.max(0, n - 1) * HASH_BYTES);
    if (n >= 2) this.buildBranches(0, n);
    this.cLo[0] = 0;
    this.cHi[0] = n;
  }

  root(): TrieNode {
    return this.nodeOfRange(0, this.keys.length, 0);
  }

  node(path: Uint8Array, depth: number): TrieNode {
    checkKey(path, "path");
    checkDepth(depth, 1);
    this.seek(path, depth);
    if (this.cHi[depth - 1] - this.cLo[depth - 1] < 2) {
      throw new TrieError("BAD_PATH", `no node at depth ${depth}: the node above it on path is not a branch`);
    }
    return this.nodeOfRange(this.cLo[depth], this.cHi[depth], depth);
  }

  leaf(path: Uint8Array, depth: number): TrieLeaf {
    checkKey(path, "path");
    checkDepth(depth);
    this.seek(path, depth);
    const lo = this.cLo[depth];
    const parentIsBranch = depth === 0 || this.cHi[depth - 1] - this.cLo[depth - 1] >= 2;
    if (this.cHi[depth] - lo !== 1 || !parentIsBranch) {
      throw new TrieError("BAD_PATH", `the node at depth ${depth} on path is not a leaf`);
    }
    return this.entries[lo];
  }

  scan(start: Uint8Array, end: Uint8Array, limit: number): readonly Entry[] {
    checkKey(start, "start");
    checkKey(end, "end");
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid], start) < 0) lo = mid + 1;
      else hi = mid;
    }
    const out: Entry[] = [];
    for (let i = lo; i < this.keys.length && out.length < limit && compareKeys(this.keys[i], end) <= 0; i++) {
      out.push(this.entries[i]);
    }
    return out;
  }

  /** The node at `depth` holding keys[lo..hi), which share their first `depth` bits. */
  private nodeOfRange(lo: number, hi: number, depth: number): TrieNode {
    const count = hi - lo;
    if (count === 0) return EMPTY;
    if (count === 1) return { kind: LEAF_NODE, name: this.leafNames.subarray(lo * HASH_BYTES, lo * HASH_BYTES + HASH_BYTES) };
    return { kind: BRANCH_NODE, name: this.rangeName(lo, hi, depth) };
  }

  /** Fills cLo/cHi for depths 0..depth along `path`, reusing what the last path shares. */
  private seek(path: Uint8Array, depth: number): void {
    const shared = Math.min(commonPrefixBits(path, this.cPath), this.cDepth, depth);
    for (let d = shared; d < depth; d++) {
      let lo = this.cLo[d];
      let hi = this.cHi[d];
      const mid = splitPoint(this.keys, lo, hi, d);
      if (keyBit(path, d) === 0) hi = mid;
      else lo = mid;
      this.cLo[d + 1] = lo;
      this.cHi[d + 1] = hi;
    }
    this.cPath.set(path.subarray(0, KEY_BYTES));
    this.cDepth = depth;
  }

  /** Name of a subtrie of two or more keys, seen from `depth` (lifted over its H0 chain). */
  private rangeName(lo: number, hi: number, depth: number): Uint8Array {
    const b = commonPrefixBits(this.keys[lo], this.keys[hi - 1]);
    const pair = splitPoint(this.keys, lo, hi, b) - 1;
    return this.lifted(pair, depth);
  }

  private lifted(pair: number, depth: number): Uint8Array {
    const b = this.split[pair];
    if (depth === b) return this.branchNames.subarray(pair * HASH_BYTES, pair * HASH_BYTES + HASH_BYTES);
    const memoKey = pair * 256 + depth;
    const memo = this.lifts.get(memoKey);
    if (memo) return memo;
    const below = this.lifted(pair, depth + 1);
    const node = this.node64;
    if (keyBit(this.keys[pair], depth) === 0) {
      node.set(below, 0);
      node.fill(0, HASH_BYTES);
    } else {
      node.fill(0, 0, HASH_BYTES);
      node.set(below, HASH_BYTES);
    }
    node[0] &= 0x7f;
    const name = new Uint8Array(HASH_BYTES);
    sharedKernel().hashNode(node, 0, name, 0);
    if (this.lifts.size >= LIFT_MEMO_MAX) this.lifts.clear();
    this.lifts.set(memoKey, name);
    return name;
  }

  /** Names the real branch of keys[lo..hi) (two or more keys) and, recursively, all below. */
  private buildBranches(lo: number, hi: number): void {
    const b = commonPrefixBits(this.keys[lo], this.keys[hi - 1]);
    const mid = splitPoint(this.keys, lo, hi, b);
    if (mid - lo >= 2) this.buildBranches(lo, mid);
    if (hi - mid >= 2) this.buildBranches(mid, hi);
    // Both names first: naming a lifted child hashes through node64 too.
    const left = this.childName(lo, mid, b + 1);
    const right = this.childName(mid, hi, b + 1);
    const node = this.node64;
    node.set(left, 0);
    node[0] &= 0x7f;
    node.set(right, HASH_BYTES);
    sharedKernel().hashNode(node, 0, this.branchNames, (mid - 1) * HASH_BYTES);
  }

  private childName(lo: number, hi: number, depth: number): Uint8Array {
    if (hi - lo === 1) return this.leafNames.subarray(lo * HASH_BYTES, lo * HASH_BYTES + HASH_BYTES);
    return this.rangeName(lo, hi, depth);
  }
}

/** Index of the first key in [lo, hi) whose bit `depth` is 1 (the range shares bits < depth). */
export function splitPoint(keys: readonly Uint8Array[], lo: number, hi: number, depth: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyBit(keys[mid], depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

let leafKernel: HashKernel | undefined;

/** Leaf names of all entries, 32 bytes each, hashed in batches. */
function hashLeaves(entries: readonly Entry[]): Uint8Array {
  leafKernel ??= new HashKernel(1024);
  const k = leafKernel;
  const out = new Uint8Array(entries.length * HASH_BYTES);
  for (let from = 0; from < entries.length; from += k.capacity) {
    const to = Math.min(entries.length, from + k.capacity);
    for (let i = from; i < to; i++) writeLeafPreimage(k, entries[i].key, entries[i].value, k.inOffset + (i - from) * NODE_BYTES);
    k.hashNodes(to - from);
    out.set(k.heap.subarray(k.outOffset, k.outOffset + (to - from) * HASH_BYTES), from * HASH_BYTES);
  }
  return out;
}
