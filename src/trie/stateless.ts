// Stateless update: the new root from the old root, a multiproof and the writes, with no state.
//
// The multiproof's partial trie is edited in place of the trie. A write lands at its key's
// terminal, where the subtrie is rebuilt from the surviving leaf and the new keys (an insert
// next to a leaf splits it into a chain of branches down to where the two keys part). Going
// back up, a branch left with one empty side and a leaf on the other becomes that leaf (a leaf's
// name does not depend on its depth, so it simply moves up), and one with two empty sides
// becomes empty.
//
// That last rule needs the kind of the surviving side. When it is an unopened sibling, its name
// alone cannot tell a leaf from a branch, so the proof must open it: `proveForUpdate` adds one
// key under each such sibling (found by running this same update against the source), and
// `statelessUpdate` refuses with `NOT_COVERED` when a proof lacks one. Unchanged subtries are
// never re-examined, so a proof only needs what the writes actually disturb.

import { checkSource } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, compareKeys, KEY_BYTES, keyBit, sortByKey, splitPoint } from "./key.ts";
import { type MultiProof, openMultiProof, proveMany, sortedKeys } from "./multiproof.ts";
import { BRANCH_NODE, EMPTY_NODE, LEAF_NODE, type TrieNodeSource } from "./node-source.ts";
import {
  branchNode,
  EMPTY_PARTIAL,
  leafNode,
  nameOf,
  namedNode,
  P_BRANCH,
  P_EMPTY,
  P_LEAF,
  P_OPAQUE,
  type PartialLeaf,
  type PartialNode,
} from "./partial-trie.ts";
import { toHex } from "./hex.ts";
import { equalBytes } from "./bytes.ts";

/** One write: a key and its new value, or null to delete it. */
/** One change: a key and its new value, or null to delete it. */
export type Change = readonly [key: Uint8Array, value: Uint8Array | null];

/**
 * Opens an unopened non-empty subtrie at `depth` on `path` (its first `depth` bits): a leaf, or
 * a branch with unopened children. Given to `updatePartialTrie` by provers, never verifiers.
 */
export type OpenNode = (path: Uint8Array, depth: number) => PartialNode;

