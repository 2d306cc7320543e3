// Write sessions, finished sessions and overlays.
//
// A write session reads through its own writes, then its base: the database at the version it
// began on (pinned, so it stays readable whatever commits or rollbacks come), or an overlay.
// `finish` sorts its changes, reads the values they replace (the reverse delta the rollback log
// keeps) and runs the trie update over the base, which reads but never writes: the result
// (root, page writes) is a `Layer` (layer.ts). `finish()` runs that work in steps of a few
// milliseconds (updateTrieSteps) with a turn of the event loop between them, resolving the base
// again at every step, since a commit in between turns the pinned version into a past state;
// `finishSync()` drains the same steps at once. The layer is readable as a state of its own
// (its changes over its base) and can be the base of further sessions (`toOverlay`), so forks
// and chains of speculative blocks live side by side in memory. Committing a layer writes
// exactly its changes and page writes; it is allowed only when its base is the database's
// current state, which a forward commit of its parent, or of nothing, makes so.
import {
  type Change,
  DEFAULT_STEP_MS,
  drainSteps,
  MAX_PAGE_DEPTH,
  type MerkleTop,
  type OldValues,
  pageIdOf,
  type UpdateStats,
  updateTrieSteps,
} from "../merkle/index.ts";
import { nextTurn } from "../io/index.ts";
import { MAX_VALUE_SIZE } from "../kv/index.ts";
import { buildWitness, toHex, type Witness } from "../trie/index.ts";
import { guardClass } from "./boundary.ts";
import { DbCore } from "./core.ts";
import type { Pin } from "./versions.ts";
import { Layer } from "./layer.ts";
import { DbError } from "./errors.ts";
import { badArgument, checkKey, checkValue, keyString, equalBytes } from "./keys.ts";
import { buildProof, nodeSource } from "./proofs.ts";
import { StateReadable } from "./readers.ts";
import { ChangeSet } from "./change-set.ts";
import { type StateView, sortedChanges, stateReader } from "./state.ts";

/**
 * @internal The time budget of a finish step in milliseconds. Tests set 0: a step per change
 * (after the first 64), so that what lands between steps does not depend on machine speed.
 */
export const finishStepping = { ms: DEFAULT_STEP_MS };

// Keys whose pages one step of `finish()` asks to be read ahead: planning a key's paths and
// issuing its reads cost ~10-30 us on the thread (measured at 1M keys), so ~2-4 ms a step.
const READ_AHEAD_KEYS = 128;

/** Options of `Db.beginWrite`. */
export interface WriteOptions {
  /**
   * The overlay the session builds on, `overlays[0]`, optionally followed by its ancestors,
   * newest first (`overlays[i + 1]` must be the parent of `overlays[i]`; those left out are
   * implied). Default: none (the session builds on the database's current state).
   */
  readonly overlays?: readonly Overlay[];
  /**
   * Record the keys the session reads and writes (`FinishedSession.witnessKeys`) and the values
   * its reads saw, so that `FinishedSession.witness()` can prove them. Default false.
   */
  readonly witness?: boolean;
}

/** Work and time of one session. */
export interface SessionStats extends UpdateStats {
  /** `get` and `has` calls. */
  reads: number;
  /** Of them, those the base answered (the key was not written by the session). */
  baseReads: number;
  /** Keys set or deleted (the change set's size). */
  changes: number;
  /**
   * Milliseconds of work in `finish`: reading replaced values and the trie update (the sum of
   * its steps; an awaited `finish()` also waits between them, which this leaves out).
   */
  finishMs: number;
  /** Steps `finish` ran in, and the longest of them in milliseconds (the event loop's longest stall). */
  finishSteps: number;
  finishLongestStepMs: number;
  /** Milliseconds from `beginWrite` to the end of `finish`. */
  durationMs: number;
}

/** Keys a session in witness mode read from its base and wrote, each sorted and distinct. */
export interface WitnessKeys {
  /** Keys whose value (or absence) came from the base: reads not answered by own writes. */
  readonly read: readonly Uint8Array[];
  /** Keys set or deleted. */
  readonly written: readonly Uint8Array[];
}

