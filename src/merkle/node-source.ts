// The trie as stored, read by position: what proof builders walk (`TrieNodeSource`).
//
// A node at depth d >= 1 sits in the page at page-depth floor((d - 1) / 6). When that page is
// stored, its slot gives the name and its leaf map the kind. When it is not, the subtrie is
// elided (fewer than ELISION_THRESHOLD leaves under the page's prefix) and the node is derived
// from the entries under its own d-bit prefix, scanned from the value store: none is H0, one is
// a leaf, more is a branch named by their subtrie root. The last scan is kept, since a proof
// asks for several nodes of one elided subtrie in a row.
import {
  BRANCH_NODE,
  EMPTY_NODE,
  type Entry,
  H0,
  KEY_BITS,
  LEAF_NODE,
  entriesNodeSource,
  type TrieLeaf,
  type TrieNode,
  type TrieNodeSource,
  TrieError,
} from "../trie/index.ts";
import { ELISION_THRESHOLD, isLeafSlot, PAGE_LEVELS, pageIdOf, slotOf, slotOffset } from "./page.ts";
import type { MerkleTop, PageReader } from "./types.ts";

/** The value store's side of a stored trie, as proofs need it. */
export interface LeafSource {
  /** Entries whose keys share the first `depth` bits of `path`, in key order, at most `limit`. */
  entriesUnder(path: Uint8Array, depth: number, limit?: number): readonly (readonly [Uint8Array, Uint8Array])[];
  /** Entries with start <= key <= end in key order, at most `limit` (for range proofs). */
  range?(start: Uint8Array, end: Uint8Array, limit: number): readonly Entry[];
}

/** A node source over the trie named by `top`, its pages and its entries; one fixed state. */
export function pagesNodeSource(top: MerkleTop, pages: PageReader, leaves: LeafSource): TrieNodeSource {
  return new PagesNodeSource(top, pages, leaves);
}

class PagesNodeSource implements TrieNodeSource {
  readonly scan?: (start: Uint8Array, end: Uint8Array, limit: number) => readonly Entry[];
  #id = new Uint8Array(32);
  // The last elided subtrie scanned: its prefix (path, depth) and entries.
  #elidedPath: Uint8Array | null = null;
  #elidedDepth = -1;
  #elided: TrieNodeSource | null = null;

  constructor(
    private readonly top: MerkleTop,
    private readonly pages: PageReader,
    private readonly leaves: LeafSource,
  ) {
    if (leaves.range) {
      const range = leaves.range.bind(leaves);
      this.scan = (start, end, limit) => range(start, end, limit);
    }
  }

  root(): TrieNode {
    return { kind: this.top.kind, name: this.top.root };
  }

  node(path: Uint8Array, depth: number): TrieNode {
    checkPosition(path, depth, 1);
    const p = Math.floor((depth - 1) / PAGE_LEVELS);
    const page = this.pages.get(pageIdOf(path, p, this.#id));
    if (page) {
      const r = depth - p * PAGE_LEVELS;
      let x = 0;
      for (let i = p * PAGE_LEVELS; i < depth; i++) x = x * 2 + ((path[i >> 3] >> (7 - (i & 7))) & 1);
      const s = slotOf(r, x);
      const name = page.subarray(slotOffset(s), slotOffset(s) + 32);
      if (isZero(name)) return { kind: EMPTY_NODE, name: H0 };
      return { kind: isLeafSlot(page, s) ? LEAF_NODE : BRANCH_NODE, name: name.slice() };
    }
    // Inside an elided subtrie, the trie of its few entries alone has the same nodes at and
    // below the page root (names depend only on the keys beneath them).
    const n = this.#under(path, p * PAGE_LEVELS).node(path, depth);
    return { kind: n.kind, name: n.name.slice() };
  }

  leaf(path: Uint8Array, depth: number): TrieLeaf {
    checkPosition(path, depth, 0);
    // A leaf inside the elided subtrie scanned last is among its entries (the common case: a
    // proof walks down to its key's leaf through that subtrie).
    if (this.#elided !== null && depth >= this.#elidedDepth && sharesBits(this.#elidedPath as Uint8Array, path, this.#elidedDepth)) {
      return this.#elided.leaf(path, depth);
    }
    const found = this.leaves.entriesUnder(path, depth, 2);
    if (found.length !== 1) {
      throw new TrieError("BAD_PATH", `no leaf at depth ${depth} on this path (${found.length === 0 ? "no key" : "several keys"} under the prefix)`);
    }
    return { key: found[0][0], value: found[0][1] };
  }

  /** A node source over the entries of the elided page rooted at `pageRoot` on `path`. */
  #under(path: Uint8Array, pageRoot: number): TrieNodeSource {
    if (this.#elidedPath === null || this.#elidedDepth !== pageRoot || !sharesBits(this.#elidedPath, path, pageRoot)) {
      const found = this.leaves.entriesUnder(path, pageRoot, ELISION_THRESHOLD);
      if (found.length >= ELISION_THRESHOLD) {
        throw new TrieError("BAD_PATH", `the page under this ${pageRoot}-bit prefix is missing (corrupt store, or a path below a leaf)`);
      }
      this.#elidedPath = path.slice();
      this.#elidedDepth = pageRoot;
      this.#elided = entriesNodeSource(
        found.map(([key, value]) => ({ key, value })),
        pageRoot,
      );
    }
    return this.#elided as TrieNodeSource;
  }
}

function checkPosition(path: Uint8Array, depth: number, min: number): void {
  if (!(path instanceof Uint8Array) || path.length !== 31) throw new TrieError("BAD_KEY", "path must be a 31-byte Uint8Array");
  if (!Number.isInteger(depth) || depth < min || depth > KEY_BITS) {
    throw new TrieError("BAD_ARGUMENT", `depth must be an integer in ${min}..${KEY_BITS}, got ${String(depth)}`);
  }
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function sharesBits(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rem = bits & 7;
  return rem === 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rem)) & 0xff) === 0;
}
