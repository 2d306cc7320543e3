// Commits ahead of the store's memory (`Store.commitsAhead`): the commits made while a checkpoint
// runs in the background are durable in the redo log at once (its other file) but applied to
// memory only after the checkpoint is published, so that the checkpoint writes out a state no
// commit changes under it (docs/design.md, "Commits during a checkpoint"). After the
// publication they are applied in order, one per turn of the event loop (each costs what a
// commit's in-memory apply does; all of them in the publication's block stalled the loop for
// as many), and commits made meanwhile join them; a synchronous call that changes the store
// applies them all first.
import type { MerkleTop } from "../merkle/index.ts";
import type { PreparedCommit } from "./prepared.ts";

/** The commits of one store logged ahead of its memory, oldest first. */
export class CommitsAhead {
  #list: { seq: number; prepared: PreparedCommit }[] = [];
  /** A turn that applies the next one is scheduled. */
  #draining = false;

  constructor(
    /** Applies one commit to the store's memory. */
    private readonly apply: (seq: number, prepared: PreparedCommit) => void,
    /** False while they must stay held (a checkpoint runs) or the store is closed or failed. */
    private readonly applicable: () => boolean,
    /** A failed apply: memory and disk may disagree (the commits are in the redo log). */
    private readonly fail: (e: unknown) => void,
  ) {}

  get length(): number {
    return this.#list.length;
  }

  /** The newest one's seq and root, or undefined. */
  get last(): { seq: number; top: MerkleTop } | undefined {
    const h = this.#list.at(-1);
    return h === undefined ? undefined : { seq: h.seq, top: h.prepared.update.top };
  }

  push(seq: number, prepared: PreparedCommit): void {
    this.#list.push({ seq, prepared });
  }

  /** Applies them one per turn from the next one on (the checkpoint was published). */
  drain(): void {
    if (this.#list.length === 0 || this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      this.#draining = false;
      // `applyAll` may have applied them all meanwhile.
      if (this.#list.length === 0 || !this.applicable()) return;
      try {
        this.#applyNext();
      } catch (e) {
        this.fail(e);
        return;
      }
      this.drain();
    });
  }

  /** Applies them all now (before a synchronous change of the store). */
  applyAll(): void {
    while (this.#list.length > 0) this.#applyNext();
  }

  #applyNext(): void {
    const { seq, prepared } = this.#list[0];
    this.apply(seq, prepared);
    this.#list.shift();
  }
}
