// A finished session's state (a `Layer`): its sorted changes over a base (the database at a
// version, or a parent layer), the values they replaced, and the trie update they give (root
// and page writes). Readable as a state of its own, the base of further sessions, and
// committable when its base is the database's current state (see session.ts).
import type { Change, MerkleTop, UpdateResult } from "../merkle/index.ts";
import { toHex } from "../trie/index.ts";
import type { DbCore } from "./core.ts";
import type { Pin } from "./versions.ts";
import { DbError } from "./errors.ts";
import { DeltaState, pageMap, type StateView } from "./state.ts";

/** @internal A finished session's state: changes over a base, with root and page writes. */
export class Layer {
  /** The overlay below, or null when the base is the database at `baseSeq`. */
  parent: Layer | null;
  readonly baseSeq: number;
  readonly state: DeltaState;
  readonly reverse: readonly Change[];
  readonly prevTop: MerkleTop;
  readonly update: UpdateResult;
  readonly updateMs: number;
  /** Version its commit made, once committed. */
  committedAs: number | null = null;
  #pin: Pin | null;

  constructor(
    readonly core: DbCore,
    parent: Layer | null,
    baseSeq: number,
    changes: readonly Change[],
    reverse: readonly Change[],
    prevTop: MerkleTop,
    update: UpdateResult,
    updateMs: number,
    pin: Pin | null,
  ) {
    this.parent = parent;
    this.baseSeq = baseSeq;
    this.reverse = reverse;
    this.prevTop = prevTop;
    this.update = update;
    this.updateMs = updateMs;
    this.#pin = pin;
    this.state = new DeltaState(() => this.baseView(), changes, update.top, pageMap(update.writes));
    if (pin !== null) core.registry.register(this, pin, this);
  }

  /** The changes, sorted by key. */
  get changes(): readonly Change[] {
    return this.state.changes;
  }

  /** The root after the changes. */
  get top(): MerkleTop {
    return this.update.top;
  }

  /** The base's state now. */
  baseView(): StateView {
    return this.parent !== null ? this.parent.view() : this.core.viewAt(this.baseSeq);
  }

  /** This layer's state now: the database at the version it made once committed. */
  view(): StateView {
    return this.committedAs !== null ? this.core.viewAt(this.committedAs) : this.state;
  }

  /** The key naming the base, for telling siblings (same base) from other commits. */
  get baseKey(): object | number {
    return this.parent ?? this.baseSeq;
  }

  /** Why committing now is refused, or null when it is allowed. */
  refusal(): DbError | null {
    if (this.committedAs !== null) return new DbError("ALREADY_COMMITTED", `the session was already committed (seq ${this.committedAs})`);
    let baseSeq: number;
    if (this.parent === null) baseSeq = this.baseSeq;
    else if (this.parent.committedAs !== null) baseSeq = this.parent.committedAs;
    else {
      const up = this.parent.refusal();
      if (up === null || up.code === "PARENT_NOT_COMMITTED") {
        return new DbError("PARENT_NOT_COMMITTED", `the overlay below the session (root ${toHex(this.parent.top.root)}) is not committed; commit it first`);
      }
      return new DbError(up.code, `the overlay below the session can never commit: ${up.message}`);
    }
    const now = this.core.seq;
    if (baseSeq === now) return null;
    if (this.core.baseOfSeq(baseSeq + 1) === this.baseKey) {
      return new DbError("SIBLING_COMMITTED", `another session on the same base (root ${toHex(this.prevTop.root)}) was committed as seq ${baseSeq + 1}`);
    }
    return new DbError(
      "STALE",
      `the database moved since the session's base (root ${toHex(this.prevTop.root)}, seq ${baseSeq}; now seq ${now}, root ${toHex(this.core.top.root)})`,
    );
  }

  /** Commits at its turn in the queue; the log syncs without blocking the event loop. */
  commit(): Promise<Uint8Array> {
    return this.core.enqueue(async (queuedMs) => {
      this.#check();
      return this.#committed(await this.core.writeCommit(this, this.baseKey, queuedMs));
    });
  }

  /** Commits now, blocking; `BUSY` when other commits are queued. */
  commitSync(): Uint8Array {
    if (this.core.busy) throw new DbError("BUSY", "commitSync: other commits are queued; await commit() instead");
    this.#check();
    return this.#committed(this.core.writeCommitSync(this, this.baseKey));
  }

  #check(): void {
    const refusal = this.refusal();
    if (refusal !== null) {
      this.core.counters.refusedCommits++;
      throw refusal;
    }
  }

  #committed(seq: number): Uint8Array {
    this.committedAs = seq;
    // Reads now go to the database at `seq`, readable while it is within the rollback window
    // (or pinned by others); the base and the parent are no longer needed.
    this.#pin?.release();
    this.#pin = null;
    this.core.registry.unregister(this);
    this.parent = null;
    // The store owns the page images now (it reuses them once replaced): not read from here.
    this.state.forgetPages();
    return this.update.top.root.slice();
  }

  /** Lets the database drop what this layer kept (reads of it fail with EXPIRED afterwards). */
  release(): void {
    this.#pin?.release();
    this.core.registry.unregister(this);
  }
}
