import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareKeys,
  decodeKeyProof,
  decodeMultiProof,
  encodeKeyProof,
  encodeMultiProof,
  type Entry,
  entriesNodeSource,
  type MultiProof,
  multiProofValues,
  proveKey,
  proveMany,
  sortEntries,
  toHex,
  TrieError,
  trieRoot,
  verifyKeyProof,
  verifyMultiProof,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { traceStates } from "../support/vector-states.ts";

const seed = testSeed();

function absentKeys(rng: Rng, entries: readonly Entry[], n: number): Uint8Array[] {
  const present = new Set(entries.map((e) => toHex(e.key)));
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const key = entries.length > 0 && rng.int(2) === 0 ? keySharing(rng, rng.pick(entries).key, rng.int(248)) : rng.bytes(31);
    if (!present.has(toHex(key))) out.push(key);
  }
  return out;
}

function checkValues(proof: MultiProof, entries: readonly Entry[], keys: readonly Uint8Array[]): void {
  const values = multiProofValues(proof);
  const byKey = new Map(entries.map((e) => [toHex(e.key), e.value]));
  assert.equal(values.size, new Set(keys.map(toHex)).size);
  for (const k of keys) {
    const v = values.get(k);
    const expected = byKey.get(toHex(k));
    assert.ok(v !== undefined, toHex(k));
    // Byte comparison, not hex: trace values reach hundreds of kilobytes.
    assert.ok(v === null ? expected === undefined : expected !== undefined && Buffer.compare(v, expected) === 0, toHex(k));
  }
}

describe(`trie: single and multi proofs on the JAM trace states`, () => {
  it("every key of every trace state is proven, and random absent keys are proven absent", () => {
    const rng = new Rng(seed);
    let proofs = 0;
    for (const state of traceStates()) {
      const entries = sortEntries(state.entries);
      const source = entriesNodeSource(entries);
      const root = source.root().name;
      assert.equal(toHex(root), toHex(state.expectedRoot as Uint8Array), state.label);
      const absent = absentKeys(rng, entries, 5);
      for (const key of [...entries.map((e) => e.key), ...absent]) {
        const p = proveKey(source, key);
        assert.ok(verifyKeyProof(p, root), `${state.file} ${state.label} ${toHex(key)}`);
        assert.ok(verifyKeyProof(decodeKeyProof(encodeKeyProof(p)), root));
        proofs++;
      }
      const keys = [...entries.map((e) => e.key), ...absent];
      const multi = proveMany(source, keys);
      assert.ok(verifyMultiProof(multi, root), state.label);
      assert.ok(verifyMultiProof(decodeMultiProof(encodeMultiProof(multi)), root));
      checkValues(multi, entries, keys);
    }
    assert.ok(proofs > 8000);
  });
});

