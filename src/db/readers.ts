// The read surface shared by snapshots, finished sessions and overlays, and the snapshot itself.
import { nextTurn } from "../io/index.ts";
import type { KvEntry } from "../kv/index.ts";
import { compareKeys, type KeyProof, type MultiProof, proveKey, proveMany, proveRange, type RangeProof, type TrieNodeSource } from "../trie/index.ts";
import { MAX_STATE_REQUEST_SIZE, respondStateRequest, type StateResponse } from "../trie/state-request.ts";
import { guardClass } from "./boundary.ts";
import { DbCore } from "./core.ts";
import { Pin } from "./versions.ts";
import { DbError } from "./errors.ts";
import { badArgument, checkKey, keyAfter } from "./keys.ts";
import { buildProof, checkKeys, checkLimit, nodeSource } from "./proofs.ts";
import type { DeltaState, StateView } from "./state.ts";

/** Bounds of an ordered scan: start <= key < end, either optional. */
export interface KeyRange {
  /** Least key included (31 bytes); unbounded when absent. */
  readonly start?: Uint8Array;
  /** First key excluded (31 bytes); unbounded when absent. */
  readonly end?: Uint8Array;
}

/** Entries a scan reads per step; between steps, a commit may run (the scan is unaffected). */
const SCAN_CHUNK = 256;

function checkRange(range: unknown): KeyRange {
  if (range === undefined) return {};
  if (range === null || typeof range !== "object" || Array.isArray(range)) throw new DbError("BAD_ARGUMENT", "range must be an object { start?, end? }");
  for (const k of Object.keys(range)) if (k !== "start" && k !== "end") throw new DbError("BAD_ARGUMENT", `range.${k} is not a range field (start, end)`);
  const r = range as KeyRange;
  if (r.start !== undefined) checkKey(r.start, "range.start", badArgument);
  if (r.end !== undefined) checkKey(r.end, "range.end", badArgument);
  return r;
}

/** Reads of one fixed state: point reads and ordered scans. */
export abstract class StateReadable {
  /** @internal */
  protected readonly _core: DbCore;

  /** @internal */
  protected constructor(core: DbCore) {
    if (!(core instanceof DbCore)) throw new DbError("BAD_ARGUMENT", "readers come from a database (beginRead, beginReadAt, finish, toOverlay), not from new");
    this._core = core;
  }

  /** @internal The state now (throws when it can no longer be read). */
  protected abstract _view(): StateView;

  /** @internal Called after reads (a read-only handle checks no writer committed meanwhile). */
  protected _afterRead(): void {}

  /**
   * @internal Called when a read fails: on a read-only handle, pages a writer process recycled
   * meanwhile look damaged, so that is reported as `STALE` when the writer has moved on.
   */
  protected _staleFirst(): void {
    if (this._core.readOnly) this._core.checkReadOnlyCurrent();
  }

  /** The state root (32 bytes). */
  abstract get root(): Uint8Array;

  /**
   * @internal The state as a view: values, scans, the root node and merkle pages (`pages`), for
   * proofs over this state. Use synchronously; do not keep it across commits.
   */
  view(): StateView {
    return this._view();
  }

  /** The value of `key` (31 bytes), or undefined when absent. */
  get(key: Uint8Array): Uint8Array | undefined {
    checkKey(key, "key", badArgument);
    let v: Uint8Array | undefined;
    try {
      v = this._view().value(key);
    } catch (e) {
      this._staleFirst();
      throw e;
    }
    this._core.counters.reads++;
    this._afterRead();
    return v;
  }

  /** True when `key` (31 bytes) is present. */
  has(key: Uint8Array): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Entries with `range.start <= key < range.end` in key order, as an async iterator that lets
   * the event loop run between chunks of 256 entries. Commits made meanwhile do not affect it.
   */
  entries(range?: KeyRange): AsyncGenerator<KvEntry, void, undefined> {
    // Checked here, not at the first `next()`: a bad range throws at the call.
    return this.#scan(checkRange(range));
  }

