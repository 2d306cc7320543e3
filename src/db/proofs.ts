// Proofs over a database state: the trie layer's builders run over a node source made of the
// state's merkle pages and its values (`pagesNodeSource`), or, on a read-only handle, which does
// not read merkle pages, over the state's entries hashed once.
//
// A source is built for one view and used synchronously, so it reads exactly one state: no
// commit can run between two of its reads.
import { type EntryVisitor, type LeafSource, MAX_PAGE_DEPTH, PAGE_ID_BYTES, type PageReader, pagesNodeSource } from "../merkle/index.ts";
import { type Entry, TrieError, type TrieNodeSource } from "../trie/index.ts";
import type { DbCore } from "./core.ts";
import { DbError } from "./errors.ts";
import { badArgument, checkKey, keyAfter } from "./keys.ts";
import { scanByIterate, type StateView } from "./state.ts";

/** The value side of `view` as the merkle node source reads it: prefix and range scans. */
export function leafSource(view: StateView): LeafSource {
  return {
    entriesUnder(path, depth, limit = Infinity) {
      const out: [Uint8Array, Uint8Array][] = [];
      const copy: EntryVisitor = (kb, ko, vb, vo, vl) => out.push([kb.slice(ko, ko + 31), vb.slice(vo, vo + vl)]);
      if (view.scanUnder !== undefined) view.scanUnder(path, depth, copy, limit);
      else scanByIterate(view, path, depth, copy, limit);
      return out;
    },
    range(start, end, limit) {
      const out: Entry[] = [];
      if (limit <= 0) return out;
      const it = view.iterate(start, keyAfter(end));
      try {
        for (let r = it.next(); !r.done; r = it.next()) {
          out.push({ key: r.value[0], value: r.value[1] });
          if (out.length >= limit) break;
        }
      } finally {
        it.return?.();
      }
      return out;
    },
  };
}

/**
 * `pages` with the last page read at each page depth remembered (a page id's byte 0 is its
 * depth). A proof walks one path per key and asks for each node and its sibling, which sit in
 * the same page, so most of its page reads repeat the one before at that depth. For one proof
 * only: pages change with commits.
 */
export function memoPages(pages: PageReader): PageReader {
  const ids = new Uint8Array((MAX_PAGE_DEPTH + 1) * PAGE_ID_BYTES);
  const known = new Uint8Array(MAX_PAGE_DEPTH + 1);
  const found: (Uint8Array | undefined)[] = new Array(MAX_PAGE_DEPTH + 1).fill(undefined);
  return {
    get(id) {
      const d = id[0];
      if (d > MAX_PAGE_DEPTH || id.length !== PAGE_ID_BYTES) return pages.get(id);
      const at = d * PAGE_ID_BYTES;
      if (known[d] === 1) {
        let same = true;
        for (let i = 1; i < PAGE_ID_BYTES; i++) {
          if (ids[at + i] !== id[i]) {
            same = false;
            break;
          }
        }
        if (same) return found[d];
      }
      const page = pages.get(id);
      ids.set(id, at);
      known[d] = 1;
      found[d] = page;
      return page;
    },
  };
}

/** The node source proofs of `view` are built from: its merkle pages, elided subtries scanned. */
export function nodeSource(view: StateView): TrieNodeSource {
  return pagesNodeSource(view.top, memoPages(view.pages), leafSource(view));
}

/**
 * Runs a proof builder over `source`. Arguments are checked before, so a `TrieError` here means
 * the stored trie and the values disagree (a missing page, a leaf with no key): `CORRUPT`.
 */
export function buildProof<T>(core: DbCore, build: () => T): T {
  try {
    return build();
  } catch (e) {
    // On a read-only handle a writer's checkpoint meanwhile can look like damage: STALE first.
    if (core.readOnly) core.checkReadOnlyCurrent();
    if (e instanceof TrieError) throw new DbError("CORRUPT", `database ${core.path}: cannot build a proof (${e.message})`, { cause: e });
    throw e;
  }
}

/** Checks `keys` of `proveMany`: an array of 31-byte keys (`BAD_ARGUMENT` naming the bad one). */
export function checkKeys(keys: unknown, name: string): asserts keys is readonly Uint8Array[] {
  if (!Array.isArray(keys)) throw new DbError("BAD_ARGUMENT", `${name} must be an array of 31-byte keys`);
  for (let i = 0; i < keys.length; i++) checkKey(keys[i], `${name}[${i}]`, badArgument);
}

/** Checks `limit` of `proveRange`: an integer >= 1. */
export function checkLimit(limit: unknown, name: string): asserts limit is number {
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) throw new DbError("BAD_ARGUMENT", `${name} must be an integer >= 1, got ${String(limit)}`);
}
