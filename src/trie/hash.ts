// BLAKE2b-256 for the public API: the kernel's hash with its argument checked (the kernel, below
// the trie layer, is internal; its callers are the engine's own loops).
import { blake2b256 as kernelHash } from "../hash/kernel.ts";
import { checkBytes } from "./args.ts";

/** BLAKE2b-256 of `data` (the Gray Paper's H); `TrieError` `BAD_VALUE` unless a Uint8Array. */
export function checkedBlake2b256(data: Uint8Array): Uint8Array {
  checkBytes(data, "data");
  return kernelHash(data);
}
