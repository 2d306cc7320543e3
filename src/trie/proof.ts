// Single-key proofs: the sibling names on a key's path from the root down to where the path
// ends (a leaf, or the empty subtrie H0), plus what is found there.
//
// A leaf terminal of another key that shares the path proves the key absent, as does H0. A
// verifier rebuilds names bottom-up and needs no trust in the prover: it accepts only when it
// reaches the root it was given.
//
// One property of the GP encoding shows through: a branch keeps only 255 bits of its left
// child's name, so the top bit of a left sibling is not committed to by the root and is
// ignored here (a proof with that bit flipped proves the same fact).

import { sharedKernel } from "../hash/kernel.ts";
import { proofKernel } from "./proof-kernel.ts";
import { checkSource } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { EMBED_MAX, encodeHashedLeaf, HASH_BYTES, NODE_BYTES } from "./node.ts";
import { BRANCH_NODE, entriesNodeSource, LEAF_NODE, type TrieNodeSource } from "./node-source.ts";
import type { Entry } from "./root.ts";
import { equalBytes, isBytes } from "./bytes.ts";

/** Where a key's path ends. */
export type ProofTerminal =
  | { readonly kind: "empty" }
  | { readonly kind: "leaf"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "leaf"; readonly key: Uint8Array; readonly valueHash: Uint8Array };

/** Proof that `key` has `value` (or is absent, `value` null) in the trie named `root`. */
export interface KeyProof {
  readonly root: Uint8Array;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  /** siblings[i] names the sibling at depth i + 1 on the key's path, root side first. */
  readonly siblings: readonly Uint8Array[];
  /** The node at depth `siblings.length`. */
  readonly terminal: ProofTerminal;
}

/** The terminal of a leaf as a single proof carries it: the value when embedded, else its hash. */
export function leafTerminal(key: Uint8Array, value: Uint8Array): ProofTerminal {
  return value.length <= EMBED_MAX
    ? { kind: "leaf", key: key.slice(), value: value.slice() }
    : { kind: "leaf", key: key.slice(), valueHash: sharedKernel().hash(value) };
}

/** `path` with bit `i` flipped, written into `out` (the sibling's path at depth i + 1). */
export function siblingPath(path: Uint8Array, i: number, out: Uint8Array): Uint8Array {
  out.set(path.subarray(0, KEY_BYTES));
  out[i >> 3] ^= 0x80 >> (i & 7);
  return out;
}

/** Sibling names of the proof being built (a proof is built synchronously, one at a time). */
const names = new Uint8Array(KEY_BITS * HASH_BYTES);

/**
 * Proof for `key` in the trie `from`: a node source, or entries sorted by key and distinct (a
 * source is built for the call, which hashes the whole trie: for one-off use; build the source
 * once with `entriesNodeSource` to prove many keys).
 */
export function proveKey(from: readonly Entry[] | TrieNodeSource, key: Uint8Array): KeyProof {
  checkKey(key);
  if (!Array.isArray(from)) checkSource(from, "from (entries or a node source)");
  const source = Array.isArray(from) ? entriesNodeSource(from) : (from as TrieNodeSource);
  const top = source.root();
  const root = top.name.slice();
  // The sibling's path: the key with bit `depth` flipped for the one query, then restored.
  const other = key.slice();
  let node = top;
  let depth = 0;
  while (node.kind === BRANCH_NODE) {
    if (depth >= KEY_BITS) throw new TrieError("BAD_PATH", "the source reports a branch at depth 248");
    const mask = 0x80 >> (depth & 7);
    other[depth >> 3] ^= mask;
    names.set(source.node(other, depth + 1).name, depth * HASH_BYTES);
    other[depth >> 3] ^= mask;
    node = source.node(key, ++depth);
  }
  // One buffer for all the sibling names, viewed per name: half the allocations of a copy each.
  const all = names.slice(0, depth * HASH_BYTES);
  const siblings: Uint8Array[] = new Array(depth);
  for (let d = 0; d < depth; d++) siblings[d] = all.subarray(d * HASH_BYTES, (d + 1) * HASH_BYTES);
  let terminal: ProofTerminal = { kind: "empty" };
  let value: Uint8Array | null = null;
  if (node.kind === LEAF_NODE) {
    const leaf = source.leaf(key, depth);
    terminal = leafTerminal(leaf.key, leaf.value);
    if (compareKeys(leaf.key, key) === 0) value = leaf.value.slice();
  }
  return { root, key: key.slice(), value, siblings, terminal };
}