/** Copies and sorts writes by key, checking each (`BAD_KEY`, `BAD_VALUE`, `DUPLICATE_KEY`). */
export function sortedWrites(writes: readonly Change[], name = "writes"): Change[] {
  if (!Array.isArray(writes)) throw new TrieError("BAD_ARGUMENT", `${name} must be an array`);
  const out: Change[] = writes.map((w, i) => {
    if (!Array.isArray(w) || w.length !== 2) throw new TrieError("BAD_ARGUMENT", `${name}[${i}] must be [key, value | null]`);
    checkKey(w[0], `${name}[${i}][0]`);
    if (w[1] !== null && !(w[1] instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `${name}[${i}][1] must be a Uint8Array or null`);
    return [w[0].slice(), w[1] === null ? null : w[1].slice()] as const;
  });
  sortByKey(out, (w) => w[0]);
  for (let i = 1; i < out.length; i++) {
    if (compareKeys(out[i - 1][0], out[i][0]) === 0) throw new TrieError("DUPLICATE_KEY", `${name} writes ${toHex(out[i][0])} twice`);
  }
  return out;
}

const writeKeys = (writes: readonly Change[]): Uint8Array[] => writes.map((w) => w[0]);

/**
 * Applies sorted, distinct writes to a partial trie rooted at depth 0 and returns the new one
 * (unchanged subtries are shared). Throws `NOT_COVERED` when a write falls in an unopened
 * subtrie, or a collapse needs the kind of an unopened sibling and `open` is not given.
 */
export function updatePartialTrie(trie: PartialNode, writes: readonly Change[], open?: OpenNode): PartialNode {
  const keys = writeKeys(writes);
  const path = new Uint8Array(KEY_BYTES);

  const apply = (node: PartialNode, depth: number, a: number, b: number): PartialNode => {
    if (a === b) return node;
    switch (node.t) {
      case P_OPAQUE:
        throw new TrieError("NOT_COVERED", `the proof does not open the subtrie of written key ${toHex(keys[a])} at depth ${depth}`);
      case P_BRANCH: {
        const m = splitPoint(keys, a, b, depth);
        const left = apply(node.left, depth + 1, a, m);
        const right = apply(node.right, depth + 1, m, b);
        if (left === node.left && right === node.right) return node;
        return join(left, right, depth, keys[a]);
      }
      default:
        return rebuild(node, depth, a, b);
    }
  };

  // A branch at `depth` after its children changed, in canonical form.
  const join = (left: PartialNode, right: PartialNode, depth: number, onPath: Uint8Array): PartialNode => {
    if (left.t === P_EMPTY && right.t === P_EMPTY) return EMPTY_PARTIAL;
    if (left.t === P_EMPTY || right.t === P_EMPTY) {
      const side = left.t === P_EMPTY ? 1 : 0;
      let other = side === 1 ? right : left;
      if (other.t === P_OPAQUE) {
        if (!open) {
          throw new TrieError(
            "NOT_COVERED",
            `the proof does not show whether the subtrie left beside ${toHex(onPath)} at depth ${depth + 1} is a leaf; prove a key under it`,
          );
        }
        path.set(onPath);
        if (keyBit(path, depth) !== side) path[depth >> 3] ^= 0x80 >> (depth & 7);
        other = open(path, depth + 1);
      }
      if (other.t === P_LEAF) return other;
      return side === 1 ? branchNode(EMPTY_PARTIAL, other) : branchNode(other, EMPTY_PARTIAL);
    }
    return branchNode(left, right);
  };

  // The subtrie at a terminal (H0 or a leaf) with writes[a..b) applied.
  const rebuild = (node: PartialNode, depth: number, a: number, b: number): PartialNode => {
    const items: PartialLeaf[] = [];
    let old = node.t === P_LEAF ? node : null;
    let changed = false;
    for (let i = a; i < b; i++) {
      const [key, value] = writes[i];
      const replaces = old !== null && compareKeys(old.key, key) === 0;
      if (old !== null && compareKeys(old.key, key) < 0) {
        items.push(old);
        old = null;
      }
      if (replaces) {
        old = null;
        changed = true;
      }
      if (value !== null) {
        items.push(leafNode(key, value));
        changed = true;
      }
    }
    if (old !== null) items.push(old);
    if (!changed) return node;
    return grow(items, 0, items.length, depth);
  };

  return apply(trie, 0, 0, writes.length);
}

/** The canonical subtrie at `depth` of sorted leaves items[lo..hi). */
function grow(items: readonly PartialLeaf[], lo: number, hi: number, depth: number): PartialNode {
  if (hi === lo) return EMPTY_PARTIAL;
  if (hi - lo === 1) return items[lo];
  let m = lo;
  while (m < hi && keyBit(items[m].key, depth) === 0) m++;
  return branchNode(grow(items, lo, m, depth + 1), grow(items, m, hi, depth + 1));
}

/**
 * The root after `writes` (key, value or null to delete; any order, distinct keys) to the
 * trie named `prevRoot`, computed from `proof` alone. Throws `TrieError`: `BAD_PROOF` when
 * the proof does not verify against `prevRoot`; `NOT_COVERED` when a written key is not one of
 * the proof's keys, or a delete collapses next to a sibling the proof does not open (a proof
 * from `proveForUpdate` always has them); `BAD_KEY`/`BAD_VALUE`/`DUPLICATE_KEY` for bad writes.
 */
export function statelessUpdate(prevRoot: Uint8Array, proof: MultiProof, writes: readonly Change[]): Uint8Array {
  const sorted = sortedWrites(writes);
  if (!(prevRoot instanceof Uint8Array) || prevRoot.length !== 32) throw new TrieError("BAD_ARGUMENT", "prevRoot must be 32 bytes");
  const opened = openMultiProof(proof);
  if (opened === null || !equalBytes(opened.root, prevRoot) || !equalBytes(proof.root, prevRoot)) {
    throw new TrieError("BAD_PROOF", "proof does not verify against prevRoot");
  }
  sorted.forEach(([key]) => {
    if (!opened.values.has(key)) throw new TrieError("NOT_COVERED", `written key ${toHex(key)} is not one of the proof's keys`);
  });
  return nameOf(updatePartialTrie(opened.trie, sorted)).slice();
}

/** The key of the leftmost leaf in the non-empty subtrie at `depth` on `path`. */
function leafKeyUnder(source: TrieNodeSource, path: Uint8Array, depth: number): Uint8Array {
  const at = path.slice(0, KEY_BYTES);
  let node = source.node(at, depth);
  while (node.kind === BRANCH_NODE) {
    at[depth >> 3] &= ~(0x80 >> (depth & 7));
    let child = source.node(at, depth + 1);
    if (child.kind === EMPTY_NODE) {
      at[depth >> 3] |= 0x80 >> (depth & 7);
      child = source.node(at, depth + 1);
    }
    node = child;
    depth++;
  }
  if (node.kind !== LEAF_NODE) throw new TrieError("BAD_PATH", `the source reports H0 for a non-empty sibling at depth ${depth}`);
  return source.leaf(at, depth).key.slice();
}

/**
 * A multiproof of `keys` and of every key in `writes` from `source`, opened wherever the writes
 * need it, so that `statelessUpdate` can apply them: each delete that leaves a branch with one
 * side gets, beside it, one more proven key under that side's unopened sibling: the key of that
 * subtrie's leftmost leaf (a present key, so its leaf and value are in the proof, and the key
 * cannot be altered without breaking the proof).
 */
export function proveForUpdate(source: TrieNodeSource, keys: readonly Uint8Array[], writes: readonly Change[]): MultiProof {
  checkSource(source, "source");
  const sorted = sortedWrites(writes);
  const wanted = [...sortedKeys(keys), ...writeKeys(sorted)];
  const first = proveMany(source, wanted);
  const opened = openMultiProof(first);
  if (opened === null) throw new TrieError("BAD_PATH", "the source produced a malformed proof");
  const extra: Uint8Array[] = [];
  const child = new Uint8Array(KEY_BYTES);
  const open: OpenNode = (path, depth) => {
    extra.push(leafKeyUnder(source, path, depth));
    const node = source.node(path, depth);
    if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(path, depth);
      return leafNode(leaf.key.slice(), leaf.value.slice());
    }
    if (node.kind !== BRANCH_NODE) throw new TrieError("BAD_PATH", `the source reports H0 for a non-empty sibling at depth ${depth}`);
    child.set(path);
    const bit = 0x80 >> (depth & 7);
    child[depth >> 3] &= ~bit;
    const left = namedNode(source.node(child, depth + 1).name.slice());
    child[depth >> 3] |= bit;
    const right = namedNode(source.node(child, depth + 1).name.slice());
    return branchNode(left, right);
  };
  updatePartialTrie(opened.trie, sorted, open);
  return extra.length === 0 ? first : proveMany(source, [...wanted, ...extra]);
}
