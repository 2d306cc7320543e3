// Merkle pages changed since the last checkpoint, and the pages of a checkpoint whose commit
// point is written but whose page WAL is held back for a reader: together with the page store,
// they answer "the committed image of page id" for the trie update and for readers.
import { PAGE_ID_BYTES, type PageStore, type PageWrite, pageIdKey, pageIdOf, recyclePageCopy } from "../merkle/index.ts";

/** One changed merkle page: its latest image, or null (deleted). */
export interface DirtyPage {
  readonly id: Uint8Array;
  readonly page: Uint8Array | null;
  /**
   * The image is only this store's: a copy its own `commit` had the update make. The next such
   * commit may change it in place instead of copying it again (most pages a commit writes were
   * written by an earlier one since the checkpoint). Images a caller's `PreparedCommit` brought
   * in may be shared with it, so they are never owned.
   */
  readonly owned: boolean;
}

/** Changed merkle pages by id, over the page store. */
export class DirtyPages {
  #dirty = new Map<number | string, DirtyPage>();
  /**
   * A checkpoint whose meta record is written but whose page WAL is not applied yet (a live
   * reader reads the checkpoint before it): its merkle pages, served from here meanwhile.
   */
  #unapplied: { seq: number; pages: Map<number | string, DirtyPage> } | null = null;

  constructor(private readonly pages: PageStore) {}

  /** Pages changed since the last checkpoint. */
  get size(): number {
    return this.#dirty.size;
  }

  /** The current image of page `id`: dirty, else as of the last checkpoint. */
  page(id: Uint8Array): Uint8Array | undefined {
    if (this.#dirty.size > 0) {
      const d = this.#dirty.get(pageIdKey(id));
      if (d !== undefined) return d.page ?? undefined;
    }
    return this.stored(id);
  }

  /** The page as of the last checkpoint: its unapplied WAL's, else the table's. */
  stored(id: Uint8Array): Uint8Array | undefined {
    if (this.#unapplied !== null) {
      const d = this.#unapplied.pages.get(pageIdKey(id));
      if (d !== undefined) return d.page ?? undefined;
    }
    return this.pages.get(id);
  }

  /** True when `page` is the owned dirty image of `id` (it may change in place). */
  ownedImage(id: Uint8Array, page: Uint8Array): boolean {
    const d = this.#dirty.get(pageIdKey(id));
    return d?.owned === true && d.page === page;
  }

  /**
   * Adds an update's page writes (`owned`: images no one else holds). An owned image replaced
   * by another goes back to the update's copies for reuse: nothing else refers to it (the
   * images a checkpoint writes are copies it took, and no commit is staged while one runs).
   */
  stage(writes: readonly PageWrite[], owned: boolean): void {
    for (const w of writes) {
      const key = pageIdKey(w.id);
      const was = this.#dirty.get(key);
      if (was?.owned && was.page !== null && was.page !== w.page) recyclePageCopy(was.page);
      // A page created since the checkpoint and deleted again is simply forgotten.
      if (w.page === null && this.stored(w.id) === undefined) this.#dirty.delete(key);
      else this.#dirty.set(key, { id: w.id, page: w.page, owned });
    }
  }

  /**
   * Bulk load: writes out (`PageStore.spill`) and forgets every changed page off the path of
   * `edge`, the last key loaded. A sorted load never changes those pages again: later keys
   * only meet the loaded ones on that path. Returns how many pages left memory.
   */
  spillOffPath(edge: Uint8Array): number {
    const onPath = new Uint8Array(PAGE_ID_BYTES);
    let n = 0;
    for (const [key, d] of this.#dirty) {
      if (d.page === null) continue;
      pageIdOf(edge, d.id[0], onPath);
      if (compareIds(d.id, onPath) === 0) continue;
      this.pages.spill(d.id, d.page);
      this.#dirty.delete(key);
      n++;
    }
    return n;
  }

  /** The changed pages, for a checkpoint (ids distinct). */
  list(): DirtyPage[] {
    return [...this.#dirty.values()];
  }

  /** The checkpoint is applied: nothing is dirty. */
  clear(): void {
    this.#dirty.clear();
  }

  /** The checkpoint `seq` is durable but held back for a reader: its pages are served from here. */
  hold(seq: number): void {
    this.#unapplied = { seq, pages: this.#dirty };
    this.#dirty = new Map();
  }

  /** The seq of the checkpoint held back, or null. */
  get heldSeq(): number | null {
    return this.#unapplied?.seq ?? null;
  }

  /** The held checkpoint was applied to the table. */
  release(): void {
    this.#unapplied = null;
  }
}

/** True when page `id` lies before the path of `edge`: a sorted load past `edge` never reads or changes it. */
export function beforePath(id: Uint8Array, edge: Uint8Array): boolean {
  return compareIds(id, pageIdOf(edge, id[0])) < 0;
}

// Orders ids of one depth by their prefix bits (byte 0, the depth, is equal).
function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 1; i < PAGE_ID_BYTES; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
