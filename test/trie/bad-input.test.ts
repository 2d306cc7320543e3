// Table-driven bad input to every exported function and class of the hash and trie layers and of
// `bmt/verify`: each must refuse with its family's typed error (`TrieError` with a code,
// `HashError`) whose message names the argument, and the verifiers must return false, never
// throw, whatever they are given. The table is checked against the actual export lists: a new
// export without an entry fails the test. (Exports of the database layer are in
// test/db/bad-input.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as dbLayer from "../../src/db/index.ts";
import * as root from "../../src/index.ts";
import * as trieLayer from "../../src/trie/index.ts";
import {
  buildWitness,
  decodeKeyProof,
  decodeMultiProof,
  decodeRangeProof,
  decodeWitness,
  encodeKeyProof,
  encodeMultiProof,
  encodeRangeProof,
  encodeWitness,
  type Entry,
  entriesNodeSource,
  frameStateResponse,
  keyProofToJson,
  multiProofToJson,
  proveKey,
  proveMany,
  proveRange,
  rangeProofToJson,
  respondStateRequest,
  sortEntries,
  TrieError,
  trieRoot,
  witnessToJson,
} from "../../src/trie/index.ts";
import * as verify from "../../src/verify.ts";
import {
  type Bad,
  GARBAGE,
  memberNames,
  NOT_ARRAYS,
  NOT_BYTES,
  NOT_COUNTS,
  NOT_ITERABLES,
  NOT_KEYS,
  NOT_OBJECTS,
  NOT_POSITIVE,
  NOT_ROOTS,
  type Refusal,
  Tally,
} from "../support/bad-input.ts";
import { Rng } from "../support/random.ts";

// What users get: the root export (and bmt/verify below).
const api = root;

// A small trie and one of each proof over it.
const rng = new Rng(7);
const entries: Entry[] = sortEntries(Array.from({ length: 24 }, (_, i) => ({ key: rng.bytes(31), value: rng.bytes(i % 3 === 0 ? 40 : 8) })));
const source = entriesNodeSource(entries);
const stateRoot = trieRoot(entries);
const key = entries[3].key;
const keyProof = proveKey(source, key);
const multiProof = proveMany(source, [entries[1].key, entries[5].key, rng.bytes(31)]);
const rangeProof = proveRange(source, entries[2].key, entries[9].key, 4);
const write: [Uint8Array, Uint8Array | null] = [entries[4].key, new Uint8Array([1, 2])];
const witness = buildWitness(source, [entries[6].key], [write]);
const stateResponse = respondStateRequest(source, entries[0].key, entries[9].key, 4096);
const framed = frameStateResponse(stateResponse);

const trie = (codes: string[], names: string): Refusal => ({ family: TrieError, codes, names });
const ARG = ["BAD_ARGUMENT"];
const KEY = ["BAD_KEY"];
const VALUE = ["BAD_VALUE"];
const ENCODING = ["BAD_ENCODING"];

/** Replaces argument `i` of `valid` with each bad value; every call must be refused as `want`. */
async function each(
  t: Tally,
  fname: string,
  f: (...args: never[]) => unknown,
  valid: readonly unknown[],
  i: number,
  bads: readonly Bad[],
  want: Refusal,
): Promise<void> {
  for (const [label, v, names] of bads) {
    const args = valid.slice();
    args[i] = v;
    await t.refuses(`${fname}(arg ${i}: ${label})`, () => (f as (...a: unknown[]) => unknown)(...args), names === undefined ? want : { ...want, names });
  }
}

/** Entries lists that are wrong: not arrays, bad entries, unsorted, repeated. */
const BAD_ENTRY_LISTS: readonly Bad[] = [
  ...NOT_ARRAYS,
  ["array of garbage", [1, 2]],
  ["entry without value", [{ key: key }]],
  ["entry with 30-byte key", [{ key: new Uint8Array(30), value: new Uint8Array(1) }]],
  ["entry with string value", [{ key, value: "v" }]],
  ["unsorted", [entries[2], entries[1]]],
  ["repeated", [entries[1], entries[1]]],
];
const ENTRY_CODES = ["BAD_ARGUMENT", "BAD_KEY", "BAD_VALUE", "UNSORTED", "DUPLICATE_KEY"];

