import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareKeys,
  encodeNatural,
  type Entry,
  entriesNodeSource,
  frameStateResponse,
  readNatural,
  respondStateRequest,
  sortEntries,
  type StateResponse,
  toHex,
  TrieError,
  type TrieNodeSource,
  trieRoot,
  unframeStateResponse,
  verifyStateResponse,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { refPathNodes } from "../support/reference.ts";
import { traceStates } from "../support/vector-states.ts";

const seed = testSeed();
const ZERO = new Uint8Array(31);
const MAX = new Uint8Array(31).fill(0xff);

function inRange(entries: readonly Entry[], start: Uint8Array, end: Uint8Array): Entry[] {
  return entries.filter((e) => compareKeys(e.key, start) >= 0 && compareKeys(e.key, end) <= 0);
}

function withoutScan(source: TrieNodeSource): TrieNodeSource {
  return { root: () => source.root(), node: (p, d) => source.node(p, d), leaf: (p, d) => source.leaf(p, d) };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pairBytesOf(e: Entry): Uint8Array {
  return concat([e.key, encodeNatural(e.value.length), e.value]);
}

/** Boundary nodes by the book: start's path, then the last key's nodes not on it, each once. */
function refBoundary(entries: Entry[], start: Uint8Array, last: Uint8Array | null, memo: Map<string, Uint8Array>): Uint8Array[] {
  const nodes = refPathNodes(entries, start, memo);
  if (last !== null) {
    const seen = new Set(nodes.map(toHex));
    for (const n of refPathNodes(entries, last, memo)) if (!seen.has(toHex(n))) nodes.push(n);
  }
  return nodes;
}

/** The response the protocol asks for, computed by the book (naive, independent). */
function refResponse(entries: Entry[], start: Uint8Array, end: Uint8Array, maxSize: number): StateResponse {
  const range = inRange(entries, start, end);
  const memo = new Map<string, Uint8Array>();
  let n = 0;
  let pairSize = 0;
  while (n < range.length) {
    const size = pairSize + pairBytesOf(range[n]).length;
    const nodes = refBoundary(entries, start, range[n].key, memo).length;
    if (n > 0 && 64 * nodes + size > maxSize) break;
    pairSize = size;
    n++;
  }
  return {
    boundary: concat(refBoundary(entries, start, n > 0 ? range[n - 1].key : null, memo)),
    pairs: concat(range.slice(0, n).map(pairBytesOf)),
  };
}

function randomBound(rng: Rng, entries: readonly Entry[]): Uint8Array {
  const r = rng.int(4);
  if (entries.length > 0 && r === 0) return rng.pick(entries).key;
  if (entries.length > 0 && r === 1) return keySharing(rng, rng.pick(entries).key, rng.int(248));
  if (r === 2) return rng.int(2) ? ZERO : MAX;
  return rng.bytes(31);
}

function value(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** Answers, checks byte for byte against the book, verifies; returns the verified result. */
function check(entries: Entry[], start: Uint8Array, end: Uint8Array, maxSize: number, source?: TrieNodeSource) {
  const response = respondStateRequest(source ?? entriesNodeSource(entries), start, end, maxSize);
  const ref = refResponse(entries, start, end, maxSize);
  assert.equal(toHex(response.boundary), toHex(ref.boundary), "boundary nodes");
  assert.equal(toHex(response.pairs), toHex(ref.pairs), "pairs");
  const verified = verifyStateResponse(trieRoot(entries), start, end, response, maxSize);
  const expected = inRange(entries, start, end).slice(0, verified.entries.length);
  assert.deepEqual(
    verified.entries.map((e) => toHex(e.key) + toHex(e.value)),
    expected.map((e) => toHex(e.key) + toHex(e.value)),
  );
  const rest = inRange(entries, verified.lastKey ?? start, end).filter((e) => verified.lastKey === null || compareKeys(e.key, verified.lastKey) > 0);
  if (verified.complete) assert.equal(rest.length, 0, "complete, yet keys remain in the range");
  return { response, verified };
}

function refused(f: () => unknown, code: "BAD_PROOF" | "BAD_ENCODING", what: string): void {
  assert.throws(f, (e: unknown) => e instanceof TrieError && e.code === code, what);
}

describe("trie: GP natural-number encoding", () => {
  it("encodes the GP examples and round-trips, refusing non-shortest forms and short input", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [127, "7f"],
      [128, "8080"],
      [1000, "83e8"],
      [16383, "bfff"],
      [16384, "c00040"],
      [2 ** 21, "e0000020"],
      [2 ** 32 - 1, "f0ffffffff"],
      [2 ** 53 - 1, "feffffffffffff1f"],
    ];
    for (const [x, enc] of cases) {
      assert.equal(toHex(encodeNatural(x)).slice(2), enc, String(x));
      const back = readNatural(encodeNatural(x), 0, "x");
      assert.deepEqual(back, { value: x, next: enc.length / 2 });
    }
    refused(() => readNatural(Uint8Array.of(0x80, 0x05), 0, "x"), "BAD_ENCODING", "5 in two bytes");
    refused(() => readNatural(Uint8Array.of(0xc0, 0x01), 0, "x"), "BAD_ENCODING", "cut short");
    refused(() => readNatural(new Uint8Array(0), 0, "x"), "BAD_ENCODING", "empty");
  });
});

