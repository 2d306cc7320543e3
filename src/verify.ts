// `bmt/verify`: what a light client or a stateless verifier needs: checking single, multi and
// range proofs and witnesses, the stateless update, and reading the binary and JSON encodings.
// No Node built-ins anywhere below it, so it runs in browsers too; there, `await ready()` once
// before anything else (a browser's main thread will not compile the hash module synchronously).

export { ready } from "./hash/kernel.ts";
export { checkedBlake2b256 as blake2b256 } from "./trie/hash.ts";
export {
  decodeKeyProof,
  decodeMultiProof,
  decodeProof,
  type DecodedProof,
  decodeRangeProof,
  decodeWitness,
} from "./trie/encoding.ts";
export { TrieError, type TrieErrorCode } from "./trie/errors.ts";
export { fromHex, toHex } from "./trie/hex.ts";
export * from "./trie/json.ts";
export { KEY_BYTES } from "./trie/key.ts";
export { type MultiProof, type MultiProofPath, multiProofValues, verifyMultiProof } from "./trie/multiproof.ts";
export { type KeyProof, type ProofTerminal, verifyKeyProof } from "./trie/proof.ts";
export type { ProvenValues } from "./trie/proven.ts";
export { type BoundaryNode, type RangeProof, verifyRangeProof } from "./trie/range-proof.ts";
export { statelessUpdate, type Change } from "./trie/stateless.ts";
export { isValidWitness, type Read, type VerifiedWitness, type Witness, verifyWitness } from "./trie/witness.ts";
export { frameStateResponse, type StateResponse, unframeStateResponse } from "./trie/state-request.ts";
export { type VerifiedStateResponse, verifyStateResponse } from "./trie/state-response.ts";
