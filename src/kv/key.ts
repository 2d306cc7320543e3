// State keys: fixed 31-byte strings, ordered bytewise (equivalently, bitwise MSB first). The
// key itself is the trie layer's; here are the comparisons the tree needs in place in pages.
import { checkKey, KEY_BITS, KEY_BYTES, compareKeys, keyBit } from "../trie/index.ts";
import { KvError } from "./errors.ts";

export { checkKey, KEY_BITS, KEY_BYTES, compareKeys, keyBit };

/** A string naming a key (or page id) for Maps: one char per byte. */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString("latin1");
}

/** Makes the kv layer's error for a bad key (see `checkKey`). */
export const kvBadKey = (message: string): KvError => new KvError("BAD_KEY", message);

/** Compares `key` with the key stored at `off` in `buf`. */
export function compareKeyAt(key: Uint8Array, buf: Uint8Array, off: number): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const d = key[i] - buf[off + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Compares key bytes at `ka` in `a` with key bytes at `kb` in `b`. */
export function compareKeysAt(a: Uint8Array, ka: number, b: Uint8Array, kb: number): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const d = a[ka + i] - b[kb + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Copy of `key` keeping its first `bits` bits and clearing the rest: the least key with that prefix. */
export function prefixFloor(key: Uint8Array, bits: number, out: Uint8Array = new Uint8Array(KEY_BYTES)): Uint8Array {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) out[i] = key[i];
  const rest = bits & 7;
  let i = whole;
  if (rest !== 0) out[i++] = key[whole] & (0xff << (8 - rest));
  for (; i < KEY_BYTES; i++) out[i] = 0;
  return out;
}

/** Copy of `key` keeping its first `bits` bits and setting the rest: the greatest key with that prefix. */
export function prefixCeil(key: Uint8Array, bits: number, out: Uint8Array = new Uint8Array(KEY_BYTES)): Uint8Array {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) out[i] = key[i];
  const rest = bits & 7;
  let i = whole;
  if (rest !== 0) out[i++] = key[whole] | (0xff >> rest);
  for (; i < KEY_BYTES; i++) out[i] = 0xff;
  return out;
}

/** True when `a` and `b` (`b` at offset `bOff`) agree on their first `bits` bits. */
export function sharesBitPrefix(a: Uint8Array, b: Uint8Array, bOff: number, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[bOff + i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = 0xff << (8 - rest);
  return ((a[whole] ^ b[bOff + whole]) & mask) === 0;
}
