// JAMNP-S CE 129 "state request", the requester's side: checks a response (boundary nodes and
// pairs, see state-request.ts for the format) against a trusted root, with no help from the
// responder's code.
//
// What the boundary nodes prove. Each node is placed by its hash: the first must hash to the
// root, and every later one to a child, on the path to `start` or to the last key, of a branch
// placed before it (left children compared on the 255 bits a branch keeps). So a node that is
// altered, added, repeated or put before its parent has nowhere to go. Both paths must then be
// whole from the root to where they end (a leaf, or H0 on the key's side), and the path to the
// last key must end at that key's leaf. Off the two paths, each branch child is a subtrie
// known by its name: one left of start's path holds keys < start, one right of the last key's
// path keys > the last key, and one between the paths lies wholly inside [start, last key] and
// must be rebuilt from the pairs under it, name for name. With the leaves on the paths checked
// against their pairs, the pairs are exactly the state's keys from `start` to the last key.
//
// Past the last key (past `start` when no pair came back) the response proves nothing more
// than the names of the subtries there: `complete` says whether it shows that the state holds
// no key in the rest of [start, end]. A range that must hold a key (a subtrie wholly inside it,
// or a leaf in it on start's path) with no pair returned is refused: one pair is always allowed.

import { checkInteger } from "./args.ts";
import { sharedKernel } from "../hash/kernel.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { readNatural } from "./natural.ts";
import { EMBED_MAX, HASH_BYTES, isEmptyId, NODE_BYTES } from "./node.ts";
import { type Entry, subtrieRoot } from "./root.ts";
import type { StateResponse } from "./state-request.ts";

/** What a CE 129 response proves. */
export interface VerifiedStateResponse {
  /** The pairs, in key order: all the state's keys from `start` to `lastKey`. */
  readonly entries: Entry[];
  /** The last pair's key; null when none was returned. */
  readonly lastKey: Uint8Array | null;
  /** True when the response also proves no key lies after `lastKey` (or `start`) up to `end`. */
  readonly complete: boolean;
}

function bad(message: string): never {
  throw new TrieError("BAD_PROOF", message);
}

function hex(key: Uint8Array): string {
  let s = "0x";
  for (const b of key) s += b.toString(16).padStart(2, "0");
  return s;
}

/** One boundary node placed in the trie. */
interface Placed {
  readonly index: number;
  readonly depth: number;
  /** A key whose first `depth` bits are the node's position. */
  readonly path: Uint8Array;
  readonly leaf: boolean;
}

/** A child position, on a path, still waiting for its node. */
interface Slot {
  readonly depth: number;
  readonly path: Uint8Array;
  /** Its name as the parent holds it (a left child without its top bit). */
  readonly name: Uint8Array;
  readonly left: boolean;
}

function decodePairs(bytes: Uint8Array, start: Uint8Array, end: Uint8Array): Entry[] {
  const entries: Entry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const i = entries.length;
    if (at + KEY_BYTES > bytes.length) throw new TrieError("BAD_ENCODING", `pair ${i}: the message ends inside its key`);
    const key = bytes.slice(at, at + KEY_BYTES);
    const len = readNatural(bytes, at + KEY_BYTES, `pair ${i} value`);
    if (len.next + len.value > bytes.length) throw new TrieError("BAD_ENCODING", `pair ${i}: value of ${len.value} bytes runs past the message`);
    const value = bytes.slice(len.next, len.next + len.value);
    at = len.next + len.value;
    if (compareKeys(key, start) < 0) bad(`pair ${i}: key ${hex(key)} is before start`);
    if (compareKeys(key, end) > 0) bad(`pair ${i}: key ${hex(key)} is after end`);
    if (i > 0 && compareKeys(entries[i - 1].key, key) >= 0) bad(`pair ${i}: key ${hex(key)} is not after the previous pair's key`);
    entries.push({ key, value });
  }
  return entries;
}

