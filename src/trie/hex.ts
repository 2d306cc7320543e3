// Hex text for keys, values and names, as the JAM vectors and the CLI write them.

import { TrieError } from "./errors.ts";

const DIGITS = "0123456789abcdef";

/** `0x`-prefixed lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TrieError("BAD_VALUE", "bytes must be a Uint8Array");
  let s = "0x";
  for (let i = 0; i < bytes.length; i++) s += DIGITS[bytes[i] >> 4] + DIGITS[bytes[i] & 15];
  return s;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Bytes of a hex string (the `0x` prefix is optional). `name` names the argument in the typed
 * error thrown for anything that is not an even number of hex digits, or not `length` bytes.
 */
export function fromHex(text: unknown, name = "hex", length?: number): Uint8Array {
  if (typeof text !== "string") throw new TrieError("BAD_VALUE", `${name} must be a hex string`);
  const body = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (body.length % 2 !== 0) throw new TrieError("BAD_VALUE", `${name} has an odd number of hex digits`);
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(body.charCodeAt(2 * i));
    const lo = nibble(body.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new TrieError("BAD_VALUE", `${name} is not hex (at digit ${2 * i})`);
    out[i] = (hi << 4) | lo;
  }
  if (length !== undefined && out.length !== length) {
    throw new TrieError("BAD_VALUE", `${name} must be ${length} bytes, got ${out.length}`);
  }
  return out;
}
