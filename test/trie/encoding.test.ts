import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildWitness,
  compareKeys,
  decodeKeyProof,
  decodeMultiProof,
  decodeProof,
  decodeRangeProof,
  decodeWitness,
  encodeKeyProof,
  encodeMultiProof,
  encodeRangeProof,
  encodeWitness,
  type Entry,
  entriesNodeSource,
  keyBit,
  keyProofFromJson,
  keyProofToJson,
  multiProofValues,
  proofFromJson,
  proveKey,
  proveMany,
  proveRange,
  sortEntries,
  toHex,
  TrieError,
  trieRoot,
  verifyKeyProof,
  verifyMultiProof,
  verifyRangeProof,
  verifyWitness,
  type Change,
} from "../../src/trie/index.ts";
import { keySharing, randomEntries, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const isEncodingError = (e: unknown) => e instanceof TrieError && e.code === "BAD_ENCODING";

describe("trie: JSON single proof shape", () => {
  it("has exactly the shared shape, with value or valueHash by the 32-byte limit", () => {
    const rng = new Rng(seed);
    const a = rng.bytes(31);
    const entries = sortEntries([
      { key: a, value: rng.bytes(32) },
      { key: keySharing(rng, a, 5), value: rng.bytes(33) },
      { key: keySharing(rng, a, 1), value: new Uint8Array(0) },
    ]);
    const source = entriesNodeSource(entries);
    const hex = /^0x([0-9a-f]{2})*$/;
    for (const key of [...entries.map((e) => e.key), keySharing(rng, entries[1].key, 100), rng.bytes(31)]) {
      const p = proveKey(source, key);
      const json = JSON.parse(JSON.stringify(keyProofToJson(p)));
      assert.deepEqual(Object.keys(json), ["root", "key", "value", "siblings", "terminal"]);
      assert.match(json.root, hex);
      assert.equal(json.root.length, 66);
      assert.equal(json.key.length, 64);
      assert.ok(json.value === null || hex.test(json.value));
      assert.equal(json.siblings.length, p.siblings.length);
      for (const s of json.siblings) assert.ok(hex.test(s) && s.length === 66);
      const t = json.terminal;
      if (t.kind === "empty") assert.deepEqual(t, { kind: "empty" });
      else {
        assert.equal(t.kind, "leaf");
        const leaf = entries.find((e) => toHex(e.key) === t.key) as Entry;
        if (leaf.value.length <= 32) assert.deepEqual(Object.keys(t), ["kind", "key", "value"]);
        else assert.deepEqual(Object.keys(t), ["kind", "key", "valueHash"]);
      }
      assert.equal(
        json.value,
        entries.some((e) => compareKeys(e.key, key) === 0) ? toHex(entries.find((e) => compareKeys(e.key, key) === 0)?.value as Uint8Array) : null,
      );
      assert.ok(verifyKeyProof(keyProofFromJson(json), trieRoot(entries)));
      assert.equal(proofFromJson(JSON.stringify(json)).type, "key");
    }
    const good = keyProofToJson(proveKey(source, a)) as Record<string, unknown>;
    for (const bad of [{ ...good, extra: 1 }, { ...good, key: "0x00" }, { ...good, siblings: ["0x1"] }, { ...good, terminal: { kind: "leaf" } }, "{", 5]) {
      assert.throws(() => keyProofFromJson(bad), isEncodingError);
    }
  });
});

describe(`trie: binary encodings are canonical and strictly decoded (seed ${seed})`, () => {
  it("refuses trailing bytes, every truncation, other headers and non-canonical forms", () => {
    const rng = new Rng(seed + 1);
    const entries = sortEntries(randomEntries(rng, 40, true));
    const source = entriesNodeSource(entries);
    const present = entries[7].key;
    const samples = [
      encodeKeyProof(proveKey(source, present)),
      encodeKeyProof(proveKey(source, rng.bytes(31))),
      encodeMultiProof(proveMany(source, [present, entries[20].key, rng.bytes(31)])),
      encodeRangeProof(proveRange(source, entries[3].key, entries[30].key, 10)),
      encodeWitness(
        buildWitness(
          source,
          [present],
          [
            [entries[9].key, null],
            [rng.bytes(31), new Uint8Array(40)],
          ],
        ),
      ),
    ];
    for (const bytes of samples) {
      assert.doesNotThrow(() => decodeProof(bytes));
      assert.throws(() => decodeProof(new Uint8Array([...bytes, 0])), isEncodingError, "trailing byte");
      for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeProof(bytes.subarray(0, n)), isEncodingError, `cut at ${n}`);
      for (const [at, v] of [
        [0, 0x63],
        [2, 2],
        [3, 9],
      ]) {
        const b = bytes.slice();
        b[at] = v;
        assert.throws(() => decodeProof(b), isEncodingError, `header byte ${at}`);
      }
    }
    // A left sibling's top bit (which no root commits to) must be written as 0.
    const p = proveKey(source, present);
    const bytes = encodeKeyProof(p);
    const bitmapAt = 4 + 32 + 31 + 1;
    const firstName = bitmapAt + ((p.siblings.length + 7) >> 3);
    const nonEmpty = p.siblings.map((s, i) => [s, i] as const).filter(([s]) => s.some((b) => b !== 0));
    let sawLeft = false;
    nonEmpty.forEach(([, depth], j) => {
      const b = bytes.slice();
      b[firstName + 32 * j] ^= 0x80;
      if (keyBit(present, depth) === 1) {
        sawLeft = true;
        if ((bytes[firstName + 32 * j] & 0x80) === 0) assert.throws(() => decodeKeyProof(b), isEncodingError, "left top bit set");
      } else assert.equal(verifyKeyProof(decodeKeyProof(b), p.root), false);
    });
    assert.ok(sawLeft);
    // Bitmap padding bits must be 0; an empty sibling must be a 0 bit, not 32 zero bytes.
    if (p.siblings.length % 8 !== 0) {
      const b = bytes.slice();
      b[bitmapAt + (p.siblings.length >> 3)] |= 1;
      assert.throws(() => decodeKeyProof(b), isEncodingError, "padding bit");
    }
    // A varint not in shortest form (the value length 0x20 written as 0xa0 0x00).
    const own = encodeKeyProof({ ...proveKey(entriesNodeSource([{ key: present, value: new Uint8Array(32) }]), present) });
    const lenAt = own.length - 33;
    assert.equal(own[lenAt], 32);
    const longForm = new Uint8Array([...own.subarray(0, lenAt), 0xa0, 0x00, ...own.subarray(lenAt + 1)]);
    assert.throws(() => decodeKeyProof(longForm), isEncodingError, "long varint");
    assert.throws(() => decodeKeyProof("x" as unknown as Uint8Array), isEncodingError);
  });
});

