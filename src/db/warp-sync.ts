// Warp sync: a new database filled from peers' JAMNP-S CE 129 answers, trusting only a state
// root. The driver is transport-agnostic: it names the next request (start, end = the last
// key, maxSize), and takes the peer's response. Each response is verified against the trusted
// root before any of it is kept (`verifyStateResponse`), then its pairs are appended to the
// database by the store's bulk load, after the keys already synced. Every `commitEvery` pairs
// the load is made durable (a checkpoint); a restart resumes after the greatest key the
// database holds, so a crash loses at most the pairs since the last durable point, and the
// database only ever holds verified pairs: a prefix of the trusted state in key order. The
// sync ends when a response proves no key follows its last one, with the database exactly at
// the trusted root; a bad response is refused, naming it, and nothing of it is kept.

import { Store, StoreError, type StoreLoad } from "../store/index.ts";
import { KEY_BYTES, toHex, TrieError } from "../trie/index.ts";
import { MAX_STATE_REQUEST_SIZE, type StateResponse } from "../trie/state-request.ts";
import { verifyStateResponse } from "../trie/state-response.ts";
import { guardClass, toDbError } from "./boundary.ts";
import { DbError } from "./errors.ts";
import { checkWarpSyncOptions } from "./options.ts";

/** One CE 129 request to send. */
export interface StateRequest {
  readonly start: Uint8Array;
  readonly end: Uint8Array;
  readonly maxSize: number;
}

/** Options of `WarpSync.open`. */
export interface WarpSyncOptions {
  /** Bytes a response may take (CE 129 maxSize, default 1 MiB). */
  readonly maxSize?: number;
  /** Pairs between durable points (default 1M). */
  readonly commitEvery?: number;
  readonly valueCacheBytes?: number;
  readonly merkleCacheBytes?: number;
}

const LAST_KEY = new Uint8Array(KEY_BYTES).fill(0xff);

/** The key after `key` in key order, or null after the last key. */
function keyAfter(key: Uint8Array): Uint8Array | null {
  const out = key.slice();
  for (let i = KEY_BYTES - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]++;
      return out;
    }
    out[i] = 0;
  }
  return null;
}

function asDbError(e: unknown): unknown {
  if (e instanceof StoreError) return new DbError(e.code === "NOT_EMPTY" ? "NOT_EMPTY" : e.code, e.message, { cause: e });
  return e;
}

/** A warp sync of the database at `path` to a trusted root (see the file comment). */
export class WarpSync {
  readonly #store: Store;
  readonly #load: StoreLoad;
  readonly #root: Uint8Array;
  readonly #maxSize: number;
  readonly #commitEvery: number;
  #next: Uint8Array | null;
  #sinceCommit = 0;
  #responses = 0;
  #pairs = 0;
  #resumedWith: number;
  #closed = false;
  #failed: unknown = null;

  private constructor(store: Store, load: StoreLoad, root: Uint8Array, next: Uint8Array | null, maxSize: number, commitEvery: number, resumedWith: number) {
    if (!(store instanceof Store)) throw new DbError("BAD_ARGUMENT", "warp syncs come from WarpSync.open or warpSync, not from new");
    this.#store = store;
    this.#load = load;
    this.#root = root;
    this.#next = next;
    this.#maxSize = maxSize;
    this.#commitEvery = commitEvery;
    this.#resumedWith = resumedWith;
  }

  /**
   * Opens (or creates) the database at `path` for a sync to `root`, resuming after the keys
   * it holds. The database must hold nothing but a prefix of an earlier sync (a different
   * state shows at the end as `ROOT_MISMATCH`).
   */
  static open(path: string, root: Uint8Array, options: WarpSyncOptions = {}): WarpSync {
    if (typeof path !== "string" || path.length === 0) throw new DbError("BAD_ARGUMENT", "path must be a non-empty string");
    if (!(root instanceof Uint8Array) || root.length !== 32) throw new DbError("BAD_ARGUMENT", "root must be 32 bytes");
    checkWarpSyncOptions(options, "WarpSync.open", false);
    const maxSize = options.maxSize ?? 1 << 20;
    if (!Number.isSafeInteger(maxSize) || maxSize < 0 || maxSize > MAX_STATE_REQUEST_SIZE)
      throw new DbError("BAD_ARGUMENT", `options.maxSize must be a u32, got ${String(options.maxSize)}`);
    const commitEvery = options.commitEvery ?? 1 << 20;
    if (!Number.isSafeInteger(commitEvery) || commitEvery < 1)
      throw new DbError("BAD_ARGUMENT", `options.commitEvery must be a positive integer, got ${String(options.commitEvery)}`);
    let store: Store;
    try {
      store = Store.open(path, { valueCacheBytes: options.valueCacheBytes, merkleCacheBytes: options.merkleCacheBytes });
    } catch (e) {
      throw asDbError(e);
    }
    try {
      const had = store.size;
      const last = store.lastKey();
      const load = store.beginLoad({ append: true });
      const empty = root.every((b) => b === 0);
      const next = empty ? null : last === undefined ? new Uint8Array(KEY_BYTES) : keyAfter(last);
      return new WarpSync(store, load, root.slice(), next, maxSize, commitEvery, had);
    } catch (e) {
      store.close();
      throw asDbError(e);
    }
  }

