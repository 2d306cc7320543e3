// Read operations shared by the live tree and its snapshots.
import { nextTurn } from "../io/index.ts";
import { KvError } from "./errors.ts";
import { KEY_BITS, KEY_BYTES, checkKey, kvBadKey, compareKeyAt, prefixCeil, prefixFloor, sharesBitPrefix } from "./key.ts";
import { type CellVisitor, Cursor, lookup } from "./cursor.ts";
import type { Pager } from "./pager.ts";
import { branchChild, branchFind } from "./branch.ts";
import { KIND_BRANCH } from "./page.ts";

/**
 * A key and its value: copies the caller owns and may modify. Small copies may share one
 * ArrayBuffer with other copies, so use the views, not their `.buffer`.
 */
export type KvEntry = [key: Uint8Array, value: Uint8Array];

/** Bounds and direction of an ordered scan over [start, end). */
export interface RangeOptions {
  /** Least key included; unbounded when absent. */
  start?: Uint8Array;
  /** First key excluded; unbounded when absent. */
  end?: Uint8Array;
  /** Scan from the end of the range backwards. */
  reverse?: boolean;
}

// Entries between event-loop turns in async scans.
const ASYNC_CHUNK = 512;

/** Reads over one version of the tree: point lookups, seeks and ordered scans. */
export abstract class KvReader {
  /** @internal */ protected _pager: Pager;
  /** @internal */ protected _root = 0;
  /** @internal */ protected _height = 0;
  #spare: Cursor | null = null;
  #floor = new Uint8Array(KEY_BYTES);

  /** @internal */
  protected constructor(pager: Pager) {
    this._pager = pager;
  }

  /** @internal A token naming the current version; `_ensure` checks it is still readable. */
  protected abstract _token(): number;
  /** @internal Throws CLOSED or STALE when the version named by `token` can no longer be read. */
  protected abstract _ensure(token: number): void;

  /** Levels of this version of the tree (0 when empty, 1 when the root is a leaf). */
  get height(): number {
    return this._height;
  }

  /** Root page of this version (0 when empty). */
  get rootPage(): number {
    return this._root;
  }

