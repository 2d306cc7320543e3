// Leaf pages: sorted cells of (31-byte key, value).
//
// Layout after the 8-byte header (count = number of cells n):
//   keys        n × 31 bytes, sorted, at 8 + 31·i          (fixed stride: binary search in place)
//   value ends  n × u16 at 8 + 31·n + 2·i: end of value i relative to the heap; bit 15 set when
//               the cell holds an overflow reference instead of the value
//   heap        values back to back from 8 + 33·n
// An overflow reference is 8 bytes: u32 value length, u32 first overflow page.
import { KEY_BYTES, compareKeyAt, compareKeysAt } from "./key.ts";
import type { NodeList, PageSink } from "./node-list.ts";
import { KIND_LEAF, PAGE_HEADER, PAGE_SIZE, readU16, writeU16 } from "./page.ts";

/** Values up to this many bytes sit in the leaf; longer ones go to overflow pages. */
export const MAX_INLINE_VALUE = 1024;
/** Bytes of an overflow reference stored in place of a large value. */
export const OVERFLOW_REF_SIZE = 8;
/** Bytes a cell costs besides its value: the key and its value-end entry. */
export const CELL_OVERHEAD = KEY_BYTES + 2;
/** Usable bytes of a page after the header. */
export const BODY_SIZE = PAGE_SIZE - PAGE_HEADER;
/** A node using fewer bytes than this (header included) is merged with a sibling. */
export const MIN_FILL = PAGE_SIZE >> 1;
/** Splits aim at this fraction of a page, leaving room for later inserts. */
export const TARGET_FILL = 0.75;

const OVERFLOW_FLAG = 0x8000;

/** Number of cells in a leaf. */
export function leafEntryCount(p: Uint8Array): number {
  return p[6] | (p[7] << 8);
}

/** Offset of key `i`. */
export function leafKeyOffset(i: number): number {
  return PAGE_HEADER + KEY_BYTES * i;
}

/** Offset of the first value byte of cell `i` in a leaf of `n` cells. */
export function leafValueStart(p: Uint8Array, n: number, i: number): number {
  const heap = PAGE_HEADER + (KEY_BYTES + 2) * n;
  return i === 0 ? heap : heap + (readU16(p, PAGE_HEADER + KEY_BYTES * n + 2 * (i - 1)) & 0x7fff);
}

/** Offset just past the last value byte of cell `i` in a leaf of `n` cells. */
export function leafValueEnd(p: Uint8Array, n: number, i: number): number {
  const heap = PAGE_HEADER + (KEY_BYTES + 2) * n;
  return heap + (readU16(p, PAGE_HEADER + KEY_BYTES * n + 2 * i) & 0x7fff);
}

/** True when cell `i` holds an overflow reference. */
export function leafIsOverflow(p: Uint8Array, n: number, i: number): boolean {
  return (p[PAGE_HEADER + KEY_BYTES * n + 2 * i + 1] & 0x80) !== 0;
}

