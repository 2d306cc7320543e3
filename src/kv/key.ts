// State keys: fixed 31-byte strings, ordered bytewise (equivalently, bitwise MSB first). The
// key itself is the trie layer's; here are the comparisons the tree needs in place in pages.
import { KEY_BITS, KEY_BYTES, compareKeys, keyBit } from "../trie/index.ts";
import { KvError } from "./errors.ts";

/** Length of every key, in bytes. */
export const KEY_SIZE = KEY_BYTES;
export { KEY_BITS, compareKeys, keyBit };

/** Throws `BAD_KEY` naming `arg` unless `key` is a Uint8Array of KEY_SIZE bytes. */
export function checkKey(key: unknown, arg: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new KvError("BAD_KEY", `${arg}: expected a Uint8Array of ${KEY_SIZE} bytes`);
  }
  if (key.length !== KEY_SIZE) {
    throw new KvError("BAD_KEY", `${arg}: expected ${KEY_SIZE} bytes, got ${key.length}`);
  }
}

/** Compares `key` with the key stored at `off` in `buf`. */
export function compareKeyAt(key: Uint8Array, buf: Uint8Array, off: number): number {
  for (let i = 0; i < KEY_SIZE; i++) {
    const d = key[i] - buf[off + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Compares key bytes at `ka` in `a` with key bytes at `kb` in `b`. */
export function compareKeysAt(a: Uint8Array, ka: number, b: Uint8Array, kb: number): number {
  for (let i = 0; i < KEY_SIZE; i++) {
    const d = a[ka + i] - b[kb + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Copy of `key` keeping its first `bits` bits and clearing the rest: the least key with that prefix. */
export function prefixFloor(key: Uint8Array, bits: number, out: Uint8Array = new Uint8Array(KEY_SIZE)): Uint8Array {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) out[i] = key[i];
  const rest = bits & 7;
  let i = whole;
  if (rest !== 0) out[i++] = key[whole] & (0xff << (8 - rest));
  for (; i < KEY_SIZE; i++) out[i] = 0;
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
