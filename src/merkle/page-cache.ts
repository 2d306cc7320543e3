// A bounded cache of page images by bucket number, with CLOCK (second-chance) eviction, plus
// a pinned set for the top page levels that every lookup path crosses.
//
// Images are never modified or recycled once cached: an evicted image is dropped, so a view
// handed out earlier stays valid for as long as its holder keeps it.
import { MERKLE_PAGE_BYTES } from "./page.ts";

/** Default cache budget: 128 MiB of pages. */
export const DEFAULT_PAGE_CACHE_BYTES = 128 * 1024 * 1024;

/** Page images by bucket, bounded by a byte budget; pinned pages do not count against it. */
export class MerklePageCache {
  // Map order is the clock; `used` marks pages touched since the hand last passed them.
  #pages = new Map<number, Uint8Array>();
  #used = new Set<number>();
  #pinned = new Map<number, Uint8Array>();
  #capacity: number;

  /** Creates a cache of at most `bytes / 4096` unpinned pages (at least 16). */
  constructor(bytes: number) {
    this.#capacity = Math.max(16, Math.floor(bytes / MERKLE_PAGE_BYTES));
  }

  /** Maximum number of unpinned pages held. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Unpinned pages held. */
  get size(): number {
    return this.#pages.size;
  }

  /** Pinned pages held. */
  get pinnedSize(): number {
    return this.#pinned.size;
  }

  /** The image cached for bucket `b`, or undefined. */
  get(b: number): Uint8Array | undefined {
    const p = this.#pinned.get(b);
    if (p !== undefined) return p;
    const q = this.#pages.get(b);
    if (q !== undefined) this.#used.add(b);
    return q;
  }

  /** True when bucket `b` is cached (does not count as a use). */
  has(b: number): boolean {
    return this.#pinned.has(b) || this.#pages.has(b);
  }

  /** Caches `page` as bucket `b`'s image; `pin` keeps it out of eviction. */
  set(b: number, page: Uint8Array, pin: boolean): void {
    if (pin) {
      this.#drop(b);
      this.#pinned.set(b, page);
      return;
    }
    this.#pinned.delete(b);
    if (this.#pages.has(b)) {
      this.#pages.set(b, page);
      return;
    }
    if (this.#pages.size >= this.#capacity) this.#evict();
    this.#pages.set(b, page);
  }

  /** Forgets bucket `b`. */
  delete(b: number): void {
    this.#pinned.delete(b);
    this.#drop(b);
  }

  /** Forgets everything. */
  clear(): void {
    this.#pinned.clear();
    this.#pages.clear();
    this.#used.clear();
  }

  /** Every cached (bucket, image, pinned) triple; for re-keying after the table is rebuilt. */
  *entries(): IterableIterator<[bucket: number, page: Uint8Array, pinned: boolean]> {
    for (const [b, p] of this.#pinned) yield [b, p, true];
    for (const [b, p] of this.#pages) yield [b, p, false];
  }

  #drop(b: number): void {
    this.#pages.delete(b);
    this.#used.delete(b);
  }

  #evict(): void {
    for (const [b, p] of this.#pages) {
      this.#pages.delete(b);
      if (!this.#used.delete(b)) return;
      this.#pages.set(b, p);
    }
  }
}