  /** The value stored under `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    checkKey(key, "key", kvBadKey);
    this._ensure(this._token());
    return lookup(this._pager, this._root, this._height, key);
  }

  /**
   * Reads the pages on the paths to `keys` (sorted) that are not in memory on the thread pool,
   * a level of the tree per round, so that later synchronous reads of those keys find them
   * cached; resolves to the pages read. With `spans`, the leaves holding the whole range of
   * keys that share key i's first `spans[i]` bits are read too (the range a scan of that
   * prefix reads, which may reach past the key's own leaf). Best effort (see
   * `Pager.readAhead`): what could not be read is read, or reported, by the synchronous read.
   */
  async readAhead(keys: readonly Uint8Array[], spans?: readonly number[]): Promise<number> {
    let paths = keys;
    if (spans !== undefined) {
      const bounds: Uint8Array[] = [];
      for (let i = 0; i < keys.length; i++) {
        const bits = spans[i];
        if (bits >= 0 && bits < KEY_BITS) bounds.push(prefixFloor(keys[i], bits), prefixCeil(keys[i], bits));
      }
      paths = keys.concat(bounds);
    }
    let total = 0;
    // A round reads the missing pages of one level or more; the tree has `_height` levels.
    for (let round = 0; round <= this._height; round++) {
      this._ensure(this._token());
      const missing = this.#missingOnPaths(paths);
      if (missing.length === 0) break;
      const n = await this._pager.readAhead(missing);
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  // The first page not in memory on each key's path (a page whose kind is wrong ends the path:
  // the synchronous read reports it).
  #missingOnPaths(keys: readonly Uint8Array[]): number[] {
    const pager = this._pager;
    const out = new Set<number>();
    if (this._root === 0) return [];
    for (const key of keys) {
      let no = this._root;
      for (let level = this._height - 1; ; level--) {
        const p = pager.peek(no);
        if (p === undefined) {
          out.add(no);
          break;
        }
        if (level === 0 || p[4] !== KIND_BRANCH) break;
        no = branchChild(p, branchFind(p, key));
      }
    }
    return [...out];
  }

  /** True when `key` is present. */
  has(key: Uint8Array): boolean {
    checkKey(key, "key", kvBadKey);
    this._ensure(this._token());
    const c = new Cursor(this._pager, this._root, this._height);
    return c.seekGE(key) && compareKeyAt(key, c.leaf(), c.keyOffset()) === 0;
  }

  /** The first entry whose key is >= `key`, or undefined. */
  seek(key: Uint8Array): KvEntry | undefined {
    checkKey(key, "key", kvBadKey);
    this._ensure(this._token());
    const c = new Cursor(this._pager, this._root, this._height);
    return c.seekGE(key) ? [c.key(), c.value()] : undefined;
  }

  /** The first key >= `key`, without reading its value, or undefined. */
  seekKey(key: Uint8Array): Uint8Array | undefined {
    checkKey(key, "key", kvBadKey);
    this._ensure(this._token());
    const c = new Cursor(this._pager, this._root, this._height);
    return c.seekGE(key) ? c.key() : undefined;
  }

  /**
   * The first entry whose key agrees with `key` on its first `bits` bits (MSB first), or
   * undefined when no key has that prefix.
   */
  seekPrefix(key: Uint8Array, bits: number): KvEntry | undefined {
    const c = this.#prefixCursor(key, bits);
    if (c === undefined) return undefined;
    const entry: KvEntry = [c.key(), c.value()];
    this.#spare = c;
    return entry;
  }

  /** Like `seekPrefix` but returns only the key. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    const c = this.#prefixCursor(key, bits);
    if (c === undefined) return undefined;
    const k = c.key();
    this.#spare = c;
    return k;
  }

  /**
   * All entries whose keys agree with `key` on its first `bits` bits, in key order; at most
   * `limit` of them (a scan of a small subtrie, for rebuilding its merkle nodes).
   */
  prefixEntries(key: Uint8Array, bits: number, limit = Infinity): KvEntry[] {
    const out: KvEntry[] = [];
    const c = this.#prefixCursor(key, bits);
    if (!c) return out;
    do {
      out.push([c.key(), c.value()]);
    } while (out.length < limit && c.next() && sharesBitPrefix(key, c.leaf(), c.keyOffset(), bits));
    this.#spare = c;
    return out;
  }

  /**
   * Passes every entry whose key shares `key`'s first `bits` bits to `visit`, in key order, as
   * views (no copies; see CellVisitor), at most `limit` of them. Returns how many it passed.
   */
  scanPrefix(key: Uint8Array, bits: number, visit: CellVisitor, limit = Infinity): number {
    const c = this.#prefixCursor(key, bits);
    if (!c) return 0;
    const n = c.visitPrefix(key, bits, limit, visit);
    this.#spare = c;
    return n;
  }

  /**
   * A cursor on the first key sharing `key`'s first `bits` bits, or undefined. It is the
   * reader's spare cursor when free (prefix reads are hot in the merkle update: one per small
   * subtrie a commit touches); the caller hands it back when done. A visitor that reads the
   * same reader again meanwhile gets a cursor of its own.
   */
  #prefixCursor(key: Uint8Array, bits: number): Cursor | undefined {
    checkKey(key, "key", kvBadKey);
    checkBits(bits);
    this._ensure(this._token());
    let c = this.#spare;
    if (c === null) c = new Cursor(this._pager, this._root, this._height);
    else {
      this.#spare = null;
      c.retarget(this._root, this._height);
    }
    if (!c.seekGE(prefixFloor(key, bits, this.#floor)) || !sharesBitPrefix(key, c.leaf(), c.keyOffset(), bits)) {
      this.#spare = c;
      return undefined;
    }
    return c;
  }

  /**
   * Entries with start <= key < end in key order (or reverse order). The scan belongs to this
   * version of the tree: it throws STALE if that version is released while it runs.
   */
  *entries(options: RangeOptions = {}): Generator<KvEntry, void, undefined> {
    const c = this.#open(options);
    const token = this._token();
    for (let ok = this.#position(c, options); ok; ok = this.#step(c, options, token)) {
      yield [c.key(), c.value()];
    }
  }

  /** Keys with start <= key < end in key order (or reverse order), without reading values. */
  *keys(options: RangeOptions = {}): Generator<Uint8Array, void, undefined> {
    const c = this.#open(options);
    const token = this._token();
    for (let ok = this.#position(c, options); ok; ok = this.#step(c, options, token)) {
      yield c.key();
    }
  }

  /** `entries` as an async iterator that lets the event loop run between chunks. */
  async *entriesAsync(options: RangeOptions = {}): AsyncGenerator<KvEntry, void, undefined> {
    const c = this.#open(options);
    const token = this._token();
    let since = 0;
    for (let ok = this.#position(c, options); ok; ok = this.#step(c, options, token)) {
      yield [c.key(), c.value()];
      if (++since === ASYNC_CHUNK) {
        since = 0;
        await nextTurn();
        this._ensure(token);
      }
    }
  }

  #open(options: RangeOptions): Cursor {
    if (options === null || typeof options !== "object") {
      throw new KvError("BAD_ARGUMENT", "options: expected an object");
    }
    if (options.start !== undefined) checkKey(options.start, "options.start", kvBadKey);
    if (options.end !== undefined) checkKey(options.end, "options.end", kvBadKey);
    this._ensure(this._token());
    return new Cursor(this._pager, this._root, this._height);
  }

  #position(c: Cursor, o: RangeOptions): boolean {
    let ok: boolean;
    if (!o.reverse) ok = o.start !== undefined ? c.seekGE(o.start) : c.first();
    else ok = o.end !== undefined ? c.seekLT(o.end) : c.last();
    return ok && this.#inside(c, o);
  }

  #step(c: Cursor, o: RangeOptions, token: number): boolean {
    this._ensure(token);
    return (o.reverse ? c.prev() : c.next()) && this.#inside(c, o);
  }

  #inside(c: Cursor, o: RangeOptions): boolean {
    if (!o.reverse) return o.end === undefined || compareKeyAt(o.end, c.leaf(), c.keyOffset()) > 0;
    return o.start === undefined || compareKeyAt(o.start, c.leaf(), c.keyOffset()) <= 0;
  }
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > KEY_BITS) {
    throw new KvError("BAD_ARGUMENT", `bits: expected an integer in [0, ${KEY_BITS}], got ${bits}`);
  }
}
