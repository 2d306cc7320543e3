// Branch pages: child page numbers and the separators between them.
//
// Layout after the 8-byte header (count = number of children n):
//   children    n × u32 at 8 + 4·i
//   sep ends    (n-1) × u16 at 8 + 4·n + 2·(i-1) for separators i = 1..n-1, relative to the heap
//   heap        separator bytes back to back from 8 + 6·n - 2
// Child i holds the keys k with sep[i] <= k < sep[i+1]. Separators are the shortest prefixes
// that still divide the neighbouring keys (a prefix sorts before every key that extends it),
// so they are usually 1-4 bytes and a page fans out to hundreds of children.
import { KEY_BYTES } from "./key.ts";
import { BODY_SIZE, TARGET_FILL } from "./leaf.ts";
import type { NodeList, PageSink } from "./node-list.ts";
import { KIND_BRANCH, PAGE_HEADER, readU16, readU32, writeU16, writeU32 } from "./page.ts";

/** Number of children of a branch. */
export function branchCount(p: Uint8Array): number {
  return p[6] | (p[7] << 8);
}

/** Page number of child `i`. */
export function branchChild(p: Uint8Array, i: number): number {
  const o = PAGE_HEADER + 4 * i;
  return (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0;
}

/** Compares `key` with separator i (1 <= i < n) of branch `p` (of n children): negative when key < sep. */
export function compareSep(p: Uint8Array, n: number, i: number, key: Uint8Array): number {
  const ends = PAGE_HEADER + 4 * n;
  const heap = ends + 2 * (n - 1);
  const start = heap + (i === 1 ? 0 : readU16(p, ends + 2 * (i - 2)));
  const len = heap + readU16(p, ends + 2 * (i - 1)) - start;
  for (let x = 0; x < len; x++) {
    const d = key[x] - p[start + x];
    if (d !== 0) return d;
  }
  return KEY_BYTES - len;
}

/** Index of the child whose key range holds `key`. */
export function branchFind(p: Uint8Array, key: Uint8Array): number {
  const n = branchCount(p);
  let lo = 1;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSep(p, n, mid, key) < 0) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/** Sets the page number of child `i`. */
export function setBranchChild(p: Uint8Array, i: number, no: number): void {
  writeU32(p, PAGE_HEADER + 4 * i, no);
}

/** Copy of separator `i` (1 <= i < n). */
export function branchSep(p: Uint8Array, i: number): Uint8Array {
  const n = branchCount(p);
  const ends = PAGE_HEADER + 4 * n;
  const heap = ends + 2 * (n - 1);
  const start = heap + (i === 1 ? 0 : readU16(p, ends + 2 * (i - 2)));
  return p.slice(start, heap + readU16(p, ends + 2 * (i - 1)));
}

/** Bytes used by a branch, header included. */
export function branchUsed(p: Uint8Array): number {
  const n = branchCount(p);
  const ends = PAGE_HEADER + 4 * n;
  return n <= 1 ? ends : ends + 2 * (n - 1) + readU16(p, ends + 2 * (n - 2));
}

/** Decodes a branch into `children` and `seps` (seps[0] is `null`), appending to both. */
export function decodeBranch(p: Uint8Array, children: number[], seps: (Uint8Array | null)[]): void {
  const n = branchCount(p);
  for (let i = 0; i < n; i++) {
    children.push(readU32(p, PAGE_HEADER + 4 * i));
    seps.push(i === 0 ? null : branchSep(p, i));
  }
}

/** Compares a key with a separator: negative when key < sep. */
export function compareKeySep(key: Uint8Array, sep: Uint8Array): number {
  for (let x = 0; x < sep.length; x++) {
    const d = key[x] - sep[x];
    if (d !== 0) return d;
  }
  return KEY_BYTES - sep.length;
}

/**
 * Packs a run of children into as few branches as the fill policy allows and appends them to
 * `out`. The separator of each page's first child moves up (it becomes that page's separator
 * in `out`); seps[0] is ignored.
 */
export function packBranches(sink: PageSink, children: number[], seps: (Uint8Array | null)[], out: NodeList): void {
  const n = children.length;
  if (n === 0) return;
  let remaining = 4;
  for (let i = 1; i < n; i++) remaining += 6 + seps[i]!.length;
  let pages = remaining <= BODY_SIZE ? 1 : Math.ceil(remaining / (BODY_SIZE * TARGET_FILL));
  let i = 0;
  while (i < n) {
    const target = remaining / pages;
    let used = 4;
    let j = i + 1;
    while (j < n) {
      const s = 6 + seps[j]!.length;
      if (used + s > BODY_SIZE || (pages > 1 && used + s / 2 > target)) break;
      used += s;
      j++;
    }
    const no = sink.allocate();
    sink.put(no, writeBranch(sink.page(KIND_BRANCH), children, seps, i, j));
    out.push(no, i === 0 ? null : seps[i], PAGE_HEADER + used);
    // The separator that moved up no longer costs bytes below.
    remaining -= used + (j < n ? 2 + seps[j]!.length : 0);
    if (pages > 1) pages--;
    i = j;
  }
}

function writeBranch(p: Uint8Array, children: number[], seps: (Uint8Array | null)[], a: number, b: number): Uint8Array {
  const c = b - a;
  writeU16(p, 6, c);
  const ends = PAGE_HEADER + 4 * c;
  const heap = ends + 2 * (c - 1);
  let end = 0;
  for (let i = a; i < b; i++) {
    writeU32(p, PAGE_HEADER + 4 * (i - a), children[i]);
    if (i === a) continue;
    const s = seps[i]!;
    p.set(s, heap + end);
    end += s.length;
    writeU16(p, ends + 2 * (i - a - 1), end);
  }
  return p;
}
