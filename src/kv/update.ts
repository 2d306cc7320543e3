// Copy-on-write application of a sorted batch to the tree.
//
// The batch descends once from the root. Every node on a path to a changed key is rebuilt into
// fresh pages (the old page is freed); untouched subtrees are shared. A rebuilt node returns
// the list of nodes that replace it (none when it emptied, several when it split); the parent
// splices them into its children, merges any child that fell below MIN_FILL with a neighbour
// (redistributing when the two do not fit one page), and repacks itself the same way. At the
// root, extra nodes grow new levels and single-child branches collapse.
import { branchCount, branchChild, branchFind, branchUsed, compareSep, decodeBranch, packBranches, setBranchChild } from "./branch.ts";
import { KvError } from "./errors.ts";
import { KEY_BYTES, compareKeyAt, compareKeysAt } from "./key.ts";
import {
  LeafPacker,
  leafLowerBound,
  leafValueEnd,
  MAX_INLINE_VALUE,
  MIN_FILL,
  OVERFLOW_REF_SIZE,
  leafEntryCount,
  leafIsOverflow,
  leafUsed,
  leafValueStart,
} from "./leaf.ts";
import { NodeList } from "./node-list.ts";
import { overflowRefLength, overflowRefPage, walkOverflow, writeOverflow } from "./overflow.ts";
import type { PackedEntries } from "./packed.ts";
import { KIND_BRANCH, KIND_LEAF, PAGE_HEADER } from "./page.ts";
import type { Pager } from "./pager.ts";

/** Root and height of a tree. */
export interface TreeShape {
  /** Root page, 0 when empty. */
  root: number;
  /** Levels, 0 when empty. */
  height: number;
}

/** Frees every page of the overflow chain of a `len`-byte value starting at `first`. */
export function freeOverflowChain(pager: Pager, first: number, len: number): void {
  const nos: number[] = [];
  walkOverflow(pager, first, len, (no) => nos.push(no));
  for (const no of nos) pager.free(no);
}

/** Applies sorted, validated batches to a tree, page by page. */
export class TreeUpdater {
  #pager: Pager;
  #packer = new LeafPacker();
  #keys: Uint8Array[] = [];
  #vals: (Uint8Array | null)[] = [];
  /** Cell index per op, for in-place value edits. */
  #cells = new Int32Array(64);
  /** Change in the number of entries caused by the last `apply`. */
  delta = 0;

  /** Creates an updater writing through `pager`. */
  constructor(pager: Pager) {
    this.#pager = pager;
  }

  /** Applies the batch (keys strictly ascending; null deletes) and returns the new shape. */
  apply(shape: TreeShape, keys: Uint8Array[], vals: (Uint8Array | null)[]): TreeShape {
    this.#keys = keys;
    this.#vals = vals;
    this.delta = 0;
    try {
      if (keys.length === 0) return shape;
      let level = shape.height - 1;
      let list: NodeList;
      if (shape.root === 0) {
        list = this.#leaf(0, 0, keys.length);
        level = 0;
      } else {
        list = this.#node(shape.root, level, 0, keys.length);
      }
      return this.#shape(list, level);
    } finally {
      this.#keys = [];
      this.#vals = [];
    }
  }

  /**
   * Appends sorted entries whose keys all follow the tree's last key (a bulk load): only the
   * right edge is rebuilt, and the new cells are copied from the packed buffers in runs.
   */
  append(shape: TreeShape, batch: PackedEntries): TreeShape {
    this.delta = 0;
    if (batch.count === 0) return shape;
    if (shape.root === 0) return this.#shape(this.#appendLeaf(0, batch), 0);
    return this.#shape(this.#appendNode(shape.root, shape.height - 1, batch), shape.height - 1);
  }