/** A small state, proofs of every kind over it, and the truth to judge what they prove. */
function corpus(rng: Rng) {
  const entries = sortEntries(randomEntries(rng, 8 + rng.int(56), rng.int(2) === 0));
  const source = entriesNodeSource(entries);
  const root = trieRoot(entries);
  const truth = new Map(entries.map((e) => [toHex(e.key), toHex(e.value)]));
  const key = () => (rng.int(2) ? rng.pick(entries).key : keySharing(rng, rng.pick(entries).key, rng.int(248)));
  const keys = Array.from({ length: 1 + rng.int(5) }, key);
  let [start, end] = [key(), key()];
  if (compareKeys(start, end) > 0) [start, end] = [end, start];
  const writes = new Map<string, Change>();
  for (let i = rng.int(5); i >= 0; i--) {
    const k = key();
    writes.set(toHex(k), [k, rng.int(3) ? randomValue(rng) : null]);
  }
  return {
    entries,
    root,
    truth,
    encoded: [
      encodeKeyProof(proveKey(source, keys[0])),
      encodeMultiProof(proveMany(source, keys)),
      encodeRangeProof(proveRange(source, start, end, 1 + rng.int(20))),
      encodeWitness(buildWitness(source, keys, [...writes.values()])),
    ],
  };
}

/** One random mutation of an encoding: flipped, overwritten, cut, extended, spliced, or swapped. */
function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const b = bytes.slice();
  switch (rng.int(7)) {
    case 0:
      for (let n = 1 + rng.int(3); n > 0; n--) b[rng.int(b.length)] ^= 1 + rng.int(255);
      return b;
    case 1:
      b[rng.int(b.length)] = rng.int(256);
      return b;
    case 2:
      return b.subarray(0, rng.int(b.length));
    case 3:
      return new Uint8Array([...b, ...rng.bytes(1 + rng.int(8))]);
    case 4: {
      const at = rng.int(b.length);
      return rng.int(2)
        ? new Uint8Array([...b.subarray(0, at), rng.int(256), ...b.subarray(at)])
        : new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1)]);
    }
    case 5: {
      // Two 32-byte windows swapped: siblings or names trading places when they line up.
      if (b.length < 100) return mutate(rng, bytes);
      const i = 36 + rng.int(b.length - 100);
      const j = 36 + rng.int(b.length - 100);
      const x = b.slice(i, i + 32);
      b.copyWithin(i, j, j + 32);
      b.set(x, j);
      return b;
    }
    default: {
      // A key changed: the proof's key field (bytes 36..66 in single, range and multi forms).
      b[36 + rng.int(31)] ^= 1 << rng.int(8);
      return b;
    }
  }
}

