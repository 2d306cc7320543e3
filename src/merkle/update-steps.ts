// The trie update of a sorted batch in steps, so that a caller on the event loop can yield
// between them.
//
// The batch is cut into consecutive key-ordered chunks; each chunk is an ordinary `updateTrie`
// over the state the chunks before it made: their top, their page writes over the base pages,
// and their changes over the base state (an elided subtrie a chunk rebuilds may hold keys an
// earlier chunk set or deleted). The trie and its page set are functions of the state alone
// (page.ts, "Elision"), so the end result equals that of one update of the whole batch; the
// cost is rehashing the few nodes above each chunk once per chunk, and reading a subtrie that
// straddles a cut once per side.
//
// The generator yields after each chunk but the last, and returns the combined result: the
// last top, the pages written (the last write of a page wins; a page deleted after an earlier
// chunk created it is not written at all) and the summed stats. A synchronous caller drains
// it (`drainSteps`); an asynchronous one lets other work run between steps. Chunks are sized
// to a time budget from the time per change the previous chunks took.
import { type Change, TrieError } from "../trie/index.ts";
import { checkChanges, compareKeyTo } from "./changes.ts";
import { pageIdKey } from "./page.ts";
import type { EntryVisitor, MerkleTop, PageReader, PageWrite, StateReader, UpdateResult, UpdateStats } from "./types.ts";
import { type OldValues, updateTrie } from "./update.ts";

/** What a step reads: the base's pages and old state, valid for the step. */
export interface UpdateSource {
  readonly pages: PageReader;
  readonly state: StateReader;
}

/** How the batch is cut. */
export interface UpdateStepOptions {
  /** Target milliseconds per step (default 4). */
  readonly stepMs?: number;
  /** Changes in the first step, before there is a time per change to go by (default 64). */
  readonly firstStepChanges?: number;
  /**
   * Fixed cutting instead of the time budget: the number of changes (at least 1) of the step
   * that starts at change `lo`. For tests and measurements.
   */
  readonly plan?: (lo: number, total: number) => number;
}

/**
 * Default time budget of a step, in milliseconds. 2 rather than 4: with 4, a step and a
 * scavenge in the same pass of the event loop made most of its delays over 10 ms (bench:node:
 * delay p99 8.4-9.5 ms against 11.0-12.2, same session latency; docs/design.md).
 */
export const DEFAULT_STEP_MS = 2;
const DEFAULT_FIRST_STEP_CHANGES = 64;

/**
 * `updateTrie` of `changes` in steps (see the module comment). `source` is called at the start
 * of every step: a base whose readers are valid only until some event (a commit) gives fresh
 * ones. `oldValues`, when given, is filled as `updateTrie` fills it.
 */
export function* updateTrieSteps(
  top: MerkleTop,
  changes: readonly Change[],
  source: () => UpdateSource,
  oldValues?: OldValues,
  options: UpdateStepOptions = {},
): Generator<void, UpdateResult, void> {
  checkChanges(changes);
  const n = changes.length;
  if (oldValues !== undefined) oldValues.length = n;
  if (n === 0) {
    const s = source();
    return updateTrie(top, changes, s.pages, s.state, oldValues);
  }
  const stepMs = options.stepMs ?? DEFAULT_STEP_MS;
  const written = new Map<number | string, PageWrite>();
  const baseHas = new Map<number | string, boolean>();
  const stats: UpdateStats = { hashes: 0, pagesRead: 0, pagesWritten: 0, pagesCopied: 0, leafLookups: 0, elidedRebuilds: 0, elidedEntries: 0, seekMs: 0 };
  let msPerChange = 0;
  let lo = 0;
  for (;;) {
    let size: number;
    if (options.plan !== undefined) size = options.plan(lo, n);
    else if (lo === 0) size = options.firstStepChanges ?? DEFAULT_FIRST_STEP_CHANGES;
    else size = Math.floor(stepMs / Math.max(msPerChange, 1e-6));
    if (!Number.isInteger(size) || size < 1) size = 1;
    const hi = Math.min(n, lo + size);
    const t0 = performance.now();
    const base = source();
    const pages = overlayPages(base.pages, written, baseHas);
    const state = lo === 0 ? base.state : overlayState(base.state, changes, lo);
    const olds: OldValues | undefined = oldValues === undefined ? undefined : [];
    const r = updateTrie(top, lo === 0 && hi === n ? changes : changes.slice(lo, hi), pages, state, olds);
    top = r.top;
    for (const w of r.writes) {
      const k = pageIdKey(w.id);
      // A page this update created and a later chunk emptied was never there for the base.
      if (w.page === null && baseHas.get(k) !== true) written.delete(k);
      else written.set(k, w);
    }
    addStats(stats, r.stats);
    if (olds !== undefined) for (let i = 0; i < olds.length; i++) (oldValues as OldValues)[lo + i] = olds[i];
    // The time per change of the last step, smoothed: the next step is sized to the budget.
    const per = (performance.now() - t0) / (hi - lo);
    msPerChange = msPerChange === 0 ? per : (msPerChange + per) / 2;
    lo = hi;
    if (lo === n) break;
    yield;
  }
  const writes = [...written.values()];
  stats.pagesWritten = writes.length;
  return { top, writes, stats };
}

