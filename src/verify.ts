// `bmt/verify`: what a light client needs to check proofs. No Node built-ins: it runs in
// browsers as well.

export { blake2b256 } from "./hash/kernel.ts";
export { TrieError } from "./trie/errors.ts";
export { fromHex, toHex } from "./trie/hex.ts";
export { KEY_BYTES } from "./trie/key.ts";
export { assertKeyProof, type KeyProof, type ProofTerminal, verifyKeyProof } from "./trie/proof.ts";