/** Things that are neither entries nor a node source. */
const NOT_SOURCES: readonly Bad[] = [...NOT_OBJECTS, ["empty object", {}], ["bytes", new Uint8Array(31)], ["object with root only", { root: () => null }]];

/** Write lists that are wrong. */
const BAD_WRITES: readonly Bad[] = [
  ...NOT_ARRAYS,
  ["array of garbage", [1]],
  ["write without value", [[key]]],
  ["write with 30-byte key", [[new Uint8Array(30), null]]],
  ["write with string value", [[key, "v"]]],
  ["repeated", [write, write]],
];
const WRITE_CODES = ["BAD_ARGUMENT", "BAD_KEY", "BAD_VALUE", "DUPLICATE_KEY", "UNSORTED"];

/** Key lists that are wrong. */
const BAD_KEY_LISTS: readonly Bad[] = [...NOT_ARRAYS, ...NOT_KEYS.map(([l, v]): Bad => [`[${l}]`, [v]])];

/** Proof-shaped garbage: wrong types inside otherwise whole objects. */
function broken<T extends object>(proof: T): Bad[] {
  const out: Bad[] = [...GARBAGE];
  for (const field of Object.keys(proof)) {
    // A value of another length is a proof that does not verify, not a malformed one.
    for (const [label, v] of [
      ["undefined", undefined],
      ["null", null],
      ["string", "x"],
      ["number", 3],
      ["object", {}],
      ["array of garbage", [1, "x", null]],
      ["30 bytes", new Uint8Array(30)],
    ] as Bad[]) {
      if (field === "value" && label === "30 bytes") continue;
      out.push([`${field} ${label}`, { ...proof, [field]: v }]);
    }
  }
  return out;
}

/** `broken` without the cases that are valid JSON (a key proof's value null: an absent key). */
function brokenJson(json: object): Bad[] {
  return [...broken(json).filter(([l]) => l !== "value null"), ["not JSON", "{"]];
}

/** Byte strings that are not encodings: garbage, truncations, flipped version. */
function badEncodings(good: Uint8Array): Bad[] {
  const out: Bad[] = [
    ...[...NOT_BYTES, ["null", null] as Bad].map(([l, v]): Bad => [l, v, "input"]),
    ["empty", new Uint8Array(0)],
    ["one byte", new Uint8Array([0xff])],
  ];
  for (const n of [1, 2, 5, 17]) if (n < good.length) out.push([`cut by ${n}`, good.subarray(0, good.length - n)]);
  out.push(["one extra byte", Uint8Array.from([...good, 0])]);
  const v = good.slice();
  v[0] ^= 0xff;
  out.push(["version flipped", v]);
  return out;
}

type Run = (t: Tally) => Promise<void>;
type Entry_ = "constant" | "error class" | Run | { construct: Run; methods: Record<string, Run> };

