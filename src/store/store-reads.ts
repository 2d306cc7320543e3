// The reads of a store's committed state: values by key, by range and by prefix, merkle pages,
// and reads ahead on the thread pool. `Store` (store.ts) extends it with the commit path, the
// bulk load and the lifecycle, and says when the handle is usable (`live`, `usable`).
import type { KvTree, RangeOptions } from "../kv/index.ts";
import type { EntryVisitor, PageStore } from "../merkle/index.ts";
import { checkPageId, checkPrefixBits, checkScanLimit, checkScanRange, checkStoreKey } from "./args.ts";
import type { DirtyPages } from "./dirty-pages.ts";
import { StoreError } from "./errors.ts";

/** What a store answers without changing anything. */
export abstract class StoreReads {
  readonly #dirty: DirtyPages;

  protected constructor(
    readonly path: string,
    protected readonly values: KvTree,
    protected readonly pages: PageStore,
    dirty: DirtyPages,
  ) {
    this.#dirty = dirty;
  }

  // The protected members are fields, not methods: the prototype holds the public API only.

  /** Throws unless the handle is open and sound (`CLOSED`, `FAILED`). */
  protected abstract readonly live: () => void;

  /** False once the handle is closed or failed. */
  protected abstract readonly usable: () => boolean;

  /** Number of entries. */
  get size(): number {
    return this.values.stats().entries;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.live();
    checkStoreKey(key, "key");
    return this.values.get(key);
  }

  /**
   * Entries with start <= key < end (bounds optional) in key order (sync). A scan belongs to the
   * committed state it started on: it throws if a commit happens before it ends.
   */
  entries(range: RangeOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    // Checked at the call, not at the first `next()`.
    this.live();
    checkScanRange(range, "range");
    return this.#entries(range);
  }

  *#entries(range: RangeOptions): Generator<[Uint8Array, Uint8Array]> {
    for (const [k, v] of this.values.entries(range)) yield [k, v];
  }

  /** The first key whose first `bits` bits equal those of `key`, or undefined. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    this.live();
    checkStoreKey(key, "key");
    checkPrefixBits(bits, "bits");
    return this.values.seekPrefixKey(key, bits);
  }

  /**
   * Passes every entry whose key shares `key`'s first `bits` bits to `visit`, in key order, as
   * views valid during the call (see `EntryVisitor`), at most `limit` of them; the cheapest way
   * to read a small subtrie.
   */
  scanPrefix(key: Uint8Array, bits: number, visit: EntryVisitor, limit = Infinity): void {
    this.live();
    checkStoreKey(key, "key");
    checkPrefixBits(bits, "bits");
    if (typeof visit !== "function") throw new StoreError("BAD_ARGUMENT", "visit must be a function");
    checkScanLimit(limit, "limit");
    this.values.scanPrefix(key, bits, visit, limit);
  }

  /**
   * The committed merkle page `id`, or undefined. The image is shared: do not modify it, and
   * copy what you need before the next commit, which may change it in place.
   */
  page(id: Uint8Array): Uint8Array | undefined {
    this.live();
    checkPageId(id, "id");
    return this.committedPage(id);
  }

  /** `page` without the checks: dirty pages first, then the page store's. */
  protected readonly committedPage = (id: Uint8Array): Uint8Array | undefined => {
    // Pages a bulk load spilled are in no table until its checkpoint is applied (page-spill.ts).
    if (this.pages.spilled > 0) {
      throw new StoreError("BAD_ARGUMENT", `store ${this.path}: a bulk load's pages are not in the table yet; read them once the load has committed`);
    }
    return this.#dirty.page(id);
  };

  /**
   * Reads the value pages and merkle pages on the paths to `keys` (31-byte keys, best sorted)
   * that are not in memory on the thread pool, so that a trie update or lookups of those keys
   * that follow find them cached instead of blocking the thread on the file. Resolves to the
   * pages read. Best effort: a failed read is not reported here (the synchronous read that
   * meets the page reads it again, and reports a failure), and a closed or failed store reads
   * nothing.
   */
  async readAhead(keys: readonly Uint8Array[]): Promise<number> {
    if (!Array.isArray(keys)) throw new StoreError("BAD_ARGUMENT", "keys must be an array of 31-byte keys");
    for (let i = 0; i < keys.length; i++) checkStoreKey(keys[i], `keys[${i}]`);
    if (!this.usable()) return 0;
    // The page walk sets each key's span (where its path of pages ends) before it awaits: the
    // value tree reads the leaves an update's scan of that prefix reads.
    const spans: number[] = new Array(keys.length).fill(-1);
    // Both halves are best effort: neither may reject (a probe of a damaged table throws).
    const pages = this.pages.readAhead(keys, spans).catch(() => 0);
    const values = this.values.readAhead(keys, spans).catch(() => 0);
    return (await pages) + (await values);
  }

  /** The greatest key in the store, or undefined when it is empty (one prefix probe per bit). */
  lastKey(): Uint8Array | undefined {
    this.live();
    if (this.values.stats().entries === 0) return undefined;
    const key = new Uint8Array(31);
    for (let d = 0; d < 248; d++) {
      key[d >> 3] |= 0x80 >> (d & 7);
      if (this.values.seekPrefixKey(key, d + 1) === undefined) key[d >> 3] &= ~(0x80 >> (d & 7));
    }
    return key;
  }
}
