// Witness of a write session: everything a stateless verifier needs to check what the session
// read against the state root it started from, and to compute the root its writes lead to.

import { checkSource } from "./args.ts";
import { TrieError } from "./errors.ts";
import { checkKey, compareKeys } from "./key.ts";
import { type MultiProof, openMultiProof, sortedKeys } from "./multiproof.ts";
import type { TrieNodeSource } from "./node-source.ts";
import { nameOf } from "./partial-trie.ts";
import { ProvenValues } from "./proven.ts";
import { proveKey } from "./proof.ts";
import { proveForUpdate, sortedWrites, updatePartialTrie, type Change } from "./stateless.ts";
import { toHex } from "./hex.ts";
import { equalBytes } from "./bytes.ts";

/** A read as the session saw it in the state at `prevRoot`: the key and its value, or null. */
export type Read = readonly [key: Uint8Array, value: Uint8Array | null];

/**
 * A session's witness. `proof` is a multiproof against `prevRoot` whose keys include every read
 * and written key (and may include a few more: keys under siblings that deletes collapse onto).
 * `reads` and `writes` are sorted by key, each key at most once per list.
 */
export interface Witness {
  readonly prevRoot: Uint8Array;
  readonly proof: MultiProof;
  readonly reads: readonly Read[];
  readonly writes: readonly Change[];
}

/** What a valid witness establishes: the values read (verified) and the root after the writes. */
export interface VerifiedWitness {
  readonly reads: ProvenValues;
  readonly root: Uint8Array;
}

/**
 * The witness of a session that read `reads` (keys, any order) from the state of `source` and
 * then wrote `writes` (distinct keys). Reads are of the state before the session: a session that
 * reads a key after writing it reads its own write, which needs no proof and is not listed.
 * Deletes of absent keys are dropped (they change nothing).
 */
export function buildWitness(source: TrieNodeSource, reads: readonly Uint8Array[], writes: readonly Change[]): Witness {
  checkSource(source, "source");
  const readKeys = sortedKeys(reads, "reads");
  // A delete of a key the state does not have changes nothing: it is left out, so that every
  // write in a witness changes the state and none of its bytes is free.
  const sorted = sortedWrites(writes).filter(([key, value]) => value !== null || proveKey(source, key).value !== null);
  const proof = proveForUpdate(source, readKeys, sorted);
  const opened = openMultiProof(proof);
  if (opened === null) throw new TrieError("BAD_PATH", "the source produced a malformed proof");
  const readList: Read[] = readKeys.map((k) => [k, opened.values.get(k) ?? null]);
  return { prevRoot: proof.root.slice(), proof, reads: readList, writes: sorted };
}

function checkedList<T extends Read>(list: readonly T[], name: string): void {
  if (!Array.isArray(list)) throw new TrieError("BAD_ARGUMENT", `witness.${name} must be an array`);
  list.forEach((item, i) => {
    if (!Array.isArray(item) || item.length !== 2) throw new TrieError("BAD_ARGUMENT", `witness.${name}[${i}] must be [key, value | null]`);
    checkKey(item[0], `witness.${name}[${i}][0]`);
    if (item[1] !== null && !(item[1] instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `witness.${name}[${i}][1] must be a Uint8Array or null`);
    if (i > 0 && compareKeys(list[i - 1][0], item[0]) >= 0) throw new TrieError("UNSORTED", `witness.${name}[${i}] is not after the previous key`);
  });
}

/**
 * Verifies a witness: its proof against `prevRoot`, every read against the proof, every write
 * covered; returns the verified reads and the new root. Throws `TrieError` (never anything
 * else): `BAD_PROOF` when the proof fails or a read's value differs from the proven one,
 * `NOT_COVERED` when a read or write is outside the proof, `BAD_ARGUMENT`, `BAD_KEY`,
 * `BAD_VALUE`, `UNSORTED` for a malformed witness.
 */
export function verifyWitness(w: Witness): VerifiedWitness {
  try {
    if (w === null || typeof w !== "object") throw new TrieError("BAD_ARGUMENT", "witness must be an object");
    const { prevRoot, proof, reads, writes } = w;
    if (!(prevRoot instanceof Uint8Array) || prevRoot.length !== 32) throw new TrieError("BAD_ARGUMENT", "witness.prevRoot must be 32 bytes");
    checkedList(reads, "reads");
    checkedList(writes, "writes");
    const opened = openMultiProof(proof);
    if (opened === null || !equalBytes(opened.root, prevRoot) || !equalBytes(proof.root, prevRoot)) {
      throw new TrieError("BAD_PROOF", "witness.proof does not verify against witness.prevRoot");
    }
    const values: (Uint8Array | null)[] = [];
    reads.forEach(([key, value], i) => {
      const proven = opened.values.get(key);
      if (proven === undefined) throw new TrieError("NOT_COVERED", `witness.reads[${i}] (${toHex(key)}) is not one of the proof's keys`);
      if (proven === null ? value !== null : value === null || !equalBytes(proven, value)) {
        throw new TrieError("BAD_PROOF", `witness.reads[${i}] (${toHex(key)}) differs from the proven value`);
      }
      values.push(proven);
    });
    writes.forEach(([key], i) => {
      if (!opened.values.has(key)) throw new TrieError("NOT_COVERED", `witness.writes[${i}] (${toHex(key)}) is not one of the proof's keys`);
    });
    const root = nameOf(updatePartialTrie(opened.trie, writes)).slice();
    return {
      reads: new ProvenValues(
        reads.map((r) => r[0]),
        values,
      ),
      root,
    };
  } catch (e) {
    if (e instanceof TrieError) throw e;
    throw new TrieError("BAD_ARGUMENT", `malformed witness (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * True when the witness verifies and, if `newRoot` is given, leads to it. Never throws.
 */
export function isValidWitness(w: Witness, newRoot?: Uint8Array): boolean {
  try {
    const { root } = verifyWitness(w);
    return newRoot === undefined || (newRoot instanceof Uint8Array && equalBytes(root, newRoot));
  } catch {
    return false;
  }
}