/**
 * A session's uncommitted result used as the base of later sessions. Reads see its state; it
 * commits (`commit()`) only after its parent overlay, and not once a sibling was committed.
 */
export class Overlay extends StateReadable {
  /** @internal */
  readonly _layer: Layer;

  /** @internal Use `FinishedSession.toOverlay`. */
  constructor(layer: Layer) {
    if (!(layer instanceof Layer)) throw new DbError("BAD_ARGUMENT", "overlays come from FinishedSession.toOverlay, not from new");
    super(layer.core);
    this._layer = layer;
  }

  /** @internal */
  protected _view(): StateView {
    return this._layer.view();
  }

  /** The root after this overlay's changes. */
  get root(): Uint8Array {
    return this._layer.top.root.slice();
  }

  /** The root of its base. */
  get prevRoot(): Uint8Array {
    return this._layer.prevTop.root.slice();
  }

  /** True once committed. */
  get committed(): boolean {
    return this._layer.committedAs !== null;
  }

  /**
   * Commits the overlay durably after the commits queued before it; resolves to the new root.
   * Refused (typed) when its parent is not committed, a sibling was, or the database moved.
   */
  async commit(): Promise<Uint8Array> {
    this._core.writable("commit");
    return this._layer.commit();
  }
}

/** A finished write session: its root, change set and statistics; commit it or stack on it. */
export class FinishedSession extends Overlay {
  /** Statistics of the session. */
  readonly stats: Readonly<SessionStats>;
  /** The keys read and written, in witness mode; null otherwise. */
  readonly witnessKeys: WitnessKeys | null;
  /** What each read saw (by key string; null for absent), in witness mode. */
  readonly #readValues: ReadonlyMap<string, Uint8Array | null> | null;

  /** @internal Use `WriteSession.finish`. */
  constructor(layer: Layer, stats: SessionStats, witness: WitnessKeys | null, readValues: ReadonlyMap<string, Uint8Array | null> | null = null) {
    super(layer);
    this.stats = Object.freeze(stats);
    this.witnessKeys = witness;
    this.#readValues = readValues;
  }

  /**
   * The session's witness (session opened with `{ witness: true }`, else `NO_WITNESS`): a
   * multiproof against `prevRoot` of every key the session read from its base and every key it
   * wrote, the reads with the values they saw (null for absent), and the writes (`changes`,
   * less deletes of keys the base did not have). `verifyWitness(w)` checks the reads against
   * `prevRoot` and computes the new root, which is `root`.
   *
   * "Reads" are `get`/`has` calls the session's own writes did not answer: a key read before
   * the session wrote it is a read (of the base's value); a key read after is not. Built from
   * the base state on each call: before the commit from the session's base, after it from the
   * database's state before the commit (`EXPIRED` once that is out of the rollback window).
   */
  witness(): Witness {
    const readValues = this.#readValues;
    if (readValues === null || this.witnessKeys === null) {
      throw new DbError("NO_WITNESS", "witness(): the session was not opened with { witness: true }");
    }
    const core = this._core;
    core.live();
    const layer = this._layer;
    const base = layer.committedAs !== null ? core.viewAt(layer.committedAs - 1) : layer.baseView();
    if (!equalBytes(base.top.root, layer.prevTop.root)) {
      throw new DbError("CORRUPT", `witness(): the session's base reads as root ${toHex(base.top.root)}, not its prevRoot ${toHex(layer.prevTop.root)}`);
    }
    const w = buildProof(core, () => buildWitness(nodeSource(base), this.witnessKeys?.read ?? [], layer.changes));
    for (const [key, value] of w.reads) {
      const seen = readValues.get(keyString(key));
      if (seen === undefined || (seen === null ? value !== null : value === null || !equalBytes(seen, value))) {
        throw new DbError("CORRUPT", `witness(): the proof of read key ${toHex(key)} disagrees with the value the session read`);
      }
    }
    core.counters.witnesses++;
    return w;
  }

  /** The changes, sorted by key: [key, value] to set, [key, null] to delete (copies). */
  get changes(): [Uint8Array, Uint8Array | null][] {
    return this._layer.changes.map(([k, v]) => [k.slice(), v === null ? null : v.slice()]);
  }