describe(`trie: CE 129 state requests (seed ${seed})`, () => {
  it("states of 0, 1 and 2 keys: no nodes, the one leaf, the branch and the leaves on the paths", () => {
    const a = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x10 : 0));
    const b = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x90 : 1));
    const empty = respondStateRequest(entriesNodeSource([]), ZERO, MAX, 1000);
    assert.equal(empty.boundary.length + empty.pairs.length, 0);
    assert.equal(verifyStateResponse(new Uint8Array(32), ZERO, MAX, empty).complete, true);
    const one = [{ key: a, value: value(5, 1) }];
    const r1 = check(one, ZERO, MAX, 1000);
    assert.equal(r1.response.boundary.length, 64, "just the leaf");
    assert.equal(r1.verified.entries.length, 1);
    assert.equal(r1.verified.complete, true);
    const r1b = check(one, b, MAX, 1000);
    assert.equal(r1b.response.boundary.length, 64, "the other key's leaf ends start's path");
    assert.equal(r1b.verified.entries.length, 0);
    assert.equal(r1b.verified.complete, true);
    const two = [
      { key: a, value: value(0, 0) },
      { key: b, value: value(1000, 7) },
    ];
    const r2 = check(two, ZERO, MAX, 10000);
    assert.equal(r2.response.boundary.length, 3 * 64, "root branch, then both leaves");
    assert.equal(r2.verified.entries.length, 2);
    const r2a = check(two, a, a, 10000);
    assert.equal(r2a.response.boundary.length, 2 * 64, "the branch and a's leaf, once");
    const mid = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x50 : 0));
    const r2m = check(two, mid, mid, 10000);
    assert.equal(r2m.response.boundary.length, 2 * 64, "absent start ends at a's leaf");
    assert.equal(r2m.verified.entries.length, 0);
  });

  it("an absent start ends at a branch with H0 on its side; empty ranges list nothing", () => {
    // Keys 0x00.. and 0x01..: every branch down to bit 7 has H0 on the right.
    const k1 = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x00 : 3));
    const k2 = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x01 : 3));
    const entries = [
      { key: k1, value: value(32, 2) },
      { key: k2, value: value(33, 3) },
    ];
    const start = Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x80 : 0));
    const { response, verified } = check(entries, start, MAX, 1 << 20);
    assert.equal(response.boundary.length, 64, "the root branch, whose right child is H0");
    assert.equal(verified.entries.length, 0);
    assert.equal(verified.complete, true);
    const gap = check(
      entries,
      Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x00 : 4)),
      Uint8Array.from({ length: 31 }, (_, i) => (i === 0 ? 0x00 : 5)),
      1 << 20,
    );
    assert.equal(gap.verified.entries.length, 0);
    assert.equal(gap.verified.complete, true);
  });

  it("one pair over maxSize is answered; otherwise the listing stops where the next pair would not fit", () => {
    const rng = new Rng(seed);
    const entries = sortEntries(randomEntries(rng, 60, false).map((e, i) => ({ key: e.key, value: value([0, 32, 33, 1000, 1500][i % 5], i) })));
    for (const maxSize of [0, 1, 64, 200, 1000, 3000, 10000]) {
      const { verified } = check(entries, ZERO, MAX, maxSize);
      assert.ok(verified.entries.length >= 1);
      if (maxSize < 200) assert.equal(verified.entries.length, 1, `maxSize ${maxSize}`);
    }
  });

  it("random states, random ranges and sizes, with and without scan: the book's bytes, and they verify", () => {
    const rng = new Rng(seed + 1);
    let cut = 0;
    let absent = 0;
    for (let round = 0; round < 150; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(round % 10 === 0 ? 4 : 80), round % 2 === 0));
      let start = randomBound(rng, entries);
      let end = rng.int(8) === 0 ? start : randomBound(rng, entries);
      if (compareKeys(start, end) > 0) [start, end] = [end, start];
      const maxSize = rng.pick([0, 100, 500, 2000, 8000, 1 << 20]);
      const source = round % 3 === 0 ? withoutScan(entriesNodeSource(entries)) : undefined;
      const { verified } = check(entries, start, end, maxSize, source);
      if (verified.entries.length < inRange(entries, start, end).length) cut++;
      if (!entries.some((e) => compareKeys(e.key, start) === 0)) absent++;
    }
    assert.ok(cut > 10 && absent > 10, `cut ${cut}, absent starts ${absent}`);
  });

  it("the vectors' states: whole-state transfers by repeated requests end at every root", () => {
    const states = traceStates();
    const rng = new Rng(seed + 2);
    for (let s = 0; s < states.length; s += 11) {
      const entries = sortEntries(states[s].entries);
      const root = trieRoot(entries);
      const source = entriesNodeSource(entries);
      const got: Entry[] = [];
      let start: Uint8Array | null = ZERO;
      const maxSize = rng.pick([300, 2000, 20000]);
      while (start !== null) {
        const r = respondStateRequest(source, start, MAX, maxSize);
        const v = verifyStateResponse(root, start, MAX, unframeStateResponse(frameStateResponse(r)), maxSize);
        got.push(...v.entries);
        if (v.complete) break;
        start = nextKey(v.lastKey as Uint8Array);
      }
      assert.equal(toHex(trieRoot(got)), toHex(root), states[s].label);
      assert.equal(got.length, entries.length);
    }
  });
});

