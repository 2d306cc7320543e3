// Versions kept readable after later commits: per version, the reverse delta of the commit that
// made it, and the pins that hold old versions.
//
// Versions are the store's sequence numbers: every commit and every rollback makes a new one.
// For each version v kept in memory, `transitions` holds the reverse delta of the commit that
// made it (per changed key, its value at v - 1) and the root at v - 1. The state at a past
// version v is the store plus the composed reverse deltas of versions v + 1 .. current: a
// `DeltaState`, built on demand and cached until the next commit. Transitions are kept for the
// last `window` versions, and further back while a snapshot or an uncommitted session or
// overlay pins a version below them (pins are released explicitly, or when the holder is garbage
// collected).
import type { Change, MerkleTop } from "../merkle/index.ts";
import { sortByKey } from "../trie/index.ts";
import { DbError } from "./errors.ts";
import { keyString } from "./keys.ts";
import { type DeltaCounters, DeltaState, type StateView } from "./state.ts";

/** Transition into a version: its reverse delta, the root before, and what it was based on. */
export interface Transition {
  readonly reverse: readonly Change[];
  readonly prevTop: MerkleTop;
  /** The base of the session that made it (its parent overlay, or the version), or null. */
  readonly base: object | number | null;
}

/** A version held readable; release it when done. */
export class Pin {
  #released = false;
  /** Use `DbCore.pin`. */
  constructor(
    private readonly versions: Versions,
    /** The seq whose state is kept readable. */
    readonly seq: number,
  ) {}
  /** True once released. */
  get released(): boolean {
    return this.#released;
  }
  /** Lets the database drop what only this pin kept; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.versions.unpin(this.seq);
  }
}

/** Composes reverse deltas given newest first: per key, the value before the oldest of them. */
export function composeReverse(deltas: Iterable<readonly Change[]>): Change[] {
  const map = new Map<string, Change>();
  for (const d of deltas) for (const c of d) map.set(keyString(c[0]), c);
  const out = [...map.values()];
  sortByKey(out, (c) => c[0]);
  return out;
}

/** The current version, and the transitions and pins that keep older ones readable. */
export class Versions {
  #seq: number;
  readonly #transitions = new Map<number, Transition>();
  readonly #pins = new Map<number, number>();
  readonly #past = new Map<number, DeltaState>();

  constructor(
    seq: number,
    /** Versions kept readable unpinned (the rollback window). */
    private readonly window: number,
  ) {
    this.#seq = seq;
  }

  /** The current version. */
  get seq(): number {
    return this.#seq;
  }

  /** Versions pinned. */
  get pinned(): number {
    return this.#pins.size;
  }

  /** Transitions kept in memory. */
  get retained(): number {
    return this.#transitions.size;
  }

  /** Keeps `seq` readable until the pin is released. */
  pin(seq: number): Pin {
    this.#pins.set(seq, (this.#pins.get(seq) ?? 0) + 1);
    return new Pin(this, seq);
  }

  /** @internal Called by `Pin.release`. */
  unpin(seq: number): void {
    const n = (this.#pins.get(seq) ?? 0) - 1;
    if (n > 0) this.#pins.set(seq, n);
    else this.#pins.delete(seq);
    this.#prune();
  }

  #prune(): void {
    // Past versions in the rollback window stay readable unpinned: forward commits share their
    // reverse deltas with the undo chain, so keeping them costs little.
    let min = Math.max(0, this.#seq - this.window);
    for (const v of this.#pins.keys()) if (v < min) min = v;
    for (const u of this.#transitions.keys()) if (u <= min) this.#transitions.delete(u);
    for (const v of this.#past.keys()) if (v < min) this.#past.delete(v);
  }

  /** The state at `seq`, older than the current one `current` (built once, cached until the next commit). */
  pastView(seq: number, current: () => StateView, counters: DeltaCounters): StateView {
    let view = this.#past.get(seq);
    if (view !== undefined) return view;
    if (seq > this.#seq) throw new DbError("CORRUPT", `seq ${seq} is ahead of the database's ${this.#seq}`);
    const deltas: (readonly Change[])[] = [];
    for (let u = this.#seq; u > seq; u--) {
      const t = this.#transitions.get(u);
      if (t === undefined) throw new DbError("EXPIRED", `the state at seq ${seq} is no longer kept (nothing pinned it; the database is at ${this.#seq})`);
      deltas.push(t.reverse);
    }
    const top = (this.#transitions.get(seq + 1) as Transition).prevTop;
    view = new DeltaState(current, composeReverse(deltas), top, null, counters);
    this.#past.set(seq, view);
    return view;
  }

  /** The base key of the commit that made `seq`, if kept (for telling forks from stale). */
  baseOf(seq: number): object | number | null | undefined {
    return this.#transitions.get(seq)?.base;
  }

  /** A commit or rollback made version `seq` by transition `t`. */
  advance(seq: number, t: Transition): void {
    this.#transitions.set(seq, t);
    this.#seq = seq;
    this.#past.clear();
    this.#prune();
  }
}
