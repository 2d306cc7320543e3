// The hash kernel: one WebAssembly instance with a fixed memory laid out as
//   [state 64 B][final block 128 B][H0: 32 zero bytes][pad][chunk 64 KiB][node inputs: capacity x 64]
//   [digests: capacity x 32][scratch 64 KiB]
// Callers fill the node-input region directly and read digests from the output region, so a
// batch of N nodes costs one call and no allocation. The memory never grows, so views into it
// stay valid for the kernel's lifetime.

import { blake2bModuleBytes, IV, PARAM0 } from "./blake2b-module.ts";

/** Bytes in a trie node: every GP node preimage is exactly this long. */
export const NODE_BYTES = 64;
/** Bytes in a digest (BLAKE2b-256). */
export const HASH_BYTES = 32;

const STATE = 0;
const BLOCK = 64;
const ZERO = 192;
const CHUNK = 256;
const CHUNK_BYTES = 64 * 1024;
const NODES_IN = CHUNK + CHUNK_BYTES;
const PAGE = 64 * 1024;
/** Bytes of the caller-owned scratch region (see `HashKernel.scratchOffset`). */
export const SCRATCH_BYTES = 64 * 1024;

interface KernelExports {
  memory: WebAssembly.Memory;
  compress(h: number, m: number, t: bigint, last: number): void;
  blocks(h: number, data: number, n: number, t: bigint): void;
  nodes(src: number, dst: number, n: number): void;
  branch(left: number, right: number, dst: number): void;
}

/** Initial chaining value for a 32-byte digest, as little-endian bytes. */
const INITIAL_STATE = (() => {
  const bytes = new Uint8Array(64);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) view.setBigUint64(i * 8, i === 0 ? IV[0] ^ PARAM0 : IV[i], true);
  return bytes;
})();

let compiled: WebAssembly.Module | undefined;
let compiling: Promise<void> | undefined;

function kernelModule(): WebAssembly.Module {
  // Compiled once per process. The memory size is only the module's minimum; each instance
  // grows its own memory to what its capacity needs.
  compiled ??= new WebAssembly.Module(blake2bModuleBytes(1));
  return compiled;
}

/**
 * Compiles the kernel's WebAssembly module asynchronously. Node compiles it synchronously on
 * first use and never needs this; a browser's main thread refuses to compile a module this
 * large synchronously, so await `ready()` there before any hashing. Idempotent.
 */
export function ready(): Promise<void> {
  compiling ??= compiled
    ? Promise.resolve()
    : WebAssembly.compile(blake2bModuleBytes(1)).then((m) => {
        compiled ??= m;
      });
  return compiling;
}

/** Error for arguments the kernel cannot take. */
export class HashError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "HashError";
  }
}

/**
 * A BLAKE2b-256 kernel with its own memory. Not reentrant: one synchronous caller at a time,
 * which is always true within one JavaScript thread.
 */
