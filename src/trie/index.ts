export { TrieError, type TrieErrorCode } from "./errors.ts";
export { fromHex, toHex } from "./hex.ts";
export { equalBytes, isBytes } from "./bytes.ts";
export { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit, lowerBound, sortByKey } from "./key.ts";
export {
  EMBED_MAX,
  encodeBranch,
  encodeHashedLeaf,
  encodeLeaf,
  H0,
  isEmptyId,
  isLeafNode,
  PackedLeafWriter,
  writeLeafPreimage,
  writeLeafPreimageAt,
} from "./node.ts";
export { assertKeyProof, type KeyProof, type ProofTerminal, proveKey, verifyKeyProof } from "./proof.ts";
export { type Entry, sortEntries, subtrieRoot, trieRoot, trieRootUnsorted } from "./root.ts";
export type { EntryBatch } from "./entry-batch.ts";
export * from "./node-source.ts";
export { type MultiProof, type MultiProofPath, multiProofValues, proveMany, verifyMultiProof } from "./multiproof.ts";
export { ProvenValues } from "./proven.ts";
export { proveForUpdate, statelessUpdate, type Change } from "./stateless.ts";
export { buildWitness, isValidWitness, type Read, type VerifiedWitness, type Witness, verifyWitness } from "./witness.ts";
export { type BoundaryNode, proveRange, type RangeProof, verifyRangeProof } from "./range-proof.ts";
export * from "./encoding.ts";
export * from "./json.ts";
export { encodeNatural, naturalLength, readNatural, writeNatural } from "./natural.ts";
export { frameStateResponse, MAX_STATE_REQUEST_SIZE, pairBytes, respondStateRequest, type StateResponse, unframeStateResponse } from "./state-request.ts";
export { type VerifiedStateResponse, verifyStateResponse } from "./state-response.ts";
