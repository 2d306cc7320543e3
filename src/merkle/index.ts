// Public surface of the merkle layer: the trie update and its types, the page store, the page
// format facts the layers above need, and proofs over stored pages.
export { type LoadBuildState, TrieLoadBuilder } from "./load-build.ts";
export { LoadBuildError, loadThreadReady, startLoadThread, TrieLoadWorker } from "./load-offload.ts";
export { type LeafSource, pagesNodeSource } from "./node-source.ts";
export { MAX_PAGE_DEPTH, MERKLE_PAGE_BYTES, PAGE_ID_BYTES, pageIdKey, pageIdOf } from "./page.ts";
export { DEFAULT_PAGE_CACHE_BYTES } from "./page-cache.ts";
export { recycledPageCopies, recyclePageCopy } from "./page-ref.ts";
export { PageStore, type PageStoreStats } from "./page-store.ts";
export { decodeTableInfo, encodeTableInfo, TABLE_INFO_BYTES, type TableInfo } from "./table-info.ts";
export { tableFileName } from "./table-file.ts";
export {
  type Change,
  EMPTY_TOP,
  type EntryVisitor,
  type MerkleTop,
  type PageReader,
  type PageWrite,
  type StateReader,
  type UpdateResult,
  type UpdateStats,
} from "./types.ts";
export { type OldValues, updateTrie } from "./update.ts";
export { DEFAULT_STEP_MS, drainSteps, type UpdateSource, type UpdateStepOptions, updateTrieSteps } from "./update-steps.ts";
