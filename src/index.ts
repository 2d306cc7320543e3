// bmt: a persistent, authenticated key-value store for JAM state (Gray Paper trie).
// This entry point is the public API, name for name as README's "API index" lists it (a test
// compares them); `bmt/verify` exports proof verification alone. Everything else (the store,
// the value tree, the merkle pages, the hash kernel) is internal and may change in any release.

// The database a node opens.
export { type CommitMetrics, type DbOptions } from "./db/core.ts";
export { Db, type DbMetrics, open, type PageMetrics } from "./db/db.ts";
export { DbError, type DbErrorCode } from "./db/errors.ts";
export { importEntries, type ImportOptions, type ImportResult } from "./db/import.ts";
export { type StateRequest, WarpSync, type WarpSyncOptions, warpSync } from "./db/warp-sync.ts";
export { IoError, type IoOp } from "./kv/io-error.ts";
export { type KeyRange, Snapshot, type StateReadable } from "./db/readers.ts";
export { FinishedSession, Overlay, type SessionStats, type WitnessKeys, type WriteOptions, WriteSession } from "./db/session.ts";

// Hashing, keys and roots.
export { blake2b256, ready } from "./hash/kernel.ts";
export { TrieError, type TrieErrorCode } from "./trie/errors.ts";
export { fromHex, toHex } from "./trie/hex.ts";
export { KEY_BYTES } from "./trie/key.ts";
export { type Entry, sortEntries, trieRoot, trieRootUnsorted } from "./trie/root.ts";

// Proofs and witnesses: built from any node source (a database reader, or sorted entries).
export {
  BRANCH_NODE,
  EMPTY_NODE,
  entriesNodeSource,
  LEAF_NODE,
  type TrieLeaf,
  type TrieNode,
  type TrieNodeKind,
  type TrieNodeSource,
} from "./trie/node-source.ts";
export { type KeyProof, type ProofTerminal, proveKey, verifyKeyProof } from "./trie/proof.ts";
export { type MultiProof, type MultiProofPath, multiProofValues, proveMany, verifyMultiProof } from "./trie/multiproof.ts";
export { type ProvenValues } from "./trie/proven.ts";
export { type BoundaryNode, proveRange, type RangeProof, verifyRangeProof } from "./trie/range-proof.ts";
export { proveForUpdate, statelessUpdate, type Change } from "./trie/stateless.ts";
// JAMNP-S CE 129 state requests: the responder over any node source, and the verifier.
export { frameStateResponse, respondStateRequest, type StateResponse, unframeStateResponse } from "./trie/state-request.ts";
export { type VerifiedStateResponse, verifyStateResponse } from "./trie/state-response.ts";
export { buildWitness, isValidWitness, type Read, type VerifiedWitness, type Witness, verifyWitness } from "./trie/witness.ts";

// Encodings: binary (docs/proof-format.md) and JSON.
export {
  decodeKeyProof,
  decodeMultiProof,
  decodeProof,
  type DecodedProof,
  decodeRangeProof,
  decodeWitness,
  encodeKeyProof,
  encodeMultiProof,
  encodeRangeProof,
  encodeWitness,
} from "./trie/encoding.ts";
export {
  type Json,
  keyProofFromJson,
  keyProofToJson,
  multiProofFromJson,
  multiProofToJson,
  type ParsedJsonProof,
  proofFromJson,
  rangeProofFromJson,
  rangeProofToJson,
  witnessFromJson,
  witnessToJson,
} from "./trie/json.ts";
