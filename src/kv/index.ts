// Public surface of the kv layer: the value tree and its commit protocol.
export { KvCorruptionError, KvError, type KvErrorCode } from "./errors.ts";
export { KEY_BITS, KEY_BYTES, compareKeys, compareKeysAt, keyBit, keyString } from "./key.ts";
export { MAX_INLINE_VALUE } from "./leaf.ts";
export { TREE_META_SIZE, type TreeMeta, decodeTreeMeta, encodeTreeMeta } from "./meta.ts";
export { PAGE_SIZE } from "./page.ts";
export { DEFAULT_CACHE_BYTES } from "./cache.ts";
export { type KvEntry, KvReader, type RangeOptions } from "./reader.ts";
export { type BatchEntry, MAX_VALUE_SIZE } from "./batch.ts";
export { PackedEntries, type PackedParts } from "./packed.ts";
export type { CheckReport, LevelReport } from "./check.ts";
export {
  type KvOptions,
  type KvStats,
  KvSnapshot,
  KvTree,
  type OpenKvOptions,
  openKv,
} from "./tree.ts";