function checkNodeEncoding(node: Uint8Array, i: number): void {
  const b = node[0];
  if ((b & 0x80) === 0) return;
  if ((b & 0x40) !== 0) {
    if (b !== 0xc0) throw new TrieError("BAD_ENCODING", `boundary node ${i}: leaf tag 0x${b.toString(16)} is neither embedded nor regular`);
    return;
  }
  const len = b & 0x3f;
  if (len > EMBED_MAX) throw new TrieError("BAD_ENCODING", `boundary node ${i}: embedded value of ${len} bytes (at most ${EMBED_MAX})`);
  for (let j = 32 + len; j < NODE_BYTES; j++) {
    if (node[j] !== 0) throw new TrieError("BAD_ENCODING", `boundary node ${i}: embedded value padding is not zero`);
  }
}

/** `name` is `held`, the name as a branch keeps it (a left child's without its top bit). */
function sameName(name: Uint8Array, held: Uint8Array, left: boolean): boolean {
  if ((left ? name[0] & 0x7f : name[0]) !== held[0]) return false;
  for (let j = 1; j < HASH_BYTES; j++) if (name[j] !== held[j]) return false;
  return true;
}

function withBit(path: Uint8Array, depth: number, bit: number): Uint8Array {
  const out = path.slice();
  const mask = 0x80 >> (depth & 7);
  if (bit) out[depth >> 3] |= mask;
  else out[depth >> 3] &= ~mask;
  return out;
}

/** Least and greatest key under the node at `depth` on `path`. */
function bounds(path: Uint8Array, depth: number): [Uint8Array, Uint8Array] {
  const lo = path.slice();
  const hi = path.slice();
  const whole = depth >> 3;
  if (whole < KEY_BYTES) {
    const keep = (0xff00 >> (depth & 7)) & 0xff;
    lo[whole] &= keep;
    hi[whole] |= ~keep & 0xff;
    lo.fill(0, whole + 1);
    hi.fill(0xff, whole + 1);
  }
  return [lo, hi];
}

/**
 * Checks a CE 129 response to (start, end) against `root`: the pairs must be exactly the
 * state's pairs from `start` to the last key returned, proven by the boundary nodes. Returns
 * the pairs, the last key and whether the rest of the range is proven empty. Throws
 * `TrieError`: `BAD_ENCODING` for bytes that are not a response (a node that is not a GP node
 * encoding, a pair cut short, a length not in its shortest form), `BAD_PROOF` naming the node
 * or pair that does not verify; `BAD_KEY` / `BAD_ARGUMENT` for bad arguments. With `maxSize`,
 * a response of more than one pair over it is refused too.
 */
