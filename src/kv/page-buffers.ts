// The pager's page buffers. New ones are carved from 128 KiB slabs: one ArrayBuffer per 32
// pages instead of one each keeps allocation and garbage-collection costs down, and pages built
// or read together tend to age and leave the cache together, so slabs are released whole. A
// buffer nobody can read any more (evicted from the cache, or the old image of a reused page)
// is recycled for the next page loaded or built.
import { PAGE_SIZE } from "./page.ts";

/** Pages per slab (also the pager's longest read-ahead run). */
export const SLAB_PAGES = 32;
// Recycled buffers kept beyond the cache budget (4 MiB). Recycling also keeps slabs whole: a
// slab is freed only when none of its pages is referenced.
const MAX_SPARE = 1024;

/** Slab-carved page buffers with recycling, held back while work is pinned. */
export class PageBuffers {
  #spare: Uint8Array[] = []; // buffers nobody can still read, recycled for new and loaded pages
  #pinned = 0; // while > 0, evicted buffers may still be in use: they wait in #deferred
  #deferred: Uint8Array[] = [];
  #slab = new Uint8Array(0);
  #slabAt = SLAB_PAGES;

  /** Runs `work` with evicted buffers kept from recycling until it ends (see `Pager.pinned`). */
  pinned<T>(work: () => T): T {
    this.#pinned++;
    try {
      return work();
    } finally {
      if (--this.#pinned === 0) {
        // Nothing holds the buffers evicted meanwhile any more.
        for (const p of this.#deferred) if (this.#spare.length < MAX_SPARE) this.#spare.push(p);
        this.#deferred.length = 0;
      }
    }
  }

  /** A buffer the cache evicted: recycled, or while work is pinned, once it ends. */
  evicted(p: Uint8Array): void {
    if (this.#pinned === 0) {
      if (this.#spare.length < MAX_SPARE) this.#spare.push(p);
    } else if (this.#deferred.length < MAX_SPARE) {
      this.#deferred.push(p);
    }
  }

  /** A buffer no one can read any more, even pinned work (a released version's image): recycled now. */
  release(p: Uint8Array): void {
    if (this.#spare.length < MAX_SPARE) this.#spare.push(p);
  }

  /** A page buffer, its content unspecified. */
  take(): Uint8Array {
    return this.#spare.pop() ?? this.#carve();
  }

  /** A zeroed page buffer of `kind`, recycled when possible. */
  page(kind: number): Uint8Array {
    const p = this.#spare.pop();
    if (p === undefined) {
      const q = this.#carve();
      q[4] = kind;
      return q;
    }
    p.fill(0);
    p[4] = kind;
    return p;
  }

  #carve(): Uint8Array {
    if (this.#slabAt === SLAB_PAGES) {
      this.#slab = new Uint8Array(SLAB_PAGES * PAGE_SIZE);
      this.#slabAt = 0;
    }
    const at = this.#slabAt++ * PAGE_SIZE;
    return this.#slab.subarray(at, at + PAGE_SIZE);
  }
}