/** What a decoded proof or witness claims, as text: equal claims give equal text. */
function claim(d: ReturnType<typeof decodeProof>): string {
  const h = (v: Uint8Array | null | undefined) => (v == null ? "-" : toHex(v));
  switch (d.type) {
    case "key":
      return `${h(d.proof.key)}=${h(d.proof.value)}`;
    case "multi":
      return [...multiProofValues(d.proof).entries()].map(([k, v]) => `${h(k)}=${h(v)}`).join();
    case "range":
      return `${h(d.proof.start)}..${h(d.proof.end)}:${d.proof.entries.map((e) => h(e.key) + h(e.value)).join()}`;
    case "witness":
      return `${d.witness.reads.map(([k, v]) => h(k) + h(v)).join()}/${d.witness.writes.map(([k, v]) => h(k) + h(v)).join()}`;
  }
}

describe(`trie: fuzzing the encodings (seed ${seed})`, () => {
  it(">= 100k mutations of proofs and witnesses: never a false statement accepted, never an untyped error", () => {
    const rng = new Rng(seed + 2);
    const stats = { mutations: 0, refusedDecode: 0, refusedVerify: 0, acceptedOtherTrueClaim: 0 };
    const started = Date.now();
    while (stats.mutations < 100_000) {
      const c = corpus(rng);
      const claims = c.encoded.map((b) => claim(decodeProof(b)));
      for (let m = 0; m < 1000; m++) {
        const which = rng.int(4);
        const original = c.encoded[which];
        const bytes = mutate(rng, original);
        if (bytes.length === original.length && bytes.every((x, i) => x === original[i])) continue;
        stats.mutations++;
        let decoded: ReturnType<typeof decodeProof>;
        try {
          decoded = decodeProof(bytes);
        } catch (e) {
          if (!isEncodingError(e)) assert.fail(`untyped decode error: ${String(e)}`);
          stats.refusedDecode++;
          continue;
        }
        // Valid against the trusted root? Then every statement must be true of the state.
        let accepted = false;
        if (decoded.type === "key") {
          const p = decoded.proof;
          accepted = verifyKeyProof(p, c.root);
          if (accepted) assert.equal(p.value === null ? undefined : toHex(p.value), c.truth.get(toHex(p.key)));
        } else if (decoded.type === "multi") {
          accepted = verifyMultiProof(decoded.proof, c.root);
          if (accepted)
            for (const [k, v] of multiProofValues(decoded.proof, c.root).entries()) assert.equal(v === null ? undefined : toHex(v), c.truth.get(toHex(k)));
        } else if (decoded.type === "range") {
          const p = decoded.proof;
          accepted = verifyRangeProof(p, c.root);
          if (accepted) {
            const want = c.entries.filter((e) => compareKeys(e.key, p.start) >= 0 && compareKeys(e.key, p.end) <= 0);
            assert.deepEqual(
              p.entries.map((e) => toHex(e.key) + toHex(e.value)),
              want.map((e) => toHex(e.key) + toHex(e.value)),
            );
          }
        } else {
          try {
            const w = decoded.witness;
            const v = verifyWitness(w);
            accepted = toHex(w.prevRoot) === toHex(c.root);
            if (accepted) {
              for (const [k, value] of v.reads.entries()) assert.equal(value === null ? undefined : toHex(value), c.truth.get(toHex(k)));
              const post = new Map(c.entries.map((e) => [toHex(e.key), e]));
              for (const [k, value] of w.writes) {
                if (value === null) post.delete(toHex(k));
                else post.set(toHex(k), { key: k, value });
              }
              assert.equal(toHex(v.root), toHex(trieRoot(sortEntries([...post.values()]))));
            }
          } catch (e) {
            if (!(e instanceof TrieError)) assert.fail(`untyped witness error: ${String(e)}`);
          }
        }
        if (!accepted) {
          stats.refusedVerify++;
          continue;
        }
        // Accepted: a different claim, and true (checked above). The same claim in other bytes
        // would be a second encoding, which the decoders must refuse.
        if (claim(decoded) === claims[which]) assert.fail(`a mutation re-encodes the same claim (type ${decoded.type})`);
        stats.acceptedOtherTrueClaim++;
      }
    }
    console.log(`# ${JSON.stringify(stats)} in ${Date.now() - started} ms`);
  });
});
