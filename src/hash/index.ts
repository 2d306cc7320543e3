export { blake2b256, HASH_BYTES, HashError, HashKernel, NODE_BYTES, SCRATCH_BYTES, sharedKernel } from "./kernel.ts";
