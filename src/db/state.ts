// Views of a trie state: values, ordered scans, merkle pages and the root, read synchronously.
//
// The committed state is the store itself. Every other state is a `DeltaState`: a sorted list of
// changes (value, or null for absent) over a base state, with the root they give and the merkle
// pages they rewrite. A past state is the store plus the composed reverse deltas of the commits
// since; an overlay is its session's changes over its parent; a state at a root in the rollback
// window is the composed undo records over the current state. Pages of a delta are the page
// writes `updateTrie` returns for its changes over its base (pure: it only reads the base), so
// they are computed on first use when the delta did not come with them.
//
// Views are read synchronously and not kept across commits: a base that is "the state at
// version v" is resolved again at every use (`DeltaState` takes a function for its base).
import type { KvEntry } from "../kv/index.ts";
import { type Change, type EntryVisitor, type MerkleTop, pageIdKey, type PageReader, type PageWrite, type StateReader, updateTrie } from "../merkle/index.ts";
import { compareKeys, lowerBound, sortByKey, toHex } from "../trie/index.ts";
import { DbError } from "./errors.ts";
import { prefixRange, equalBytes } from "./keys.ts";

/** A trie state, read synchronously; valid until the next commit unless said otherwise. */
export interface StateView {
  /** The root node (name and kind). */
  readonly top: MerkleTop;
  /** The value of `key` (31 bytes, already checked), or undefined. */
  value(key: Uint8Array): Uint8Array | undefined;
  /** Entries with start <= key < end (either bound optional), in key order. */
  iterate(start: Uint8Array | undefined, end: Uint8Array | undefined): Iterator<KvEntry>;
  /** The first key with `path`'s first `depth` bits, or undefined. */
  firstKeyUnder(path: Uint8Array, depth: number): Uint8Array | undefined;
  /** The state's merkle pages: `get(id)` gives the sealed page, or undefined when absent. */
  readonly pages: PageReader;
  /** Entries under a prefix as views (see `EntryVisitor`), when the view can do better than `iterate`. */
  scanUnder?(path: Uint8Array, depth: number, visit: EntryVisitor, limit?: number): void;
}

/** What the committed state is read through (the store implements it). */
export interface StoreSource {
  readonly top: MerkleTop;
  get(key: Uint8Array): Uint8Array | undefined;
  entries(range: { start?: Uint8Array; end?: Uint8Array }): Iterable<KvEntry>;
  seekPrefixKey(path: Uint8Array, depth: number): Uint8Array | undefined;
  /** Entries under a prefix as views; a source without it is scanned through `entries`. */
  scanPrefix?(path: Uint8Array, depth: number, visit: EntryVisitor, limit?: number): void;
  page(id: Uint8Array): Uint8Array | undefined;
}

/** The reader `updateTrie` needs, over `view`. */
export function stateReader(view: StateView): StateReader {
  return {
    leafKeyAt(path, depth) {
      const key = view.firstKeyUnder(path, depth);
      if (key === undefined) throw new DbError("CORRUPT", `the trie has a leaf under a ${depth}-bit prefix of ${toHex(path)} that holds no key`);
      return key;
    },
    scanUnder(path, depth, visit) {
      if (view.scanUnder !== undefined) view.scanUnder(path, depth, visit);
      else scanByIterate(view, path, depth, visit);
    },
  };
}

/** Entries under a prefix, read through the view's ordered scan. */
export function scanByIterate(view: StateView, path: Uint8Array, depth: number, visit: EntryVisitor, limit = Infinity): void {
  if (limit <= 0) return;
  const { start, end } = prefixRange(path, depth);
  const it = view.iterate(start, end);
  try {
    let n = 0;
    for (let r = it.next(); !r.done; r = it.next()) {
      visit(r.value[0], 0, r.value[1], 0, r.value[1].length);
      if (++n >= limit) break;
    }
  } finally {
    it.return?.();
  }
}

/** The committed state: the store, read directly. */
export class StoreState implements StateView {
  readonly pages: PageReader;

  constructor(private readonly store: StoreSource) {
    this.pages = { get: (id) => store.page(id) };
  }

  get top(): MerkleTop {
    return this.store.top;
  }

  value(key: Uint8Array): Uint8Array | undefined {
    return this.store.get(key);
  }

  iterate(start: Uint8Array | undefined, end: Uint8Array | undefined): Iterator<KvEntry> {
    const range: { start?: Uint8Array; end?: Uint8Array } = {};
    if (start !== undefined) range.start = start;
    if (end !== undefined) range.end = end;
    return this.store.entries(range)[Symbol.iterator]();
  }

  firstKeyUnder(path: Uint8Array, depth: number): Uint8Array | undefined {
    return this.store.seekPrefixKey(path, depth);
  }

  scanUnder(path: Uint8Array, depth: number, visit: EntryVisitor, limit = Infinity): void {
    if (this.store.scanPrefix !== undefined) this.store.scanPrefix(path, depth, visit, limit);
    else scanByIterate(this, path, depth, visit, limit);
  }
}

/** Counters a delta state reports to (pages it computed). */
export interface DeltaCounters {
  deltaPageBuilds: number;
  deltaPagesBuilt: number;
}

/** Page writes of a delta by `pageIdKey`: the new image, or null where the page is gone. */
export type PageMap = Map<number | string, Uint8Array | null>;

