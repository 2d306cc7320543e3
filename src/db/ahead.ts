// Commits ahead of the store's memory: while a checkpoint is in flight, the store makes a
// commit durable in its redo log at once but applies it to its memory only when the checkpoint
// is published (store.ts, `commitPreparedAsync`), so that the checkpoint writes out a state no
// commit changes under it. Meanwhile the database's current version is the store plus those
// commits, read as a forward delta: their changes and page writes composed, newest winning,
// over the store. Once the store has applied them (it applies all it held back at once), the
// current version is the store again.
import type { Change, MerkleTop, UpdateResult } from "../merkle/index.ts";
import { type DeltaCounters, DeltaState, mergeChanges, type PageMap, pageMap, type StateView } from "./state.ts";

/**
 * Most commits a checkpoint in flight takes beside it; the next one waits for the checkpoint.
 * They are applied to the store's memory in one block when it is published, so this bounds
 * that block and the forward delta that reads go through.
 */
export const MAX_AHEAD = 32;

/** The commits the store holds back, oldest first, and the current version over them. */
export class AheadOfStore {
  #seqs: number[] = [];
  #view: DeltaState | null = null;

  constructor(
    /** The seq the store's memory is at. */
    private readonly applied: () => number,
    /** The store's memory, read directly. */
    private readonly store: StateView,
    private readonly counters: DeltaCounters,
  ) {}

  /** The current version when the store is behind it, else null. Resolve at every use. */
  view(): StateView | null {
    if (this.#seqs.length === 0) return null;
    if (this.#seqs[this.#seqs.length - 1] <= this.applied()) {
      this.#seqs = [];
      this.#view = null;
      return null;
    }
    return this.#view;
  }

  /**
   * After the store's write of commit `seq` (`changes`, `update`): kept while the store holds
   * it back. The previous view stays as it was for whoever still holds it.
   */
  note(seq: number, changes: readonly Change[], update: UpdateResult): void {
    if (seq <= this.applied()) return;
    const prev = this.view();
    const pages: PageMap = new Map(prev === null ? [] : (prev as DeltaState).pageWrites);
    for (const [k, p] of pageMap(update.writes)) pages.set(k, p);
    const merged = prev === null ? changes : mergeChanges((prev as DeltaState).changes, changes);
    this.#seqs.push(seq);
    this.#view = new DeltaState(() => this.store, merged, update.top as MerkleTop, pages, this.counters);
  }
}
