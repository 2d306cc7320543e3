// Argument checks of the store's public methods: `StoreError` `BAD_ARGUMENT` naming the argument.
import { PAGE_ID_BYTES } from "../merkle/page.ts";
import { checkKey, KEY_BITS } from "../trie/index.ts";
import { StoreError } from "./errors.ts";

function refuse(message: string): never {
  throw new StoreError("BAD_ARGUMENT", message);
}

/** A 31-byte key. */
export function checkStoreKey(key: unknown, name: string): asserts key is Uint8Array {
  checkKey(key, name, (message) => new StoreError("BAD_ARGUMENT", message));
}

/** A bit count of a key prefix: 0 .. 248. */
export function checkPrefixBits(bits: unknown, name: string): asserts bits is number {
  if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 0 || bits > KEY_BITS)
    refuse(`${name} must be an integer in 0 .. ${KEY_BITS}, got ${String(bits)}`);
}

/** A positive integer, or Infinity for no limit. */
export function checkScanLimit(limit: unknown, name: string): asserts limit is number {
  if (typeof limit !== "number" || !(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 1))) {
    refuse(`${name} must be an integer >= 1 or Infinity, got ${String(limit)}`);
  }
}

/** A merkle page id. */
export function checkPageId(id: unknown, name: string): asserts id is Uint8Array {
  if (!(id instanceof Uint8Array) || id.length !== PAGE_ID_BYTES) refuse(`${name} must be a page id (a Uint8Array of ${PAGE_ID_BYTES} bytes)`);
}

/** A scan range `{ start?, end?, reverse? }`. */
export function checkScanRange(range: unknown, name: string): void {
  if (range === null || typeof range !== "object") refuse(`${name} must be an object { start?, end?, reverse? }`);
  const r = range as { start?: unknown; end?: unknown; reverse?: unknown };
  for (const k of Object.keys(r)) if (k !== "start" && k !== "end" && k !== "reverse") refuse(`${name}.${k} is not a range field`);
  if (r.start !== undefined) checkStoreKey(r.start, `${name}.start`);
  if (r.end !== undefined) checkStoreKey(r.end, `${name}.end`);
  if (r.reverse !== undefined && typeof r.reverse !== "boolean") refuse(`${name}.reverse must be a boolean`);
}

/** Something `for ... of` can walk. */
export function checkIterable(v: unknown, name: string): asserts v is Iterable<unknown> {
  if (v === null || v === undefined || typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function" || typeof v === "string") {
    refuse(`${name} must be an iterable of [key, value | null] pairs`);
  }
}
