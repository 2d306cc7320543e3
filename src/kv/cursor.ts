// A position in the tree for ordered reads: one page and index per level, root to leaf.
// Pages are immutable views, so the cursor stays coherent while the tree version it started on
// is alive; the reader that owns it checks that before every step.
import { branchChild, branchCount, branchFind } from "./branch.ts";
import { KEY_BYTES, sharesBitPrefix } from "./key.ts";
import { leafEntryCount, leafFind, leafIsOverflow, leafLowerBound, leafValueEnd, leafValueStart } from "./leaf.ts";
import { OVERFLOW_DATA, overflowRefLength, overflowRefPage, walkOverflow } from "./overflow.ts";
import { KIND_BRANCH, KIND_LEAF, PAGE_HEADER, PAGE_SIZE, pageCount } from "./page.ts";
import type { Pager } from "./pager.ts";

/** Reads a whole overflow value of `len` bytes starting at page `first`. */
export function readOverflow(pager: Pager, first: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  walkOverflow(pager, first, len, (_no, p, i) => {
    const n = pageCount(p);
    out.set(n === PAGE_SIZE - 12 ? p.subarray(12) : p.subarray(12, 12 + n), i * OVERFLOW_DATA);
  });
  return out;
}

/** Copy of the value of cell `i` of leaf `p` (`n` cells), following overflow chains. */
export function cellValue(pager: Pager, p: Uint8Array, n: number, i: number): Uint8Array {
  const s = leafValueStart(p, n, i);
  if (leafIsOverflow(p, n, i)) return readOverflow(pager, overflowRefPage(p, s), overflowRefLength(p, s));
  return copyOut(p, s, leafValueEnd(p, n, i));
}

// Small copies handed to callers are carved from shared 64 KiB slabs: one object per copy
// instead of a separate ArrayBuffer each.
const SLAB = 65536;
let slab = new Uint8Array(SLAB);
let slabAt = 0;

/** Copy of `p[start, end)` the caller owns (it may share an ArrayBuffer with other copies). */
export function copyOut(p: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > 1024) return p.slice(start, end);
  if (slabAt + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabAt = 0;
  }
  const at = slabAt;
  slabAt = (at + n + 7) & ~7;
  for (let i = 0; i < n; i++) slab[at + i] = p[start + i];
  return slab.subarray(at, at + n);
}

/**
 * Receives one entry as views: the key at key[keyOff..+31], the value at value[valOff..+valLen].
 * The views are valid only during the call, which must not use the tree.
 */
export type CellVisitor = (key: Uint8Array, keyOff: number, value: Uint8Array, valOff: number, valLen: number) => void;

/** Value stored under `key` in the tree (root, height), or undefined. */
export function lookup(pager: Pager, root: number, height: number, key: Uint8Array): Uint8Array | undefined {
  if (root === 0) return undefined;
  let no = root;
  for (let level = height - 1; level > 0; level--) {
    const p = pager.read(no, KIND_BRANCH);
    no = branchChild(p, branchFind(p, key));
  }
  const leaf = pager.read(no, KIND_LEAF);
  const n = leafEntryCount(leaf);
  const i = leafFind(leaf, n, key);
  return i < 0 ? undefined : cellValue(pager, leaf, n, i);
}

/**
 * Ordered position over one version of the tree. It keeps page numbers, not page views, and
 * fetches pages again at every step: between steps the cache may evict a page and recycle its
 * buffer, while the page itself stays valid on disk as long as its version does.
 */
export class Cursor {
  #pager: Pager;
  #root: number;
  #height: number;
  #nos: number[] = [];
  #idx: number[] = [];
  #valid = false;

  /** A cursor over the tree (root, height); not positioned until a seek. */
  constructor(pager: Pager, root: number, height: number) {
    this.#pager = pager;
    this.#root = root;
    this.#height = height;
  }

  /** Points the cursor at another version of the tree (unpositioned), so one cursor serves many seeks. */
  retarget(root: number, height: number): void {
    this.#root = root;
    this.#height = height;
    this.#valid = false;
  }

  /** True while the cursor is on an entry. */
  get valid(): boolean {
    return this.#valid;
  }

