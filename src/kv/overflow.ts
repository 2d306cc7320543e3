// Values longer than MAX_INLINE_VALUE live in a chain of overflow pages; the leaf keeps an
// 8-byte reference (length, first page). Overflow pages are immutable: moving a cell to a new
// leaf moves only the reference, and replacing or deleting the value frees the whole chain.
//
// Overflow page layout: 8-byte header (count = data bytes in this page), u32 next page (0 ends
// the chain) at 8, data from 12.
import type { PageSink } from "./node-list.ts";
import { KIND_OVERFLOW, PAGE_SIZE, newPage, readU32, writeU16, writeU32 } from "./page.ts";

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
    const p = newPage(KIND_OVERFLOW);
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
