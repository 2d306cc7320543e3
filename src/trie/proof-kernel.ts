// A small hash kernel of its own for proof building and checking. Branch names are hashed
// inside its memory (`hashBranch` drops the left name's top bit there), which saves the copies
// in and out of a one-node call at every level of a path.

import { HashKernel } from "../hash/kernel.ts";
import { HASH_BYTES } from "./node.ts";

let kernel: HashKernel | undefined;

/** The proof kernel; its scratch region holds two names at `scratchOffset` and +32. */
export function proofKernel(): HashKernel {
  kernel ??= new HashKernel(4);
  return kernel;
}

/** The name of the branch over two child names. */
export function branchName(left: Uint8Array, right: Uint8Array): Uint8Array {
  const k = proofKernel();
  const a = k.scratchOffset;
  k.heap.set(left, a);
  k.heap.set(right, a + HASH_BYTES);
  k.hashBranch(a, a + HASH_BYTES, a);
  return k.heap.slice(a, a + HASH_BYTES);
}
