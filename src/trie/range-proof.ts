// Range proofs: every entry with start <= key <= end, and proof that none is left out (in the
// spirit of JAMNP-S CE-129, which answers a key range with the boundary nodes and the pairs).
//
// Every node of the trie covers a key interval (its position followed by all-0 .. all-1 bits).
// Against the proven range [start, end] a node is contained, disjoint or partial. A contained
// node's subtrie is exactly the listed entries under it, so the verifier rebuilds its name from
// them: an entry left out changes the name. A disjoint node needs only its name. Partial nodes
// lie on the paths to `start` and `end` (at most 2 x 248 of them); the proof says what each is:
// a branch (then its two children follow), H0, a leaf listed among the entries, or a leaf whose
// key is outside the range. The root must come out exactly, so the listing is complete.
//
// Both ends are inclusive, so the last key (all 1 bits) can be asked for. A proof cut short by
// a limit proves the range from `start` to its last entry.

import { checkSource } from "./args.ts";
import { sharedKernel } from "../hash/kernel.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { EMBED_MAX, HASH_BYTES } from "./node.ts";
import type { ProofTerminal } from "./proof.ts";
import { BRANCH_NODE, EMPTY_NODE, LEAF_NODE, type TrieNode, type TrieNodeSource } from "./node-source.ts";
import { branchName, leafNode, nameOf } from "./partial-trie.ts";
import { type Entry, subtrieRoot } from "./root.ts";
import { equalBytes, isBytes } from "./bytes.ts";

/**
 * What the proof says about one node it does not rebuild from entries, in pre-order:
 * - `empty`: H0 (partial or disjoint node);
 * - `name`: a non-empty node outside the range, by name;
 * - `branch`: a partial node that is a branch; its two children follow;
 * - `entry`: a partial node that is a leaf listed among the entries;
 * - `leaf`: a partial node that is a leaf of a key outside the range (value when embedded,
 *   else its hash).
 */
export type BoundaryNode = ProofTerminal | { readonly kind: "name"; readonly name: Uint8Array } | { readonly kind: "branch" } | { readonly kind: "entry" };

/** Proof that `entries` are all the entries with start <= key <= end in the trie `root`. */
export interface RangeProof {
  readonly root: Uint8Array;
  readonly start: Uint8Array;
  /** Inclusive; the last entry's key when the listing was cut by a limit. */
  readonly end: Uint8Array;
  readonly entries: readonly Entry[];
  readonly boundary: readonly BoundaryNode[];
}

const CONTAINED = 0;
const DISJOINT = 1;
const PARTIAL = 2;

/** Where the node at `depth` on `path` lies against [start, end]. */
export function classify(path: Uint8Array, depth: number, start: Uint8Array, end: Uint8Array): number {
  const low = path.slice(0, KEY_BYTES);
  const high = path.slice(0, KEY_BYTES);
  const whole = depth >> 3;
  if (whole < KEY_BYTES) {
    const keep = (0xff00 >> (depth & 7)) & 0xff;
    low[whole] &= keep;
    high[whole] |= ~keep & 0xff;
    low.fill(0, whole + 1);
    high.fill(0xff, whole + 1);
  }
  if (compareKeys(high, start) < 0 || compareKeys(low, end) > 0) return DISJOINT;
  if (compareKeys(low, start) >= 0 && compareKeys(high, end) <= 0) return CONTAINED;
  return PARTIAL;
}

function childPath(path: Uint8Array, depth: number, bit: number): Uint8Array {
  const out = path.slice(0, KEY_BYTES);
  const mask = 0x80 >> (depth & 7);
  if (bit) out[depth >> 3] |= mask;
  else out[depth >> 3] &= ~mask;
  return out;
}

/** Entries in [start, end], at most `limit`, by walking the trie (for sources without scan). */
function walkEntries(source: TrieNodeSource, start: Uint8Array, end: Uint8Array, limit: number): Entry[] {
  const out: Entry[] = [];
  const visit = (node: TrieNode, path: Uint8Array, depth: number): void => {
    if (out.length >= limit || node.kind === EMPTY_NODE) return;
    if (classify(path, depth, start, end) === DISJOINT) return;
    if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(path, depth);
      if (compareKeys(leaf.key, start) >= 0 && compareKeys(leaf.key, end) <= 0) out.push(leaf);
      return;
    }
    for (const bit of [0, 1]) {
      const child = childPath(path, depth, bit);
      visit(source.node(child, depth + 1), child, depth + 1);
    }
  };
  visit(source.root(), new Uint8Array(KEY_BYTES), 0);
  return out;
}

/**
 * Proof of the entries with start <= key <= end (both inclusive) in the trie of `source`, at
 * most `limit` of them (an integer >= 1); when more exist, the proof covers start..(the last
 * listed key). Throws `TrieError` `BAD_KEY` for a bad bound, `BAD_ARGUMENT` when start > end
 * or for a bad limit.
 */
