// The Gray Paper's variable-length natural-number encoding (GP Appendix C, E(x) for x < 2^64),
// which JAMNP-S uses for `len++` prefixes such as a CE 129 value's length.
//
// x < 2^7 is one byte. Otherwise, with l in 1..7 such that 2^(7l) <= x < 2^(7(l+1)), a prefix
// byte 2^8 - 2^(8-l) + floor(x / 2^(8l)) (l leading 1 bits, then the high bits of x) and the low
// 8l bits of x in l little-endian bytes; from 2^56 on, 0xff and 8 little-endian bytes. Only the
// shortest form is canonical, and the decoder refuses any other.

import { TrieError } from "./errors.ts";

/** Bytes E(x) takes (x a safe non-negative integer). */
export function naturalLength(x: number): number {
  if (x < 0x80) return 1;
  for (let l = 1; l < 8; l++) if (x < 2 ** (7 * (l + 1))) return l + 1;
  return 9;
}

/** Writes E(x) at out[at..] and returns the offset after it. */
export function writeNatural(x: number, out: Uint8Array, at: number): number {
  if (!Number.isSafeInteger(x) || x < 0) throw new TrieError("BAD_ARGUMENT", `${String(x)} is not a natural number the encoding takes`);
  if (x < 0x80) {
    out[at] = x;
    return at + 1;
  }
  const l = naturalLength(x) - 1;
  if (l === 8) {
    out[at] = 0xff;
  } else {
    out[at] = 256 - 2 ** (8 - l) + Math.floor(x / 2 ** (8 * l));
  }
  let rest = x;
  for (let i = 1; i <= l; i++) {
    out[at + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return at + 1 + l;
}

/** E(x) as a new array. */
export function encodeNatural(x: number): Uint8Array {
  const out = new Uint8Array(9);
  return out.slice(0, writeNatural(x, out, 0));
}

/**
 * Reads E(x) at bytes[at..]: `{ value, next }`. Throws `BAD_ENCODING` naming `what` when the
 * bytes end early, the form is not the shortest, or the value is past 2^53 (no length is).
 */
export function readNatural(bytes: Uint8Array, at: number, what: string): { value: number; next: number } {
  if (at >= bytes.length) throw new TrieError("BAD_ENCODING", `${what}: the bytes end before its length`);
  const b = bytes[at];
  if (b < 0x80) return { value: b, next: at + 1 };
  let l = 0;
  while (l < 8 && (b & (0x80 >> l)) !== 0) l++;
  if (at + 1 + l > bytes.length) throw new TrieError("BAD_ENCODING", `${what}: the bytes end inside its length`);
  let low = 0;
  for (let i = l; i >= 1; i--) low = low * 256 + bytes[at + i];
  const value = l === 8 ? low : (b - (256 - 2 ** (8 - l))) * 2 ** (8 * l) + low;
  if (!Number.isSafeInteger(value)) throw new TrieError("BAD_ENCODING", `${what}: length is past 2^53`);
  if (naturalLength(value) !== l + 1) throw new TrieError("BAD_ENCODING", `${what}: length ${value} is not in its shortest form`);
  return { value, next: at + 1 + l };
}
