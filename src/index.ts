// bmt: a persistent, authenticated key-value store for JAM state (Gray Paper trie).
// This entry point is the public API, name for name as README's "API index" lists it (a test
// compares them): everything `bmt/verify` exports, plus the database and what builds proofs,
// roots and encodings. Everything else (the store, the value tree, the merkle pages, the hash
// kernel) is internal and may change in any release.

// Verification, decoding, hashing and hex: the browser-safe subset.
export * from "./verify.ts";

// The database a node opens, bulk import and warp sync.
export type { DbOptions } from "./db/options.ts";
export { Db, open } from "./db/db.ts";
export type { CommitMetrics, DbMetrics, PageMetrics } from "./db/metrics.ts";
export { DbCorruptionError, DbError, type DbErrorCode } from "./db/errors.ts";
export { importEntries, type ImportItem, type ImportOptions, type ImportResult } from "./db/import.ts";
export { type KeyRange, Snapshot, type StateReadable } from "./db/readers.ts";
export { type ForkLimits, type ForkStateInfo, ForkStates, type ForkStats } from "./db/forks.ts";
export { FinishedSession, Overlay, type SessionStats, type WitnessKeys, type WriteOptions, WriteSession } from "./db/session.ts";
export { type StateRequest, WarpSync, type WarpSyncOptions, warpSync } from "./db/warp-sync.ts";
export { IoError, type IoOp } from "./io/io-error.ts";

// Roots, proofs and witnesses, built from sorted entries or any node source (a database
// reader, or `entriesNodeSource`).
export { type Entry, sortEntries, trieRoot, trieRootUnsorted } from "./trie/root.ts";
export type { EntryBatch } from "./trie/entry-batch.ts";
export * from "./trie/node-source.ts";
export { proveKey } from "./trie/proof.ts";
export { proveMany } from "./trie/multiproof.ts";
export { proveRange } from "./trie/range-proof.ts";
export { proveForUpdate } from "./trie/stateless.ts";
export { buildWitness } from "./trie/witness.ts";
// JAMNP-S CE 129: the responder over any node source (the verifier is in bmt/verify).
export { respondStateRequest } from "./trie/state-request.ts";
// Binary encodings (docs/proof-format.md); the decoders and JSON are in bmt/verify.
export { encodeKeyProof, encodeMultiProof, encodeRangeProof, encodeWitness } from "./trie/encoding.ts";
