import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Entry, type KeyProof, keyBit, type ProofTerminal, proveKey, sortEntries, toHex, trieRoot, verifyKeyProof } from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

function mutate(bytes: Uint8Array, i: number, x: number): Uint8Array {
  const copy = bytes.slice();
  copy[i] ^= x;
  return copy;
}

/** Non-zero XOR mask; for byte 0 of a left sibling, one that touches a committed bit. */
function flip(rng: Rng): number {
  return 1 + rng.int(255);
}

function absentKeys(rng: Rng, entries: Entry[], n: number): Uint8Array[] {
  const present = new Set(entries.map((e) => toHex(e.key)));
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const key = entries.length > 0 && rng.int(2) === 0 ? keySharing(rng, rng.pick(entries).key, rng.int(248)) : rng.bytes(31);
    if (!present.has(toHex(key))) out.push(key);
  }
  return out;
}

describe(`trie: single-key proofs (seed ${seed})`, () => {
  it("inclusion for every key and non-inclusion for absent keys verify, on random and clustered sets", () => {
    const rng = new Rng(seed);
    for (let round = 0; round < 60; round++) {
      const entries = sortEntries(randomEntries(rng, rng.int(120), round % 2 === 0));
      const root = trieRoot(entries);
      for (const e of entries) {
        const p = proveKey(entries, e.key);
        assert.deepEqual(p.value, e.value);
        assert.ok(verifyKeyProof(p, root));
      }
      for (const key of absentKeys(rng, entries, 20)) {
        const p = proveKey(entries, key);
        assert.equal(p.value, null);
        assert.ok(verifyKeyProof(p, root), `absent ${toHex(key)}`);
      }
    }
  });

  it("the empty trie proves every key absent with an empty terminal", () => {
    const p = proveKey([], new Uint8Array(31).fill(3));
    assert.equal(p.siblings.length, 0);
    assert.equal(p.terminal.kind, "empty");
    assert.ok(verifyKeyProof(p, new Uint8Array(32)));
  });

  it("rejects a proof with any byte of a sibling, the key, the value or the terminal changed", () => {
    const rng = new Rng(seed + 1);
    let checked = 0;
    for (let round = 0; round < 20; round++) {
      // Clustered sets give paths up to 248 deep: there, test the first, last and two random
      // bytes of each sibling; on shallow random sets, every byte.
      const clustered = round % 2 === 1;
      const entries = sortEntries(randomEntries(rng, 2 + rng.int(60), clustered));
      const root = trieRoot(entries);
      const present = new Set(entries.map((e) => toHex(e.key)));
      const targets = [rng.pick(entries).key, rng.pick(entries).key, ...absentKeys(rng, entries, 2)];
      for (const key of targets) {
        const p = proveKey(entries, key);
        const included = p.value !== null;
        p.siblings.forEach((s, d) => {
          const positions = clustered ? [0, 31, rng.int(32), rng.int(32)] : [...Array(32).keys()];
          for (const i of positions) {
            const x = flip(rng);
            const siblings = p.siblings.slice();
            siblings[d] = mutate(s, i, x);
            // A left sibling's top bit is not part of its parent's preimage (GP branch encoding).
            const uncommitted = i === 0 && x === 0x80 && keyBit(key, d) === 1;
            assert.equal(verifyKeyProof({ ...p, siblings }, root), uncommitted, `sibling ${d} byte ${i} ^ ${x}`);
            checked++;
          }
        });
        for (let i = 0; i < 31; i++) {
          const changed = mutate(p.key, i, flip(rng));
          const ok = verifyKeyProof({ ...p, key: changed }, root);
          // A changed key is only ever accepted as a true statement: absent, and absent before.
          if (included) assert.equal(ok, false, `key byte ${i}`);
          else if (ok) assert.ok(!present.has(toHex(changed)));
          checked++;
        }
        if (p.value !== null) {
          for (let i = 0; i < p.value.length; i++) {
            assert.equal(verifyKeyProof({ ...p, value: mutate(p.value, i, flip(rng)) }, root), false);
            checked++;
          }
          assert.equal(verifyKeyProof({ ...p, value: new Uint8Array([...p.value, 0]) }, root), false);
          if (p.value.length > 0) {
            assert.equal(verifyKeyProof({ ...p, value: p.value.subarray(0, p.value.length - 1) }, root), false, "value cut");
          }
          assert.equal(verifyKeyProof({ ...p, value: null }, root), false);
        } else {
          assert.equal(verifyKeyProof({ ...p, value: new Uint8Array(0) }, root), false);
        }
        const t = p.terminal;
        if (t.kind === "leaf") {
          for (let i = 0; i < 31; i++) {
            assert.equal(verifyKeyProof({ ...p, terminal: { ...t, key: mutate(t.key, i, flip(rng)) } }, root), false);
          }
          if ("value" in t) {
            for (let i = 0; i < t.value.length; i++) {
              const terminal: ProofTerminal = { ...t, value: mutate(t.value, i, flip(rng)) };
              assert.equal(verifyKeyProof({ ...p, terminal }, root), false);
            }
          } else {
            for (let i = 0; i < 32; i++) {
              const terminal: ProofTerminal = { ...t, valueHash: mutate(t.valueHash, i, flip(rng)) };
              assert.equal(verifyKeyProof({ ...p, terminal }, root), false);
            }
          }
          assert.equal(verifyKeyProof({ ...p, terminal: { kind: "empty" } }, root), false);
        }
        assert.equal(verifyKeyProof(p, mutate(root, rng.int(32), flip(rng))), false, "other root");
        assert.ok(verifyKeyProof(p, root), "the untouched proof still verifies");
      }
    }
    assert.ok(checked > 1000);
  });

  it("ignores only the top bit of a left sibling, which the root does not commit to", () => {
    const entries = sortEntries(randomEntries(new Rng(seed + 4), 300, false));
    const root = trieRoot(entries);
    let lefts = 0;
    for (const e of entries.slice(0, 40)) {
      const p = proveKey(entries, e.key);
      p.siblings.forEach((s, d) => {
        const siblings = p.siblings.slice();
        siblings[d] = mutate(s, 0, 0x80);
        const isLeft = keyBit(e.key, d) === 1;
        assert.equal(verifyKeyProof({ ...p, siblings }, root), isLeft, `depth ${d}`);
        if (isLeft) lefts++;
      });
    }
    assert.ok(lefts > 10);
  });

  it("rejects dropped, added and swapped siblings", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 200, true));
    const root = trieRoot(entries);
    for (const e of entries.slice(0, 50)) {
      const p = proveKey(entries, e.key);
      const s = p.siblings;
      assert.equal(verifyKeyProof({ ...p, siblings: s.slice(1) }, root), false);
      assert.equal(verifyKeyProof({ ...p, siblings: s.slice(0, -1) }, root), false);
      assert.equal(verifyKeyProof({ ...p, siblings: [...s, new Uint8Array(32)] }, root), false);
      assert.equal(verifyKeyProof({ ...p, siblings: [new Uint8Array(32), ...s] }, root), false);
      if (s.length >= 2 && toHex(s[0]) !== toHex(s[1])) {
        assert.equal(verifyKeyProof({ ...p, siblings: [s[1], s[0], ...s.slice(2)] }, root), false);
      }
    }
  });

  it("returns false, without throwing, for malformed proofs", () => {
    const entries = sortEntries(randomEntries(new Rng(seed + 3), 10, false));
    const root = trieRoot(entries);
    const good = proveKey(entries, entries[0].key);
    const bad: unknown[] = [
      null,
      undefined,
      42,
      {},
      { ...good, key: new Uint8Array(32) },
      { ...good, key: "00" },
      { ...good, siblings: null },
      { ...good, siblings: [new Uint8Array(31)] },
      { ...good, siblings: Array(249).fill(new Uint8Array(32)) },
      { ...good, terminal: null },
      { ...good, terminal: { kind: "branch" } },
      { ...good, terminal: { kind: "leaf", key: entries[0].key } },
      { ...good, terminal: { kind: "leaf", key: entries[0].key, value: new Uint8Array(33) } },
      { ...good, terminal: { kind: "leaf", key: entries[0].key, value: entries[0].value, valueHash: new Uint8Array(32) } },
      { ...good, value: [1, 2] },
      { ...good, root: new Uint8Array(31) },
    ];
    for (const p of bad) assert.equal(verifyKeyProof(p as KeyProof, root), false, JSON.stringify(p));
    assert.equal(verifyKeyProof(good, "zz" as unknown as Uint8Array), false);
  });
});
