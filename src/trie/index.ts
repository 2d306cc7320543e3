export { TrieError, type TrieErrorCode } from "./errors.ts";
export { fromHex, toHex } from "./hex.ts";
export { checkKey, commonPrefixBits, compareKeys, KEY_BITS, KEY_BYTES, keyBit } from "./key.ts";
export { EMBED_MAX, encodeBranch, encodeHashedLeaf, encodeLeaf, H0, isEmptyId, isLeafNode, writeLeafPreimage } from "./node.ts";
export { assertKeyProof, type KeyProof, type ProofTerminal, proveKey, verifyKeyProof } from "./proof.ts";
export { type Entry, sortEntries, subtrieRoot, trieRoot, trieRootUnsorted } from "./root.ts";
