// Key helpers of the database layer: argument checks with typed errors, map keys, key ranges.
import { checkKey, compareKeys, KEY_BITS, KEY_BYTES } from "../trie/index.ts";
import { DbError } from "./errors.ts";

/** Makes the database's error for a bad argument (see `checkKey`). */
export const badArgument = (message: string): DbError => new DbError("BAD_ARGUMENT", message);

export { checkKey };

/** Throws `BAD_ARGUMENT` naming `name` unless `value` is a Uint8Array. */
export function checkValue(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new DbError("BAD_ARGUMENT", `${name} must be a Uint8Array`);
}

/** Throws `BAD_ARGUMENT` unless `root` is a 32-byte Uint8Array. */
export function checkRoot(root: unknown, name: string): asserts root is Uint8Array {
  if (!(root instanceof Uint8Array) || root.length !== 32) throw new DbError("BAD_ARGUMENT", `${name} must be a 32-byte Uint8Array`);
}

export { keyString } from "../kv/index.ts";
export { equalBytes } from "../trie/index.ts";

/** The least key greater than `key`, or undefined when `key` is the greatest. */
export function keyAfter(key: Uint8Array): Uint8Array | undefined {
  const out = key.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]++;
      return out;
    }
    out[i] = 0;
  }
  return undefined;
}

/** Keys sharing `path`'s first `depth` bits: [start, end), end undefined when unbounded. */
export function prefixRange(path: Uint8Array, depth: number): { start: Uint8Array; end: Uint8Array | undefined } {
  const start = new Uint8Array(KEY_BYTES);
  const whole = depth >> 3;
  start.set(path.subarray(0, whole));
  const rest = depth & 7;
  if (rest !== 0) start[whole] = path[whole] & (0xff << (8 - rest));
  if (depth === 0) return { start, end: undefined };
  if (depth >= KEY_BITS) return { start, end: keyAfter(start) };
  // Add one at bit position depth - 1 (MSB first), carrying leftwards.
  const end = start.slice();
  let byte = (depth - 1) >> 3;
  let add = 1 << (7 - ((depth - 1) & 7));
  while (byte >= 0) {
    const sum = end[byte] + add;
    end[byte] = sum & 0xff;
    if (sum <= 0xff) return { start, end };
    add = 1;
    byte--;
  }
  return { start, end: undefined };
}
