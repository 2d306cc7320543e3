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
import { HASH_BYTES, NODE_BYTES, writeLeafPreimage } from "./node.ts";
import type { Entry } from "./root.ts";

/** Node kind of the empty subtrie (name H0). GP names do not carry kinds; sources report them. */
export const EMPTY_NODE = 0;
/** Node kind of a leaf. */
export const LEAF_NODE = 1;
/** Node kind of a branch (two children, either of which may be empty). */
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
 * What `node` and `leaf` return (the object and its arrays) may be reused by the source: it is
 * valid until the next call on the same source, so copy what you keep. `root` returns an object
 * of its own. A source describes one fixed
 * state; it must not change while a proof is being built.
 */
export interface TrieNodeSource {
  root(): TrieNode;
  node(path: Uint8Array, depth: number): TrieNode;
  leaf(path: Uint8Array, depth: number): TrieLeaf;
  scan?(start: Uint8Array, end: Uint8Array, limit: number): readonly Entry[];
}

/** Throws `BAD_ARGUMENT` unless `depth` is an integer in [min, 248]. */
function checkDepth(depth: unknown, min = 0, name = "depth"): asserts depth is number {
  if (!Number.isInteger(depth) || (depth as number) < min || (depth as number) > KEY_BITS) {
    throw new TrieError("BAD_ARGUMENT", `${name} must be an integer in ${min}..${KEY_BITS}, got ${String(depth)}`);
  }
}

const LIFT_MEMO_MAX = 1 << 18;
const PAIR_BYTES = 64;
const PAIR_WORDS = PAIR_BYTES / 4;

/**
 * A node source over entries sorted by key, distinct (checked: `UNSORTED`, `DUPLICATE_KEY`,
 * `BAD_KEY`, `BAD_VALUE`). Building it hashes the whole trie once (as `trieRoot` does) and keeps
 * every leaf and branch name and the branch tree (~145 bytes per entry); a walk down a path then
 * costs O(1) per level. The array and its entries must not change while the source is in use.
 *
 * `topDepth` > 0 makes it a source for the subtrie under the first `topDepth` bits the entries
 * share (checked: `BAD_ARGUMENT`): `root()` is the node at `topDepth`, and nodes above it are
 * not asked for. It spares hashing the chain of single-child branches above a small subtrie.
 */
export function entriesNodeSource(entries: readonly Entry[], topDepth = 0): TrieNodeSource {
  return new EntriesNodeSource(entries, topDepth);
}

/**
 * Sorted keys k0 < k1 < ... have one real branch (both sides non-empty) per adjacent pair: the
 * one at depth split[i] = commonPrefixBits(k_i, k_i+1), which separates k_i from k_i+1. Its name
 * at its own depth is kept per pair; the same subtrie seen from a shallower node on a chain of
 * single-child branches ("lifted") is hashed on demand and memoized. The real branches form a
 * binary tree (a pair's children are the top pairs of its two sides), which a walk follows.
 */
class EntriesNodeSource implements TrieNodeSource {
  private readonly keys: Uint8Array[];
  private readonly entries: readonly Entry[];
  // The first 8 bytes of every key, packed: bit reads (the build's binary searches, chains)
  // come here, in one array, instead of chasing a pointer to each key.
  private readonly pfx: Uint32Array;
  private readonly split: Uint8Array;
  private readonly leafNames: Uint8Array;
  private readonly lifts = new Map<number, Uint8Array>();
  // One 64-byte record per pair p (word 16p: its split depth; 16p + 1 and 16p + 2: the pairs
  // whose branches are its left and right children, -1 for a single leaf; 16p + 3: the depth its
  // parent sees it at; bytes 64p + 32..64: its branch's name). A step down the trie then touches
  // one cache line, not one per table.
  private readonly pairs: Int32Array;
  private readonly pairBytes: Uint8Array;
  // Each pair's name as its parent sees it (lifted over its chain of single-child branches, when
  // it has one): the name a proof takes as a sibling.
  private readonly topNames: Uint8Array;
  private readonly rootPair: number;
  // A cursor: the key range (and its top pair) at each depth along the last path asked for,
  // so a walk down one path (or to a sibling) refines the previous range by one step instead
  // of searching anew.
  private readonly cursor = new Int32Array(3 * (KEY_BITS + 1));
  private readonly cLo = this.cursor.subarray(0, KEY_BITS + 1);
  private readonly cHi = this.cursor.subarray(KEY_BITS + 1, 2 * (KEY_BITS + 1));
  private readonly cPair = this.cursor.subarray(2 * (KEY_BITS + 1));
  private readonly topDepth: number;
  private readonly cPath = new Uint8Array(KEY_BYTES);
  private cDepth = 0;
  private readonly node64 = new Uint8Array(NODE_BYTES);
  // The one result object `node` fills in (see the contract: valid until the next call). Its
  // name is copied only when read: a walk reads the siblings' names, not those on its path.
  private readonly out = new NodeOut((o) => this.fillName(o));
  // Leaf names as words (names sit at multiples of 32 bytes): a name copies as 8 words.
  private leafWords!: Int32Array;

