// Values longer than MAX_INLINE_VALUE live in a chain of overflow pages; the leaf keeps an
// 8-byte reference (length, first page). Overflow pages are immutable: moving a cell to a new
// leaf moves only the reference, and replacing or deleting the value frees the whole chain.
//
// Overflow page layout: 8-byte header (count = data bytes in this page), u32 next page (0 ends
// the chain) at 8, data from 12.
import { KvCorruptionError } from "./errors.ts";
import type { PageSink } from "./node-list.ts";
import { KIND_OVERFLOW, PAGE_SIZE, pageCount, readU32, writeU16, writeU32 } from "./page.ts";
import type { Pager } from "./pager.ts";

/** Data bytes per overflow page. */
export const OVERFLOW_DATA = PAGE_SIZE - 12;

/** Number of overflow pages a value of `len` bytes occupies. */
export function overflowPages(len: number): number {
  return Math.ceil(len / OVERFLOW_DATA);
}

/** Writes `value` to a fresh chain; returns its 8-byte reference. */
export function writeOverflow(sink: PageSink, value: Uint8Array): Uint8Array {
  const k = overflowPages(value.length);
  const nos = new Array<number>(k);
  for (let i = 0; i < k; i++) nos[i] = sink.allocate();
  for (let i = 0; i < k; i++) {
    const p = sink.page(KIND_OVERFLOW);
    const from = i * OVERFLOW_DATA;
    const chunk = value.subarray(from, Math.min(value.length, from + OVERFLOW_DATA));
    writeU16(p, 6, chunk.length);
    writeU32(p, 8, i + 1 < k ? nos[i + 1] : 0);
    p.set(chunk, 12);
    sink.put(nos[i], p);
  }
  const ref = new Uint8Array(8);
  writeU32(ref, 0, value.length);
  writeU32(ref, 4, nos[0]);
  return ref;
}

/** Value length stored in an overflow reference at `off`. */
export function overflowRefLength(buf: Uint8Array, off: number): number {
  return readU32(buf, off);
}

/** First page stored in an overflow reference at `off`. */
export function overflowRefPage(buf: Uint8Array, off: number): number {
  return readU32(buf, off + 4);
}

// Pages read ahead in one call when a chain continues into the adjacent page.
const RUN = 256;

/**
 * Visits the pages of the chain of a `len`-byte value starting at `first`, in order, checking
 * each page's byte count and the chain's length. Adjacent pages are read in runs.
 */
export function walkOverflow(pager: Pager, first: number, len: number, visit: (no: number, page: Uint8Array, index: number) => void): void {
  const k = overflowPages(len);
  const bad = (no: number, why: string): never => {
    throw new KvCorruptionError(pager.file.path, no * PAGE_SIZE, why);
  };
  let no = first;
  let i = 0;
  while (i < k) {
    if (no === 0) bad(first, `overflow chain ends after ${i} of ${k} pages`);
    const head = pager.readOnce(no, KIND_OVERFLOW);
    const start = no;
    const run = readU32(head, 8) === no + 1 && k - i > 1 ? pager.readRunUnverified(no + 1, Math.min(RUN, k - i - 1)) : null;
    const count = run === null ? 1 : run.pages.length + 1;
    for (let x = 0; x < count; x++) {
      const p = x === 0 ? head : run!.pages[x - 1];
      if (x > 0) pager.verify(start + x, p, KIND_OVERFLOW, run!.fromFile[x - 1] === 1);
      const want = Math.min(OVERFLOW_DATA, len - i * OVERFLOW_DATA);
      if (pageCount(p) !== want) bad(start + x, `overflow page holds ${pageCount(p)} bytes, expected ${want}`);
      visit(start + x, p, i);
      i++;
      no = readU32(p, 8);
      if (i === k) {
        if (no !== 0) bad(start + x, "overflow chain longer than its value");
        return;
      }
      if (no !== start + x + 1) break; // the run ends; continue from wherever the chain goes
    }
  }
}
