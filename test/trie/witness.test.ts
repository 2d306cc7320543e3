import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildWitness,
  decodeWitness,
  encodeWitness,
  type Entry,
  entriesNodeSource,
  isValidWitness,
  sortEntries,
  toHex,
  TrieError,
  trieRoot,
  verifyWitness,
  type Witness,
  witnessFromJson,
  witnessToJson,
  type Change,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { refRoot } from "../support/reference.ts";

const seed = testSeed();

function applied(entries: readonly Entry[], writes: readonly Change[]): Entry[] {
  const map = new Map(entries.map((e) => [toHex(e.key), e]));
  for (const [key, value] of writes) {
    if (value === null) map.delete(toHex(key));
    else map.set(toHex(key), { key, value });
  }
  return sortEntries([...map.values()]);
}

export interface Session {
  entries: Entry[];
  reads: Uint8Array[];
  writes: Change[];
  witness: Witness;
  postRoot: Uint8Array;
}

/** A random session on a random state: reads (present and absent) and writes of every kind. */
export function randomSession(rng: Rng, maxEntries: number, maxOps: number): Session {
  const entries = sortEntries(randomEntries(rng, rng.int(maxEntries), rng.int(2) === 0));
  const pick = (): Uint8Array => {
    const r = rng.int(4);
    if (entries.length > 0 && r < 2) return rng.pick(entries).key;
    if (entries.length > 0 && r === 2) return keySharing(rng, rng.pick(entries).key, rng.int(2) ? 247 - rng.int(4) : rng.int(248));
    return rng.bytes(31);
  };
  const reads = Array.from({ length: rng.int(maxOps) }, pick);
  const byKey = new Map<string, Change>();
  if (entries.length > 0 && rng.int(10) === 0) {
    for (const e of entries) byKey.set(toHex(e.key), [e.key, null]); // delete to empty
  } else {
    for (let i = rng.int(maxOps); i > 0; i--) {
      const key = pick();
      byKey.set(toHex(key), [key, rng.int(3) === 0 ? null : randomValue(rng)]);
    }
  }
  const writes = [...byKey.values()];
  const witness = buildWitness(entriesNodeSource(entries), reads, writes);
  return { entries, reads, writes, witness, postRoot: trieRoot(applied(entries, writes)) };
}

/** True when `result` is exactly what the original session established. */
function sameOutcome(s: Session, reads: Iterable<[Uint8Array, Uint8Array | null]>, root: Uint8Array): boolean {
  const want = s.witness.reads.map(([k, v]) => `${toHex(k)}=${v === null ? "-" : toHex(v)}`).join(",");
  const got = [...reads].map(([k, v]) => `${toHex(k)}=${v === null ? "-" : toHex(v)}`).join(",");
  return want === got && toHex(root) === toHex(s.postRoot);
}

describe(`trie: session witnesses (seed ${seed})`, () => {
  it("200 random sessions: verifyWitness recomputes the committed root and proves every read", () => {
    const rng = new Rng(seed);
    for (let i = 0; i < 200; i++) {
      const s = randomSession(rng, 150, 16);
      const bytes = encodeWitness(s.witness);
      const decoded = decodeWitness(bytes);
      const { reads, root } = verifyWitness(decoded);
      assert.equal(toHex(root), toHex(s.postRoot), `session ${i}`);
      if (i % 20 === 0) assert.equal(toHex(root), toHex(refRoot(applied(s.entries, s.writes))));
      const state = new Map(s.entries.map((e) => [toHex(e.key), toHex(e.value)]));
      assert.equal(reads.size, new Set(s.reads.map(toHex)).size);
      for (const k of s.reads) {
        const v = reads.get(k);
        assert.equal(v === null || v === undefined ? v : toHex(v), state.has(toHex(k)) ? state.get(toHex(k)) : null);
      }
      assert.ok(isValidWitness(decoded, s.postRoot));
      assert.deepEqual(encodeWitness(decoded), bytes);
      if (i % 10 === 0) {
        const json = JSON.parse(JSON.stringify(witnessToJson(s.witness)));
        assert.equal(toHex(verifyWitness(witnessFromJson(json)).root), toHex(s.postRoot));
      }
    }
  });

  it("a witness with any one byte changed is refused or establishes something else", () => {
    const rng = new Rng(seed + 1);
    let refused = 0;
    let other = 0;
    for (let i = 0; i < 12; i++) {
      const s = randomSession(rng, 40, 6);
      const bytes = encodeWitness(s.witness);
      for (let at = 0; at < bytes.length; at++) {
        const changed = bytes.slice();
        changed[at] ^= 1 + rng.int(255);
        let outcome: { reads: [Uint8Array, Uint8Array | null][]; root: Uint8Array; writes: readonly Change[] } | null = null;
        try {
          const w = decodeWitness(changed);
          const v = verifyWitness(w);
          outcome = { reads: [...v.reads.entries()], root: v.root, writes: w.writes };
        } catch (e) {
          assert.ok(e instanceof TrieError, `byte ${at}: ${String(e)}`);
        }
        if (outcome === null) refused++;
        else {
          assert.ok(!sameOutcome(s, outcome.reads, outcome.root), `byte ${at} changed nothing the verifier reports`);
          // And what it establishes instead is true of the state: no false read, no wrong root.
          const state = new Map(s.entries.map((e) => [toHex(e.key), toHex(e.value)]));
          for (const [k, v] of outcome.reads) assert.equal(v === null ? null : toHex(v), state.get(toHex(k)) ?? null);
          assert.equal(toHex(outcome.root), toHex(trieRoot(applied(s.entries, outcome.writes))));
          other++;
        }
      }
    }
    console.log(`# ${refused} refused, ${other} verified to another outcome (other writes or other absent reads)`);
    assert.ok(refused > 1000);
  });

  it("verifyWitness refuses inconsistent witnesses with typed errors; isValidWitness never throws", () => {
    const rng = new Rng(seed + 2);
    let s = randomSession(rng, 60, 8);
    while (s.witness.reads.length === 0 || s.witness.writes.length === 0) s = randomSession(rng, 60, 8);
    const w = s.witness;
    const code = (c: string) => (e: unknown) => e instanceof TrieError && e.code === c;
    const [k, v] = w.reads[0];
    const wrongRead = { ...w, reads: [[k, v === null ? new Uint8Array(1) : null] as const, ...w.reads.slice(1)] };
    assert.throws(() => verifyWitness(wrongRead), code("BAD_PROOF"));
    const stranger = rng.bytes(31);
    const uncovered = { ...w, writes: sortedWrites([...w.writes, [stranger, null]]) };
    assert.throws(() => verifyWitness(uncovered), code("NOT_COVERED"));
    const otherRoot = w.prevRoot.slice();
    otherRoot[3] ^= 1;
    assert.throws(() => verifyWitness({ ...w, prevRoot: otherRoot }), code("BAD_PROOF"));
    assert.throws(
      () => verifyWitness({ ...w, reads: [...w.reads].reverse().concat(w.reads) }),
      (e) => e instanceof TrieError,
    );
    for (const bad of [null, {}, { ...w, reads: null }, { ...w, proof: null }, wrongRead, uncovered]) {
      assert.equal(isValidWitness(bad as Witness), false);
    }
    assert.ok(isValidWitness(w, s.postRoot));
    assert.equal(isValidWitness(w, otherRoot), false);
  });
});

function sortedWrites(writes: Change[]): Change[] {
  return writes.sort((a, b) => Buffer.compare(a[0], b[0]));
}
