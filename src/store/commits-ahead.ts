// Commits ahead of the store's memory (`Store.commitsAhead`): durable in the redo log, applied
// to memory later, while the database reads the current version through their forward delta.
// Two cases make them:
// - A checkpoint runs in the background: the commits made meanwhile are held back until it is
//   published, so that the checkpoint writes out a state no commit changes under it
//   (docs/design.md, "Commits during a checkpoint").
// - A commit asked to be applied behind (`commitPreparedAsync(p, { applyBehind: true })`): its
//   in-memory apply (the value tree's edits, the page writes staged) is 5-15 ms for 1000 changes
//   at 1M keys, which in the block that resolved the commit stalled the event loop for all of it.
// They are applied in order in slices of about the checkpoint's slice time, a turn of the event
// loop between two slices; a commit's changes go to the value tree a chunk at a time and its
// page writes, root and seq with its last chunk, so the store's seq (and with it the database's
// choice of the forward delta for reads) moves only once a commit is whole in memory. Reads of
// a half-applied value tree through the delta are exact: every key the commit changes is in
// the delta, which is read first. A synchronous call that changes the store applies them all
// first.
import { nextTurn } from "../io/index.ts";
import type { MerkleTop } from "../merkle/index.ts";
import type { PreparedCommit } from "./prepared.ts";

/** Changes applied to the value tree per call when a commit is applied in slices. */
const APPLY_CHUNK = 128;

/** How the store applies them. */
export interface AheadParts {
  /**
   * Applies changes `[from, to)` of commit `seq` to the store's memory; with the last ones
   * (`to` = the number of changes) also its page writes, root and seq.
   */
  readonly apply: (seq: number, prepared: PreparedCommit, from: number, to: number) => void;
  /** False while they must stay held (a checkpoint runs) or the store is closed or failed. */
  readonly applicable: () => boolean;
  /** A failed apply: memory and disk may disagree (the commits are in the redo log). */
  readonly fail: (e: unknown) => void;
  /** All applied by the slices: a checkpoint that became due may begin. */
  readonly drained: () => void;
  /** Caller's-thread time of one slice (ms). */
  readonly sliceMs: () => number;
}

/** The commits of one store logged ahead of its memory, oldest first. */
export class CommitsAhead {
  #list: { seq: number; prepared: PreparedCommit; done: number }[] = [];
  /** A turn that applies the next slice is scheduled. */
  #draining = false;

  constructor(private readonly parts: AheadParts) {}

  get length(): number {
    return this.#list.length;
  }

  /** The newest one's seq and root, or undefined. */
  get last(): { seq: number; top: MerkleTop } | undefined {
    const h = this.#list.at(-1);
    return h === undefined ? undefined : { seq: h.seq, top: h.prepared.update.top };
  }

  push(seq: number, prepared: PreparedCommit): void {
    this.#list.push({ seq, prepared, done: 0 });
  }

  /** Applies them in slices from the next turn on (a checkpoint was published, or a commit asked). */
  drain(): void {
    if (this.#list.length === 0 || this.#draining) return;
    this.#draining = true;
    void nextTurn().then(() => {
      this.#draining = false;
      // `applyAll` may have applied them all meanwhile.
      if (this.#list.length === 0 || !this.parts.applicable()) return;
      try {
        this.#slice();
      } catch (e) {
        this.parts.fail(e);
        return;
      }
      if (this.#list.length > 0) this.drain();
      else this.parts.drained();
    });
  }

  /** Applies them all now (before a synchronous change of the store). */
  applyAll(): void {
    while (this.#list.length > 0) this.#applyNext(Number.POSITIVE_INFINITY);
  }

  // Chunks while the next one, as long as the last, would stay within the slice's time.
  #slice(): void {
    const t = performance.now();
    const end = t + this.parts.sliceMs();
    let now = t;
    let chunk = 0;
    do {
      const s = now;
      this.#applyNext(APPLY_CHUNK);
      now = performance.now();
      chunk = now - s;
    } while (this.#list.length > 0 && now + chunk < end);
  }

  // At most `max` changes of the oldest commit; it leaves the list once whole in memory.
  #applyNext(max: number): void {
    const h = this.#list[0];
    const n = h.prepared.changes.length;
    const to = Math.min(n, h.done + max);
    this.parts.apply(h.seq, h.prepared, h.done, to);
    h.done = to;
    if (to === n) this.#list.shift();
  }
}
