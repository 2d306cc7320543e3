// The multiproof encoding; a witness's encoding begins with the same body.

import { type ByteReader, ByteWriter, isBytes } from "./bytes.ts";
import {
  decoding,
  header,
  keyOf,
  MULTI_PROOF,
  notEncodable,
  otherLeafTag,
  P_MANY_KEYS,
  readHeader,
  readOtherLeaf,
  readSiblings,
  T_EMPTY,
  T_OWN_LEAF,
  writeOtherLeafBody,
  writeSiblings,
} from "./encoding-frame.ts";
import { commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES } from "./key.ts";
import { HASH_BYTES } from "./node.ts";
import type { ProofTerminal } from "./proof.ts";
import { type MultiProof, type MultiProofPath, multiProofShape, SIBLING_LEFT } from "./multiproof.ts";
// ---- multiproof ----

export function writeMultiBody(w: ByteWriter, proof: MultiProof): Uint8Array[] {
  if (!isBytes(proof?.root, HASH_BYTES)) notEncodable("root must be 32 bytes");
  const paths = proof.paths;
  if (!Array.isArray(paths) || !Array.isArray(proof.siblings)) notEncodable("paths and siblings must be arrays");
  const keys: Uint8Array[] = [];
  w.bytes(proof.root);
  w.varint(paths.length);
  paths.forEach((p, i) => {
    if (!Number.isInteger(p?.depth) || p.depth < 0 || p.depth > KEY_BITS) notEncodable(`paths[${i}].depth`);
    if (!Array.isArray(p.keys) || p.keys.length === 0) notEncodable(`paths[${i}].keys must not be empty`);
    const t = p.terminal as { kind?: unknown; key?: unknown; value?: unknown; valueHash?: unknown };
    const own = isBytes(t?.key, KEY_BYTES) ? p.keys.findIndex((k: Uint8Array) => compareKeys(k, t.key as Uint8Array) === 0) : -1;
    let tag: number;
    if (t?.kind === "empty") tag = T_EMPTY;
    else if (t?.kind === "leaf" && own >= 0) {
      if (!isBytes(t.value) || t.valueHash !== undefined) notEncodable(`paths[${i}]: a proven leaf carries its value`);
      tag = T_OWN_LEAF;
    } else if (t?.kind === "leaf") tag = otherLeafTag(t, `paths[${i}].terminal`);
    else return notEncodable(`paths[${i}].terminal must be empty or a leaf`);
    const many = p.keys.length > 1;
    w.byte(p.depth);
    w.byte(tag | (many ? P_MANY_KEYS : 0));
    if (many) w.varint(p.keys.length - 2);
    for (const k of p.keys) {
      const key = keyOf(k, `paths[${i}].keys`);
      if (keys.length > 0 && compareKeys(keys[keys.length - 1], key) >= 0) notEncodable("keys must be sorted and distinct");
      keys.push(key);
      w.bytes(key);
    }
    if (tag === T_OWN_LEAF) {
      if (many) w.varint(own);
      w.sized(t.value as Uint8Array);
    } else if (tag !== T_EMPTY) {
      writeOtherLeafBody(w, t);
    }
  });
  const sides = multiProofShape(
    paths.map((p) => p.keys[0]),
    paths.map((p) => p.depth),
  );
  if (sides === null || sides.length !== proof.siblings.length) notEncodable("siblings do not match the paths' structure");
  for (const s of proof.siblings) if (!isBytes(s, HASH_BYTES)) notEncodable("siblings must be 32 bytes");
  writeSiblings(w, proof.siblings, (i) => sides[i] === SIBLING_LEFT);
  return keys;
}

export function readMultiBody(r: ByteReader): MultiProof {
  const root = r.bytes(HASH_BYTES, "root");
  const count = r.varint("path count", r.remaining);
  const paths: MultiProofPath[] = [];
  let last: Uint8Array | null = null;
  for (let i = 0; i < count; i++) {
    const depth = r.byte(`paths[${i}] depth`);
    if (depth > KEY_BITS) r.fail(`paths[${i}] depth ${depth} exceeds 248`);
    const head = r.byte(`paths[${i}] head`);
    const tag = head & 3;
    if ((head & ~(3 | P_MANY_KEYS)) !== 0) r.fail(`paths[${i}] head ${head} has unknown bits`);
    const n = head & P_MANY_KEYS ? 2 + r.varint(`paths[${i}] key count`, Math.floor(r.remaining / KEY_BYTES) - 2) : 1;
    const keys: Uint8Array[] = [];
    for (let j = 0; j < n; j++) {
      const key = r.bytes(KEY_BYTES, `paths[${i}] key ${j}`);
      if (last !== null && compareKeys(last, key) >= 0) r.fail(`paths[${i}] key ${j} is not after the previous key`);
      keys.push((last = key));
    }
    if (commonPrefixBits(keys[0], keys[n - 1]) < depth) r.fail(`paths[${i}] keys do not share ${depth} bits`);
    let terminal: ProofTerminal;
    if (tag === T_EMPTY) {
      terminal = { kind: "empty" };
    } else if (tag === T_OWN_LEAF) {
      const own = n > 1 ? r.varint(`paths[${i}] leaf index`, n - 1) : 0;
      terminal = { kind: "leaf", key: keys[own].slice(), value: r.sized(`paths[${i}] value`) };
    } else {
      terminal = readOtherLeaf(r, tag, `paths[${i}] terminal`);
      const leafKey = (terminal as { key: Uint8Array }).key;
      if (commonPrefixBits(leafKey, keys[0]) < depth) r.fail(`paths[${i}] leaf is off the path`);
      if (keys.some((k) => compareKeys(k, leafKey) === 0)) r.fail(`paths[${i}] a proven key's leaf must use tag 1`);
    }
    paths.push({ depth, keys, terminal });
  }
  const sides = multiProofShape(
    paths.map((p) => p.keys[0]),
    paths.map((p) => p.depth),
  );
  if (sides === null) r.fail("paths break the multiproof structure");
  const siblings = readSiblings(r, sides.length, (i) => sides[i] === SIBLING_LEFT);
  return { root, paths, siblings };
}

/** The canonical bytes of a multiproof (throws `BAD_ARGUMENT` for a malformed one). */
export function encodeMultiProof(proof: MultiProof): Uint8Array {
  const w = new ByteWriter();
  header(w, MULTI_PROOF);
  writeMultiBody(w, proof);
  return w.finish();
}

/** A multiproof from its canonical bytes; `TrieError` `BAD_ENCODING` otherwise. */
export function decodeMultiProof(bytes: Uint8Array): MultiProof {
  return decoding(bytes, (r) => {
    readHeader(r, MULTI_PROOF);
    return readMultiBody(r);
  });
}