/** The page map of an update's writes. */
export function pageMap(writes: readonly PageWrite[]): PageMap {
  const pages: PageMap = new Map();
  for (const w of writes) pages.set(pageIdKey(w.id), w.page);
  return pages;
}

/** A state given as sorted changes over a base state (see the module comment). */
export class DeltaState implements StateView {
  readonly #base: () => StateView;
  readonly #changes: readonly Change[];
  #pages: PageMap | null;
  readonly #counters: DeltaCounters | null;

  /**
   * `changes`: sorted, distinct keys; `top`: the root they give over `base()`; `pages`: their page
   * writes when known (else computed on first page read and checked against `top`).
   */
  constructor(
    base: () => StateView,
    changes: readonly Change[],
    readonly top: MerkleTop,
    pages: PageMap | null,
    counters: DeltaCounters | null = null,
  ) {
    this.#base = base;
    this.#changes = changes;
    this.#pages = pages;
    this.#counters = counters;
  }

  /** The changes, sorted by key. */
  get changes(): readonly Change[] {
    return this.#changes;
  }

  /** The page writes, when known (given, or computed by a page read), else null. */
  get pageWrites(): PageMap | null {
    return this.#pages;
  }

  readonly pages: PageReader = {
    get: (id) => {
      const p = this.#ensurePages().get(pageIdKey(id));
      if (p !== undefined) return p ?? undefined;
      return this.#base().pages.get(id);
    },
  };

  // A binary search of the sorted changes: a map by key string cost a string and an entry per
  // change for every delta made, most of which are never read by key.
  value(key: Uint8Array): Uint8Array | undefined {
    const changes = this.#changes;
    const i = lowerBound(changes, key, (c) => c[0]);
    if (i < changes.length && equalBytes(changes[i][0], key)) {
      const v = changes[i][1];
      return v === null ? undefined : v.slice();
    }
    return this.#base().value(key);
  }

  /** Drops the page writes (computed again from the base if a page is read). */
  forgetPages(): void {
    this.#pages = null;
  }

  /** True once the page writes are known (given, or computed by a page read). */
  get pagesKnown(): boolean {
    return this.#pages !== null;
  }

  #ensurePages(): PageMap {
    if (this.#pages !== null) return this.#pages;
    const base = this.#base();
    const result = updateTrie(base.top, this.#changes, base.pages, stateReader(base));
    if (!equalBytes(result.top.root, this.top.root) || result.top.kind !== this.top.kind) {
      throw new DbError(
        "CORRUPT",
        `a recorded delta of ${this.#changes.length} changes gives root ${toHex(result.top.root)}, not the recorded ${toHex(this.top.root)}`,
      );
    }
    const pages = pageMap(result.writes);
    if (this.#counters) {
      this.#counters.deltaPageBuilds++;
      this.#counters.deltaPagesBuilt += result.writes.length;
    }
    this.#pages = pages;
    return pages;
  }

  *iterate(start: Uint8Array | undefined, end: Uint8Array | undefined): Generator<KvEntry> {
    const changes = this.#changes;
    let i = start === undefined ? 0 : lowerBound(changes, start, (c) => c[0]);
    const base = this.#base().iterate(start, end);
    let b = base.next();
    for (;;) {
      const c = i < changes.length && (end === undefined || compareKeys(changes[i][0], end) < 0) ? changes[i] : undefined;
      if (c === undefined) {
        for (; !b.done; b = base.next()) yield b.value;
        return;
      }
      const order = b.done ? -1 : compareKeys(c[0], b.value[0]);
      if (order <= 0) {
        if (c[1] !== null) yield [c[0].slice(), c[1].slice()];
        i++;
        if (order === 0) b = base.next();
      } else {
        yield b.value;
        b = base.next();
      }
    }
  }

  firstKeyUnder(path: Uint8Array, depth: number): Uint8Array | undefined {
    const { start, end } = prefixRange(path, depth);
    const r = this.iterate(start, end).next();
    return r.done ? undefined : r.value[0];
  }

  // Under a prefix no change touches, the base's own scan (a trie update scans many such).
  scanUnder(path: Uint8Array, depth: number, visit: EntryVisitor, limit = Infinity): void {
    const { start, end } = prefixRange(path, depth);
    const i = lowerBound(this.#changes, start, (c) => c[0]);
    const touched = i < this.#changes.length && (end === undefined || compareKeys(this.#changes[i][0], end) < 0);
    const base = this.#base();
    if (!touched && base.scanUnder !== undefined) base.scanUnder(path, depth, visit, limit);
    else scanByIterate(this, path, depth, visit, limit);
  }
}

/** `older` then `newer` (each sorted, keys distinct) as one sorted delta: per key, the newer change. */
export function mergeChanges(older: readonly Change[], newer: readonly Change[]): Change[] {
  const out: Change[] = [];
  let i = 0;
  let j = 0;
  while (i < older.length && j < newer.length) {
    const order = compareKeys(older[i][0], newer[j][0]);
    if (order < 0) out.push(older[i++]);
    else {
      if (order === 0) i++;
      out.push(newer[j++]);
    }
  }
  while (i < older.length) out.push(older[i++]);
  while (j < newer.length) out.push(newer[j++]);
  return out;
}

/** Sorted changes of a key -> value map. */
export function sortedChanges(map: Map<string, readonly [Uint8Array, Uint8Array | null]>): Change[] {
  const out: Change[] = [...map.values()];
  sortByKey(out, (c) => c[0]);
  return out;
}
