// The binary encoding of proofs and witnesses (version 1), byte by byte in docs/proof-format.md.
//
// Deterministic: one proof has one encoding, and decoders refuse anything else (trailing bytes,
// lengths past the end, varints not in shortest form, out-of-order keys, fields out of range).
// Two things the GP root does not commit to are fixed so that no byte is free: an empty
// sibling is a bit in a bitmap rather than 32 zero bytes, and the top bit of a left sibling's
// name (dropped by its parent's encoding) is written as 0. A decoded proof therefore carries
// that bit as 0; it verifies exactly as the original.

import { sharedKernel } from "../hash/kernel.ts";
import { type ByteReader, ByteWriter, isBytes } from "./bytes.ts";
import {
  decoding,
  header,
  KEY_PROOF,
  keyOf,
  MULTI_PROOF,
  notEncodable,
  RANGE_PROOF,
  readHeader,
  readOtherLeaf,
  readSiblings,
  T_EMBEDDED_LEAF,
  T_EMPTY,
  T_HASHED_LEAF,
  T_OWN_LEAF,
  WITNESS,
  writeOtherLeaf,
  writeSiblings,
} from "./encoding-frame.ts";
import { decodeMultiProof } from "./encoding-multi.ts";
import { decodeRangeProof } from "./encoding-range.ts";
import { decodeWitness } from "./encoding-witness.ts";
import { TrieError } from "./errors.ts";
import { compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { EMBED_MAX, HASH_BYTES } from "./node.ts";
import type { KeyProof, ProofTerminal } from "./proof.ts";
import type { MultiProof } from "./multiproof.ts";
import type { RangeProof } from "./range-proof.ts";
import type { Witness } from "./witness.ts";

export { FORMAT_VERSION } from "./encoding-frame.ts";
export { decodeMultiProof, encodeMultiProof } from "./encoding-multi.ts";
export { decodeRangeProof, encodeRangeProof } from "./encoding-range.ts";
export { decodeWitness, encodeWitness } from "./encoding-witness.ts";

// ---- single-key proof ----

/** The canonical bytes of a single-key proof (throws `BAD_ARGUMENT` for an inconsistent one). */
export function encodeKeyProof(proof: KeyProof): Uint8Array {
  const w = new ByteWriter();
  header(w, KEY_PROOF);
  if (!isBytes(proof?.root, HASH_BYTES)) notEncodable("root must be 32 bytes");
  const key = keyOf(proof.key, "key");
  const siblings = proof.siblings;
  if (!Array.isArray(siblings) || siblings.length > KEY_BITS || !siblings.every((s) => isBytes(s, HASH_BYTES))) {
    notEncodable("siblings must be at most 248 names of 32 bytes");
  }
  w.bytes(proof.root);
  w.bytes(key);
  w.byte(siblings.length);
  writeSiblings(w, siblings, (i) => keyBit(key, i) === 1);
  const t = proof.terminal as { kind?: unknown; key?: unknown; value?: unknown; valueHash?: unknown };
  if (t?.kind === "empty") {
    if (proof.value !== null) notEncodable("an empty terminal proves the key absent");
    w.byte(T_EMPTY);
  } else if (t?.kind === "leaf" && isBytes(t.key, KEY_BYTES) && compareKeys(t.key, key) === 0) {
    if (!isBytes(proof.value)) notEncodable("the key's own leaf needs its value");
    w.byte(T_OWN_LEAF);
    w.sized(proof.value);
  } else if (t?.kind === "leaf") {
    if (proof.value !== null) notEncodable("another key's leaf proves the key absent");
    writeOtherLeaf(w, t, "terminal");
  } else {
    notEncodable("terminal must be empty or a leaf");
  }
  return w.finish();
}

/** The tag of another key's leaf: embedded (value <= 32 bytes) or hashed. */
export function decodeKeyProof(bytes: Uint8Array): KeyProof {
  return decoding(bytes, (r) => {
    readHeader(r, KEY_PROOF);
    return readKeyProofBody(r);
  });
}

function readKeyProofBody(r: ByteReader): KeyProof {
  const root = r.bytes(HASH_BYTES, "root");
  const key = r.bytes(KEY_BYTES, "key");
  const depth = r.byte("depth");
  if (depth > KEY_BITS) r.fail(`depth ${depth} exceeds 248`);
  const siblings = readSiblings(r, depth, (i) => keyBit(key, i) === 1);
  const tag = r.byte("terminal tag");
  if (tag === T_EMPTY) return { root, key, value: null, siblings, terminal: { kind: "empty" } };
  if (tag === T_OWN_LEAF) {
    const value = r.sized("value");
    const terminal: ProofTerminal =
      value.length <= EMBED_MAX
        ? { kind: "leaf", key: key.slice(), value: value.slice() }
        : { kind: "leaf", key: key.slice(), valueHash: sharedKernel().hash(value) };
    return { root, key, value, siblings, terminal };
  }
  if (tag !== T_EMBEDDED_LEAF && tag !== T_HASHED_LEAF) r.fail(`terminal tag ${tag} unknown`);
  const terminal = readOtherLeaf(r, tag, "terminal");
  if (compareKeys((terminal as { key: Uint8Array }).key, key) === 0) r.fail("the key's own leaf must use tag 1");
  return { root, key, value: null, siblings, terminal };
}

// ---- any ----

/** A decoded encoding of any type, tagged. */
export type DecodedProof =
  | { readonly type: "key"; readonly proof: KeyProof }
  | { readonly type: "multi"; readonly proof: MultiProof }
  | { readonly type: "range"; readonly proof: RangeProof }
  | { readonly type: "witness"; readonly witness: Witness };

/** Decodes any proof or witness by its type byte; `TrieError` `BAD_ENCODING` otherwise. */
export function decodeProof(bytes: Uint8Array): DecodedProof {
  if (!(bytes instanceof Uint8Array)) throw new TrieError("BAD_ENCODING", "input must be a Uint8Array");
  switch (bytes.length >= 4 ? bytes[3] : -1) {
    case KEY_PROOF:
      return { type: "key", proof: decodeKeyProof(bytes) };
    case MULTI_PROOF:
      return { type: "multi", proof: decodeMultiProof(bytes) };
    case RANGE_PROOF:
      return { type: "range", proof: decodeRangeProof(bytes) };
    case WITNESS:
      return { type: "witness", witness: decodeWitness(bytes) };
    default:
      return decoding(bytes, (r) => {
        readHeader(r, KEY_PROOF);
        return r.fail("unknown proof type");
      });
  }
}
