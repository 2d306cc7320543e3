// JAMNP-S CE 129 "state request", the responder's side: the answer to (start, end, maxSize)
// over any trie, as the two messages the protocol sends.
//
// Message 1, the boundary nodes: the GP node encodings (64 bytes each, GP D.2: branch B(l, r),
// leaf L(k, v)) of every node on the path from the root to `start` and on the path to the last
// key returned, each once, parents before children. A path includes the node it ends at: the
// leaf of its key; for an absent `start`, the branch whose child on start's side is H0, or the
// leaf of another key that holds start's place. Nothing precedes the nodes: their count is the
// message size / 64. An empty state has no nodes.
//
// Message 2, the pairs: `key (31 bytes) ++ E(len) ++ value` for each state key with
// start <= key <= end, in key order, E the GP natural encoding. Both messages' contents
// together stay within `maxSize` bytes, except that one pair is always returned when the range
// holds any; the listing stops at the first pair that would not fit.
//
// The order of the nodes is pre-order: the path to `start` from the root, then the nodes of the
// path to the last key below the point where it leaves start's path, root-first.

import { checkSource } from "./args.ts";
import { sharedKernel } from "../hash/kernel.ts";
import { TrieError } from "./errors.ts";
import { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { naturalLength, writeNatural } from "./natural.ts";
import { encodeBranch, encodeLeaf, HASH_BYTES, NODE_BYTES } from "./node.ts";
import { BRANCH_NODE, EMPTY_NODE, LEAF_NODE, type TrieNode, type TrieNodeSource } from "./node-source.ts";
import type { Entry } from "./root.ts";

/** A CE 129 response: the contents of its two messages. */
export interface StateResponse {
  /** Message 1: boundary nodes, 64 bytes each. */
  readonly boundary: Uint8Array;
  /** Message 2: `key (31) ++ E(len) ++ value`, repeated. */
  readonly pairs: Uint8Array;
}

/** Largest `maxSize` the request can carry (a u32). */
export const MAX_STATE_REQUEST_SIZE = 0xffffffff;

/** Bytes one pair takes in message 2. */
export function pairBytes(valueLength: number): number {
  return KEY_BYTES + naturalLength(valueLength) + valueLength;
}

/** The boundary nodes of the path to `key`: their encodings and the depth of the last. */
interface Path {
  readonly nodes: Uint8Array[];
  /** Depth of the last node (-1 for an empty trie). */
  readonly depth: number;
}

/** The nodes from the root to where `key`'s path ends (a leaf, or a branch with H0 on its side). */
function walkPath(source: TrieNodeSource, key: Uint8Array): Path {
  const nodes: Uint8Array[] = [];
  let node: TrieNode = source.root();
  let depth = 0;
  const side = key.slice();
  for (;;) {
    if (node.kind === EMPTY_NODE) return { nodes, depth: depth - 1 };
    const enc = new Uint8Array(NODE_BYTES);
    if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(key, depth);
      encodeLeaf(leaf.key, leaf.value, enc, 0, leaf.value.length > 32 ? sharedKernel().hash(leaf.value) : undefined);
      nodes.push(enc);
      return { nodes, depth };
    }
    if (node.kind !== BRANCH_NODE || depth >= KEY_BITS) throw new TrieError("BAD_PATH", `node at depth ${depth} on the path is neither leaf nor branch`);
    // The sibling's position: key with bit `depth` flipped.
    side.set(key);
    side[depth >> 3] ^= 0x80 >> (depth & 7);
    const sibling = source.node(side, depth + 1);
    const sibName = sibling.name.slice(0, HASH_BYTES);
    const own = source.node(key, depth + 1);
    const ownName = own.name.slice(0, HASH_BYTES);
    if (keyBit(key, depth) === 0) encodeBranch(ownName, sibName, enc, 0);
    else encodeBranch(sibName, ownName, enc, 0);
    nodes.push(enc);
    node = { kind: own.kind, name: ownName };
    depth++;
  }
}

const MAX_KEY = new Uint8Array(KEY_BYTES).fill(0xff);

/** Entries with key >= start in key order, at most `limit` (by the source's scan, or a walk). */
function entriesFrom(source: TrieNodeSource, start: Uint8Array, limit: number): readonly Entry[] {
  if (source.scan) return source.scan(start, MAX_KEY, limit);
  const out: Entry[] = [];
  const path = new Uint8Array(KEY_BYTES);
  const visit = (node: TrieNode, depth: number): void => {
    if (out.length >= limit || node.kind === EMPTY_NODE) return;
    // Skip a subtrie wholly before `start`: its keys share path's first `depth` bits.
    const shared = commonPrefixBits(path, start);
    if (shared < depth && keyBit(path, shared) === 0) return;
    if (node.kind === LEAF_NODE) {
      const leaf = source.leaf(path, depth);
      if (compareKeys(leaf.key, start) >= 0) out.push({ key: leaf.key.slice(), value: leaf.value.slice() });
      return;
    }
    for (const bit of [0, 1]) {
      const mask = 0x80 >> (depth & 7);
      if (bit) path[depth >> 3] |= mask;
      else path[depth >> 3] &= ~mask;
      const child = source.node(path, depth + 1);
      visit({ kind: child.kind, name: child.name }, depth + 1);
    }
    path[depth >> 3] &= ~(0x80 >> (depth & 7));
  };
  visit(source.root(), 0);
  return out;
}

function checkMaxSize(maxSize: unknown): asserts maxSize is number {
  if (!Number.isSafeInteger(maxSize) || (maxSize as number) < 0 || (maxSize as number) > MAX_STATE_REQUEST_SIZE) {
    throw new TrieError("BAD_ARGUMENT", `maxSize must be an integer in 0..${MAX_STATE_REQUEST_SIZE} (a u32), got ${String(maxSize)}`);
  }
}