  /**
   * Commits synchronously: throws `BUSY` when other commits are queued (use `commit()` then).
   * Returns the new root; durable when it returns.
   */
  commitSync(): Uint8Array {
    this._core.writable("commitSync");
    return this._layer.commitSync();
  }

  /** This session's result as the base of later sessions (`beginWrite({ overlays })`). */
  toOverlay(): Overlay {
    return new Overlay(this._layer);
  }

  /** Lets the database drop past states kept for this session if it will not be committed. */
  release(): void {
    this._layer.release();
  }
}

/** A session writing on top of the database or of overlays; `finish()` computes its root. */
export class WriteSession {
  readonly #core: DbCore;
  readonly #parent: Layer | null;
  readonly #baseSeq: number;
  #pin: Pin | null;
  readonly #writes = new ChangeSet();
  readonly #baseValues = new Map<string, Uint8Array | null>();
  readonly #readKeys: Map<string, Uint8Array> | null;
  readonly #prevTop: MerkleTop;
  readonly #t0 = performance.now();
  #state: "open" | "finishing" | "finished" = "open";
  #reads = 0;
  #baseReads = 0;
  #warm: Uint8Array[] = [];

  /** @internal Use `Db.beginWrite`. */
  constructor(core: DbCore, parent: Layer | null, witness: boolean) {
    if (!(core instanceof DbCore)) throw new DbError("BAD_ARGUMENT", "write sessions come from Db.beginWrite, not from new");
    this.#core = core;
    this.#parent = parent;
    this.#baseSeq = parent === null ? core.seq : -1;
    this.#pin = parent === null ? core.pin(core.seq) : null;
    if (this.#pin !== null) core.registry.register(this, this.#pin, this);
    this.#readKeys = witness ? new Map() : null;
    this.#prevTop = this.#base().top;
  }

  #base(): StateView {
    return this.#parent !== null ? this.#parent.view() : this.#core.viewAt(this.#baseSeq);
  }

  #open(what: string): void {
    this.#core.live();
    if (this.#state === "finishing") throw new DbError("BUSY", `${what}: the session's finish() is in flight`);
    if (this.#state !== "open") throw new DbError("FINISHED", `${what}: the session is finished`);
  }

  /** Reads are allowed while a finish is in flight (they change nothing it uses). */
  #readable(what: string): void {
    this.#core.live();
    if (this.#state === "finished") throw new DbError("FINISHED", `${what}: the session is finished`);
  }

  /** The root the session started from. */
  get prevRoot(): Uint8Array {
    return this.#prevTop.root.slice();
  }

  #baseValue(key: Uint8Array, ks: string): Uint8Array | null {
    let v = this.#baseValues.get(ks);
    if (v === undefined) {
      v = this.#base().value(key) ?? null;
      this.#baseValues.set(ks, v);
    }
    return v;
  }

  /** The value of `key`: the session's own write, else the base's; undefined when absent. */
  get(key: Uint8Array): Uint8Array | undefined {
    checkKey(key, "key", badArgument);
    this.#readable("get");
    this.#reads++;
    this.#core.counters.reads++;
    const w = this.#writes.find(key);
    if (w >= 0) return this.#writes.valueOf(w)?.slice();
    const ks = keyString(key);
    this.#baseReads++;
    this.#readKeys?.set(ks, key.slice());
    const v = this.#baseValue(key, ks);
    return v === null ? undefined : v.slice();
  }

  /** True when `key` is present (own writes first). */
  has(key: Uint8Array): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets `key` (31 bytes) to `value` (a copy is kept). */
  set(key: Uint8Array, value: Uint8Array): void {
    checkKey(key, "key", badArgument);
    checkValue(value, "value");
    if (value.length > MAX_VALUE_SIZE) throw new DbError("BAD_ARGUMENT", `value must be at most ${MAX_VALUE_SIZE} bytes, got ${value.length}`);
    this.#open("set");
    this.#writes.put(key, value);
    this.#core.counters.writes++;
  }