export function proveRange(source: TrieNodeSource, start: Uint8Array, end: Uint8Array, limit: number): RangeProof {
  checkSource(source, "source");
  checkKey(start, "start");
  checkKey(end, "end");
  if (compareKeys(start, end) > 0) throw new TrieError("BAD_ARGUMENT", "start must not be after end");
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TrieError("BAD_ARGUMENT", `limit must be an integer >= 1, got ${String(limit)}`);
  const found = source.scan ? source.scan(start, end, limit + 1) : walkEntries(source, start, end, limit + 1);
  const listed = found.slice(0, limit).map((e) => ({ key: e.key.slice(), value: e.value.slice() }));
  const last = found.length > limit ? listed[limit - 1].key : end.slice();
  const boundary: BoundaryNode[] = [];
  const visit = (node: TrieNode, path: Uint8Array, depth: number): void => {
    const where = classify(path, depth, start, last);
    if (where === CONTAINED) return;
    if (node.kind === EMPTY_NODE) {
      boundary.push({ kind: "empty" });
    } else if (where === DISJOINT) {
      boundary.push({ kind: "name", name: node.name.slice() });
    } else if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(path, depth);
      const inside = compareKeys(leaf.key, start) >= 0 && compareKeys(leaf.key, last) <= 0;
      if (inside) boundary.push({ kind: "entry" });
      else if (leaf.value.length <= EMBED_MAX) boundary.push({ kind: "leaf", key: leaf.key.slice(), value: leaf.value.slice() });
      else boundary.push({ kind: "leaf", key: leaf.key.slice(), valueHash: sharedKernel().hash(leaf.value) });
    } else {
      boundary.push({ kind: "branch" });
      for (const bit of [0, 1]) {
        const child = childPath(path, depth, bit);
        visit(source.node(child, depth + 1), child, depth + 1);
      }
    }
  };
  const top = source.root();
  visit(top, new Uint8Array(KEY_BYTES), 0);
  return { root: top.name.slice(), start: start.slice(), end: last.slice(), entries: listed, boundary };
}

/** The root a range proof rebuilds, or null when it is malformed or incomplete in form. */
function rangeProofRoot(proof: RangeProof): Uint8Array | null {
  const { start, end, entries, boundary } = proof;
  if (!isBytes(start, KEY_BYTES) || !isBytes(end, KEY_BYTES) || compareKeys(start, end) > 0) return null;
  if (!Array.isArray(entries) || !Array.isArray(boundary)) return null;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === null || typeof e !== "object" || !isBytes(e.key, KEY_BYTES) || !isBytes(e.value)) return null;
    if (compareKeys(e.key, start) < 0 || compareKeys(e.key, end) > 0) return null;
    if (i > 0 && compareKeys(entries[i - 1].key, e.key) >= 0) return null;
  }
  let next = 0;
  const take = (): BoundaryNode => {
    if (next >= boundary.length) throw new TrieError("BAD_PROOF", "boundary too short");
    const item = boundary[next++];
    if (item === null || typeof item !== "object") throw new TrieError("BAD_PROOF", "bad boundary node");
    return item;
  };
  // The name of the node at `depth` on `path`, whose range holds entries[a..b).
  const visit = (path: Uint8Array, depth: number, a: number, b: number): Uint8Array => {
    const where = classify(path, depth, start, end);
    if (where === CONTAINED) return subtrieRoot(entries, a, b, depth);
    const item = take() as { kind?: unknown; name?: unknown; key?: unknown; value?: unknown; valueHash?: unknown };
    if (item.kind === "empty") {
      if (a !== b) throw new TrieError("BAD_PROOF", "entries under an empty node");
      return new Uint8Array(HASH_BYTES);
    }
    if (where === DISJOINT) {
      if (item.kind !== "name" || !isBytes(item.name, HASH_BYTES)) throw new TrieError("BAD_PROOF", "a node outside the range must be a name");
      return item.name;
    }
    if (item.kind === "entry") {
      if (b - a !== 1) throw new TrieError("BAD_PROOF", "an entry node must hold one entry");
      return nameOf(leafNode(entries[a].key, entries[a].value));
    }
    if (item.kind === "leaf") {
      const key = item.key;
      if (a !== b || !isBytes(key, KEY_BYTES) || commonPrefixBits(key, path) < depth) throw new TrieError("BAD_PROOF", "bad leaf");
      if (compareKeys(key, start) >= 0 && compareKeys(key, end) <= 0) throw new TrieError("BAD_PROOF", "a leaf in the range must be an entry");
      if (item.value !== undefined) {
        if (item.valueHash !== undefined || !isBytes(item.value) || item.value.length > EMBED_MAX) throw new TrieError("BAD_PROOF", "bad leaf");
        return nameOf(leafNode(key, item.value));
      }
      if (!isBytes(item.valueHash, HASH_BYTES)) throw new TrieError("BAD_PROOF", "bad leaf");
      return nameOf(leafNode(key, null, item.valueHash));
    }
    if (item.kind !== "branch" || depth >= KEY_BITS) throw new TrieError("BAD_PROOF", "bad boundary node");
    let m = a;
    while (m < b && keyBit(entries[m].key, depth) === 0) m++;
    const left = visit(childPath(path, depth, 0), depth + 1, a, m);
    const right = visit(childPath(path, depth, 1), depth + 1, m, b);
    return branchName(left, right);
  };
  try {
    const root = visit(new Uint8Array(KEY_BYTES), 0, 0, entries.length);
    return next === boundary.length ? root : null;
  } catch {
    return null;
  }
}

/**
 * True when `proof` shows against `root` (default `proof.root`) that `proof.entries` are all
 * the entries with proof.start <= key <= proof.end. Never throws. A caller that asked for
 * [start, end] with a limit also checks that `proof.start` is its start and `proof.end` its end,
 * or (a cut listing) the key of the last entry, with `limit` entries listed.
 */
export function verifyRangeProof(proof: RangeProof, root: Uint8Array = proof?.root): boolean {
  try {
    if (proof === null || typeof proof !== "object") return false;
    if (!isBytes(root, HASH_BYTES) || !isBytes(proof.root, HASH_BYTES) || !equalBytes(root, proof.root)) return false;
    const rebuilt = rangeProofRoot(proof);
    return rebuilt !== null && equalBytes(rebuilt, root);
  } catch {
    return false;
  }
}
