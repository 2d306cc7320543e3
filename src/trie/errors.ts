/**
 * Why a trie operation refused its input:
 * - `BAD_KEY`, `BAD_VALUE`: a key or value of the wrong type or length;
 * - `UNSORTED`, `DUPLICATE_KEY`: entries out of order or repeated;
 * - `BAD_ARGUMENT`: any other argument out of its domain (a limit, a depth, a range);
 * - `BAD_PATH`: a node source was asked for a node below a leaf or an empty subtrie;
 * - `BAD_PROOF`: a proof or witness that does not verify against its root;
 * - `NOT_COVERED`: a stateless update writes a key, or needs a node, the proof does not show;
 * - `BAD_ENCODING`: bytes or JSON that are not the canonical encoding of a proof or witness.
 */
export type TrieErrorCode = "BAD_KEY" | "BAD_VALUE" | "UNSORTED" | "DUPLICATE_KEY" | "BAD_ARGUMENT" | "BAD_PATH" | "BAD_PROOF" | "NOT_COVERED" | "BAD_ENCODING";

/** Typed error for bad input to the pure trie layer; the message names the argument. */
export class TrieError extends Error {
  readonly code: TrieErrorCode;
  constructor(code: TrieErrorCode, message: string) {
    super(message);
    this.name = "TrieError";
    this.code = code;
  }
}
