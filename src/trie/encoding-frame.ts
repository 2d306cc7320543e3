// Framing shared by every proof encoding (docs/proof-format.md): the four header bytes, the
// decoder wrapper that types every failure, sibling names and bitmaps, and the other-leaf
// terminal that single-key and range proofs both carry.

import { ByteReader, type ByteWriter, isBytes } from "./bytes.ts";
import { TrieError } from "./errors.ts";
import { KEY_BYTES } from "./key.ts";
import { EMBED_MAX, HASH_BYTES, isEmptyId } from "./node.ts";
import type { ProofTerminal } from "./proof.ts";

/** First two bytes of every encoding: "bm". */
export const PROOF_MAGIC = [0x62, 0x6d] as const;
/** The encoding version this code writes and reads. */
export const FORMAT_VERSION = 1;
/** Fourth byte (type) of a single-key proof. */
export const KEY_PROOF = 1;
/** Type byte of a multiproof. */
export const MULTI_PROOF = 2;
/** Type byte of a range proof. */
export const RANGE_PROOF = 3;
/** Type byte of a witness. */
export const WITNESS = 4;

export const T_EMPTY = 0;
export const T_OWN_LEAF = 1;
export const T_EMBEDDED_LEAF = 2;
export const T_HASHED_LEAF = 3;
/** In a multiproof path's head byte: the path has two or more keys (a count follows). */
export const P_MANY_KEYS = 4;

export const B_EMPTY = 0;
export const B_NAME = 1;
export const B_BRANCH = 2;
export const B_ENTRY = 3;
export const B_EMBEDDED_LEAF = 4;
export const B_HASHED_LEAF = 5;

export const F_READ = 1;
export const F_SET = 2;
export const F_DELETE = 4;

export function notEncodable(what: string): never {
  throw new TrieError("BAD_ARGUMENT", `cannot encode: ${what}`);
}

export function header(w: ByteWriter, type: number): void {
  w.byte(PROOF_MAGIC[0]);
  w.byte(PROOF_MAGIC[1]);
  w.byte(FORMAT_VERSION);
  w.byte(type);
}

export function readHeader(r: ByteReader, type: number): void {
  if (r.byte("magic") !== PROOF_MAGIC[0] || r.byte("magic") !== PROOF_MAGIC[1]) r.fail("not a bmt proof (bad magic)");
  const version = r.byte("version");
  if (version !== FORMAT_VERSION) r.fail(`unsupported version ${version}`);
  const t = r.byte("type");
  if (t !== type) r.fail(`type ${t}, expected ${type}`);
}

/** Runs a decoder; anything it throws that is not already typed becomes `BAD_ENCODING`. */
export function decoding<T>(bytes: unknown, body: (r: ByteReader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new TrieError("BAD_ENCODING", "input must be a Uint8Array");
  try {
    const r = new ByteReader(bytes);
    const out = body(r);
    r.end();
    return out;
  } catch (e) {
    if (e instanceof TrieError) throw e;
    throw new TrieError("BAD_ENCODING", `malformed input (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** A sibling name as written: a left sibling's uncommitted top bit cleared. */
export function writeName(w: ByteWriter, name: Uint8Array, left: boolean): void {
  if (!left || (name[0] & 0x80) === 0) return w.bytes(name);
  const copy = name.slice();
  copy[0] &= 0x7f;
  w.bytes(copy);
}

export function readName(r: ByteReader, left: boolean, what: string): Uint8Array {
  const name = r.bytes(HASH_BYTES, what);
  if (left && (name[0] & 0x80) !== 0) r.fail(`${what}: a left sibling's top bit must be 0`);
  if (isEmptyId(name)) r.fail(`${what}: H0 must be a bitmap bit, not a name`);
  return name;
}

/** Bitmap of non-empty names (bit i, most significant first), then those names. */
export function writeSiblings(w: ByteWriter, siblings: readonly Uint8Array[], left: (i: number) => boolean): void {
  const map = new Uint8Array((siblings.length + 7) >> 3);
  siblings.forEach((s, i) => {
    if (!isEmptyId(s)) map[i >> 3] |= 0x80 >> (i & 7);
  });
  w.bytes(map);
  siblings.forEach((s, i) => {
    if (!isEmptyId(s)) writeName(w, s, left(i));
  });
}

export function readSiblings(r: ByteReader, count: number, left: (i: number) => boolean): Uint8Array[] {
  const map = r.bytes((count + 7) >> 3, "sibling bitmap");
  if (count & 7 && (map[map.length - 1] & (0xff >> (count & 7))) !== 0) r.fail("sibling bitmap: padding bits must be 0");
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    out.push(map[i >> 3] & (0x80 >> (i & 7)) ? readName(r, left(i), `sibling ${i}`) : new Uint8Array(HASH_BYTES));
  }
  return out;
}

export function keyOf(x: unknown, what: string): Uint8Array {
  if (!isBytes(x, KEY_BYTES)) notEncodable(`${what} must be a 31-byte key`);
  return x;
}

export function otherLeafTag(t: { key?: unknown; value?: unknown; valueHash?: unknown }, what: string): number {
  keyOf(t.key, `${what}.key`);
  if (isBytes(t.value) && t.value.length <= EMBED_MAX && t.valueHash === undefined) return T_EMBEDDED_LEAF;
  if (isBytes(t.valueHash, HASH_BYTES) && t.value === undefined) return T_HASHED_LEAF;
  return notEncodable(`${what} must carry a value of at most 32 bytes or a 32-byte value hash`);
}

/** Another key's leaf after its tag: the key, then the value (u8 length) or the value hash. */
export function writeOtherLeafBody(w: ByteWriter, t: { key?: unknown; value?: unknown; valueHash?: unknown }): void {
  w.bytes(t.key as Uint8Array);
  if (t.valueHash === undefined) {
    w.byte((t.value as Uint8Array).length);
    w.bytes(t.value as Uint8Array);
  } else {
    w.bytes(t.valueHash as Uint8Array);
  }
}

export function writeOtherLeaf(
  w: ByteWriter,
  t: { key?: unknown; value?: unknown; valueHash?: unknown },
  what: string,
  tags = [T_EMBEDDED_LEAF, T_HASHED_LEAF],
): void {
  w.byte(otherLeafTag(t, what) === T_EMBEDDED_LEAF ? tags[0] : tags[1]);
  writeOtherLeafBody(w, t);
}

export function readOtherLeaf(r: ByteReader, tag: number, what: string): ProofTerminal {
  const key = r.bytes(KEY_BYTES, `${what} key`);
  if (tag === T_EMBEDDED_LEAF) {
    const len = r.byte(`${what} value length`);
    if (len > EMBED_MAX) r.fail(`${what}: an embedded value has at most 32 bytes`);
    return { kind: "leaf", key, value: r.bytes(len, `${what} value`) };
  }
  return { kind: "leaf", key, valueHash: r.bytes(HASH_BYTES, `${what} value hash`) };
}

/** A single-key proof from its canonical bytes; `TrieError` `BAD_ENCODING` otherwise. */
