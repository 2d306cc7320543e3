/** Why a trie operation refused its input. */
export type TrieErrorCode = "BAD_KEY" | "BAD_VALUE" | "UNSORTED" | "DUPLICATE_KEY" | "BAD_PROOF";

/** Typed error for bad input to the pure trie layer; the message names the argument. */
export class TrieError extends Error {
  readonly code: TrieErrorCode;
  constructor(code: TrieErrorCode, message: string) {
    super(message);
    this.name = "TrieError";
    this.code = code;
  }
}
