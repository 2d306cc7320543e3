// The free list's pages: a chain of KIND_FREELIST pages, each holding its count (u16 at 6), the
// next page of the chain (u32 at 8, 0 for the last) and up to FREE_PER_PAGE page numbers (u32
// each from 12). The pager writes the chain at each commit and reads it at open (pager.ts).
import { FIRST_DATA_PAGE, PAGE_SIZE, pageCount, readU32, writeU16, writeU32 } from "./page.ts";

/** Page numbers one free-list page holds. */
export const FREE_PER_PAGE = (PAGE_SIZE - 12) >> 2;

/** Fills free-list page `p` with the page numbers `part`; `next` is the chain's next page (0: none). */
export function fillFreeListPage(p: Uint8Array, part: readonly number[], next: number): void {
  writeU16(p, 6, part.length);
  writeU32(p, 8, next);
  for (let x = 0; x < part.length; x++) writeU32(p, 12 + 4 * x, part[x]);
}

/**
 * Reads the free list of `count` pages whose chain starts at `head` (0: empty) through `read`;
 * entries must lie in [FIRST_DATA_PAGE, highWater). Damage goes to `corrupt`, with the page.
 */
export function readFreeList(
  head: number,
  count: number,
  highWater: number,
  read: (no: number) => Uint8Array,
  corrupt: (no: number, detail: string) => never,
): { list: number[]; chain: number[] } {
  const list: number[] = [];
  const chain: number[] = [];
  let no = head;
  while (no !== 0) {
    if (chain.length > count) corrupt(no, "free-list chain longer than its count");
    const p = read(no);
    chain.push(no);
    const n = pageCount(p);
    for (let x = 0; x < n; x++) {
      const free = readU32(p, 12 + 4 * x);
      if (free < FIRST_DATA_PAGE || free >= highWater) {
        corrupt(no, `free-list entry ${free} out of range`);
      }
      list.push(free);
    }
    no = readU32(p, 8);
  }
  if (list.length !== count) {
    corrupt(head, `free list holds ${list.length} pages, meta says ${count}`);
  }
  return { list, chain };
}
