// A shared-memory buffer reused from one checkpoint to the next for the bytes a write-behind
// job reads. A fresh SharedArrayBuffer per checkpoint costs a page fault per 4 KiB on first
// touch and counts as new external memory, which drives V8 into full collections; reusing one
// avoids both. The owner must take it only when no job reading it is in flight.

/** Buffers above this keep no more than twice what the last checkpoint needed. */
const KEEP_BYTES = 32 * 2 ** 20;

export class StagingBuffer {
  #buf: Uint8Array | null = null;

  /**
   * A view of `length` bytes of shared memory (contents undefined: the caller writes every byte
   * it hands on). Reuses the last buffer when it is large enough and not oversized.
   */
  take(length: number): Uint8Array {
    const cap = this.#buf?.length ?? 0;
    if (this.#buf === null || length > cap || (cap > KEEP_BYTES && cap > 2 * length)) {
      // Headroom, so that a checkpoint slightly larger than the last does not reallocate.
      const size = Math.max(length, Math.min(Math.ceil(length * 1.25), length + KEEP_BYTES));
      this.#buf = null; // the old one may be collected while the new one is allocated
      this.#buf = new Uint8Array(new SharedArrayBuffer(size));
    }
    return (this.#buf as Uint8Array).subarray(0, length);
  }

  /** Bytes held. */
  get capacity(): number {
    return this.#buf?.length ?? 0;
  }

  /** Lets the buffer go (the owner is closing). */
  release(): void {
    this.#buf = null;
  }
}
