// The binary encoding of proofs and witnesses (version 1), byte by byte in docs/proof-format.md.
//
// Deterministic: one proof has one encoding, and decoders refuse anything else (trailing bytes,
// lengths past the end, varints not in shortest form, out-of-order keys, fields out of range).
// Two things the GP root does not commit to are fixed so that no byte is free: an empty
// sibling is a bit in a bitmap rather than 32 zero bytes, and the top bit of a left sibling's
// name (dropped by its parent's encoding) is written as 0. A decoded proof therefore carries
// that bit as 0; it verifies exactly as the original.

import { sharedKernel } from "../hash/kernel.ts";
import { ByteReader, ByteWriter, isBytes } from "./bytes.ts";
import { TrieError } from "./errors.ts";
import { commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { EMBED_MAX, HASH_BYTES, isEmptyId } from "./node.ts";
import { type MultiProof, type MultiProofPath, multiProofShape, openMultiProof, SIBLING_LEFT } from "./multiproof.ts";
import type { KeyProof, ProofTerminal } from "./proof.ts";
import { type BoundaryNode, classify, type RangeProof } from "./range-proof.ts";
import type { Change } from "./stateless.ts";
import type { Read, Witness } from "./witness.ts";

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

const T_EMPTY = 0;
const T_OWN_LEAF = 1;
const T_EMBEDDED_LEAF = 2;
const T_HASHED_LEAF = 3;
/** In a multiproof path's head byte: the path has two or more keys (a count follows). */
const P_MANY_KEYS = 4;

const B_EMPTY = 0;
const B_NAME = 1;
const B_BRANCH = 2;
const B_ENTRY = 3;
const B_EMBEDDED_LEAF = 4;
const B_HASHED_LEAF = 5;

const F_READ = 1;
const F_SET = 2;
const F_DELETE = 4;

function notEncodable(what: string): never {
  throw new TrieError("BAD_ARGUMENT", `cannot encode: ${what}`);
}

function header(w: ByteWriter, type: number): void {
  w.byte(PROOF_MAGIC[0]);
  w.byte(PROOF_MAGIC[1]);
  w.byte(FORMAT_VERSION);
  w.byte(type);
}

function readHeader(r: ByteReader, type: number): void {
  if (r.byte("magic") !== PROOF_MAGIC[0] || r.byte("magic") !== PROOF_MAGIC[1]) r.fail("not a bmt proof (bad magic)");
  const version = r.byte("version");
  if (version !== FORMAT_VERSION) r.fail(`unsupported version ${version}`);
  const t = r.byte("type");
  if (t !== type) r.fail(`type ${t}, expected ${type}`);
}

/** Runs a decoder; anything it throws that is not already typed becomes `BAD_ENCODING`. */
function decoding<T>(bytes: unknown, body: (r: ByteReader) => T): T {
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
function writeName(w: ByteWriter, name: Uint8Array, left: boolean): void {
  if (!left || (name[0] & 0x80) === 0) return w.bytes(name);
  const copy = name.slice();
  copy[0] &= 0x7f;
  w.bytes(copy);
}

function readName(r: ByteReader, left: boolean, what: string): Uint8Array {
  const name = r.bytes(HASH_BYTES, what);
  if (left && (name[0] & 0x80) !== 0) r.fail(`${what}: a left sibling's top bit must be 0`);
  if (isEmptyId(name)) r.fail(`${what}: H0 must be a bitmap bit, not a name`);
  return name;
}

/** Bitmap of non-empty names (bit i, most significant first), then those names. */
function writeSiblings(w: ByteWriter, siblings: readonly Uint8Array[], left: (i: number) => boolean): void {
  const map = new Uint8Array((siblings.length + 7) >> 3);
  siblings.forEach((s, i) => {
    if (!isEmptyId(s)) map[i >> 3] |= 0x80 >> (i & 7);
  });
  w.bytes(map);
  siblings.forEach((s, i) => {
    if (!isEmptyId(s)) writeName(w, s, left(i));
  });
}

function readSiblings(r: ByteReader, count: number, left: (i: number) => boolean): Uint8Array[] {
  const map = r.bytes((count + 7) >> 3, "sibling bitmap");
  if (count & 7 && (map[map.length - 1] & (0xff >> (count & 7))) !== 0) r.fail("sibling bitmap: padding bits must be 0");
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    out.push(map[i >> 3] & (0x80 >> (i & 7)) ? readName(r, left(i), `sibling ${i}`) : new Uint8Array(HASH_BYTES));
  }
  return out;
}

function keyOf(x: unknown, what: string): Uint8Array {
  if (!isBytes(x, KEY_BYTES)) notEncodable(`${what} must be a 31-byte key`);
  return x;
}

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
function otherLeafTag(t: { key?: unknown; value?: unknown; valueHash?: unknown }, what: string): number {
  keyOf(t.key, `${what}.key`);
  if (isBytes(t.value) && t.value.length <= EMBED_MAX && t.valueHash === undefined) return T_EMBEDDED_LEAF;
  if (isBytes(t.valueHash, HASH_BYTES) && t.value === undefined) return T_HASHED_LEAF;
  return notEncodable(`${what} must carry a value of at most 32 bytes or a 32-byte value hash`);
}

/** Another key's leaf after its tag: the key, then the value (u8 length) or the value hash. */
function writeOtherLeafBody(w: ByteWriter, t: { key?: unknown; value?: unknown; valueHash?: unknown }): void {
  w.bytes(t.key as Uint8Array);
  if (t.valueHash === undefined) {
    w.byte((t.value as Uint8Array).length);
    w.bytes(t.value as Uint8Array);
  } else {
    w.bytes(t.valueHash as Uint8Array);
  }
}

function writeOtherLeaf(
  w: ByteWriter,
  t: { key?: unknown; value?: unknown; valueHash?: unknown },
  what: string,
  tags = [T_EMBEDDED_LEAF, T_HASHED_LEAF],
): void {
  w.byte(otherLeafTag(t, what) === T_EMBEDDED_LEAF ? tags[0] : tags[1]);
  writeOtherLeafBody(w, t);
}

function readOtherLeaf(r: ByteReader, tag: number, what: string): ProofTerminal {
  const key = r.bytes(KEY_BYTES, `${what} key`);
  if (tag === T_EMBEDDED_LEAF) {
    const len = r.byte(`${what} value length`);
    if (len > EMBED_MAX) r.fail(`${what}: an embedded value has at most 32 bytes`);
    return { kind: "leaf", key, value: r.bytes(len, `${what} value`) };
  }
  return { kind: "leaf", key, valueHash: r.bytes(HASH_BYTES, `${what} value hash`) };
}

/** A single-key proof from its canonical bytes; `TrieError` `BAD_ENCODING` otherwise. */
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

// ---- multiproof ----

function writeMultiBody(w: ByteWriter, proof: MultiProof): Uint8Array[] {
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

function readMultiBody(r: ByteReader): MultiProof {
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

// ---- range proof ----

/** The canonical bytes of a range proof (throws `BAD_ARGUMENT` for a malformed one). */
export function encodeRangeProof(proof: RangeProof): Uint8Array {
  const w = new ByteWriter();
  header(w, RANGE_PROOF);
  if (!isBytes(proof?.root, HASH_BYTES)) notEncodable("root must be 32 bytes");
  const start = keyOf(proof.start, "start");
  const end = keyOf(proof.end, "end");
  if (compareKeys(start, end) > 0) notEncodable("start is after end");
  w.bytes(proof.root);
  w.bytes(start);
  w.bytes(end);
  if (!Array.isArray(proof.entries) || !Array.isArray(proof.boundary)) notEncodable("entries and boundary must be arrays");
  w.varint(proof.entries.length);
  proof.entries.forEach((e, i) => {
    const key = keyOf(e?.key, `entries[${i}].key`);
    if (!isBytes(e.value)) notEncodable(`entries[${i}].value`);
    if (compareKeys(key, start) < 0 || compareKeys(key, end) > 0) notEncodable(`entries[${i}] is outside the range`);
    if (i > 0 && compareKeys(proof.entries[i - 1].key, key) >= 0) notEncodable("entries must be sorted and distinct");
    w.bytes(key);
    w.sized(e.value);
  });
  let next = 0;
  const visit = (path: Uint8Array, depth: number): void => {
    const where = classify(path, depth, start, end);
    if (where === 0) return;
    const item = proof.boundary[next++] as { kind?: unknown; name?: unknown; key?: unknown; value?: unknown; valueHash?: unknown };
    if (item?.kind === "empty" || (item?.kind === "name" && isBytes(item.name, HASH_BYTES) && isEmptyId(item.name))) {
      w.byte(B_EMPTY);
    } else if (where === 1) {
      if (item?.kind !== "name" || !isBytes(item.name, HASH_BYTES)) notEncodable("a node outside the range must be a name");
      w.byte(B_NAME);
      writeName(w, item.name, keyBit(path, depth - 1) === 0);
    } else if (item?.kind === "entry") {
      w.byte(B_ENTRY);
    } else if (item?.kind === "leaf") {
      writeOtherLeaf(w, item, `boundary[${next - 1}]`, [B_EMBEDDED_LEAF, B_HASHED_LEAF]);
    } else if (item?.kind === "branch" && depth < KEY_BITS) {
      w.byte(B_BRANCH);
      visit(childPath(path, depth, 0), depth + 1);
      visit(childPath(path, depth, 1), depth + 1);
    } else {
      notEncodable(`boundary[${next - 1}] is not a boundary node`);
    }
  };
  visit(new Uint8Array(KEY_BYTES), 0);
  if (next !== proof.boundary.length) notEncodable("boundary does not match the range");
  return w.finish();
}

function childPath(path: Uint8Array, depth: number, bit: number): Uint8Array {
  const out = path.slice();
  const mask = 0x80 >> (depth & 7);
  if (bit) out[depth >> 3] |= mask;
  else out[depth >> 3] &= ~mask;
  return out;
}

/** A range proof from its canonical bytes; `TrieError` `BAD_ENCODING` otherwise. */
export function decodeRangeProof(bytes: Uint8Array): RangeProof {
  return decoding(bytes, (r) => {
    readHeader(r, RANGE_PROOF);
    const root = r.bytes(HASH_BYTES, "root");
    const start = r.bytes(KEY_BYTES, "start");
    const end = r.bytes(KEY_BYTES, "end");
    if (compareKeys(start, end) > 0) r.fail("start is after end");
    const n = r.varint("entry count", Math.floor(r.remaining / (KEY_BYTES + 1)));
    const entries: { key: Uint8Array; value: Uint8Array }[] = [];
    for (let i = 0; i < n; i++) {
      const key = r.bytes(KEY_BYTES, `entries[${i}] key`);
      if (compareKeys(key, start) < 0 || compareKeys(key, end) > 0) r.fail(`entries[${i}] is outside the range`);
      if (i > 0 && compareKeys(entries[i - 1].key, key) >= 0) r.fail(`entries[${i}] is not after the previous key`);
      entries.push({ key, value: r.sized(`entries[${i}] value`) });
    }
    const boundary: BoundaryNode[] = [];
    const visit = (path: Uint8Array, depth: number): void => {
      const where = classify(path, depth, start, end);
      if (where === 0) return;
      const what = `boundary[${boundary.length}]`;
      const tag = r.byte(`${what} tag`);
      if (tag === B_EMPTY) {
        boundary.push({ kind: "empty" });
      } else if (where === 1) {
        if (tag !== B_NAME) r.fail(`${what}: a node outside the range must be empty or a name`);
        boundary.push({ kind: "name", name: readName(r, keyBit(path, depth - 1) === 0, what) });
      } else if (tag === B_ENTRY) {
        boundary.push({ kind: "entry" });
      } else if (tag === B_EMBEDDED_LEAF || tag === B_HASHED_LEAF) {
        const leaf = readOtherLeaf(r, tag === B_EMBEDDED_LEAF ? T_EMBEDDED_LEAF : T_HASHED_LEAF, what) as BoundaryNode & { key: Uint8Array };
        if (commonPrefixBits(leaf.key, path) < depth) r.fail(`${what}: leaf is off its path`);
        if (compareKeys(leaf.key, start) >= 0 && compareKeys(leaf.key, end) <= 0) r.fail(`${what}: a leaf in the range must be an entry`);
        boundary.push(leaf);
      } else if (tag === B_BRANCH && depth < KEY_BITS) {
        boundary.push({ kind: "branch" });
        visit(childPath(path, depth, 0), depth + 1);
        visit(childPath(path, depth, 1), depth + 1);
      } else {
        r.fail(`${what}: tag ${tag} not allowed here`);
      }
    };
    visit(new Uint8Array(KEY_BYTES), 0);
    return { root, start, end, entries, boundary };
  });
}

// ---- witness ----

/**
 * The canonical bytes of a witness: its multiproof (whose root is `prevRoot`), one flag byte per
 * proven key (read, set, delete), and the values set. Throws `BAD_ARGUMENT` when a read or
 * write is not among the proof's keys, or a read's value is not the one the proof carries.
 */
export function encodeWitness(witness: Witness): Uint8Array {
  const w = new ByteWriter();
  header(w, WITNESS);
  const { prevRoot, proof } = witness ?? ({} as Witness);
  if (!isBytes(prevRoot, HASH_BYTES) || !isBytes(proof?.root, HASH_BYTES) || compareBytes(prevRoot, proof.root) !== 0) {
    notEncodable("the proof's root must be prevRoot");
  }
  const keys = writeMultiBody(w, proof);
  const opened = openMultiProof(proof);
  const flags = new Uint8Array(keys.length);
  const values: (Uint8Array | null)[] = new Array(keys.length).fill(null);
  const find = (key: unknown, what: string): number => {
    const k = keyOf(key, what);
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(keys[mid], k);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return notEncodable(`${what} is not one of the proof's keys`);
  };
  if (!Array.isArray(witness.reads) || !Array.isArray(witness.writes)) notEncodable("reads and writes must be arrays");
  witness.reads.forEach((read: Read, i) => {
    const at = find(read?.[0], `reads[${i}]`);
    const proven = opened?.values.get(keys[at]);
    const value = read[1];
    const same = proven === null ? value === null : isBytes(proven) && isBytes(value) && compareBytes(proven, value) === 0;
    if (!same || flags[at] & F_READ) notEncodable(`reads[${i}] differs from the proof or repeats a key`);
    flags[at] |= F_READ;
  });
  witness.writes.forEach((write: Change, i) => {
    const at = find(write?.[0], `writes[${i}]`);
    if (flags[at] & (F_SET | F_DELETE)) notEncodable(`writes[${i}] repeats a key`);
    if (write[1] === null) {
      if (!isBytes(opened?.values.get(keys[at]))) notEncodable(`writes[${i}] deletes an absent key`);
      flags[at] |= F_DELETE;
    } else if (isBytes(write[1])) {
      flags[at] |= F_SET;
      values[at] = write[1];
    } else notEncodable(`writes[${i}] value`);
  });
  flags.forEach((f, i) => {
    if (f === 0 && !isBytes(opened?.values.get(keys[i]))) notEncodable(`proof key ${i} is neither read nor written, and absent`);
  });
  w.bytes(flags);
  values.forEach((v) => {
    if (v !== null) w.sized(v);
  });
  return w.finish();
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** A witness from its canonical bytes; `TrieError` `BAD_ENCODING` otherwise. */
export function decodeWitness(bytes: Uint8Array): Witness {
  return decoding(bytes, (r) => {
    readHeader(r, WITNESS);
    const proof = readMultiBody(r);
    const keys: Uint8Array[] = [];
    const proven: (Uint8Array | null)[] = [];
    for (const p of proof.paths) {
      const t = p.terminal as { key?: Uint8Array; value?: Uint8Array };
      for (const k of p.keys) {
        keys.push(k);
        proven.push(t.key !== undefined && compareKeys(t.key, k) === 0 ? (t.value as Uint8Array) : null);
      }
    }
    const flags = r.bytes(keys.length, "flags");
    const reads: Read[] = [];
    const writes: Change[] = [];
    keys.forEach((key, i) => {
      const f = flags[i];
      if (f > (F_READ | F_DELETE) || (f & F_SET && f & F_DELETE)) r.fail(`flags[${i}] = ${f} is not a valid flag set`);
      // A key that is neither read nor written only opens a sibling for a delete's collapse;
      // it is always the key of a leaf there, so none of its bytes is free.
      if (f === 0 && proven[i] === null) r.fail(`flags[${i}]: a key only in the proof must be a present key`);
      if (f & F_DELETE && proven[i] === null) r.fail(`flags[${i}]: deleting an absent key changes nothing and is left out`);
      if (f & F_READ) reads.push([key, proven[i]]);
      if (f & F_SET) writes.push([key, r.sized(`write value ${i}`)]);
      if (f & F_DELETE) writes.push([key, null]);
    });
    return { prevRoot: proof.root.slice(), proof, reads, writes };
  });
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
