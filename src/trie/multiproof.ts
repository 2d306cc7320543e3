// Multiproofs: one proof for many keys, each shared node given once.
//
// The proven keys' paths form a tree under the root. Where two paths part, both sides are
// opened, so neither side's name is sent; where only one path goes on, the other side's name
// is a sibling. Paths end at terminals (a leaf, or H0); keys whose paths end at the same
// terminal are grouped, so each terminal is sent once. Siblings are listed in pre-order: at each
// branch with one opened side, its sibling comes before anything below that branch. For one key
// this is the single proof's order (root side first).
//
// The structure is implied by the keys and the terminal depths, so a verifier needs nothing
// else: it splits the groups by key bit at each depth, takes a sibling wherever one side has no
// group, and accepts only when it rebuilds the root exactly.

import { checkSource } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit, splitPoint } from "./key.ts";
import { EMBED_MAX, HASH_BYTES } from "./node.ts";
import { BRANCH_NODE, LEAF_NODE, type TrieNode, type TrieNodeSource } from "./node-source.ts";
import { branchNode, EMPTY_PARTIAL, leafNode, nameOf, namedNode, type PartialNode } from "./partial-trie.ts";
import { leafTerminal, type ProofTerminal, siblingPath } from "./proof.ts";
import { ProvenValues } from "./proven.ts";
import { equalBytes, isBytes } from "./bytes.ts";

/**
 * The keys whose paths end at one terminal, at depth `depth`. `keys` are sorted and share
 * their first `depth` bits. A leaf terminal whose key is one of `keys` carries the whole value
 * (any length: the key's value is proven); a leaf of another key carries its value when
 * embedded (<= 32 bytes) and otherwise only its hash.
 */
export interface MultiProofPath {
  readonly depth: number;
  readonly keys: readonly Uint8Array[];
  readonly terminal: ProofTerminal;
}

/** One proof for many keys against `root`: paths in key order, siblings in pre-order. */
export interface MultiProof {
  readonly root: Uint8Array;
  readonly paths: readonly MultiProofPath[];
  /** Names of the unopened sides, in pre-order; H0 for an empty side. */
  readonly siblings: readonly Uint8Array[];
}

/** Copies, sorts and dedups keys, checking each (`BAD_KEY` names `keys[i]`). */
export function sortedKeys(keys: readonly Uint8Array[], name = "keys"): Uint8Array[] {
  if (!Array.isArray(keys)) throw new TrieError("BAD_ARGUMENT", `${name} must be an array`);
  keys.forEach((k, i) => checkKey(k, `${name}[${i}]`));
  const sorted = keys.map((k) => k.slice()).sort(compareKeys);
  return sorted.filter((k, i) => i === 0 || compareKeys(sorted[i - 1], k) !== 0);
}

/**
 * One proof for all `keys` (present or absent; any order, repeats ignored) in the trie of
 * `source`. With no keys it is the bare root, which proves nothing and verifies trivially.
 */
export function proveMany(source: TrieNodeSource, keys: readonly Uint8Array[]): MultiProof {
  checkSource(source, "source");
  const sorted = sortedKeys(keys);
  const top = source.root();
  const paths: MultiProofPath[] = [];
  const siblings: Uint8Array[] = [];
  const other = new Uint8Array(KEY_BYTES);

  const visit = (node: TrieNode, depth: number, a: number, b: number): void => {
    if (node.kind === BRANCH_NODE) {
      if (depth >= KEY_BITS) throw new TrieError("BAD_PATH", "the source reports a branch at depth 248");
      const m = splitPoint(sorted, a, b, depth);
      if (m > a && m < b) {
        visit(source.node(sorted[a], depth + 1), depth + 1, a, m);
        visit(source.node(sorted[m], depth + 1), depth + 1, m, b);
      } else {
        siblings.push(source.node(siblingPath(sorted[a], depth, other), depth + 1).name.slice());
        visit(source.node(sorted[a], depth + 1), depth + 1, a, b);
      }
      return;
    }
    const group = sorted.slice(a, b);
    let terminal: ProofTerminal = { kind: "empty" };
    if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(sorted[a], depth);
      const proven = group.some((k) => compareKeys(k, leaf.key) === 0);
      terminal = proven ? { kind: "leaf", key: leaf.key.slice(), value: leaf.value.slice() } : leafTerminal(leaf.key, leaf.value);
    }
    paths.push({ depth, keys: group, terminal });
  };

  if (sorted.length === 0) siblings.push(top.name.slice());
  else visit(top, 0, 0, sorted.length);
  return { root: top.name.slice(), paths, siblings };
}

/** A multiproof rebuilt: its partial trie, the root it names, and what it proves. */
export interface OpenedMultiProof {
  readonly trie: PartialNode;
  readonly root: Uint8Array;
  readonly values: ProvenValues;
}

/** The terminal of one path as a partial node, or null when it contradicts its keys. */
function terminalNode(path: MultiProofPath, values: (Uint8Array | null)[]): PartialNode | null {
  const t = path.terminal as { kind?: unknown; key?: unknown; value?: unknown; valueHash?: unknown } | null;
  if (t === null || typeof t !== "object") return null;
  if (t.kind === "empty") {
    for (let i = 0; i < path.keys.length; i++) values.push(null);
    return EMPTY_PARTIAL;
  }
  if (t.kind !== "leaf" || !isBytes(t.key, KEY_BYTES)) return null;
  if (commonPrefixBits(t.key, path.keys[0]) < path.depth) return null;
  let member = false;
  for (const k of path.keys) {
    const same = compareKeys(k, t.key) === 0;
    member ||= same;
    values.push(same ? (t.value as Uint8Array) : null);
  }
  if (t.value !== undefined) {
    if (t.valueHash !== undefined || !isBytes(t.value)) return null;
    // A value over 32 bytes is sent only when it is proven; otherwise its hash is enough.
    if (!member && t.value.length > EMBED_MAX) return null;
    return leafNode(t.key, t.value);
  }
  if (member || !isBytes(t.valueHash, HASH_BYTES)) return null;
  return leafNode(t.key, null, t.valueHash);
}