  #appendNode(page: number, level: number, batch: PackedEntries): NodeList {
    if (level === 0) return this.#appendLeaf(page, batch);
    const p = this.#pager.read(page, KIND_BRANCH);
    const n = branchCount(p);
    const sub = this.#appendNode(branchChild(p, n - 1), level - 1, batch);
    const simple = sub.length === 1 && !(sub.fills[0] >= 0 && sub.fills[0] < MIN_FILL);
    return this.#replaceChildren(page, p, n, level, [n - 1], [sub], simple);
  }

  // The last leaf (0: none) and the batch, repacked into new leaves.
  #appendLeaf(page: number, batch: PackedEntries): NodeList {
    const pager = this.#pager;
    const packer = this.#packer;
    packer.reset();
    const { keys, vals, starts, lens } = batch;
    if (page !== 0) {
      const p = pager.read(page, KIND_LEAF);
      const n = leafEntryCount(p);
      if (n > 0 && compareKeysAt(keys, 0, p, PAGE_HEADER + KEY_BYTES * (n - 1)) <= 0) {
        throw new KvError("BAD_BATCH", "append: the first key does not follow the last key stored");
      }
      for (let i = 0; i < n; i++) packer.addFromLeaf(p, n, i);
      pager.free(page);
    }
    for (let j = 0; j < batch.count; j++) {
      const len = lens[j];
      if (len <= MAX_INLINE_VALUE) packer.add(keys, KEY_BYTES * j, vals, starts[j], len, false);
      else packer.add(keys, KEY_BYTES * j, writeOverflow(pager, batch.large.get(j) as Uint8Array), 0, OVERFLOW_REF_SIZE, true);
    }
    this.delta += batch.count;
    const out = new NodeList();
    packer.emit(pager, out);
    return out;
  }

  // The tree over the nodes `list` at `level`: new levels while there are several, then the
  // root collapsed while it has a single child.
  #shape(list: NodeList, level: number): TreeShape {
    if (list.length === 0) return { root: 0, height: 0 };
    while (list.length > 1) {
      const up = new NodeList();
      packBranches(this.#pager, list.pages, list.seps, up);
      list = up;
      level++;
    }
    let root = list.pages[0];
    let height = level + 1;
    while (height > 1) {
      const p = this.#pager.read(root, KIND_BRANCH);
      if (branchCount(p) !== 1) break;
      this.#pager.free(root);
      root = branchChild(p, 0);
      height--;
    }
    return { root, height };
  }

  #node(page: number, level: number, lo: number, hi: number): NodeList {
    return level === 0 ? this.#leaf(page, lo, hi) : this.#branch(page, level, lo, hi);
  }

  // Merges leaf `page` (0: none) with ops [lo, hi) into new leaves.
  #leaf(page: number, lo: number, hi: number): NodeList {
    if (page !== 0) {
      const edited = this.#editLeaf(page, lo, hi);
      if (edited !== null) return edited;
    }
    const pager = this.#pager;
    const packer = this.#packer;
    const keys = this.#keys;
    const vals = this.#vals;
    packer.reset();
    let p: Uint8Array | null = null;
    let n = 0;
    if (page !== 0) {
      p = pager.read(page, KIND_LEAF);
      n = leafEntryCount(p);
      pager.free(page);
    }
    let i = 0;
    let j = lo;
    while (i < n || j < hi) {
      let c: number;
      if (i >= n) c = 1;
      else if (j >= hi) c = -1;
      else c = -compareKeyAt(keys[j], p!, PAGE_HEADER + KEY_BYTES * i);
      if (c < 0) {
        packer.addFromLeaf(p!, n, i++);
        continue;
      }
      if (c === 0) {
        if (leafIsOverflow(p!, n, i)) {
          const s = leafValueStart(p!, n, i);
          freeOverflowChain(pager, overflowRefPage(p!, s), overflowRefLength(p!, s));
        }
        i++;
        this.delta--;
      }
      const v = vals[j];
      if (v !== null) {
        this.#addValue(keys[j], v);
        this.delta++;
      }
      j++;
    }
    const out = new NodeList();
    packer.emit(pager, out);
    return out;
  }

  // The common case of ops that only replace inline values with values of the same length:
  // the cells keep their places, so the leaf is edited (in place when no durable tree uses it,
  // else in a copy) instead of being repacked cell by cell. Null when the ops need a repack.
  #editLeaf(page: number, lo: number, hi: number): NodeList | null {
    const pager = this.#pager;
    const keys = this.#keys;
    const vals = this.#vals;
    const p = pager.read(page, KIND_LEAF);
    const n = leafEntryCount(p);
    if (this.#cells.length < hi - lo) this.#cells = new Int32Array(2 * (hi - lo));
    const cells = this.#cells;
    let i = 0;
    for (let j = lo; j < hi; j++) {
      const v = vals[j];
      if (v === null) return null;
      i = leafLowerBound(p, n, keys[j], i);
      if (i === n || compareKeyAt(keys[j], p, PAGE_HEADER + KEY_BYTES * i) !== 0) return null;
      if (leafIsOverflow(p, n, i) || leafValueEnd(p, n, i) - leafValueStart(p, n, i) !== v.length) return null;
      cells[j - lo] = i;
    }
    return NodeList.single(
      this.#edit(page, p, (q) => {
        for (let j = lo; j < hi; j++) {
          const v = vals[j]!;
          const at = leafValueStart(q, n, cells[j - lo]);
          if (v.length <= 48) for (let x = 0; x < v.length; x++) q[at + x] = v[x];
          else q.set(v, at);
        }
      }),
      null,
      -1,
    );
  }

  // Applies `edit` to page `page` (whose image is `p`) in place when no durable tree uses it,
  // else to a copy under a new page number (the old page is freed). Returns the page number.
  #edit(page: number, p: Uint8Array, edit: (q: Uint8Array) => void): number {
    const pager = this.#pager;
    const own = pager.rewritable(page);
    let q: Uint8Array;
    if (own === null) q = pager.copyOf(p);
    else {
      q = own;
      // The page's own buffer may have been reloaded since `p` was read (`p` is still intact).
      if (q !== p) q.set(p);
    }
    edit(q);
    if (own !== null) return page;
    // A copy is handed to the pager only once edited: `put` may write it out at once.
    const no = pager.allocate();
    pager.put(no, q);
    pager.free(page);
    return no;
  }

  #addValue(key: Uint8Array, v: Uint8Array): void {
    if (v.length <= MAX_INLINE_VALUE) {
      this.#packer.add(key, 0, v, 0, v.length, false);
    } else {
      const ref = writeOverflow(this.#pager, v);
      this.#packer.add(key, 0, ref, 0, OVERFLOW_REF_SIZE, true);
    }
  }

  #branch(page: number, level: number, lo: number, hi: number): NodeList {
    const pager = this.#pager;
    const keys = this.#keys;
    const p = pager.read(page, KIND_BRANCH);
    const n = branchCount(p);
    // Route the ops to children by binary search on the separators in the page.
    const at: number[] = [];
    const subs: NodeList[] = [];
    let simple = true;
    let j = lo;
    while (j < hi) {
      const i = branchFind(p, keys[j]);
      let k = j + 1;
      if (i === n - 1) k = hi;
      else while (k < hi && compareSep(p, n, i + 1, keys[k]) < 0) k++;
      const sub = this.#node(branchChild(p, i), level - 1, j, k);
      if (sub.length !== 1 || (sub.fills[0] >= 0 && sub.fills[0] < MIN_FILL)) simple = false;
      at.push(i);
      subs.push(sub);
      j = k;
    }
    return this.#replaceChildren(page, p, n, level, at, subs, simple);
  }

  // Branch `page` (image `p`, `n` children) with children `at[x]` replaced by `subs[x]`;
  // `simple`: each sub is one page of healthy fill, so only child numbers change.
  #replaceChildren(page: number, p: Uint8Array, n: number, level: number, at: number[], subs: NodeList[], simple: boolean): NodeList {
    const pager = this.#pager;
    if (simple) {
      // Each touched child became one page of healthy fill: only child numbers change.
      let same = true;
      for (let x = 0; x < at.length; x++) if (subs[x].pages[0] !== branchChild(p, at[x])) same = false;
      if (same) return NodeList.single(page, null, -1);
      return NodeList.single(
        this.#edit(page, p, (q) => {
          for (let x = 0; x < at.length; x++) setBranchChild(q, at[x], subs[x].pages[0]);
        }),
        null,
        -1,
      );
    }
    const children: number[] = [];
    const seps: (Uint8Array | null)[] = [];
    decodeBranch(p, children, seps);
    pager.free(page);
    const next = new NodeList();
    let t = 0;
    for (let i = 0; i < n; i++) {
      if (t < at.length && at[t] === i) {
        const sub = subs[t++];
        for (let x = 0; x < sub.length; x++) {
          next.push(sub.pages[x], x === 0 ? seps[i] : sub.seps[x], sub.fills[x]);
        }
      } else {
        next.push(children[i], seps[i], -1);
      }
    }
    if (next.length === 0) return next;
    next.seps[0] = null;
    const fixed = this.#mergeUnderfull(next, level - 1);
    const out = new NodeList();
    packBranches(pager, fixed.pages, fixed.seps, out);
    return out;
  }

  // Merges each rebuilt child below MIN_FILL with a neighbour until none is left (or one child).
  #mergeUnderfull(list: NodeList, level: number): NodeList {
    let i = 0;
    while (i < list.length && list.length > 1) {
      const f = list.fills[i];
      if (f < 0 || f >= MIN_FILL) {
        i++;
        continue;
      }
      const a = i < list.length - 1 ? i : i - 1;
      const merged =
        level === 0 ? this.#mergeLeaves(list.pages[a], list.pages[a + 1]) : this.#mergeBranches(list.pages[a], list.pages[a + 1], list.seps[a + 1]!, level);
      const spliced = new NodeList();
      for (let x = 0; x < a; x++) spliced.push(list.pages[x], list.seps[x], list.fills[x]);
      for (let x = 0; x < merged.length; x++) {
        // A redistribution into two or more pages leaves each about half full: do not revisit.
        const fill = merged.length === 1 ? merged.fills[x] : -1;
        spliced.push(merged.pages[x], x === 0 ? list.seps[a] : merged.seps[x], fill);
      }
      for (let x = a + 2; x < list.length; x++) spliced.push(list.pages[x], list.seps[x], list.fills[x]);
      list = spliced;
      i = merged.length === 1 ? a : a + merged.length;
    }
    return list;
  }

  #mergeLeaves(a: number, b: number): NodeList {
    const pager = this.#pager;
    const packer = this.#packer;
    packer.reset();
    for (const no of [a, b]) {
      const p = pager.read(no, KIND_LEAF);
      const n = leafEntryCount(p);
      for (let i = 0; i < n; i++) packer.addFromLeaf(p, n, i);
      pager.free(no);
    }
    const out = new NodeList();
    packer.emit(pager, out);
    return out;
  }

  // Merges two sibling branches at `level`. A branch left with a single child could hide an
  // underfull child its parent was unable to merge; its fill is measured and merged here.
  #mergeBranches(a: number, b: number, sepB: Uint8Array, level: number): NodeList {
    const pager = this.#pager;
    const list = new NodeList();
    for (const no of [a, b]) {
      const children: number[] = [];
      const seps: (Uint8Array | null)[] = [];
      decodeBranch(pager.read(no, KIND_BRANCH), children, seps);
      for (let x = 0; x < children.length; x++) {
        const fill = children.length === 1 ? this.#used(children[x], level - 1) : -1;
        list.push(children[x], x === 0 && no === b ? sepB : seps[x], fill);
      }
      pager.free(no);
    }
    const fixed = this.#mergeUnderfull(list, level - 1);
    const out = new NodeList();
    packBranches(pager, fixed.pages, fixed.seps, out);
    return out;
  }

  #used(no: number, level: number): number {
    return level === 0 ? leafUsed(this.#pager.read(no, KIND_LEAF)) : branchUsed(this.#pager.read(no, KIND_BRANCH));
  }
}
