// Random entry sets that reach the trie's corners: long shared prefixes (chains of branches
// with an H0 side), keys that differ only in their last bit (depth 248), and values on both
// sides of the 32-byte embedding limit.
import type { Entry } from "../../src/trie/index.ts";
import type { Rng } from "./random.ts";

const VALUE_SIZES = [0, 1, 31, 32, 33, 64, 100, 1000];

export function randomValue(rng: Rng): Uint8Array {
  return rng.bytes(rng.int(4) === 0 ? rng.int(200) : rng.pick(VALUE_SIZES));
}

/** A key that shares exactly its first `bits` bits with `base` (bits < 248). */
export function keySharing(rng: Rng, base: Uint8Array, bits: number): Uint8Array {
  const key = rng.bytes(31);
  const whole = bits >> 3;
  key.set(base.subarray(0, whole));
  const rem = bits & 7;
  const mask = rem === 0 ? 0 : (0xff00 >> rem) & 0xff;
  const flip = 0x80 >> rem;
  key[whole] = (base[whole] & mask) | (~base[whole] & flip) | (key[whole] & ~(mask | flip) & 0xff);
  return key;
}

/** `n` distinct random entries; with `clustered`, many keys share long prefixes. */
export function randomEntries(rng: Rng, n: number, clustered: boolean): Entry[] {
  const byKey = new Map<string, Entry>();
  const keys: Uint8Array[] = [];
  while (byKey.size < n) {
    let key: Uint8Array;
    if (clustered && keys.length > 0 && rng.int(3) > 0) {
      const base = rng.pick(keys);
      const bits = rng.int(2) === 0 ? 247 - rng.int(8) : rng.int(248);
      key = keySharing(rng, base, bits);
    } else {
      key = rng.bytes(31);
    }
    const hex = Buffer.from(key).toString("hex");
    if (byKey.has(hex)) continue;
    keys.push(key);
    byKey.set(hex, { key, value: randomValue(rng) });
  }
  return [...byKey.values()];
}