/** The first 4 bytes at b[off..] as an unsigned big-endian number. */
function lead(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** Index of the first cell at or after `from` whose key is >= `key` (n when none). */
export function leafLowerBound(p: Uint8Array, n: number, key: Uint8Array, from = 0): number {
  let lo = from;
  let hi = n;
  // Most keys are hashes, spread evenly: guess the place from the leading bytes of the first and
  // last keys, then gallop from the guess to a short bracket. A cold leaf costs a cache miss per
  // probe, and this probes ~3 lines of the key array where a plain binary search probes ~6.
  if (hi - lo > 8) {
    const a = lead(p, PAGE_HEADER + KEY_BYTES * lo);
    const b = lead(p, PAGE_HEADER + KEY_BYTES * (hi - 1));
    if (b > a) {
      const k = lead(key, 0);
      let g = k <= a ? lo : k >= b ? hi - 1 : lo + Math.floor(((k - a) / (b - a)) * (hi - 1 - lo));
      let s = 1;
      if (compareKeyAt(key, p, PAGE_HEADER + KEY_BYTES * g) > 0) {
        // key[g] < key: the answer is past g.
        while (g + s < hi && compareKeyAt(key, p, PAGE_HEADER + KEY_BYTES * (g + s)) > 0) {
          g += s;
          s <<= 1;
        }
        lo = g + 1;
        hi = Math.min(hi, g + s);
      } else {
        // key[g] >= key: the answer is g or before.
        while (g - s >= lo && compareKeyAt(key, p, PAGE_HEADER + KEY_BYTES * (g - s)) <= 0) {
          g -= s;
          s <<= 1;
        }
        lo = Math.max(lo, g - s + 1);
        hi = g;
      }
    }
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeyAt(key, p, PAGE_HEADER + KEY_BYTES * mid) > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the cell holding `key`, or -1. */
export function leafFind(p: Uint8Array, n: number, key: Uint8Array): number {
  const i = leafLowerBound(p, n, key);
  return i < n && compareKeyAt(key, p, PAGE_HEADER + KEY_BYTES * i) === 0 ? i : -1;
}

/** Bytes used by a leaf, header included. */
export function leafUsed(p: Uint8Array): number {
  const n = leafEntryCount(p);
  return n === 0 ? PAGE_HEADER : leafValueEnd(p, n, n - 1);
}

/**
 * Collects a sorted run of cells (by reference into their source buffers, no copies) and packs
 * them into as few leaves as the fill policy allows: one page when everything fits, otherwise
 * pages of even size near TARGET_FILL.
 */
export class LeafPacker {
  #n = 0;
  #cap = 0;
  #keyBufs: Uint8Array[] = [];
  #keyOffs = new Int32Array(0);
  #valBufs: Uint8Array[] = [];
  #valOffs = new Int32Array(0);
  #valLens = new Int32Array(0);
  #flags = new Uint8Array(0);
  #bytes = 0;

  /** Number of cells collected. */
  get count(): number {
    return this.#n;
  }

  /** Forgets all collected cells. */
  reset(): void {
    this.#n = 0;
    this.#bytes = 0;
    this.#keyBufs.length = 0;
    this.#valBufs.length = 0;
  }

  #grow(): void {
    const cap = Math.max(64, this.#cap * 2);
    const ko = new Int32Array(cap);
    ko.set(this.#keyOffs);
    this.#keyOffs = ko;
    const vo = new Int32Array(cap);
    vo.set(this.#valOffs);
    this.#valOffs = vo;
    const vl = new Int32Array(cap);
    vl.set(this.#valLens);
    this.#valLens = vl;
    const fl = new Uint8Array(cap);
    fl.set(this.#flags);
    this.#flags = fl;
    this.#cap = cap;
  }

  /** Adds a cell; `val` bytes [valOff, valOff+valLen) are stored as is (an overflow ref when `overflow`). */
  add(keyBuf: Uint8Array, keyOff: number, val: Uint8Array, valOff: number, valLen: number, overflow: boolean): void {
    const i = this.#n;
    if (i === this.#cap) this.#grow();
    this.#keyBufs[i] = keyBuf;
    this.#keyOffs[i] = keyOff;
    this.#valBufs[i] = val;
    this.#valOffs[i] = valOff;
    this.#valLens[i] = valLen;
    this.#flags[i] = overflow ? 1 : 0;
    this.#bytes += CELL_OVERHEAD + valLen;
    this.#n = i + 1;
  }

  /** Adds cell `i` of leaf `p` (of `n` cells) unchanged. */
  addFromLeaf(p: Uint8Array, n: number, i: number): void {
    const s = leafValueStart(p, n, i);
    this.add(p, PAGE_HEADER + KEY_BYTES * i, p, s, leafValueEnd(p, n, i) - s, leafIsOverflow(p, n, i));
  }

  /** Writes the collected cells into new leaves and appends them to `out`. */
  emit(sink: PageSink, out: NodeList): void {
    const n = this.#n;
    if (n === 0) return;
    let remaining = this.#bytes;
    let pages = remaining <= BODY_SIZE ? 1 : Math.ceil(remaining / (BODY_SIZE * TARGET_FILL));
    let i = 0;
    while (i < n) {
      const target = remaining / pages;
      let used = 0;
      let j = i;
      while (j < n) {
        const s = CELL_OVERHEAD + this.#valLens[j];
        if (j > i && (used + s > BODY_SIZE || (pages > 1 && used + s / 2 > target))) break;
        used += s;
        j++;
      }
      const no = sink.allocate();
      sink.put(no, this.#write(sink.page(KIND_LEAF), i, j));
      out.push(no, i === 0 ? null : this.#separator(i), PAGE_HEADER + used);
      remaining -= used;
      if (pages > 1) pages--;
      i = j;
    }
    // Drop the references to the source buffers: a packer that held a bulk load's 1M cells
    // would keep them all alive and make every full GC mark them.
    this.reset();
  }

  // Shortest prefix of key i that is still greater than key i-1: enough to route between them.
  #separator(i: number): Uint8Array {
    const a = this.#keyBufs[i - 1];
    const ao = this.#keyOffs[i - 1];
    const b = this.#keyBufs[i];
    const bo = this.#keyOffs[i];
    let d = 0;
    while (d < KEY_BYTES - 1 && a[ao + d] === b[bo + d]) d++;
    return b.slice(bo, bo + d + 1);
  }

  // Copies cells [a, b) into leaf page `p`. Cells that sit next to each other in one source
  // leaf (the common case: untouched neighbours of a change) are copied as whole runs.
  #write(p: Uint8Array, a: number, b: number): Uint8Array {
    const c = b - a;
    writeU16(p, 6, c);
    const ends = PAGE_HEADER + KEY_BYTES * c;
    const heap = ends + 2 * c;
    const keyBufs = this.#keyBufs;
    const keyOffs = this.#keyOffs;
    const valBufs = this.#valBufs;
    const valOffs = this.#valOffs;
    const valLens = this.#valLens;
    let end = 0;
    let i = a;
    while (i < b) {
      const kb = keyBufs[i];
      const vb = valBufs[i];
      let j = i + 1;
      while (j < b && keyBufs[j] === kb && keyOffs[j] === keyOffs[j - 1] + KEY_BYTES && valBufs[j] === vb && valOffs[j] === valOffs[j - 1] + valLens[j - 1])
        j++;
      const kd = PAGE_HEADER + KEY_BYTES * (i - a);
      const ko = keyOffs[i];
      if (j - i === 1) for (let x = 0; x < KEY_BYTES; x++) p[kd + x] = kb[ko + x];
      else p.set(kb.subarray(ko, ko + KEY_BYTES * (j - i)), kd);
      const vo = valOffs[i];
      const vlen = valOffs[j - 1] + valLens[j - 1] - vo;
      const vd = heap + end;
      if (vlen <= 48) for (let x = 0; x < vlen; x++) p[vd + x] = vb[vo + x];
      else p.set(vb.subarray(vo, vo + vlen), vd);
      for (let x = i; x < j; x++) {
        end += valLens[x];
        writeU16(p, ends + 2 * (x - a), end | (this.#flags[x] ? OVERFLOW_FLAG : 0));
      }
      i = j;
    }
    return p;
  }
}

/** True when the keys of cells `i` and `i+1` of leaf `p` are strictly ascending. */
export function leafOrdered(p: Uint8Array, i: number): boolean {
  return compareKeysAt(p, leafKeyOffset(i), p, leafKeyOffset(i + 1)) < 0;
}
