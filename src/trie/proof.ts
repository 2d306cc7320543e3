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
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { EMBED_MAX, encodeHashedLeaf, HASH_BYTES, NODE_BYTES } from "./node.ts";
import { type Entry, subtrieRoot } from "./root.ts";

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

/** Index of the first entry in [lo, hi) whose bit `depth` is 1 (the range shares bits < depth). */
function splitPoint(entries: readonly Entry[], lo: number, hi: number, depth: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyBit(entries[mid].key, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function terminalOf(entry: Entry): ProofTerminal {
  return entry.value.length <= EMBED_MAX
    ? { kind: "leaf", key: entry.key.slice(), value: entry.value.slice() }
    : { kind: "leaf", key: entry.key.slice(), valueHash: sharedKernel().hash(entry.value) };
}

/**
 * Proof for `key` over `entries` (sorted by key, distinct). Costs one pass over the entries
 * for the sibling subtries; meant for tests, tools and small states.
 */
export function proveKey(entries: readonly Entry[], key: Uint8Array): KeyProof {
  checkKey(key);
  const root = subtrieRoot(entries, 0, entries.length, 0);
  const siblings: Uint8Array[] = [];
  let lo = 0;
  let hi = entries.length;
  let depth = 0;
  while (hi - lo >= 2) {
    const mid = splitPoint(entries, lo, hi, depth);
    if (keyBit(key, depth) === 0) {
      siblings.push(subtrieRoot(entries, mid, hi, depth + 1));
      hi = mid;
    } else {
      siblings.push(subtrieRoot(entries, lo, mid, depth + 1));
      lo = mid;
    }
    depth++;
  }
  let terminal: ProofTerminal = { kind: "empty" };
  let value: Uint8Array | null = null;
  if (hi - lo === 1) {
    const entry = entries[lo];
    terminal = terminalOf(entry);
    if (commonPrefixBits(entry.key, key) === KEY_BITS) value = entry.value.slice();
  }
  return { root, key: key.slice(), value, siblings, terminal };
}

function isBytes(x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
    const kernel = sharedKernel();
    const node = new Uint8Array(NODE_BYTES);
    for (let d = siblings.length - 1; d >= 0; d--) {
      if (keyBit(proof.key, d) === 0) {
        node.set(id, 0);
        node.set(siblings[d], HASH_BYTES);
      } else {
        node.set(siblings[d], 0);
        node.set(id, HASH_BYTES);
      }
      node[0] &= 0x7f;
      kernel.hashNode(node, 0, id, 0);
    }
    return equalBytes(id, root);
  } catch {
    return false;
  }
}

/** Throws a typed error unless the proof verifies; for callers that prefer exceptions. */
export function assertKeyProof(proof: KeyProof, root?: Uint8Array): void {
  if (!verifyKeyProof(proof, root)) throw new TrieError("BAD_PROOF", "proof does not verify against the root");
}