/** Runs stepped work to its end at once (blocking). */
export function drainSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function addStats(into: UpdateStats, s: UpdateStats): void {
  into.hashes += s.hashes;
  into.pagesRead += s.pagesRead;
  into.pagesCopied += s.pagesCopied;
  into.leafLookups += s.leafLookups;
  into.elidedRebuilds += s.elidedRebuilds;
  into.elidedEntries += s.elidedEntries;
  into.seekMs += s.seekMs;
}

/**
 * The pages after the earlier chunks: their writes over `base`. Records, on the way, whether
 * the base held each page read from it. The earlier chunks' own images may be changed in place
 * (nothing else holds them); base images as the base allows.
 */
function overlayPages(base: PageReader, written: Map<number | string, PageWrite>, baseHas: Map<number | string, boolean>): PageReader {
  return {
    get(id) {
      const k = pageIdKey(id);
      const w = written.get(k);
      if (w !== undefined) return w.page ?? undefined;
      const page = base.get(id);
      if (!baseHas.has(k)) baseHas.set(k, page !== undefined);
      return page;
    },
    inPlace(id, page) {
      const w = written.get(pageIdKey(id));
      if (w !== undefined) return w.page === page;
      return base.inPlace?.(id, page) ?? false;
    },
  };
}

/** -1, 0 or 1 as the first `depth` bits of `key` sort before, equal or after those of `path`. */
function comparePrefix(key: Uint8Array, path: Uint8Array, depth: number): number {
  const whole = depth >> 3;
  for (let i = 0; i < whole; i++) {
    const d = key[i] - path[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  const rem = depth & 7;
  if (rem === 0) return 0;
  const mask = (0xff00 >> rem) & 0xff;
  const d = (key[whole] & mask) - (path[whole] & mask);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** The old state after changes[0..lo): those changes over `base`. */
function overlayState(base: StateReader, changes: readonly Change[], lo: number): StateReader {
  /** The range [from, to) of changes[0..lo) under the `depth`-bit prefix of `path`. */
  const under = (path: Uint8Array, depth: number): [number, number] => {
    let a = 0;
    let b = lo;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (comparePrefix(changes[mid][0], path, depth) < 0) a = mid + 1;
      else b = mid;
    }
    let end = a;
    while (end < lo && comparePrefix(changes[end][0], path, depth) === 0) end++;
    return [a, end];
  };
  const deleted = (from: number, to: number, kb: Uint8Array, ko: number): boolean => {
    for (let i = from; i < to; i++) if (changes[i][1] === null && compareKeyTo(changes[i][0], kb, ko) === 0) return true;
    return false;
  };
  return {
    scanUnder(path: Uint8Array, depth: number, visit: EntryVisitor): void {
      const [from, to] = under(path, depth);
      if (from === to) return base.scanUnder(path, depth, visit);
      let i = from;
      const emit = (c: Change) => {
        const v = c[1];
        if (v !== null) visit(c[0], 0, v, 0, v.length);
      };
      base.scanUnder(path, depth, (kb, ko, vb, vo, vl) => {
        let c = 1;
        while (i < to && (c = compareKeyTo(changes[i][0], kb, ko)) < 0) emit(changes[i++]);
        if (i < to && c === 0) emit(changes[i++]);
        else visit(kb, ko, vb, vo, vl);
      });
      while (i < to) emit(changes[i++]);
    },
    leafKeyAt(path: Uint8Array, depth: number): Uint8Array {
      const [from, to] = under(path, depth);
      if (from === to) return base.leafKeyAt(path, depth);
      // The one key under a leaf: a key an earlier chunk set there, else a base key none deleted.
      for (let i = from; i < to; i++) if (changes[i][1] !== null) return changes[i][0];
      const first = base.leafKeyAt(path, depth);
      if (!deleted(from, to, first, 0)) return first;
      let found: Uint8Array | undefined;
      base.scanUnder(path, depth, (kb, ko) => {
        if (found === undefined && !deleted(from, to, kb, ko)) found = kb.slice(ko, ko + 31);
      });
      if (found === undefined) throw new TrieError("BAD_PATH", `the trie has a leaf under a ${depth}-bit prefix that holds no key`);
      return found;
    },
  };
}
