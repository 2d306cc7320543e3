// The merkle layer's shared types: what an update reads (pages, the old state) and what it
// gives (the new top, page writes, stats). The store, the logs and the database use them; the
// algorithm lives in update.ts.
import { type Change, EMPTY_NODE, type TrieNodeKind } from "../trie/index.ts";

export type { Change };

/** The trie's root node: its name and kind (the root has no page slot of its own). */
export interface MerkleTop {
  readonly root: Uint8Array;
  readonly kind: TrieNodeKind;
}

/** The empty trie. */
export const EMPTY_TOP: MerkleTop = { root: new Uint8Array(32), kind: EMPTY_NODE };

/** Where pages come from: returns the sealed image, or undefined for an absent page. */
export interface PageReader {
  get(id: Uint8Array): Uint8Array | undefined;
  /**
   * Optional: true when the update may change `page`, the image `get(id)` returned, in place
   * rather than in a copy. A reader grants this only for images that nobody else holds, and
   * must count them as damaged if the update throws.
   */
  inPlace?(id: Uint8Array, page: Uint8Array): boolean;
}

/** The old state's keys and values, as the update needs them from the value store. */
export interface StateReader {
  /** The one key whose first `depth` bits equal those of `path` (a leaf's key). */
  leafKeyAt(path: Uint8Array, depth: number): Uint8Array;
  /**
   * Passes every entry whose key shares the first `depth` bits of `path` to `visit`, in key
   * order, as views valid during the call (key at key[keyOff..+31], value at
   * value[valOff..+valLen]). Called only for elided subtries, which hold fewer than
   * ELISION_THRESHOLD entries.
   */
  scanUnder(path: Uint8Array, depth: number, visit: EntryVisitor): void;
}

/** Receives one entry of a `StateReader.scanUnder` as views valid during the call. */
export type EntryVisitor = (key: Uint8Array, keyOff: number, value: Uint8Array, valOff: number, valLen: number) => void;

/**
 * A page the update wrote: its new image (id stamped; the page store seals a copy before it goes to
 * disk), or null when it became empty.
 */
export interface PageWrite {
  readonly id: Uint8Array;
  readonly page: Uint8Array | null;
}

/** Work one update did. */
export interface UpdateStats {
  /** Node hashes: changed leaves plus branches. */
  hashes: number;
  /** Distinct pages looked up (present or not). */
  pagesRead: number;
  /** Pages written or deleted. */
  pagesWritten: number;
  /** Pages given a new buffer (a copy, or a new page); the others written were changed in place. */
  pagesCopied: number;
  /** Old leaves whose key was fetched from the value store. */
  leafLookups: number;
  /** Elided subtries rebuilt, and the old entries scanned for them. */
  elidedRebuilds: number;
  elidedEntries: number;
  /** Milliseconds spent reading the old state (leaf keys and prefix scans of the value store). */
  seekMs: number;
}

/** What an update gives: the new top and the pages to write or delete. */
export interface UpdateResult {
  readonly top: MerkleTop;
  readonly writes: PageWrite[];
  readonly stats: UpdateStats;
}