/**
 * Writes the terminal node's name to `out` after checking it against the claim; false when the
 * claim and the terminal disagree (wrong value, a leaf off the key's path, malformed fields).
 */
function terminalId(proof: KeyProof, depth: number, out: Uint8Array): boolean {
  const t = proof.terminal as { kind?: unknown; key?: unknown; value?: unknown; valueHash?: unknown };
  const value = proof.value;
  if (value !== null && !isBytes(value)) return false;
  if (t === null || typeof t !== "object") return false;
  if (t.kind === "empty") {
    out.fill(0);
    return value === null;
  }
  if (t.kind !== "leaf" || !isBytes(t.key, KEY_BYTES)) return false;
  if (commonPrefixBits(t.key, proof.key) < depth) return false;
  const same = commonPrefixBits(t.key, proof.key) === KEY_BITS;
  const kernel = sharedKernel();
  const node = new Uint8Array(NODE_BYTES);
  if (t.value !== undefined) {
    if (t.valueHash !== undefined || !isBytes(t.value) || t.value.length > EMBED_MAX) return false;
    if (same ? value === null || !equalBytes(value, t.value) : value !== null) return false;
    node[0] = 0x80 | t.value.length;
    node.set(t.key, 1);
    node.set(t.value, 32);
  } else {
    if (!isBytes(t.valueHash, HASH_BYTES)) return false;
    if (same) {
      if (value === null || value.length <= EMBED_MAX) return false;
      if (!equalBytes(kernel.hash(value), t.valueHash)) return false;
    } else if (value !== null) {
      return false;
    }
    encodeHashedLeaf(t.key, t.valueHash, node);
  }
  kernel.hashNode(node, 0, out, 0);
  return true;
}

/**
 * True when `proof` shows, against `root` (by default `proof.root`), that `proof.key` maps to
 * `proof.value` (null: absent). Never throws: anything malformed is simply not valid.
 */
export function verifyKeyProof(proof: KeyProof, root: Uint8Array = proof?.root): boolean {
  try {
    if (proof === null || typeof proof !== "object") return false;
    if (!isBytes(root, HASH_BYTES) || !isBytes(proof.root, HASH_BYTES) || !equalBytes(root, proof.root)) return false;
    if (!isBytes(proof.key, KEY_BYTES) || !Array.isArray(proof.siblings)) return false;
    const siblings = proof.siblings;
    if (siblings.length > KEY_BITS) return false;
    for (const s of siblings) if (!isBytes(s, HASH_BYTES)) return false;
    const id = new Uint8Array(HASH_BYTES);
    if (!terminalId(proof, siblings.length, id)) return false;
    // The running name stays at `at` in the kernel's memory; each sibling is copied beside it.
    const kernel = proofKernel();
    const heap = kernel.heap;
    const at = kernel.scratchOffset;
    const other = at + HASH_BYTES;
    heap.set(id, at);
    for (let d = siblings.length - 1; d >= 0; d--) {
      heap.set(siblings[d], other);
      if (keyBit(proof.key, d) === 0) kernel.hashBranch(at, other, at);
      else kernel.hashBranch(other, at, at);
    }
    for (let i = 0; i < HASH_BYTES; i++) if (heap[at + i] !== root[i]) return false;
    return true;
  } catch {
    return false;
  }
}

/** Throws a typed error unless the proof verifies; for callers that prefer exceptions. */
export function assertKeyProof(proof: KeyProof, root?: Uint8Array): void {
  if (!verifyKeyProof(proof, root)) throw new TrieError("BAD_PROOF", "proof does not verify against the root");
}
