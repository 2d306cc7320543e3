// An independent, deliberately naive model of the GP trie for cross-checks: recursion straight
// from the definition of M, hashed with @noble/hashes rather than the project's kernel.
import { blake2b } from "@noble/hashes/blake2.js";

export interface RefEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export const refHash = (data: Uint8Array): Uint8Array => blake2b(data, { dkLen: 32 });

const bit = (key: Uint8Array, i: number) => (key[i >> 3] >> (7 - (i & 7))) & 1;

function leaf(e: RefEntry): Uint8Array {
  const node = new Uint8Array(64);
  node.set(e.key.subarray(0, 31), 1);
  if (e.value.length <= 32) {
    node[0] = 0x80 | e.value.length;
    node.set(e.value, 32);
  } else {
    node[0] = 0xc0;
    node.set(refHash(e.value), 32);
  }
  return refHash(node);
}

/** M(entries) at `depth`, by the book. Entries need not be sorted. */
export function refRoot(entries: RefEntry[], depth = 0): Uint8Array {
  if (entries.length === 0) return new Uint8Array(32);
  if (entries.length === 1) return leaf(entries[0]);
  const l = refRoot(
    entries.filter((e) => bit(e.key, depth) === 0),
    depth + 1,
  );
  const r = refRoot(
    entries.filter((e) => bit(e.key, depth) === 1),
    depth + 1,
  );
  const node = new Uint8Array(64);
  node.set(l, 0);
  node[0] &= 0x7f;
  node.set(r, 32);
  return refHash(node);
}

/** The 64-byte GP encoding of the node holding `entries` (at least one) at `depth`, by the book. */
export function refNodeEncoding(entries: RefEntry[], depth: number, memo?: Map<string, Uint8Array>): Uint8Array {
  const node = new Uint8Array(64);
  if (entries.length === 1) {
    const e = entries[0];
    node.set(e.key.subarray(0, 31), 1);
    if (e.value.length <= 32) {
      node[0] = 0x80 | e.value.length;
      node.set(e.value, 32);
    } else {
      node[0] = 0xc0;
      node.set(refHash(e.value), 32);
    }
    return node;
  }
  const name = (side: RefEntry[]): Uint8Array => {
    if (memo === undefined || side.length === 0) return refRoot(side, depth + 1);
    const id = `${depth + 1}:${side.length}:${Array.from(side[0].key).join(",")}`;
    let n = memo.get(id);
    if (n === undefined) {
      n = side.length === 1 ? refRoot(side, depth + 1) : refHash(refNodeEncoding(side, depth + 1, memo));
      memo.set(id, n);
    }
    return n;
  };
  node.set(name(entries.filter((e) => bit(e.key, depth) === 0)), 0);
  node[0] &= 0x7f;
  node.set(name(entries.filter((e) => bit(e.key, depth) === 1)), 32);
  return node;
}

/**
 * The encodings of the nodes from the root to where `key`'s path ends (its leaf, another key's
 * leaf, or the branch whose child on its side is empty), root first, by the book. `memo` (one
 * per entry set) keeps subtrie names already hashed.
 */
export function refPathNodes(entries: RefEntry[], key: Uint8Array, memo?: Map<string, Uint8Array>): Uint8Array[] {
  const out: Uint8Array[] = [];
  let here = entries;
  for (let depth = 0; here.length > 0; depth++) {
    out.push(refNodeEncoding(here, depth, memo));
    if (here.length === 1) break;
    here = here.filter((e) => bit(e.key, depth) === bit(key, depth));
  }
  return out;
}
