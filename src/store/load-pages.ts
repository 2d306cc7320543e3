// A bulk load's merkle pages: the load holds at most a budget of changed pages and, past it,
// spills those of finished subtries (off the path to its last key) to the page store; from
// then on no read of the load may fall behind that path, where the spilled pages are.
import { DEFAULT_PAGE_CACHE_BYTES, MERKLE_PAGE_BYTES, type PageReader } from "../merkle/index.ts";
import { beforePath, type DirtyPages } from "./dirty-pages.ts";
import { StoreError } from "./errors.ts";

/**
 * Most bytes of changed merkle pages a bulk load holds (less when the merkle cache is smaller).
 * Spilling more often costs a pass over this many pages; holding more only takes memory (the
 * load reads none of them again), and the checkpoint's copies of them more.
 */
const LOAD_PAGE_BYTES = 16 * 2 ** 20;

/** The page budget and spill edge of a store's bulk loads (one at a time). */
export class LoadPages {
  /** Bytes of changed merkle pages a load holds before it spills the finished ones. */
  readonly #budget: number;
  /** The last key of the load's previous chunk, once the load has spilled pages (null: none spilled). */
  #edge: Uint8Array | null = null;
  /** The load's page reads: none may fall before the last key's path, where spilled pages are. */
  readonly reader: PageReader = {
    get: (id: Uint8Array) => {
      if (this.#edge !== null && beforePath(id, this.#edge)) {
        throw new StoreError("FAILED", `store ${this.path}: the bulk load read a finished page (depth ${id[0]}) behind its last key`);
      }
      return this.dirty.page(id);
    },
    inPlace: () => false,
  };

  constructor(
    readonly path: string,
    private readonly dirty: DirtyPages,
    merkleCacheBytes: number | undefined,
  ) {
    this.#budget = Math.min(merkleCacheBytes ?? DEFAULT_PAGE_CACHE_BYTES, LOAD_PAGE_BYTES);
  }

  /** After a chunk whose last key is `edge` joined the dirty pages: spills past the budget. */
  applied(edge: Uint8Array): void {
    // Once a load has spilled, every later chunk moves the edge.
    if ((this.dirty.size * MERKLE_PAGE_BYTES > this.#budget && this.dirty.spillOffPath(edge) > 0) || this.#edge !== null) this.#edge = edge;
  }

  /**
   * Before the load's checkpoint: a load that spilled spills the rest off its path too (the
   * checkpoint copies the pages it is handed, which would hold the budget twice).
   */
  beforeSave(): void {
    if (this.#edge !== null) this.dirty.spillOffPath(this.#edge);
  }

  /** A load begins or ends: nothing spilled. */
  reset(): void {
    this.#edge = null;
  }
}