  #branch(l: number): Uint8Array {
    return this.#pager.read(this.#nos[l], KIND_BRANCH);
  }

  #descend(level: number, no: number, key: Uint8Array | null, last: boolean): number {
    for (let l = level; l > 0; l--) {
      const p = this.#pager.read(no, KIND_BRANCH);
      const i = key !== null ? branchFind(p, key) : last ? branchCount(p) - 1 : 0;
      this.#nos[l] = no;
      this.#idx[l] = i;
      no = branchChild(p, i);
    }
    const p = this.#pager.read(no, KIND_LEAF);
    const n = leafEntryCount(p);
    this.#nos[0] = no;
    this.#idx[0] = key !== null ? leafLowerBound(p, n, key) : last ? n - 1 : 0;
    return n;
  }

  /** Moves to the first entry with key >= `key`; false when there is none. */
  seekGE(key: Uint8Array): boolean {
    if (this.#root === 0) return (this.#valid = false);
    const n = this.#descend(this.#height - 1, this.#root, key, false);
    if (this.#idx[0] < n) return (this.#valid = true);
    this.#idx[0] = n - 1;
    return this.next();
  }

  /** Moves to the last entry with key < `key`; false when there is none. */
  seekLT(key: Uint8Array): boolean {
    if (this.#root === 0) return (this.#valid = false);
    this.#descend(this.#height - 1, this.#root, key, false);
    this.#idx[0]--;
    if (this.#idx[0] >= 0) return (this.#valid = true);
    this.#idx[0] = 0;
    return this.prev();
  }

  /** Moves to the first entry; false when the tree is empty. */
  first(): boolean {
    if (this.#root === 0) return (this.#valid = false);
    return (this.#valid = this.#descend(this.#height - 1, this.#root, null, false) > 0);
  }

  /** Moves to the last entry; false when the tree is empty. */
  last(): boolean {
    if (this.#root === 0) return (this.#valid = false);
    return (this.#valid = this.#descend(this.#height - 1, this.#root, null, true) > 0);
  }

  /** Steps forward; false past the last entry. */
  next(): boolean {
    if (++this.#idx[0] < leafEntryCount(this.leaf())) return (this.#valid = true);
    let l = 1;
    while (l < this.#height && this.#idx[l] >= branchCount(this.#branch(l)) - 1) l++;
    if (l >= this.#height) return (this.#valid = false);
    const i = ++this.#idx[l];
    this.#descend(l - 1, branchChild(this.#branch(l), i), null, false);
    return (this.#valid = true);
  }

  /** Steps backward; false before the first entry. */
  prev(): boolean {
    if (--this.#idx[0] >= 0) return (this.#valid = true);
    let l = 1;
    while (l < this.#height && this.#idx[l] === 0) l++;
    if (l >= this.#height) return (this.#valid = false);
    const i = --this.#idx[l];
    this.#descend(l - 1, branchChild(this.#branch(l), i), null, true);
    return (this.#valid = true);
  }

  /** Offset of the current key in `leaf()`, for comparisons without copying. */
  keyOffset(): number {
    return PAGE_HEADER + KEY_BYTES * this.#idx[0];
  }

  /** The current leaf page; use it before the next pager call. */
  leaf(): Uint8Array {
    return this.#pager.read(this.#nos[0], KIND_LEAF);
  }

  /** Copy of the current key. */
  key(): Uint8Array {
    const o = PAGE_HEADER + KEY_BYTES * this.#idx[0];
    return copyOut(this.leaf(), o, o + KEY_BYTES);
  }

  /**
   * Passes entries to `visit` from the current one on, as views into their leaves, while their
   * keys share the first `bits` bits of `key` and fewer than `limit` were passed; the cursor
   * stops on the first entry refused, or past the end. Returns the number visited. A leaf is
   * fetched once for all the cells it holds.
   */
  visitPrefix(key: Uint8Array, bits: number, limit: number, visit: CellVisitor): number {
    let n = 0;
    for (;;) {
      let p = this.leaf();
      const count = leafEntryCount(p);
      let i = this.#idx[0];
      for (; i < count; i++) {
        const k = PAGE_HEADER + KEY_BYTES * i;
        if (n >= limit || !sharesBitPrefix(key, p, k, bits)) {
          this.#idx[0] = i;
          return n;
        }
        const s = leafValueStart(p, count, i);
        if (leafIsOverflow(p, count, i)) {
          const v = readOverflow(this.#pager, overflowRefPage(p, s), overflowRefLength(p, s));
          // Reading the chain may have recycled the leaf's buffer: fetch it again.
          p = this.leaf();
          visit(p, k, v, 0, v.length);
        } else {
          visit(p, k, p, s, leafValueEnd(p, count, i) - s);
        }
        n++;
      }
      this.#idx[0] = count - 1;
      if (!this.next()) return n;
    }
  }

  /** Copy of the current value. */
  value(): Uint8Array {
    const p = this.leaf();
    return cellValue(this.#pager, p, leafEntryCount(p), this.#idx[0]);
  }
}
