// The I/O layer: every file the engine reads or writes goes through here. The file seam
// (`KvFile`, `KvFileSystem`, and `PageStoreFileSystem` with directory operations), typed I/O
// errors, the write-behind worker that writes and syncs checkpoints off the caller's thread,
// and the shared staging buffers it writes from.
export { type KvFile, type KvFileSystem, MemFile, MemFileSystem, NodeFile, nodeFileSystem } from "./file.ts";
export { memPageStoreFileSystem, nodePageStoreFileSystem, type PageStoreFileSystem, pathIn } from "./fs.ts";
export { closeAll, closeQuietly, findIoError, guardFile, guardFileSystem, IoError, ioErrorOf, type IoOp } from "./io-error.ts";
export { StagingBuffer } from "./staging.ts";
export { nextTurn, runSteps, STEP_PAGES, setTurnHook, type Steps } from "./steps.ts";
export { CHAIN, WriteBehind, WriteJob } from "./write-behind.ts";
