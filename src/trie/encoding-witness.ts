// The witness encoding: a multiproof, one flag byte per proven key, the values set.

import { ByteWriter, isBytes } from "./bytes.ts";
import { decoding, F_DELETE, F_READ, F_SET, header, keyOf, notEncodable, readHeader, WITNESS } from "./encoding-frame.ts";
import { readMultiBody, writeMultiBody } from "./encoding-multi.ts";
import { compareKeys } from "./key.ts";
import { HASH_BYTES } from "./node.ts";
import { openMultiProof } from "./multiproof.ts";
import type { Change } from "./stateless.ts";
import type { Read, Witness } from "./witness.ts";

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