export function verifyStateResponse(root: Uint8Array, start: Uint8Array, end: Uint8Array, response: StateResponse, maxSize?: number): VerifiedStateResponse {
  if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) throw new TrieError("BAD_ARGUMENT", "root must be 32 bytes");
  checkKey(start, "start");
  checkKey(end, "end");
  if (compareKeys(start, end) > 0) throw new TrieError("BAD_ARGUMENT", "start must not be after end");
  if (maxSize !== undefined) checkInteger(maxSize, "maxSize", 0, 0xffffffff);
  const boundary = response?.boundary;
  const pairBytes = response?.pairs;
  if (!(boundary instanceof Uint8Array) || !(pairBytes instanceof Uint8Array)) {
    throw new TrieError("BAD_ENCODING", "response must be { boundary, pairs } (two Uint8Arrays)");
  }
  if (boundary.length % NODE_BYTES !== 0) throw new TrieError("BAD_ENCODING", `message 1 has ${boundary.length} bytes, not a multiple of ${NODE_BYTES}`);
  const count = boundary.length / NODE_BYTES;
  const nodes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const node = boundary.subarray(NODE_BYTES * i, NODE_BYTES * (i + 1));
    checkNodeEncoding(node, i);
    nodes.push(node);
  }
  const entries = decodePairs(pairBytes, start, end);
  if (maxSize !== undefined && entries.length > 1 && boundary.length + pairBytes.length > maxSize) {
    bad(`the response has ${entries.length} pairs in ${boundary.length + pairBytes.length} bytes, over maxSize ${maxSize}`);
  }
  const lastKey = entries.length > 0 ? entries[entries.length - 1].key : null;

  if (isEmptyId(root)) {
    if (count > 0) bad(`the state is empty (root H0) but the response has ${count} boundary nodes`);
    if (entries.length > 0) bad(`the state is empty (root H0) but the response has ${entries.length} pairs`);
    return { entries, lastKey, complete: true };
  }
  if (count === 0) bad("no boundary nodes: the root node is missing");

  // Place every node by its hash (see the file comment).
  const kernel = sharedKernel();
  const onPath = (path: Uint8Array, depth: number): boolean =>
    commonPrefixBits(path, start) >= depth || (lastKey !== null && commonPrefixBits(path, lastKey) >= depth);
  const slots: Slot[] = [{ depth: 0, path: new Uint8Array(KEY_BYTES), name: root, left: false }];
  const placedAt = new Map<string, Placed>();
  const posKey = (path: Uint8Array, depth: number): string => `${depth}:${hex(bounds(path, depth)[0])}`;
  const name = new Uint8Array(HASH_BYTES);
  for (let i = 0; i < count; i++) {
    const node = nodes[i];
    kernel.hashNode(node, 0, name, 0);
    const s = slots.findIndex((slot) => sameName(name, slot.name, slot.left));
    if (s < 0) {
      bad(
        i === 0
          ? "boundary node 0 does not hash to the root"
          : `boundary node ${i} is not a child, on the path to start or to the last key, of an earlier boundary node`,
      );
    }
    const slot = slots[s];
    slots.splice(s, 1);
    const leaf = (node[0] & 0x80) !== 0;
    if (leaf && commonPrefixBits(node.subarray(1, 1 + KEY_BYTES), slot.path) < slot.depth) {
      bad(`boundary node ${i} is a leaf whose key is not under its place at depth ${slot.depth}`);
    }
    placedAt.set(posKey(slot.path, slot.depth), { index: i, depth: slot.depth, path: slot.path, leaf });
    if (!leaf) {
      if (slot.depth >= KEY_BITS) bad(`boundary node ${i} is a branch at depth ${KEY_BITS}`);
      for (const bit of [0, 1]) {
        const path = withBit(slot.path, slot.depth, bit);
        const held = node.subarray(bit * HASH_BYTES, (bit + 1) * HASH_BYTES);
        if (isEmptyId(held) || !onPath(path, slot.depth + 1)) continue;
        slots.push({ depth: slot.depth + 1, path, name: held.slice(), left: bit === 0 });
      }
    }
  }
  const placed = (path: Uint8Array, depth: number): Placed | undefined => placedAt.get(posKey(path, depth));

  // Both paths whole, the last key's ending at its leaf.
  const follow = (key: Uint8Array, what: string): Placed | null => {
    let at = placed(key, 0) as Placed;
    for (;;) {
      if (at.leaf) return at;
      const d = at.depth;
      const held = nodes[at.index].subarray(keyBit(key, d) * HASH_BYTES, (keyBit(key, d) + 1) * HASH_BYTES);
      if (isEmptyId(held)) return null;
      const next = placed(key, d + 1);
      if (next === undefined) bad(`the path to ${what} lacks its node at depth ${d + 1} (child of boundary node ${at.index})`);
      at = next;
    }
  };
  if (placed(start, 0) === undefined) bad("boundary node 0 does not hash to the root");
  follow(start, "start");
  if (lastKey !== null) {
    const lastEnd = follow(lastKey, "the last key");
    const leafKey = lastEnd === null ? null : nodes[lastEnd.index].subarray(1, 1 + KEY_BYTES);
    if (leafKey === null || compareKeys(leafKey, lastKey) !== 0) bad(`the path to the last key ${hex(lastKey)} does not end at its leaf`);
  }

  // Rebuild: every pair must land under a path leaf of its key, or in a subtrie between the
  // paths whose name the pairs under it give exactly.
  let complete = true;
  const after = lastKey ?? start;
  const checkLeaf = (p: Placed, a: number, b: number): void => {
    const node = nodes[p.index];
    const key = node.subarray(1, 1 + KEY_BYTES);
    const inRange = lastKey !== null && compareKeys(key, start) >= 0 && compareKeys(key, lastKey) <= 0;
    if (!inRange) {
      if (b > a) bad(`pair ${a} (key ${hex(entries[a].key)}) is not in the state: boundary node ${p.index} is the only leaf there, key ${hex(key)}`);
      if (lastKey === null && compareKeys(key, start) >= 0 && compareKeys(key, end) <= 0) {
        bad(`no pair returned, yet boundary node ${p.index} shows key ${hex(key)} in the range`);
      }
      return;
    }
    if (b - a !== 1 || compareKeys(entries[a].key, key) !== 0) {
      bad(
        `boundary node ${p.index} is the leaf of ${hex(key)}, in the range, but the pairs there ${b > a ? `start with ${hex(entries[a].key)}` : "are missing it"}${b - a > 1 ? ` and hold ${b - a}` : ""}`,
      );
    }
    const value = entries[a].value;
    const tag = node[0];
    let same: boolean;
    if (tag === 0xc0) {
      same = value.length > EMBED_MAX && sameName(kernel.hash(value), node.subarray(32, 64), false);
    } else {
      same = value.length === (tag & 0x3f);
      for (let j = 0; same && j < value.length; j++) same = value[j] === node[32 + j];
    }
    if (!same) bad(`pair ${a} (key ${hex(key)}): its value is not the one boundary node ${p.index} holds`);
  };
  const visit = (p: Placed, a: number, b: number): void => {
    if (p.leaf) return checkLeaf(p, a, b);
    const node = nodes[p.index];
    const d = p.depth;
    let m = a;
    while (m < b && keyBit(entries[m].key, d) === 0) m++;
    for (const bit of [0, 1]) {
      const [lo, hi] = bit === 0 ? [a, m] : [m, b];
      const path = withBit(p.path, d, bit);
      const held = node.subarray(bit * HASH_BYTES, (bit + 1) * HASH_BYTES);
      const empty = isEmptyId(held);
      const child = empty ? undefined : placed(path, d + 1);
      if (child !== undefined) {
        visit(child, lo, hi);
        continue;
      }
      if (empty) {
        if (hi > lo) bad(`pair ${lo} (key ${hex(entries[lo].key)}) is not in the state: boundary node ${p.index} has an empty subtrie there`);
        continue;
      }
      // Off both paths: a subtrie known only by its name.
      const [first, last] = bounds(path, d + 1);
      if (compareKeys(last, start) < 0) continue;
      if (compareKeys(first, after) > 0) {
        if (lastKey === null && compareKeys(last, end) <= 0)
          bad(`no pair returned, yet the subtrie at depth ${d + 1} under boundary node ${p.index}, wholly in the range, is not empty`);
        if (compareKeys(first, end) <= 0) complete = false;
        continue;
      }
      if (onPath(path, d + 1)) bad(`the path below boundary node ${p.index} lacks its node at depth ${d + 1}`);
      const rebuilt = subtrieRoot(entries, lo, hi, d + 1);
      if (!sameName(rebuilt, held, bit === 0)) {
        if (hi === lo)
          bad(
            `no pair under the ${bit === 0 ? "left" : "right"} child of boundary node ${p.index} (depth ${d + 1}), inside the range and not empty: pairs were left out`,
          );
        bad(
          `the pairs from ${lo} to ${hi - 1} under the ${bit === 0 ? "left" : "right"} child of boundary node ${p.index} (depth ${d + 1}) do not give its name: a pair is missing, added or altered`,
        );
      }
    }
  };
  visit(placed(start, 0) as Placed, 0, entries.length);
  return { entries, lastKey, complete };
}