function nextKey(key: Uint8Array): Uint8Array | null {
  const out = key.slice();
  for (let i = 30; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]++;
      return out;
    }
    out[i] = 0;
  }
  return null;
}

describe(`trie: CE 129 responses that lie are refused (seed ${seed})`, () => {
  const rng = new Rng(seed + 3);
  const entries = sortEntries(randomEntries(rng, 300, false));
  const root = trieRoot(entries);
  const source = entriesNodeSource(entries);
  const start = keySharing(rng, entries[40].key, 200);
  const { response, verified } = check(entries, start, MAX, 6000);
  const pairs = verified.entries;
  const nodes = Array.from({ length: response.boundary.length / 64 }, (_, i) => response.boundary.slice(64 * i, 64 * i + 64));
  const withPairs = (list: Entry[]): StateResponse => ({ boundary: response.boundary, pairs: concat(list.map(pairBytesOf)) });
  const withNodes = (list: Uint8Array[]): StateResponse => ({ boundary: concat(list), pairs: response.pairs });

  it("is a real multi-pair answer", () => {
    assert.ok(pairs.length > 10 && nodes.length > 10, `${pairs.length} pairs, ${nodes.length} nodes`);
  });

  it("refuses omitted, added, reordered and altered pairs", () => {
    for (const i of [0, 1, pairs.length >> 1, pairs.length - 2]) {
      refused(() => verifyStateResponse(root, start, MAX, withPairs(pairs.filter((_, j) => j !== i))), "BAD_PROOF", `pair ${i} omitted`);
    }
    for (const i of [0, 5, pairs.length - 2]) {
      const extra = { key: keySharing(rng, pairs[i].key, 240), value: value(3, 3) };
      if (compareKeys(extra.key, start) < 0) continue;
      refused(() => verifyStateResponse(root, start, MAX, withPairs(sortEntries([...pairs, extra]))), "BAD_PROOF", `pair added near ${i}`);
    }
    const swapped = pairs.slice();
    [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
    refused(() => verifyStateResponse(root, start, MAX, withPairs(swapped)), "BAD_PROOF", "pairs reordered");
    for (const i of [0, 7, pairs.length - 1]) {
      const altered = pairs.map((e, j) => (j === i ? { key: e.key, value: concat([e.value, Uint8Array.of(1)]) } : e));
      refused(() => verifyStateResponse(root, start, MAX, withPairs(altered)), "BAD_PROOF", `value ${i} altered`);
    }
    // A flipped byte of the last non-empty value (an empty value's last byte is its length, and
    // changing that is an encoding error, checked below).
    let j = pairs.length - 1;
    while (pairs[j].value.length === 0) j--;
    const bytes = response.pairs.slice();
    bytes[concat(pairs.slice(0, j + 1).map(pairBytesOf)).length - 1] ^= 1;
    refused(() => verifyStateResponse(root, start, MAX, { boundary: response.boundary, pairs: bytes }), "BAD_PROOF", `last byte of value ${j} flipped`);
    refused(
      () => verifyStateResponse(root, start, MAX, { boundary: response.boundary, pairs: response.pairs.subarray(0, response.pairs.length - 1) }),
      "BAD_ENCODING",
      "cut short",
    );
  });

  it("refuses omitted, added, repeated, reordered and altered nodes", () => {
    const paths = [refPathNodes(entries, start), refPathNodes(entries, pairs[pairs.length - 1].key)].map((p) => p.map(toHex));
    for (let i = 0; i < nodes.length; i++) {
      refused(() => verifyStateResponse(root, start, MAX, withNodes(nodes.filter((_, j) => j !== i))), "BAD_PROOF", `node ${i} omitted`);
      refused(() => verifyStateResponse(root, start, MAX, withNodes([...nodes, nodes[i]])), "BAD_PROOF", `node ${i} repeated`);
      if (i > 0) {
        const moved = nodes.slice();
        [moved[i - 1], moved[i]] = [moved[i], moved[i - 1]];
        // Swapping two nodes that are not parent and child keeps every parent first: still valid.
        const parentFirst = (() => {
          try {
            verifyStateResponse(root, start, MAX, withNodes(moved));
            return true;
          } catch {
            return false;
          }
        })();
        const isParent = paths.some((p) => p.some((n, k) => k + 1 < p.length && n === toHex(nodes[i - 1]) && p[k + 1] === toHex(nodes[i])));
        assert.equal(parentFirst, !isParent, `nodes ${i - 1} and ${i} swapped`);
      }
      const altered = nodes.map((n) => n.slice());
      altered[i][40] ^= 0x01;
      assert.throws(() => verifyStateResponse(root, start, MAX, withNodes(altered)), TrieError, `node ${i} altered`);
    }
    // A node off the paths: a sibling subtrie's own top node, a genuine node of this trie.
    const far = refPathNodes(entries, MAX);
    const off = far.find((n) => !nodes.some((m) => toHex(m) === toHex(n)));
    assert.ok(off !== undefined);
    refused(() => verifyStateResponse(root, start, MAX, withNodes([...nodes, off])), "BAD_PROOF", "a node off the paths");
    refused(
      () => verifyStateResponse(root, start, MAX, { boundary: response.boundary.subarray(1), pairs: response.pairs }),
      "BAD_ENCODING",
      "not 64-byte nodes",
    );
  });

  it("refuses a lie about the end and an answer from another root", () => {
    // Pairs cut before the last one, the boundary still that of the last: a gap.
    refused(() => verifyStateResponse(root, start, MAX, withPairs(pairs.slice(0, -1))), "BAD_PROOF", "last pair dropped");
    // No pairs at all, though the range holds keys.
    const startOnly = respondStateRequest(source, start, start, 1 << 20);
    refused(() => verifyStateResponse(root, start, MAX, { boundary: startOnly.boundary, pairs: new Uint8Array(0) }), "BAD_PROOF", "nothing returned");
    // Claims of completeness are only what the nodes prove: the honest cut answer is not complete.
    assert.equal(verified.complete, false);
    // A response cut shorter, honestly built for fewer pairs, is valid but says it is not complete.
    const shorter = respondStateRequest(source, start, MAX, 2000);
    const v = verifyStateResponse(root, start, MAX, shorter);
    assert.ok(v.entries.length < pairs.length && !v.complete);
    const other = trieRoot(entries.slice(1));
    refused(() => verifyStateResponse(other, start, MAX, response), "BAD_PROOF", "another root");
    refused(() => verifyStateResponse(new Uint8Array(32), start, MAX, response), "BAD_PROOF", "the empty root");
    // Over maxSize with more than one pair.
    refused(() => verifyStateResponse(root, start, MAX, response, 1000), "BAD_PROOF", "over maxSize");
  });
});
