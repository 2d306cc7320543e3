// A bounded cache of clean pages with CLOCK (second-chance) eviction.
//
// Page numbers are dense (all below the file's high-water mark), so the page → slot index is a
// flat Int32Array rather than a hash map: a hit is two array loads. `set` hands the evicted
// buffer back so the pager may recycle it (see Pager for when that is safe).
import { PAGE_SIZE } from "./page.ts";

/** Default cache budget: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

/** Clean pages by page number, bounded by a byte budget. */
export class ValuePageCache {
  #capacity: number;
  #index = new Int32Array(1024).fill(-1); // page number → slot, -1 when absent
  #pages: (Uint8Array | null)[] = [];
  #owner: Int32Array; // slot → page number
  #used: Uint8Array; // slot → referenced since the hand last passed
  #hand = 0;
  #size = 0;
  /** Lookups that found their page. */
  hits = 0;
  /** Lookups that did not. */
  misses = 0;

  /** Creates a cache holding at most `bytes / PAGE_SIZE` pages (at least 16). */
  constructor(bytes: number) {
    this.#capacity = Math.max(16, Math.floor(bytes / PAGE_SIZE));
    this.#owner = new Int32Array(Math.min(this.#capacity, 1024)).fill(-1);
    this.#used = new Uint8Array(this.#owner.length);
  }

  /** Maximum number of pages held. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of pages held. */
  get size(): number {
    return this.#size;
  }

  /** The cached page, or undefined. */
  get(no: number): Uint8Array | undefined {
    const slot = no < this.#index.length ? this.#index[no] : -1;
    if (slot < 0) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#used[slot] = 1;
    return this.#pages[slot]!;
  }

  /** The cached page, or undefined, without counting a hit or a miss or marking it used. */
  peek(no: number): Uint8Array | undefined {
    const slot = no < this.#index.length ? this.#index[no] : -1;
    return slot < 0 ? undefined : this.#pages[slot]!;
  }

  /** Caches `page` under `no`, evicting a page not used recently when full; returns its buffer. */
  set(no: number, page: Uint8Array): Uint8Array | undefined {
    if (no >= this.#index.length) {
      let n = this.#index.length;
      while (n <= no) n *= 2;
      const grown = new Int32Array(n).fill(-1);
      grown.set(this.#index);
      this.#index = grown;
    }
    const had = this.#index[no];
    if (had >= 0) {
      this.#pages[had] = page;
      return undefined;
    }
    let slot: number;
    let evicted: Uint8Array | undefined;
    if (this.#size < this.#capacity) {
      slot = this.#size++;
      if (slot >= this.#owner.length) this.#growSlots();
    } else {
      slot = this.#victim();
      this.#index[this.#owner[slot]] = -1;
      evicted = this.#pages[slot]!;
    }
    this.#pages[slot] = page;
    this.#owner[slot] = no;
    this.#used[slot] = 0;
    this.#index[no] = slot;
    return evicted;
  }

  /** Forgets page `no`. */
  delete(no: number): void {
    this.take(no);
  }

  /** Forgets page `no` and returns its buffer, if it was cached. */
  take(no: number): Uint8Array | undefined {
    const slot = no < this.#index.length ? this.#index[no] : -1;
    if (slot < 0) return undefined;
    const page = this.#pages[slot]!;
    this.#index[no] = -1;
    // Move the last slot into the hole so slots stay dense.
    const last = --this.#size;
    if (slot !== last) {
      const moved = this.#owner[last];
      this.#pages[slot] = this.#pages[last];
      this.#owner[slot] = moved;
      this.#used[slot] = this.#used[last];
      this.#index[moved] = slot;
    }
    this.#pages[last] = null;
    this.#owner[last] = -1;
    if (this.#hand >= this.#size) this.#hand = 0;
    return page;
  }

  /** Forgets every page. */
  clear(): void {
    this.#index.fill(-1);
    this.#pages = [];
    this.#owner.fill(-1);
    this.#size = 0;
    this.#hand = 0;
  }

  #growSlots(): void {
    const n = Math.min(this.#capacity, this.#owner.length * 2);
    const owner = new Int32Array(n).fill(-1);
    owner.set(this.#owner);
    const used = new Uint8Array(n);
    used.set(this.#used);
    this.#owner = owner;
    this.#used = used;
  }

  // The clock hand clears reference bits until it finds a slot not used since its last pass.
  #victim(): number {
    for (;;) {
      const s = this.#hand;
      this.#hand = s + 1 === this.#size ? 0 : s + 1;
      if (this.#used[s] === 0) return s;
      this.#used[s] = 0;
    }
  }
}
