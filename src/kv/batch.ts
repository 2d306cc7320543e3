// A batch of changes to the value tree: its entry type and the one check every batch passes
// (typed errors naming the entry), which also sorts it.
import { KvError } from "./errors.ts";
import { checkKey, compareKeys, KEY_BYTES, kvBadKey } from "./key.ts";

/** Longest value accepted: 128 MiB. */
export const MAX_VALUE_SIZE = 128 * 1024 * 1024;

/** One change of a batch: set `key` to `value`, or delete it when `value` is null. */
export type BatchEntry = readonly [key: Uint8Array, value: Uint8Array | null];

/** The batch's keys and values, checked, in key order; a duplicate key is refused. */
export function validateBatch(batch: Iterable<BatchEntry>): { keys: Uint8Array[]; vals: (Uint8Array | null)[] } {
  if (batch === null || typeof batch !== "object" || typeof (batch as Iterable<BatchEntry>)[Symbol.iterator] !== "function") {
    throw new KvError("BAD_BATCH", "batch: expected an iterable of [key, value | null]");
  }
  const known = Array.isArray(batch) ? batch.length : 0;
  const keys = new Array<Uint8Array>(known);
  const vals = new Array<Uint8Array | null>(known);
  let sorted = true;
  let i = 0;
  for (const e of batch) {
    if (!Array.isArray(e) || e.length !== 2) {
      throw new KvError("BAD_BATCH", `batch[${i}]: expected [key, value | null]`);
    }
    const k = e[0];
    const v = e[1];
    // The check's name is made only for a bad key (a string per entry is most of this loop).
    if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) checkKey(k, `batch[${i}][0]`, kvBadKey);
    if (v !== null) {
      if (!(v instanceof Uint8Array)) throw new KvError("BAD_VALUE", `batch[${i}][1]: expected a Uint8Array or null`);
      if (v.length > MAX_VALUE_SIZE) {
        throw new KvError("VALUE_TOO_LARGE", `batch[${i}][1]: ${v.length} bytes exceeds the maximum of ${MAX_VALUE_SIZE}`);
      }
    }
    if (sorted && i > 0 && compareKeys(keys[i - 1], k) >= 0) sorted = false;
    keys[i] = k;
    vals[i] = v;
    i++;
  }
  keys.length = i;
  vals.length = i;
  if (sorted) return { keys, vals };
  const order = keys.map((_, x) => x).sort((a, b) => compareKeys(keys[a], keys[b]) || a - b);
  const sk = order.map((x) => keys[x]);
  const sv = order.map((x) => vals[x]);
  for (let x = 1; x < sk.length; x++) {
    if (compareKeys(sk[x - 1], sk[x]) === 0) {
      throw new KvError("BAD_BATCH", `batch[${order[x]}][0]: duplicate key (also at batch[${order[x - 1]}])`);
    }
  }
  return { keys: sk, vals: sv };
}