export class HashKernel {
  /** How many 64-byte nodes one `hashNodes` call can take. */
  readonly capacity: number;
  /** Byte offset in `heap` of 32 zero bytes (the empty subtrie's name), never written. */
  readonly zeroOffset = ZERO;
  /** Byte offset in `heap` of node i's input: `inOffset + 64 * i`. */
  readonly inOffset = NODES_IN;
  /** Byte offset in `heap` of node i's digest: `outOffset + 32 * i`. */
  readonly outOffset: number;
  /**
   * Byte offset in `heap` of `SCRATCH_BYTES` that the kernel never touches by itself: callers
   * keep working sets there (e.g. a stack of node ids) so that building a preimage is a
   * `copyWithin` and hashing it is `hashNodesAt`, with no copy across the boundary.
   */
  readonly scratchOffset: number;
  /** The kernel's whole memory; fill inputs and read digests through it. */
  readonly heap: Uint8Array;
  private readonly fn: KernelExports;

  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new HashError(`capacity must be an integer in 1..${1 << 20}, got ${capacity}`);
    }
    this.capacity = capacity;
    this.outOffset = NODES_IN + capacity * NODE_BYTES;
    const instance = new WebAssembly.Instance(kernelModule(), {});
    this.fn = instance.exports as unknown as KernelExports;
    this.scratchOffset = this.outOffset + capacity * HASH_BYTES;
    const needed = this.scratchOffset + SCRATCH_BYTES;
    const pages = Math.ceil(needed / PAGE);
    const have = this.fn.memory.buffer.byteLength / PAGE;
    if (pages > have) this.fn.memory.grow(pages - have);
    this.heap = new Uint8Array(this.fn.memory.buffer);
  }

  /** Hashes nodes 0..count-1 of the input region into digests 0..count-1 of the output region. */
  hashNodes(count: number): void {
    if (!(count >= 0 && count <= this.capacity)) {
      throw new HashError(`count must be in 0..${this.capacity}, got ${count}`);
    }
    this.fn.nodes(this.inOffset, this.outOffset, count);
  }

  /**
   * Hashes `count` 64-byte inputs starting at heap offset `src` into digests at `dst`.
   * For callers that lay out their own regions inside `heap` (e.g. a stack of node ids).
   */
  hashNodesAt(src: number, dst: number, count: number): void {
    if (src < 0 || dst < 0 || src + count * NODE_BYTES > this.heap.length || dst + count * HASH_BYTES > this.heap.length) {
      throw new HashError(`node range outside the kernel heap (src ${src}, dst ${dst}, count ${count})`);
    }
    this.fn.nodes(src, dst, count);
  }

  /**
   * Names a GP branch: reads the children's 32-byte names at heap offsets `left` and `right`
   * (`zeroOffset` for an empty side), drops the left name's top bit as the encoding does, and
   * writes the digest at `dst`, which may be either input. No bounds check: hot path for
   * callers working inside their own scratch region.
   */
  hashBranch(left: number, right: number, dst: number): void {
    this.fn.branch(left, right, dst);
  }

  /** Hashes one 64-byte node from `node[offset..offset+64)` into `out[outOffset..outOffset+32)`. */
  hashNode(node: Uint8Array, offset: number, out: Uint8Array, outOffset: number): void {
    const heap = this.heap;
    heap.set(node.subarray(offset, offset + NODE_BYTES), NODES_IN);
    this.fn.nodes(NODES_IN, this.outOffset, 1);
    out.set(heap.subarray(this.outOffset, this.outOffset + HASH_BYTES), outOffset);
  }

  /** BLAKE2b-256 of any byte string, written to `out` at `outOffset` (a new array if omitted). */
  hash(data: Uint8Array, out: Uint8Array = new Uint8Array(HASH_BYTES), outOffset = 0): Uint8Array {
    const heap = this.heap;
    const fn = this.fn;
    heap.set(INITIAL_STATE, STATE);
    const len = data.length;
    // All blocks but the last are compressed without the final flag; the last holds 1..128
    // bytes (or none, for the empty input) and is zero padded.
    const fullBlocks = len === 0 ? 0 : Math.floor((len - 1) / 128);
    let offset = 0;
    let remaining = fullBlocks;
    while (remaining > 0) {
      const n = Math.min(remaining, CHUNK_BYTES / 128);
      heap.set(data.subarray(offset, offset + n * 128), CHUNK);
      fn.blocks(STATE, CHUNK, n, BigInt(offset));
      offset += n * 128;
      remaining -= n;
    }
    const tail = len - offset;
    heap.set(data.subarray(offset, len), BLOCK);
    heap.fill(0, BLOCK + tail, BLOCK + 128);
    fn.compress(STATE, BLOCK, BigInt(len), 1);
    out.set(heap.subarray(STATE, STATE + HASH_BYTES), outOffset);
    return out;
  }
}

let shared: HashKernel | undefined;

/** A process-wide kernel for one-off hashing; callers that batch should own a kernel. */
export function sharedKernel(): HashKernel {
  shared ??= new HashKernel(256);
  return shared;
}

/** BLAKE2b-256 of `data` (the Gray Paper's H). */
export function blake2b256(data: Uint8Array): Uint8Array {
  return sharedKernel().hash(data);
}