  constructor(entries: readonly Entry[], topDepth: number) {
    if (!Array.isArray(entries)) throw new TrieError("BAD_ARGUMENT", "entries must be an array");
    checkDepth(topDepth, 0, "topDepth");
    this.topDepth = topDepth;
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
    if (n >= 2 && commonPrefixBits(this.keys[0], this.keys[n - 1]) < topDepth) {
      throw new TrieError("BAD_ARGUMENT", `entries do not share their first ${topDepth} bits (topDepth)`);
    }
    this.pfx = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const k = this.keys[i];
      this.pfx[2 * i] = ((k[0] << 24) | (k[1] << 16) | (k[2] << 8) | k[3]) >>> 0;
      this.pfx[2 * i + 1] = ((k[4] << 24) | (k[5] << 16) | (k[6] << 8) | k[7]) >>> 0;
    }
    this.leafNames = hashLeaves(entries);
    this.pairs = new Int32Array(PAIR_WORDS * Math.max(0, n - 1));
    this.pairBytes = new Uint8Array(this.pairs.buffer);
    this.topNames = new Uint8Array(HASH_BYTES * Math.max(0, n - 1));
    for (let p = 0; p + 1 < n; p++) this.pairs[PAIR_WORDS * p] = this.split[p];
    this.rootPair = n >= 2 ? this.buildBranches(0, n) : -1;
    if (n >= 2) this.liftTop(this.rootPair, topDepth);
    this.leafWords = new Int32Array(this.leafNames.buffer, this.leafNames.byteOffset, this.leafNames.length >> 2);
    this.cLo[0] = 0;
    this.cHi[0] = n;
    this.cPair[0] = this.rootPair;
  }

  root(): TrieNode {
    const top = this.nodeOfRange(0, this.keys.length, this.rootPair, this.topDepth);
    return { kind: top.kind, name: top.name.slice() };
  }

  node(path: Uint8Array, depth: number): TrieNode {
    checkKey(path, "path");
    checkDepth(depth, 1);
    this.seek(path, depth);
    if (this.cHi[depth - 1] - this.cLo[depth - 1] < 2) {
      throw new TrieError("BAD_PATH", `no node at depth ${depth}: the node above it on path is not a branch`);
    }
    return this.nodeOfRange(this.cLo[depth], this.cHi[depth], this.cPair[depth], depth);
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

  /** Bit `d` of key `i`. */
  private bit(i: number, d: number): number {
    if (d < 32) return (this.pfx[2 * i] >>> (31 - d)) & 1;
    if (d < 64) return (this.pfx[2 * i + 1] >>> (63 - d)) & 1;
    return keyBit(this.keys[i], d);
  }

  /** Bits shared by keys `i` and `j`. */
  private shared(i: number, j: number): number {
    let x = this.pfx[2 * i] ^ this.pfx[2 * j];
    if (x !== 0) return Math.clz32(x);
    x = this.pfx[2 * i + 1] ^ this.pfx[2 * j + 1];
    if (x !== 0) return 32 + Math.clz32(x);
    return commonPrefixBits(this.keys[i], this.keys[j]);
  }

  /** First index in [lo, hi) whose bit `d` is 1 (the range shares its bits before `d`). */
  private split1(lo: number, hi: number, d: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bit(mid, d) === 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The node at `depth` holding keys[lo..hi), which share their first `depth` bits. */
  private nodeOfRange(lo: number, hi: number, pair: number, depth: number): TrieNode {
    const out = this.out;
    const count = hi - lo;
    out.kind = count === 0 ? EMPTY_NODE : count === 1 ? LEAF_NODE : BRANCH_NODE;
    out.lo = lo;
    out.pair = pair;
    out.depth = depth;
    out.stale = true;
    return out;
  }

  /** Writes the name of the node `out` describes into it. */
  private fillName(out: NodeOut): void {
    const w = out.words;
    if (out.kind === EMPTY_NODE) {
      w.fill(0);
    } else if (out.kind === LEAF_NODE) {
      const src = this.leafWords;
      for (let i = 0, at = out.lo * 8; i < 8; i++) w[i] = src[at + i];
    } else {
      const P = this.pairs;
      const at = PAIR_WORDS * out.pair;
      if (out.depth === P[at]) {
        for (let i = 0; i < 8; i++) w[i] = P[at + 8 + i];
      } else copyName(this.lifted(out.pair, out.depth), 0, out.bytes);
    }
  }

  /** Fills cLo/cHi for depths 0..depth along `path`, reusing what the last path shares. */
  private seek(path: Uint8Array, depth: number): void {
    const shared = Math.min(commonPrefixBits(path, this.cPath), this.cDepth, depth);
    for (let d = shared; d < depth; d++) {
      let lo = this.cLo[d];
      let hi = this.cHi[d];
      let pair = this.cPair[d];
      const side = keyBit(path, d);
      if (hi - lo === 1) {
        if (this.bit(lo, d) !== side) hi = lo;
      } else if (hi - lo >= 2) {
        const at = PAIR_WORDS * pair;
        if (this.pairs[at] > d) {
          // A single-child branch: every key here goes the same way at depth d.
          if (this.bit(lo, d) !== side) hi = lo;
        } else if (side === 0) {
          hi = pair + 1;
          pair = this.pairs[at + 1];
        } else {
          lo = pair + 1;
          pair = this.pairs[at + 2];
        }
      }
      this.cLo[d + 1] = lo;
      this.cHi[d + 1] = hi;
      this.cPair[d + 1] = pair;
    }
    // Only the bytes holding bits shared..depth-1 can differ from the last path.
    for (let i = shared >> 3, end = Math.min(KEY_BYTES, (depth + 7) >> 3); i < end; i++) this.cPath[i] = path[i];
    this.cDepth = depth;
  }

  /** Name of a subtrie of two or more keys, seen from `depth` (lifted over its H0 chain). */
  private lifted(pair: number, depth: number): Uint8Array {
    const b = this.split[pair];
    if (depth === b) return this.pairBytes.subarray(PAIR_BYTES * pair + HASH_BYTES, PAIR_BYTES * (pair + 1));
    if (depth === this.pairs[PAIR_WORDS * pair + 3]) return this.topNames.subarray(HASH_BYTES * pair, HASH_BYTES * (pair + 1));
    const memoKey = pair * 256 + depth;
    const memo = this.lifts.get(memoKey);
    if (memo) return memo;
    const name = new Uint8Array(HASH_BYTES);
    this.chainStep(this.lifted(pair, depth + 1), keyBit(this.keys[pair], depth), name);
    // Only nodes inside chains land here (names asked for on a path); the cap bounds the memo.
    if (this.lifts.size >= LIFT_MEMO_MAX) this.lifts.clear();
    this.lifts.set(memoKey, name);
    return name;
  }

  /**
   * Names the real branch of keys[lo..hi) (two or more keys) and, recursively, every one below;
   * records the branch tree. Returns the branch's pair.
   */
  private buildBranches(lo: number, hi: number): number {
    const b = this.shared(lo, hi - 1);
    const mid = this.split1(lo, hi, b);
    const pair = mid - 1;
    const leftPair = mid - lo >= 2 ? this.buildBranches(lo, mid) : -1;
    const rightPair = hi - mid >= 2 ? this.buildBranches(mid, hi) : -1;
    this.pairs[PAIR_WORDS * pair + 1] = leftPair;
    this.pairs[PAIR_WORDS * pair + 2] = rightPair;
    // Both names first: naming a lifted child hashes through node64 too.
    const left = this.childName(lo, leftPair, b + 1);
    const right = this.childName(mid, rightPair, b + 1);
    const node = this.node64;
    node.set(left, 0);
    node[0] &= 0x7f;
    node.set(right, HASH_BYTES);
    sharedKernel().hashNode(node, 0, this.pairBytes, PAIR_BYTES * pair + HASH_BYTES);
    return pair;
  }

  /** Name at `depth` of a child subtrie: leaf `lo` when `pair` is -1, else that pair's branch. */
  private childName(lo: number, pair: number, depth: number): Uint8Array {
    if (pair < 0) return this.leafNames.subarray(lo * HASH_BYTES, lo * HASH_BYTES + HASH_BYTES);
    return this.liftTop(pair, depth);
  }

  /** Names pair's branch as seen from `depth` (its parent's split + 1) and keeps it. */
  private liftTop(pair: number, depth: number): Uint8Array {
    this.pairs[PAIR_WORDS * pair + 3] = depth;
    const out = this.topNames.subarray(HASH_BYTES * pair, HASH_BYTES * (pair + 1));
    out.set(this.pairBytes.subarray(PAIR_BYTES * pair + HASH_BYTES, PAIR_BYTES * (pair + 1)));
    const key = this.keys[pair];
    for (let d = this.split[pair] - 1; d >= depth; d--) this.chainStep(out, keyBit(key, d), out);
    return out;
  }

  /** Names the single-child branch whose child `below` is on side `bit` (the other is H0) into `out`. */
  private chainStep(below: Uint8Array, bit: number, out: Uint8Array): void {
    const node = this.node64;
    if (bit === 0) {
      node.set(below, 0);
      node.fill(0, HASH_BYTES);
    } else {
      node.fill(0, 0, HASH_BYTES);
      node.set(below, HASH_BYTES);
    }
    node[0] &= 0x7f;
    sharedKernel().hashNode(node, 0, out, 0);
  }
}

/** The reused result of `node`: kind now, name on first read (from lo, pair and depth). */
class NodeOut implements TrieNode {
  kind: TrieNodeKind = EMPTY_NODE;
  lo = 0;
  pair = -1;
  depth = 0;
  stale = false;
  readonly words = new Int32Array(HASH_BYTES / 4);
  readonly bytes = new Uint8Array(this.words.buffer);
  constructor(private readonly fill: (out: NodeOut) => void) {}
  get name(): Uint8Array {
    if (this.stale) {
      this.fill(this);
      this.stale = false;
    }
    return this.bytes;
  }
}

/** Copies a 32-byte name from `from[at..]` into `out`. */
function copyName(from: Uint8Array, at: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < HASH_BYTES; i++) out[i] = from[at + i];
  return out;
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