/**
 * Rebuilds a multiproof's partial trie and root, checking its structure; null when it is
 * malformed in any way (never throws). Does not compare with any expected root.
 */
export function openMultiProof(proof: MultiProof): OpenedMultiProof | null {
  try {
    if (proof === null || typeof proof !== "object") return null;
    const { paths, siblings } = proof;
    if (!isBytes(proof.root, HASH_BYTES) || !Array.isArray(paths) || !Array.isArray(siblings)) return null;
    for (const s of siblings) if (!isBytes(s, HASH_BYTES)) return null;
    const keys: Uint8Array[] = [];
    for (const p of paths) {
      if (p === null || typeof p !== "object" || !Array.isArray(p.keys) || p.keys.length === 0) return null;
      if (!Number.isInteger(p.depth) || p.depth < 0 || p.depth > KEY_BITS) return null;
      for (const k of p.keys) {
        if (!isBytes(k, KEY_BYTES)) return null;
        if (keys.length > 0 && compareKeys(keys[keys.length - 1], k) >= 0) return null;
        keys.push(k);
      }
      if (commonPrefixBits(p.keys[0], p.keys[p.keys.length - 1]) < p.depth) return null;
    }
    const values: (Uint8Array | null)[] = [];
    const firstKeys = paths.map((p) => p.keys[0]);
    let next = 0;
    const sibling = (): PartialNode => {
      if (next >= siblings.length) throw new TrieError("BAD_PROOF", "too few siblings");
      return namedNode(siblings[next++]);
    };
    const visit = (depth: number, a: number, b: number): PartialNode => {
      if (b - a === 1 && paths[a].depth <= depth) {
        if (paths[a].depth < depth) throw new TrieError("BAD_PROOF", "a path passes its terminal");
        const node = terminalNode(paths[a], values);
        if (node === null) throw new TrieError("BAD_PROOF", "bad terminal");
        return node;
      }
      const m = splitPoint(firstKeys, a, b, depth);
      if (m === a) {
        const left = sibling();
        return branchNode(left, visit(depth + 1, a, b));
      }
      if (m === b) {
        const right = sibling();
        return branchNode(visit(depth + 1, a, b), right);
      }
      const left = visit(depth + 1, a, m);
      return branchNode(left, visit(depth + 1, m, b));
    };
    const trie = paths.length === 0 ? sibling() : visit(0, 0, paths.length);
    if (next !== siblings.length) return null;
    return { trie, root: nameOf(trie), values: new ProvenValues(keys, values) };
  } catch {
    return null;
  }
}

/**
 * True when `proof` shows, against `root` (by default `proof.root`), the value or absence of
 * each of its keys. Never throws: anything malformed is simply not valid.
 */
export function verifyMultiProof(proof: MultiProof, root: Uint8Array = proof?.root): boolean {
  if (!isBytes(root, HASH_BYTES) || !isBytes(proof?.root, HASH_BYTES) || !equalBytes(root, proof.root)) return false;
  const opened = openMultiProof(proof);
  return opened !== null && equalBytes(opened.root, root);
}

/**
 * What a valid multiproof proves: each of its keys mapped to its value, or null when absent.
 * Throws `TrieError` `BAD_PROOF` unless the proof verifies against `root` (default `proof.root`).
 */
export function multiProofValues(proof: MultiProof, root: Uint8Array = proof?.root): ProvenValues {
  const opened = isBytes(root, HASH_BYTES) && isBytes(proof?.root, HASH_BYTES) && equalBytes(root, proof.root) ? openMultiProof(proof) : null;
  if (opened === null || !equalBytes(opened.root, root)) throw new TrieError("BAD_PROOF", "multiproof does not verify against the root");
  return opened.values;
}

/** A sibling that is its parent's left child, as `multiProofShape` lists them. */
export const SIBLING_LEFT = 0;
/** A sibling that is its parent's right child. */
export const SIBLING_RIGHT = 1;
/** The lone "sibling" of a proof with no keys: the root itself. */
export const SIBLING_ROOT = 2;

/**
 * The sides of the siblings a multiproof with these paths has, in pre-order, or null when the
 * paths break the structure rules (a path running past its terminal, or two paths ending at
 * one node). `firstKeys[i]` is path i's first key; keys must already be sorted across paths.
 */
export function multiProofShape(firstKeys: readonly Uint8Array[], depths: readonly number[]): number[] | null {
  const sides: number[] = [];
  if (firstKeys.length === 0) return [SIBLING_ROOT];
  const visit = (depth: number, a: number, b: number): boolean => {
    if (b - a === 1 && depths[a] <= depth) return depths[a] === depth;
    if (depth >= KEY_BITS) return false;
    const m = splitPoint(firstKeys, a, b, depth);
    if (m === a) {
      sides.push(SIBLING_LEFT);
      return visit(depth + 1, a, b);
    }
    if (m === b) {
      sides.push(SIBLING_RIGHT);
      return visit(depth + 1, a, b);
    }
    return visit(depth + 1, a, m) && visit(depth + 1, m, b);
  };
  return visit(0, 0, firstKeys.length) ? sides : null;
}