  async *#scan(r: KeyRange): AsyncGenerator<KvEntry, void, undefined> {
    let next = r.start;
    for (;;) {
      const chunk = this.#chunk(next, r.end);
      for (const e of chunk) yield e;
      if (chunk.length < SCAN_CHUNK) return;
      next = keyAfter(chunk[chunk.length - 1][0]);
      if (next === undefined) return;
      await nextTurn();
    }
  }

  /** `entries` as a synchronous iterator (blocks the event loop for the whole scan). */
  entriesSync(range?: KeyRange): Generator<KvEntry, void, undefined> {
    return this.#scanSync(checkRange(range));
  }

  *#scanSync(r: KeyRange): Generator<KvEntry, void, undefined> {
    let next = r.start;
    for (;;) {
      const chunk = this.#chunk(next, r.end);
      yield* chunk;
      if (chunk.length < SCAN_CHUNK) return;
      next = keyAfter(chunk[chunk.length - 1][0]);
      if (next === undefined) return;
    }
  }

  /**
   * A proof of `key` (31 bytes) against this state's root: its value, or its absence. Check it
   * with `verifyKeyProof(proof, root)`.
   */
  prove(key: Uint8Array): KeyProof {
    checkKey(key, "key", badArgument);
    return this.#prove(() => proveKey(this.#source(), key));
  }

  /**
   * One proof of all `keys` (31 bytes each; any order, repeats ignored; present or absent)
   * against this state's root, each shared node once (`verifyMultiProof`, `multiProofValues`).
   */
  proveMany(keys: readonly Uint8Array[]): MultiProof {
    checkKeys(keys, "keys");
    return this.#prove(() => proveMany(this.#source(), keys));
  }

  /**
   * The entries with `start <= key <= end` (both included), at most `limit` (an integer >= 1),
   * with the nodes that prove none is left out (`verifyRangeProof`). When more entries exist,
   * the proof covers `start` to its last entry (`proof.end`).
   */
  proveRange(start: Uint8Array, end: Uint8Array, limit: number): RangeProof {
    checkKey(start, "start", badArgument);
    checkKey(end, "end", badArgument);
    if (compareKeys(start, end) > 0) throw new DbError("BAD_ARGUMENT", "start must not be after end");
    checkLimit(limit, "limit");
    return this.#prove(() => proveRange(this.#source(), start, end, limit));
  }

  /**
   * The answer to a JAMNP-S CE 129 state request for this state: message 1, the 64-byte GP
   * encodings of the boundary nodes (on the paths to `start` and to the last key returned,
   * parents first), and message 2, the pairs `key ++ E(len) ++ value` with start <= key <= end
   * in key order, both within `maxSize` bytes together (a u32) unless one pair is returned.
   * Check it with `verifyStateResponse(root, start, end, response)`.
   */
  stateRequest(start: Uint8Array, end: Uint8Array, maxSize: number): StateResponse {
    checkKey(start, "start");
    checkKey(end, "end");
    if (compareKeys(start, end) > 0) throw new DbError("BAD_ARGUMENT", "start must not be after end");
    if (!Number.isSafeInteger(maxSize) || maxSize < 0 || maxSize > MAX_STATE_REQUEST_SIZE) {
      throw new DbError("BAD_ARGUMENT", `maxSize must be an integer in 0..${MAX_STATE_REQUEST_SIZE} (a u32), got ${String(maxSize)}`);
    }
    return this.#prove(() => respondStateRequest(this.#source(), start, end, maxSize));
  }

  /** The node source of the state now (read synchronously, within one proof). */
  #source(): TrieNodeSource {
    return nodeSource(this._view());
  }

  #prove<T>(build: () => T): T {
    const proof = buildProof(this._core, build);
    this._core.counters.proofs++;
    this._afterRead();
    return proof;
  }

  #chunk(start: Uint8Array | undefined, end: Uint8Array | undefined): KvEntry[] {
    const it = this._view().iterate(start, end);
    const out: KvEntry[] = [];
    try {
      while (out.length < SCAN_CHUNK) {
        const r = it.next();
        if (r.done) break;
        out.push(r.value);
      }
    } catch (e) {
      this._staleFirst();
      throw e;
    } finally {
      it.return?.();
    }
    this._core.counters.entriesIterated += out.length;
    this._afterRead();
    return out;
  }
}

/**
 * A consistent read-only view of one state: the database at `beginRead`, or at a past root
 * (`beginReadAt`). Later commits and rollbacks, however many, do not change what it reads. It
 * holds the reverse deltas it needs in memory until released: call `release()` (or use `using`).
 */
export class Snapshot extends StateReadable implements Disposable, AsyncDisposable {
  readonly #pin: Pin;
  readonly #delta: DeltaState | null;
  readonly #root: Uint8Array;
  #released = false;

  /** @internal Use `Db.beginRead` or `Db.beginReadAt`. */
  constructor(core: DbCore, pin: Pin, delta: DeltaState | null) {
    super(core);
    if (!(pin instanceof Pin)) throw new DbError("BAD_ARGUMENT", "snapshots come from Db.beginRead or Db.beginReadAt, not from new");
    this.#pin = pin;
    this.#delta = delta;
    this.#root = (delta?.top ?? core.viewAt(pin.seq).top).root.slice();
    core.snapshotsOpen++;
    // A snapshot dropped without release is released when collected.
    core.registry.register(this, { release: () => Snapshot.#drop(core, pin) }, this);
  }

  static #drop(core: DbCore, pin: Pin): void {
    if (pin.released) return;
    core.snapshotsOpen--;
    pin.release();
  }

  /** The snapshot's state root. */
  get root(): Uint8Array {
    return this.#root.slice();
  }

  /** True once released. */
  get released(): boolean {
    return this.#released;
  }

  /** @internal */
  protected _view(): StateView {
    if (this.#released) throw new DbError("RELEASED", "the snapshot was released");
    return this.#delta ?? this._core.viewAt(this.#pin.seq);
  }

  /** @internal */
  protected override _afterRead(): void {
    if (this._core.readOnly) this._core.checkReadOnlyCurrent();
  }

  /** Lets later commits drop what this snapshot kept; further reads throw `RELEASED`. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this._core.registry.unregister(this);
    Snapshot.#drop(this._core, this.#pin);
  }

  /** `release()`, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** `release()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

guardClass(StateReadable);
guardClass(Snapshot);