describe(`trie: multiproofs (seed ${seed})`, () => {
  it("prove any subset of present and absent keys, on random and clustered sets", () => {
    const rng = new Rng(seed + 1);
    for (let round = 0; round < 150; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(100), round % 2 === 0));
      const source = entriesNodeSource(entries);
      const root = trieRoot(entries);
      const keys = [...entries.filter(() => rng.int(3) === 0).map((e) => e.key), ...absentKeys(rng, entries, rng.int(6))];
      if (keys.length > 0) keys.push(rng.pick(keys)); // a repeat is proven once
      const proof = proveMany(source, keys);
      assert.ok(verifyMultiProof(proof, root));
      checkValues(proof, entries, keys);
      const again = decodeMultiProof(encodeMultiProof(proof));
      assert.ok(verifyMultiProof(again, root));
    }
  });

  it("for one key, carries exactly the single proof's siblings; with no keys, only the root", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 300, true));
    const source = entriesNodeSource(entries);
    for (let i = 0; i < 30; i++) {
      const key = i % 2 ? rng.pick(entries).key : rng.bytes(31);
      const single = proveKey(source, key);
      const multi = proveMany(source, [key]);
      assert.deepEqual(multi.siblings.map(toHex), single.siblings.map(toHex));
      assert.equal(multi.paths[0].depth, single.siblings.length);
    }
    const none = proveMany(source, []);
    assert.deepEqual(none.paths, []);
    assert.ok(verifyMultiProof(none, trieRoot(entries)));
    assert.equal(multiProofValues(none).size, 0);
    const empty = proveMany(entriesNodeSource([]), [rng.bytes(31), rng.bytes(31)]);
    assert.equal(empty.paths.length, 1);
    assert.ok(verifyMultiProof(empty, new Uint8Array(32)));
  });

  it("rejects changed siblings, terminals, keys, depths and roots (only a left sibling's top bit is free)", () => {
    const rng = new Rng(seed + 3);
    let checked = 0;
    for (let round = 0; round < 30; round++) {
      const entries = sortEntries(randomEntries(rng, 2 + rng.int(80), round % 2 === 0));
      const source = entriesNodeSource(entries);
      const root = trieRoot(entries);
      const keys = [...entries.filter(() => rng.int(4) === 0).map((e) => e.key), ...absentKeys(rng, entries, 2)];
      const proof = proveMany(source, keys);
      // Up to 40 siblings per proof (clustered sets have hundreds, each check rehashes them all).
      for (let t = 0; t < Math.min(40, proof.siblings.length); t++) {
        const s = proof.siblings.length <= 40 ? t : rng.int(proof.siblings.length);
        const siblings = proof.siblings.slice();
        const name = siblings[s].slice();
        const i = rng.int(32);
        name[i] ^= i === 0 ? 1 + rng.int(127) : 1 + rng.int(255);
        siblings[s] = name;
        assert.equal(verifyMultiProof({ ...proof, siblings }, root), false, `sibling ${s}`);
        checked++;
      }
      if (proof.siblings.length > 0) {
        assert.equal(verifyMultiProof({ ...proof, siblings: proof.siblings.slice(1) }, root), false);
        assert.equal(verifyMultiProof({ ...proof, siblings: [...proof.siblings, new Uint8Array(32)] }, root), false);
      }
      proof.paths.forEach((p, i) => {
        const paths = proof.paths.slice();
        paths[i] = { ...p, depth: p.depth + 1 };
        assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "deeper");
        if (p.depth > 0) {
          paths[i] = { ...p, depth: p.depth - 1 };
          assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "shallower");
        }
        if (p.terminal.kind === "leaf") {
          paths[i] = { ...p, terminal: { kind: "empty" } };
          assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "leaf made empty");
          const t = p.terminal;
          const key = t.key.slice();
          key[rng.int(31)] ^= 1 + rng.int(255);
          paths[i] = { ...p, terminal: { ...t, key } };
          assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "leaf key");
          if ("value" in t) {
            const value = new Uint8Array([...t.value, 0]);
            paths[i] = { ...p, terminal: { ...t, value } };
            assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "value");
          }
        }
        // A proven key changed: whenever that still verifies, what it proves is true (another
        // absent key under the same terminal): no proof of a false statement.
        const k = p.keys[0].slice();
        k[30] ^= 1;
        paths[i] = { ...p, keys: [k, ...p.keys.slice(1)].sort(compareKeys) };
        if (verifyMultiProof({ ...proof, paths }, root))
          checkValues(
            { ...proof, paths },
            entries,
            paths.flatMap((q) => q.keys),
          );
        checked += 4;
      });
      if (proof.paths.length >= 2) {
        const paths = proof.paths.slice();
        [paths[0], paths[1]] = [paths[1], paths[0]];
        assert.equal(verifyMultiProof({ ...proof, paths }, root), false, "paths swapped");
      }
      const other = root.slice();
      other[5] ^= 1;
      assert.equal(verifyMultiProof(proof, other), false);
      assert.throws(
        () => multiProofValues(proof, other),
        (e) => e instanceof TrieError && e.code === "BAD_PROOF",
      );
    }
    assert.ok(checked > 500);
  });

  it("returns false without throwing for malformed multiproofs", () => {
    const entries = sortEntries(randomEntries(new Rng(seed + 4), 30, false));
    const root = trieRoot(entries);
    const good = proveMany(entriesNodeSource(entries), [entries[0].key, entries[9].key]);
    const bad: unknown[] = [
      null,
      7,
      {},
      { ...good, paths: null },
      { ...good, siblings: [1, 2] },
      { ...good, paths: [{ ...good.paths[0], keys: [] }] },
      { ...good, paths: [{ ...good.paths[0], depth: 300 }] },
      { ...good, paths: [{ ...good.paths[0], terminal: { kind: "branch" } }, good.paths[1]] },
      { ...good, paths: [good.paths[0], good.paths[0]] },
      { ...good, root: new Uint8Array(3) },
    ];
    for (const p of bad) assert.equal(verifyMultiProof(p as MultiProof, root), false);
    assert.throws(
      () => proveMany(entriesNodeSource(entries), [new Uint8Array(3)]),
      (e) => e instanceof TrieError && e.code === "BAD_KEY",
    );
  });

  it("1000 keys on 100k entries: the multiproof is at most half the bytes of 1000 single proofs", () => {
    const rng = new Rng(seed + 5);
    const n = 100_000;
    const keys: Uint8Array[] = [];
    for (let i = 0; i < n; i++) keys.push(rng.bytes(31));
    keys.sort(compareKeys);
    const entries = keys.filter((k, i) => i === 0 || compareKeys(keys[i - 1], k) !== 0).map((key) => ({ key, value: rng.bytes(32) }));
    const source = entriesNodeSource(entries);
    const root = source.root().name;
    for (const kind of ["present", "absent"]) {
      const chosen = kind === "present" ? Array.from({ length: 1000 }, () => rng.pick(entries).key) : absentKeys(rng, [], 1000);
      let single = 0;
      for (const key of new Set(chosen)) single += encodeKeyProof(proveKey(source, key)).length;
      const multi = proveMany(source, chosen);
      assert.ok(verifyMultiProof(multi, root));
      const bytes = encodeMultiProof(multi).length;
      const ratio = bytes / single;
      console.log(`# ${kind} keys: multiproof ${bytes} B, single proofs ${single} B, ratio ${ratio.toFixed(3)}`);
      assert.ok(ratio <= 0.5, `ratio ${ratio}`);
    }
  });
});
