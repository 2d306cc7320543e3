export { blake2b256, HASH_BYTES, HashError, HashKernel, NODE_BYTES, ready, SCRATCH_BYTES, sharedKernel } from "./kernel.ts";
