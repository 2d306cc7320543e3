// A page in an update's working set: the image read from the reader, copied into the update's
// own buffer before its first write (images are shared with caches and other states) unless the
// reader grants it in place. Copies come from slabs of pages allocated together.
import type { PageReader, UpdateStats } from "./types.ts";
import { MERKLE_PAGE_BYTES } from "./page.ts";

// Page copies are carved from 64 KiB slabs: one ArrayBuffer per 16 pages instead of one each
// makes a copy ~4x cheaper. A slab lives while any of its pages does; the pages an update
// writes are kept together (until the next checkpoint, or with the session that made them).
const COPY_SLAB_PAGES = 16;
let copySlab = new Uint8Array(0);
let copySlabAt = COPY_SLAB_PAGES;
/**
 * Page copies given back (`recyclePageCopy`), taken before new slab space: at 1M keys a
 * 1000-change update copies ~1000 pages, 4 MiB of fresh ArrayBuffers a commit, which kept the
 * collector busy (external memory) and cost ~3 us a page to allocate.
 */
const free: Uint8Array[] = [];
// 16 MiB: the page set at 1M to 16M keys is ~4,200 pages.
const MAX_FREE = 4096;

/** A page-sized buffer, word aligned; zeroed when `zero`, else of any content. */
function pageBuffer(zero: boolean): Uint8Array {
  const reused = free.pop();
  if (reused !== undefined) {
    if (zero) reused.fill(0);
    return reused;
  }
  if (copySlabAt === COPY_SLAB_PAGES) {
    copySlab = new Uint8Array(COPY_SLAB_PAGES * MERKLE_PAGE_BYTES);
    copySlabAt = 0;
  }
  const at = copySlabAt++ * MERKLE_PAGE_BYTES;
  return copySlab.subarray(at, at + MERKLE_PAGE_BYTES);
}

/**
 * Gives back a page image for a later update to write into: the caller must hold the only
 * reference to it (the store, for an owned image a newer one replaced). A page-sized, word
 * aligned buffer, whoever made it. (Checking its origin, a WeakSet of the slabs, cost a cache
 * miss or two a page on the commit's path.)
 */
export function recyclePageCopy(page: Uint8Array): void {
  if (free.length < MAX_FREE && page.length === MERKLE_PAGE_BYTES && (page.byteOffset & 3) === 0) free.push(page);
}

/** Page copies waiting for reuse (for tests). */
export function recycledPageCopies(): number {
  return free.length;
}

/** A page in the update's working set; copied before the first write (sources are shared). */
export class PageRef {
  /** Written by this update. */
  dirty = false;
  /** Dropped by elision: deleted if it existed, never written. */
  pruned = false;
  /** The buffer is this update's own copy. */
  #owned = false;
  /** The page as 32-bit words (node names are copied a word at a time). */
  words: Int32Array | undefined;
  page: Uint8Array | undefined;
  constructor(
    readonly id: Uint8Array,
    page: Uint8Array | undefined,
    readonly existed: boolean,
    private readonly reader: PageReader,
  ) {
    // A view at an unaligned offset cannot be seen as words: work on a copy.
    if (page !== undefined && (page.byteOffset & 3) !== 0) {
      page = page.slice();
      this.#owned = true;
    }
    this.page = page;
    this.words = page && new Int32Array(page.buffer, page.byteOffset, MERKLE_PAGE_BYTES >> 2);
  }

  /** This page's buffer, made the update's own first (a copy, unless the reader grants it in place). */
  writable(stats: UpdateStats): Uint8Array {
    if (!this.#owned && this.page !== undefined && this.reader.inPlace?.(this.id, this.page)) this.#owned = true;
    if (!this.#owned) {
      stats.pagesCopied++;
      const page = pageBuffer(this.page === undefined);
      if (this.page) page.set(this.page);
      this.page = page;
      this.words = new Int32Array(page.buffer, page.byteOffset, MERKLE_PAGE_BYTES >> 2);
      this.#owned = true;
    }
    this.dirty = true;
    return this.page as Uint8Array;
  }
}
