// The range-proof encoding: its entries, then the boundary nodes in pre-order.

import { ByteWriter, isBytes } from "./bytes.ts";
import {
  B_BRANCH,
  B_EMBEDDED_LEAF,
  B_EMPTY,
  B_ENTRY,
  B_HASHED_LEAF,
  B_NAME,
  decoding,
  header,
  keyOf,
  notEncodable,
  RANGE_PROOF,
  readHeader,
  readName,
  readOtherLeaf,
  T_EMBEDDED_LEAF,
  T_HASHED_LEAF,
  writeName,
  writeOtherLeaf,
} from "./encoding-frame.ts";
import { commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
import { HASH_BYTES, isEmptyId } from "./node.ts";
import { type BoundaryNode, classify, type RangeProof } from "./range-proof.ts";

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