  /** Deletes `key` (absent keys are fine). */
  delete(key: Uint8Array): void {
    checkKey(key, "key", badArgument);
    this.#open("delete");
    this.#writes.put(key, null);
    this.#core.counters.writes++;
  }

  /**
   * Hints that `key` will be read or written: its value and the merkle pages on its path are
   * read from disk in a later turn of the event loop, while the caller goes on (a read during a
   * pause of the caller, e.g. an await, costs nothing later). Best effort: never throws later.
   */
  warmUp(key: Uint8Array): void {
    checkKey(key, "key", badArgument);
    this.#open("warmUp");
    this.#warm.push(key.slice());
    if (this.#warm.length === 1) void nextTurn().then(() => this.#runWarmUp());
  }

  #runWarmUp(): void {
    const keys = this.#warm;
    this.#warm = [];
    if (this.#state !== "open" || this.#core.closed) return;
    try {
      const base = this.#base();
      for (const key of keys) {
        this.#baseValue(key, keyString(key));
        for (let d = 0; d <= MAX_PAGE_DEPTH; d++) if (base.pages.get(pageIdOf(key, d)) === undefined) break;
      }
    } catch {
      // A hint only: whatever failed will fail again, reported, where it matters.
    }
  }

  /**
   * Ends the session: computes its root over the base and resolves to the finished session.
   * The work (sorting, reading the values the changes replace, the trie update) runs in steps
   * of a few milliseconds with a turn of the event loop between them, so timers and I/O go on
   * meanwhile. While it is in flight the session refuses `set`, `delete`, `warmUp` and another
   * finish (`BUSY`); reads still work. Commits of the database meanwhile do not disturb it: its
   * base stays the state it began on. Afterwards the session accepts nothing (`FINISHED`); if
   * the finish fails, the session is open again.
   */
  async finish(): Promise<FinishedSession> {
    this.#open("finish");
    this.#state = "finishing";
    try {
      // The first step gets a pass of the event loop of its own: the caller's work in this one
      // (the sets, a commit it just awaited) is not added to it.
      await nextTurn();
      const steps = this.#finishSteps(this.#writes.sorted(), true);
      let r = steps.next();
      while (!r.done) {
        // A step may hand over the pages it has asked to be read ahead: waited for, then a turn.
        if (r.value !== undefined) await r.value;
        await nextTurn();
        r = steps.next();
      }
      return r.value;
    } catch (e) {
      if (this.#state === "finishing") this.#state = "open";
      throw e;
    }
  }

  /**
   * `finish()` at once: blocks the event loop for the whole computation (tens of milliseconds
   * for a thousand changes over a million keys). For scripts and tools; a server awaits
   * `finish()`.
   */
  finishSync(): FinishedSession {
    this.#open("finishSync");
    this.#state = "finishing";
    try {
      return drainSteps(this.#finishSteps(this.#writes.sorted(), false) as Generator<void, FinishedSession, void>);
    } catch (e) {
      this.#state = "open";
      throw e;
    }
  }

  /**
   * The finish, yielding between steps of about DEFAULT_STEP_MS. With `ahead`, the first steps
   * ask for the pages the update and the reverse delta will read to be read ahead on the thread
   * pool, READ_AHEAD_KEYS keys a step (the planning and the requests are work on the thread
   * too), and then yield the promise of those reads for the driver to await: the update's
   * steps find the pages in memory instead of blocking on the file.
   */
  *#finishSteps(changes: Change[], ahead: boolean): Generator<Promise<unknown> | undefined, FinishedSession, void> {
    let steps = 0;
    let workMs = 0;
    let longest = 0;
    let t = performance.now();
    const lap = () => {
      const d = performance.now() - t;
      steps++;
      workMs += d;
      if (d > longest) longest = d;
    };
    if (ahead) {
      // The first keys' reads are awaited before the others are planned: when they found every
      // page in memory (a warm cache, a node's steady state), the rest are not planned at all.
      // Planning costs ~4-5 us a key even when nothing is read (the paths are walked in both
      // the value tree and the page table), ~5 ms of a 1000-change finish at 1M keys.
      const keysOf = (lo: number) => changes.slice(lo, lo + READ_AHEAD_KEYS).map(([k]) => k);
      let read = 0;
      const first = this.#core.readAhead(keysOf(0)).then((n) => {
        read = n;
      });
      lap();
      yield first;
      t = performance.now();
      if (read > 0) {
        const reads: Promise<unknown>[] = [];
        for (let lo = READ_AHEAD_KEYS; lo < changes.length; lo += READ_AHEAD_KEYS) {
          reads.push(this.#core.readAhead(keysOf(lo)));
          lap();
          yield lo + READ_AHEAD_KEYS >= changes.length ? Promise.all(reads) : undefined;
          t = performance.now();
        }
      }
    }
    // The update reads most old values anyway (the small subtries it rebuilds); the rest are
    // looked up. The base's views are resolved at every step: a commit between steps makes the
    // pinned version a past state, read differently but the same.
    const olds: OldValues = [];
    const source = () => {
      const base = this.#base();
      return { pages: base.pages, state: stateReader(base) };
    };
    const stepMs = finishStepping.ms;
    const stepping = updateTrieSteps(this.#prevTop, changes, source, olds, { stepMs });
    let r = stepping.next();
    while (!r.done) {
      lap();
      yield;
      t = performance.now();
      r = stepping.next();
    }
    const update = r.value;
    const reverse: Change[] = new Array(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const k = changes[i][0];
      const old = olds[i];
      reverse[i] = [k, old !== undefined ? old : this.#baseValue(k, keyString(k))];
      if ((i & 31) === 31 && performance.now() - t >= stepMs) {
        lap();
        yield;
        t = performance.now();
      }
    }
    lap();
    const t1 = performance.now();
    const layer = new Layer(this.#core, this.#parent, this.#baseSeq, changes, reverse, this.#prevTop, update, workMs, this.#pin);
    // The layer holds the pin now.
    this.#core.registry.unregister(this);
    this.#pin = null;
    this.#state = "finished";
    this.#core.counters.sessionsFinished++;
    const stats: SessionStats = {
      ...update.stats,
      reads: this.#reads,
      baseReads: this.#baseReads,
      changes: changes.length,
      finishMs: workMs,
      finishSteps: steps,
      finishLongestStepMs: longest,
      durationMs: t1 - this.#t0,
    };
    let witness: WitnessKeys | null = null;
    let readValues: Map<string, Uint8Array | null> | null = null;
    if (this.#readKeys !== null) {
      const read = sortedChanges(new Map([...this.#readKeys].map(([ks, k]) => [ks, [k, null] as const]))).map(([k]) => k);
      witness = Object.freeze({ read: Object.freeze(read), written: Object.freeze(changes.map(([k]) => k.slice())) });
      readValues = new Map();
      for (const ks of this.#readKeys.keys()) readValues.set(ks, this.#baseValues.get(ks) ?? null);
    }
    return new FinishedSession(layer, stats, witness, readValues);
  }
}

/** @internal Checks `overlays` of `beginWrite` and returns the parent layer (or null). */
export function parentOf(core: DbCore, overlays: unknown): Layer | null {
  if (overlays === undefined) return null;
  if (!Array.isArray(overlays)) throw new DbError("BAD_ARGUMENT", "options.overlays must be an array of overlays, newest first");
  if (overlays.length === 0) return null;
  for (let i = 0; i < overlays.length; i++) {
    const o: unknown = overlays[i];
    if (!(o instanceof Overlay)) throw new DbError("BAD_ARGUMENT", `options.overlays[${i}] is not an overlay`);
    if (o._layer.core !== core) throw new DbError("BAD_ARGUMENT", `options.overlays[${i}] belongs to another database handle`);
    if (i > 0) {
      const child = (overlays[i - 1] as Overlay)._layer;
      if (child.committedAs === null && child.parent !== o._layer) {
        throw new DbError("BAD_ARGUMENT", `options.overlays[${i}] is not the parent of options.overlays[${i - 1}]`);
      }
    }
  }
  return (overlays[0] as Overlay)._layer;
}

guardClass(Overlay);
guardClass(FinishedSession);
guardClass(WriteSession);