  /** The request to send next, or null when the sync is complete (then call `finish`). */
  next(): StateRequest | null {
    this.#live();
    if (this.#next === null) return null;
    return { start: this.#next.slice(), end: LAST_KEY.slice(), maxSize: this.#maxSize };
  }

  /**
   * Takes the response to the request `next()` named: verifies it against the trusted root and
   * appends its pairs. A response that does not verify (or holds more than one pair over
   * maxSize) is refused with `BAD_RESPONSE`, naming the request and what is wrong; nothing of
   * it is kept, and the sync may go on with another peer's answer to the same request.
   */
  receive(response: StateResponse): { pairs: number; done: boolean } {
    this.#live();
    const start = this.#next;
    if (start === null) throw new DbError("BAD_ARGUMENT", "the sync is complete: no request is outstanding");
    let verified: ReturnType<typeof verifyStateResponse>;
    try {
      verified = verifyStateResponse(this.#root, start, LAST_KEY, response, this.#maxSize);
    } catch (e) {
      if (e instanceof TrieError) {
        throw new DbError("BAD_RESPONSE", `response ${this.#responses + 1} (start ${toHex(start)}) refused: ${e.message}`, { cause: e });
      }
      throw e;
    }
    if (verified.lastKey === null && !verified.complete) {
      throw new DbError("BAD_RESPONSE", `response ${this.#responses + 1} (start ${toHex(start)}) refused: no pair, yet keys may follow`);
    }
    try {
      this.#load.add(verified.entries.map((e) => [e.key, e.value] as const));
    } catch (e) {
      this.#failed = e;
      throw asDbError(e);
    }
    this.#responses++;
    this.#pairs += verified.entries.length;
    this.#sinceCommit += verified.entries.length;
    this.#next = verified.complete || verified.lastKey === null ? null : keyAfter(verified.lastKey);
    if (this.#sinceCommit >= this.#commitEvery && this.#next !== null) this.#commit();
    return { pairs: verified.entries.length, done: this.#next === null };
  }

  #commit(): void {
    try {
      this.#load.commit();
    } catch (e) {
      this.#failed = e;
      throw asDbError(e);
    }
    this.#sinceCommit = 0;
  }

  /**
   * Ends a complete sync: checks the database is at the trusted root (`ROOT_MISMATCH`
   * otherwise, when it held keys of another state before the sync resumed), makes it durable
   * and closes. Returns the root.
   */
  finish(): Uint8Array {
    this.#live();
    if (this.#next !== null) throw new DbError("BAD_ARGUMENT", "the sync is not complete: next() still names a request");
    const root = this.#load.root();
    if (toHex(root) !== toHex(this.#root)) {
      this.close();
      throw new DbError(
        "ROOT_MISMATCH",
        `the synced database has root ${toHex(root)}, not the trusted ${toHex(this.#root)}: it held keys of another state before the sync resumed`,
      );
    }
    try {
      this.#load.finish();
    } catch (e) {
      this.#failed = e;
      throw asDbError(e);
    } finally {
      this.close();
    }
    return root;
  }

  /** Pairs synced by this run, responses taken, and the entries the database held when it resumed. */
  get progress(): { pairs: number; responses: number; resumedWith: number } {
    return { pairs: this.#pairs, responses: this.#responses, resumedWith: this.#resumedWith };
  }

  /** Makes the verified pairs so far durable (when not failed) and closes; the next open resumes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#failed === null) this.#load.finish();
      else this.#load.abort();
    } catch {
      this.#load.abort();
    } finally {
      this.#store.close();
    }
  }

  #live(): void {
    if (this.#closed) throw new DbError("CLOSED", "the sync was closed");
    if (this.#failed !== null) throw new DbError("FAILED", "the sync failed writing; reopen it to resume", { cause: this.#failed });
  }
}

/**
 * Runs a whole sync of the database at `path` to `root`, asking `request` for each response
 * (the node's network: any peer's CE 129 answer). `onProgress` sees each accepted response.
 * Returns the root (the trusted one) and the pairs this run synced.
 */
export async function warpSync(
  path: string,
  root: Uint8Array,
  request: (req: StateRequest) => StateResponse | Promise<StateResponse>,
  options: WarpSyncOptions & { onProgress?: (p: { pairs: number; responses: number; resumedWith: number; lastStart: Uint8Array }) => void } = {},
): Promise<{ root: Uint8Array; pairs: number; responses: number; resumedWith: number }> {
  // Everything it throws is a DbError, as for the database's classes (see boundary.ts).
  try {
    return await run(path, root, request, options);
  } catch (e) {
    throw toDbError(e);
  }
}

async function run(
  path: string,
  root: Uint8Array,
  request: (req: StateRequest) => StateResponse | Promise<StateResponse>,
  options: WarpSyncOptions & { onProgress?: (p: { pairs: number; responses: number; resumedWith: number; lastStart: Uint8Array }) => void },
): Promise<{ root: Uint8Array; pairs: number; responses: number; resumedWith: number }> {
  if (typeof request !== "function") throw new DbError("BAD_ARGUMENT", "request must be a function (the network: a request to a response)");
  checkWarpSyncOptions(options, "warpSync", true);
  const { onProgress: _, ...syncOptions } = options ?? {};
  const sync = WarpSync.open(path, root, syncOptions);
  try {
    for (let req = sync.next(); req !== null; req = sync.next()) {
      const response = await request(req);
      sync.receive(response);
      options.onProgress?.({ ...sync.progress, lastStart: req.start });
    }
    const p = sync.progress;
    const done = sync.finish();
    return { root: done, ...p };
  } finally {
    sync.close();
  }
}

guardClass(WarpSync);
