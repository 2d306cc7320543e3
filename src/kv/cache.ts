// A bounded cache of clean pages with CLOCK (second-chance) eviction.
//
// Pages are never modified once built, and an evicted page is simply dropped (never recycled),
// so a view handed out earlier stays valid for as long as its holder keeps it.
import { PAGE_SIZE } from "./page.ts";

/** Default cache budget: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

interface Slot {
  page: Uint8Array;
  used: boolean;
}

/** Clean pages by page number, bounded by a byte budget. */
export class PageCache {
  #slots = new Map<number, Slot>();
  #capacity: number;
  /** Lookups that found their page. */
  hits = 0;
  /** Lookups that did not. */
  misses = 0;

  /** Creates a cache holding at most `bytes / PAGE_SIZE` pages (at least 16). */
  constructor(bytes: number) {
    this.#capacity = Math.max(16, Math.floor(bytes / PAGE_SIZE));
  }

  /** Maximum number of pages held. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of pages held. */
  get size(): number {
    return this.#slots.size;
  }

  /** The cached page, or undefined. */
  get(no: number): Uint8Array | undefined {
    const s = this.#slots.get(no);
    if (s === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    s.used = true;
    return s.page;
  }

  /** Caches `page` under `no`, evicting a page not used recently when full. */
  set(no: number, page: Uint8Array): void {
    const s = this.#slots.get(no);
    if (s !== undefined) {
      s.page = page;
      return;
    }
    if (this.#slots.size >= this.#capacity) this.#evict();
    this.#slots.set(no, { page, used: false });
  }

  /** Forgets page `no`. */
  delete(no: number): void {
    this.#slots.delete(no);
  }

  /** Forgets every page. */
  clear(): void {
    this.#slots.clear();
  }

  // Map order is the clock: a used slot gets a second chance by moving to the end.
  #evict(): void {
    for (const [no, s] of this.#slots) {
      this.#slots.delete(no);
      if (!s.used) return;
      s.used = false;
      this.#slots.set(no, s);
    }
  }
}