const TABLE: Record<string, Entry_> = {
  // hashing
  ready: async (t) => t.returns("ready(garbage) resolves", () => (verify.ready as (x: unknown) => Promise<void>)(null) instanceof Promise, true),
  blake2b256: (t) => each(t, "blake2b256", api.blake2b256, [new Uint8Array(3)], 0, [...NOT_BYTES, ["null", null]], trie(VALUE, "data")),
  // keys, nodes, roots
  TrieError: "error class",
  KEY_BYTES: "constant",
  BRANCH_NODE: "constant",
  EMPTY_NODE: "constant",
  LEAF_NODE: "constant",
  toHex: (t) => each(t, "toHex", api.toHex, [key], 0, [...NOT_BYTES, ["null", null]], trie(VALUE, "bytes")),
  fromHex: async (t) => {
    await each(
      t,
      "fromHex",
      api.fromHex,
      ["0x00"],
      0,
      [
        ["undefined", undefined],
        ["null", null],
        ["number", 1],
        ["bytes", key],
        ["odd", "0x123"],
        ["not hex", "0xzz"],
        ["space", "0x 1"],
      ],
      trie(VALUE, "hex"),
    );
    await each(t, "fromHex", api.fromHex, ["0x00", "x", 1], 2, [["wrong length", 2], ...NOT_COUNTS], trie(["BAD_VALUE", "BAD_ARGUMENT"], "x"));
  },
  trieRoot: (t) => each(t, "trieRoot", api.trieRoot, [entries], 0, BAD_ENTRY_LISTS, trie(ENTRY_CODES, "entries")),
  trieRootUnsorted: (t) =>
    each(
      t,
      "trieRootUnsorted",
      api.trieRootUnsorted,
      [entries],
      0,
      BAD_ENTRY_LISTS.filter(([l]) => l !== "unsorted"),
      trie(ENTRY_CODES, "entries"),
    ),
  sortEntries: (t) =>
    each(
      t,
      "sortEntries",
      api.sortEntries,
      [entries],
      0,
      BAD_ENTRY_LISTS.filter(([l]) => l !== "unsorted" && l !== "repeated"),
      trie(ENTRY_CODES, "entries"),
    ),
  entriesNodeSource: async (t) => {
    await each(t, "entriesNodeSource", api.entriesNodeSource, [entries, 0], 0, BAD_ENTRY_LISTS, trie(ENTRY_CODES, "entries"));
    await each(t, "entriesNodeSource", api.entriesNodeSource, [entries, 0], 1, [...NOT_COUNTS, ["249", 249]], trie(ARG, "topDepth"));
  },
  // proofs
  proveKey: async (t) => {
    await each(t, "proveKey", api.proveKey, [entries, key], 0, NOT_SOURCES, trie(ARG, "from"));
    await each(
      t,
      "proveKey",
      api.proveKey,
      [entries, key],
      0,
      BAD_ENTRY_LISTS.filter(([l]) => !NOT_ARRAYS.some(([m]) => m === l)),
      trie(ENTRY_CODES, "entries"),
    );
    await each(t, "proveKey", api.proveKey, [entries, key], 1, NOT_KEYS, trie(KEY, "key"));
  },
  proveMany: async (t) => {
    await each(t, "proveMany", api.proveMany, [source, [key]], 0, NOT_SOURCES, trie(ARG, "source"));
    await each(t, "proveMany", api.proveMany, [source, [key]], 1, BAD_KEY_LISTS, trie(["BAD_ARGUMENT", "BAD_KEY"], "keys"));
  },
  proveRange: async (t) => {
    const valid = [source, entries[0].key, entries[5].key, 3];
    await each(t, "proveRange", api.proveRange, valid, 0, NOT_SOURCES, trie(ARG, "source"));
    await each(t, "proveRange", api.proveRange, valid, 1, NOT_KEYS, trie(KEY, "start"));
    await each(t, "proveRange", api.proveRange, valid, 2, [...NOT_KEYS, ["before start", new Uint8Array(31)]], trie(["BAD_KEY", "BAD_ARGUMENT"], "end"));
    await each(t, "proveRange", api.proveRange, valid, 3, NOT_POSITIVE, trie(ARG, "limit"));
  },
  proveForUpdate: async (t) => {
    const valid = [source, [key], [write]];
    await each(t, "proveForUpdate", api.proveForUpdate, valid, 0, NOT_SOURCES, trie(ARG, "source"));
    await each(t, "proveForUpdate", api.proveForUpdate, valid, 1, BAD_KEY_LISTS, trie(["BAD_ARGUMENT", "BAD_KEY"], "keys"));
    await each(t, "proveForUpdate", api.proveForUpdate, valid, 2, BAD_WRITES, trie(WRITE_CODES, "writes"));
  },
  buildWitness: async (t) => {
    const valid = [source, [key], [write]];
    await each(t, "buildWitness", api.buildWitness, valid, 0, NOT_SOURCES, trie(ARG, "source"));
    await each(t, "buildWitness", api.buildWitness, valid, 1, BAD_KEY_LISTS, trie(["BAD_ARGUMENT", "BAD_KEY"], "reads"));
    await each(t, "buildWitness", api.buildWitness, valid, 2, BAD_WRITES, trie(WRITE_CODES, "writes"));
  },
  statelessUpdate: async (t) => {
    const valid = [witness.prevRoot, witness.proof, witness.writes];
    await each(t, "statelessUpdate", api.statelessUpdate, valid, 0, NOT_ROOTS, trie(["BAD_ARGUMENT", "BAD_VALUE"], "prevRoot"));
    await each(t, "statelessUpdate", api.statelessUpdate, valid, 1, broken(witness.proof), trie(["BAD_ARGUMENT", "BAD_PROOF"], "proof"));
    await each(t, "statelessUpdate", api.statelessUpdate, valid, 2, BAD_WRITES, trie(WRITE_CODES, "writes"));
  },
  multiProofValues: async (t) => {
    await each(t, "multiProofValues", api.multiProofValues, [multiProof, stateRoot], 0, broken(multiProof), trie(["BAD_PROOF"], "proof"));
    await each(
      t,
      "multiProofValues",
      api.multiProofValues,
      [multiProof, stateRoot],
      1,
      NOT_ROOTS.filter(([l]) => l !== "undefined"),
      trie(["BAD_PROOF", "BAD_ARGUMENT"], "root"),
    );
  },
  verifyWitness: (t) =>
    each(
      t,
      "verifyWitness",
      api.verifyWitness,
      [witness],
      0,
      broken(witness),
      trie(["BAD_PROOF", "BAD_ARGUMENT", "BAD_KEY", "BAD_VALUE", "DUPLICATE_KEY", "UNSORTED", "NOT_COVERED"], "witness"),
    ),
  // verifiers: false, never a throw
  verifyKeyProof: async (t) => verifiers(t, "verifyKeyProof", api.verifyKeyProof, keyProof),
  verifyMultiProof: async (t) => verifiers(t, "verifyMultiProof", api.verifyMultiProof, multiProof),
  verifyRangeProof: async (t) => verifiers(t, "verifyRangeProof", api.verifyRangeProof, rangeProof),
  isValidWitness: async (t) => verifiers(t, "isValidWitness", api.isValidWitness, witness),
  // encodings
  encodeKeyProof: (t) => each(t, "encodeKeyProof", api.encodeKeyProof, [keyProof], 0, broken(keyProof), trie(ARG, "cannot encode")),
  encodeMultiProof: (t) => each(t, "encodeMultiProof", api.encodeMultiProof, [multiProof], 0, broken(multiProof), trie(ARG, "cannot encode")),
  encodeRangeProof: (t) => each(t, "encodeRangeProof", api.encodeRangeProof, [rangeProof], 0, broken(rangeProof), trie(ARG, "cannot encode")),
  encodeWitness: (t) => each(t, "encodeWitness", api.encodeWitness, [witness], 0, broken(witness), trie(ARG, "cannot encode")),
  decodeKeyProof: (t) =>
    each(t, "decodeKeyProof", api.decodeKeyProof, [encodeKeyProof(keyProof)], 0, badEncodings(encodeKeyProof(keyProof)), trie(ENCODING, "at byte")),
  decodeMultiProof: (t) =>
    each(t, "decodeMultiProof", api.decodeMultiProof, [encodeMultiProof(multiProof)], 0, badEncodings(encodeMultiProof(multiProof)), trie(ENCODING, "at byte")),
  decodeRangeProof: (t) =>
    each(t, "decodeRangeProof", api.decodeRangeProof, [encodeRangeProof(rangeProof)], 0, badEncodings(encodeRangeProof(rangeProof)), trie(ENCODING, "at byte")),
  decodeWitness: (t) =>
    each(t, "decodeWitness", api.decodeWitness, [encodeWitness(witness)], 0, badEncodings(encodeWitness(witness)), trie(ENCODING, "at byte")),
  decodeProof: (t) => each(t, "decodeProof", api.decodeProof, [encodeKeyProof(keyProof)], 0, badEncodings(encodeKeyProof(keyProof)), trie(ENCODING, "at byte")),
  keyProofToJson: (t) => each(t, "keyProofToJson", api.keyProofToJson, [keyProof], 0, broken(keyProof), trie(ARG, "cannot encode")),
  multiProofToJson: (t) => each(t, "multiProofToJson", api.multiProofToJson, [multiProof], 0, broken(multiProof), trie(ARG, "cannot encode")),
  rangeProofToJson: (t) => each(t, "rangeProofToJson", api.rangeProofToJson, [rangeProof], 0, broken(rangeProof), trie(ARG, "cannot encode")),
  witnessToJson: (t) => each(t, "witnessToJson", api.witnessToJson, [witness], 0, broken(witness), trie(ARG, "cannot encode")),
  keyProofFromJson: (t) =>
    each(t, "keyProofFromJson", api.keyProofFromJson, [keyProofToJson(keyProof)], 0, brokenJson(keyProofToJson(keyProof) as object), trie(ENCODING, "")),
  multiProofFromJson: (t) =>
    each(
      t,
      "multiProofFromJson",
      api.multiProofFromJson,
      [multiProofToJson(multiProof)],
      0,
      brokenJson(multiProofToJson(multiProof) as object),
      trie(ENCODING, ""),
    ),
  rangeProofFromJson: (t) =>
    each(
      t,
      "rangeProofFromJson",
      api.rangeProofFromJson,
      [rangeProofToJson(rangeProof)],
      0,
      brokenJson(rangeProofToJson(rangeProof) as object),
      trie(ENCODING, ""),
    ),
  witnessFromJson: (t) =>
    each(t, "witnessFromJson", api.witnessFromJson, [witnessToJson(witness)], 0, brokenJson(witnessToJson(witness) as object), trie(ENCODING, "")),
  // CE 129 state requests
  respondStateRequest: async (t) => {
    const f = api.respondStateRequest;
    const valid = [source, entries[0].key, entries[9].key, 4096];
    await each(t, "respondStateRequest", f, valid, 0, NOT_SOURCES, trie(ARG, "source"));
    await each(t, "respondStateRequest", f, valid, 1, NOT_KEYS, trie(KEY, "start"));
    await each(
      t,
      "respondStateRequest",
      f,
      valid,
      2,
      [...NOT_KEYS, ["before start", new Uint8Array(31), "start must not be after end"]],
      trie(["BAD_KEY", "BAD_ARGUMENT"], "end"),
    );
    await each(t, "respondStateRequest", f, valid, 3, [...NOT_COUNTS, ["2^32", 2 ** 32], ["undefined", undefined]], trie(ARG, "maxSize"));
  },
  // Framing takes any two byte strings (their content is the verifier's business).
  frameStateResponse: (t) =>
    each(
      t,
      "frameStateResponse",
      api.frameStateResponse,
      [stateResponse],
      0,
      broken(stateResponse).filter(([l]) => !l.endsWith("30 bytes")),
      trie(ARG, "response"),
    ),
  unframeStateResponse: (t) =>
    each(
      t,
      "unframeStateResponse",
      api.unframeStateResponse,
      [framed],
      0,
      [
        ...[...NOT_BYTES, ["null", null] as Bad].map(([l, v]): Bad => [l, v, "response"]),
        ["empty", new Uint8Array(0), "message 1"],
        ["cut by 1", framed.subarray(0, framed.length - 1), "message 2"],
        ["one extra byte", Uint8Array.from([...framed, 0]), "message 2"],
      ],
      trie(ENCODING, ""),
    ),
  verifyStateResponse: async (t) => {
    const f = api.verifyStateResponse;
    const valid = [stateRoot, entries[0].key, entries[9].key, stateResponse, 4096];
    await each(t, "verifyStateResponse", f, valid, 0, NOT_ROOTS, trie(ARG, "root"));
    await each(t, "verifyStateResponse", f, valid, 1, NOT_KEYS, trie(KEY, "start"));
    await each(
      t,
      "verifyStateResponse",
      f,
      valid,
      2,
      [...NOT_KEYS, ["before start", new Uint8Array(31), "start must not be after end"]],
      trie(["BAD_KEY", "BAD_ARGUMENT"], "end"),
    );
    // Bytes that are not messages: the refusal names the message at fault.
    const cut = broken(stateResponse).map(([l, v]): Bad => (l.endsWith("30 bytes") ? [l, v, "message"] : [l, v]));
    await each(t, "verifyStateResponse", f, valid, 3, cut, trie(["BAD_ENCODING", "BAD_PROOF"], "response"));
    await each(t, "verifyStateResponse", f, valid, 4, [...NOT_COUNTS, ["2^32", 2 ** 32]], trie(ARG, "maxSize"));
  },
  proofFromJson: (t) =>
    each(t, "proofFromJson", api.proofFromJson, [keyProofToJson(keyProof)], 0, brokenJson(keyProofToJson(keyProof) as object), trie(ENCODING, "")),
};

