// Public surface of the kv layer: the tree, its commit protocol, and the I/O seam layers above
// share.
export { KvCorruptionError, KvError, type KvErrorCode } from "./errors.ts";
export { type KvFile, type KvFileSystem, MemFile, MemFileSystem, NodeFile, nodeFileSystem } from "./file.ts";
export { KEY_BITS, KEY_BYTES, compareKeys, keyBit, keyString } from "./key.ts";
export { MAX_INLINE_VALUE } from "./leaf.ts";
export { TREE_META_SIZE, type TreeMeta, decodeTreeMeta, encodeTreeMeta } from "./meta.ts";
export { PAGE_SIZE } from "./page.ts";
export { DEFAULT_CACHE_BYTES } from "./cache.ts";
export { type KvEntry, KvReader, type RangeOptions } from "./reader.ts";
export {
  type BatchEntry,
  type CheckReport,
  type KvOptions,
  type KvStats,
  KvSnapshot,
  KvTree,
  type LevelReport,
  MAX_VALUE_SIZE,
  type OpenKvOptions,
  openKv,
} from "./tree.ts";
export { CHAIN, WriteBehind, WriteJob } from "./write-behind.ts";
export { StagingBuffer } from "./staging.ts";
export { closeQuietly, findIoError, guardFile, guardFileSystem, IoError, ioErrorOf, type IoOp } from "./io-error.ts";
