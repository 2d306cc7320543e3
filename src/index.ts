// bmt: a persistent, authenticated key-value store for JAM state (Gray Paper trie).
// This entry point exports the public API; `bmt/verify` exports proof verification alone.

export * from "./hash/index.ts";
export * from "./trie/index.ts";
export * from "./store/index.ts";
export * from "./db/index.ts";