/** A verifier returns false for every broken proof and bad root, and true for the good one. */
function verifiers(t: Tally, fname: string, f: (proof: never, root?: never) => boolean, good: object): void {
  const call = f as (p: unknown, r?: unknown) => boolean;
  t.returns(`${fname}(good)`, () => call(good), true);
  for (const [label, v] of broken(good)) t.returns(`${fname}(${label})`, () => call(v), false);
  for (const [label, v] of NOT_ROOTS.filter(([l]) => l !== "undefined")) t.returns(`${fname}(good, root ${label})`, () => call(good, v), false);
}

/** Names exported at the root, but for the database layer's (test/db covers those), and by `bmt/verify`. */
function coveredHere(): string[] {
  const names = new Set(Object.keys(root).filter((n) => !(n in dbLayer)));
  for (const name of Object.keys(verify)) names.add(name);
  return [...names].sort();
}

describe("trie: bad input to every exported function of the hash and trie layers and bmt/verify", () => {
  it("the table has an entry for every export and none for a name no longer exported", () => {
    const exported = coveredHere();
    assert.deepEqual(
      exported.filter((n) => !(n in TABLE)),
      [],
      "exports without an entry in the bad-input table",
    );
    assert.deepEqual(
      Object.keys(TABLE)
        .filter((n) => !exported.includes(n))
        .sort(),
      [],
      "table entries for names not exported",
    );
    for (const name of exported) {
      const e = TABLE[name];
      const v = (root as Record<string, unknown>)[name] ?? (verify as Record<string, unknown>)[name];
      if (e === "constant") assert.notEqual(typeof v, "function", `${name} is a function, not a constant`);
      else assert.equal(typeof v, "function", `${name} is not a function`);
      if (typeof e === "object") {
        const methods = memberNames(v as { prototype: object });
        assert.deepEqual(
          methods.filter((m) => !(m in e.methods)),
          [],
          `${name}: methods without an entry`,
        );
      }
    }
  });

  it("every bad input is refused with a typed error naming the argument; verifiers return false", async (ctx) => {
    const t = new Tally();
    for (const name of coveredHere()) {
      const e = TABLE[name];
      if (e === "constant" || e === "error class") continue;
      if (typeof e === "function") await e(t);
      else {
        await e.construct(t);
        for (const m of Object.values(e.methods)) await m(t);
      }
    }
    ctx.diagnostic(t.summary());
    console.log(`trie bad input: ${t.summary()}`);
    if (process.env.BAD_DUMP) console.log(t.failures.map((f) => `FAIL ${f}`).join("\n"));
    assert.deepEqual(t.failures, [], `${t.failures.length} of ${t.calls} calls not refused as they should be`);
  });
});
