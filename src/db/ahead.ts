// Commits ahead of the store's memory: the store makes a database commit durable in its redo
// log and applies it to its memory after, in slices (store.ts, `commitPreparedAsync` with
// `applyBehind`); while a checkpoint is in flight, only once the checkpoint is published, so
// that the checkpoint writes out a state no commit changes under it. Meanwhile the database's
// current version is the store plus those commits, read as a forward delta: their changes and
// page writes composed, newest winning, over the store. Once the store has applied them (in
// slices, or all at once before a synchronous change), the current version is the store again.
import type { Change, MerkleTop, UpdateResult } from "../merkle/index.ts";
import { type DeltaCounters, DeltaState, mergeChanges, type PageMap, pageMap, type StateView } from "./state.ts";

/**
 * Most commits a checkpoint in flight takes beside it; the next one waits for the checkpoint.
 * This bounds the forward delta that reads go through, and the applies owed after the
 * publication.
 */
export const MAX_AHEAD = 32;

/** The current version over the commits the store holds back. */
export class AheadOfStore {
  /** The newest commit noted, and the version it made. */
  #seq = 0;
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
    return this.#current();
  }

  #current(): DeltaState | null {
    if (this.#view !== null && this.#seq <= this.applied()) this.#view = null;
    return this.#view;
  }

  /**
   * After the store's write of commit `seq` (`changes`, `update`): kept while the store holds
   * it back. The previous view stays as it was for whoever still holds it.
   */
  note(seq: number, changes: readonly Change[], update: UpdateResult): void {
    if (seq <= this.applied()) return;
    const prev = this.#current();
    const pages: PageMap = new Map(prev?.pageWrites ?? []);
    for (const [k, p] of pageMap(update.writes)) pages.set(k, p);
    const merged = prev === null ? changes : mergeChanges(prev.changes, changes);
    this.#seq = seq;
    this.#view = new DeltaState(() => this.store, merged, update.top as MerkleTop, pages, this.counters);
  }
}