/**
 * The CE 129 response for (start, end, maxSize) over the trie of `source` (see the file
 * comment). Throws `TrieError` `BAD_KEY` for a bad key, `BAD_ARGUMENT` when start > end or
 * maxSize is not a u32; a source that contradicts itself ends in `BAD_PATH`.
 */
export function respondStateRequest(source: TrieNodeSource, start: Uint8Array, end: Uint8Array, maxSize: number): StateResponse {
  checkSource(source, "source");
  checkKey(start, "start");
  checkKey(end, "end");
  if (compareKeys(start, end) > 0) throw new TrieError("BAD_ARGUMENT", "start must not be after end");
  checkMaxSize(maxSize);
  const startPath = walkPath(source, start);
  const startNodes = startPath.nodes.length;
  if (startNodes === 0) return { boundary: new Uint8Array(0), pairs: new Uint8Array(0) };

  // Pairs are taken in order while they fit. Pair i, if it were the last, adds the nodes of its
  // path below where that path leaves start's: its leaf sits one level below the deepest split
  // with its neighbours in the state, so the count needs no walk (except for the first pair,
  // whose left neighbour may lie before `start`).
  const taken: Entry[] = [];
  let pairTotal = 0;
  let lastDepth = -1;
  let chunk = 64;
  let from = start;
  let prevKey: Uint8Array | null = null;
  let list = entriesFrom(source, from, chunk + 1);
  let at = 0;
  for (;;) {
    if (at >= list.length || compareKeys(list[at].key, end) > 0) break;
    if (at + 1 >= list.length && list.length === chunk + 1) {
      // Refill so that the pair after this one is known too.
      from = list[at].key;
      chunk = Math.min(chunk * 4, 1 << 16);
      list = entriesFrom(source, from, chunk + 1);
      at = 0;
      continue;
    }
    const e = list[at];
    const next = at + 1 < list.length ? list[at + 1].key : null;
    let depth: number;
    if (prevKey === null) {
      depth = walkPath(source, e.key).depth;
    } else {
      depth = commonPrefixBits(prevKey, e.key) + 1;
      if (next !== null) depth = Math.max(depth, commonPrefixBits(e.key, next) + 1);
    }
    const shared = Math.min(commonPrefixBits(start, e.key), startPath.depth, depth);
    const nodes = startNodes + depth - shared;
    const size = pairTotal + pairBytes(e.value.length);
    if (taken.length > 0 && NODE_BYTES * nodes + size > maxSize) break;
    taken.push({ key: e.key.slice(), value: e.value.slice() });
    pairTotal = size;
    lastDepth = depth;
    prevKey = taken[taken.length - 1].key;
    at++;
  }

  let extra: Uint8Array[] = [];
  if (taken.length > 0) {
    const last = taken[taken.length - 1].key;
    const lastPath = walkPath(source, last);
    if (lastPath.depth !== lastDepth)
      throw new TrieError("BAD_PATH", `the source puts the leaf of the last key at depth ${lastPath.depth}, its neighbours at ${lastDepth}`);
    const shared = Math.min(commonPrefixBits(start, last), startPath.depth, lastPath.depth);
    extra = lastPath.nodes.slice(shared + 1);
  }
  const boundary = new Uint8Array(NODE_BYTES * (startNodes + extra.length));
  startPath.nodes.forEach((n, i) => boundary.set(n, NODE_BYTES * i));
  extra.forEach((n, i) => boundary.set(n, NODE_BYTES * (startNodes + i)));
  const pairs = new Uint8Array(pairTotal);
  let w = 0;
  for (const e of taken) {
    pairs.set(e.key, w);
    w = writeNatural(e.value.length, pairs, w + KEY_BYTES);
    pairs.set(e.value, w);
    w += e.value.length;
  }
  return { boundary, pairs };
}

/**
 * The response as it goes on a stream: each message as `u32 LE size ++ content`, message 1
 * then message 2.
 */
export function frameStateResponse(response: StateResponse): Uint8Array {
  const r = response as Partial<StateResponse> | null;
  if (r === null || typeof r !== "object" || !(r.boundary instanceof Uint8Array) || !(r.pairs instanceof Uint8Array)) {
    throw new TrieError("BAD_ARGUMENT", "response must be { boundary, pairs } (two Uint8Arrays)");
  }
  const { boundary, pairs } = response;
  const out = new Uint8Array(8 + boundary.length + pairs.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, boundary.length, true);
  out.set(boundary, 4);
  dv.setUint32(4 + boundary.length, pairs.length, true);
  out.set(pairs, 8 + boundary.length);
  return out;
}

/** The two messages of a framed response; `BAD_ENCODING` when the frames do not add up. */
export function unframeStateResponse(bytes: Uint8Array): StateResponse {
  if (!(bytes instanceof Uint8Array)) throw new TrieError("BAD_ENCODING", "response must be a Uint8Array");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new TrieError("BAD_ENCODING", "response ends before message 1's size");
  const n1 = dv.getUint32(0, true);
  if (bytes.length < 8 + n1) throw new TrieError("BAD_ENCODING", `response ends inside message 1 (size ${n1}) or before message 2's size`);
  const n2 = dv.getUint32(4 + n1, true);
  if (bytes.length !== 8 + n1 + n2) throw new TrieError("BAD_ENCODING", `message 2 declares ${n2} bytes, ${bytes.length - 8 - n1} follow`);
  return { boundary: bytes.subarray(4, 4 + n1), pairs: bytes.subarray(8 + n1) };
}
