// Leaf preimages written in words from packed buffers (PackedLeafWriter) equal the GP encoding
// of each (key, value), for every embedded length (whole and partial last words), values that
// end at their buffer's end, hashed values, and buffers that are views into larger ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HashKernel } from "../../src/hash/index.ts";
import { encodeLeaf, PackedLeafWriter, toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const LENS = [...Array.from({ length: 41 }, (_, i) => i), 64, 1000];

describe(`trie: packed leaf preimages (seed ${seed})`, () => {
  it("equal encodeLeaf for every value length and place in the buffers", () => {
    const rng = new Rng(seed);
    const kernel = new HashKernel(64);
    const writer = new PackedLeafWriter(kernel);
    for (const lead of [0, 1, 3]) {
      const n = LENS.length;
      // Keys back to back after `lead` bytes, in a view of a larger buffer; values likewise.
      const keyBuf = rng.bytes(lead + 31 * n + 5);
      const keys = keyBuf.subarray(lead, lead + 31 * n);
      const total = LENS.reduce((a, b) => a + b, 0);
      const valBuf = rng.bytes(lead + total + 7);
      // The last value ends where its view ends: its last word cannot be read whole.
      const vals = valBuf.subarray(lead, lead + total);
      const starts: number[] = [];
      let end = 0;
      for (const len of LENS) {
        starts.push(end);
        end += len;
      }
      for (const order of [LENS.map((_, i) => i), LENS.map((_, i) => n - 1 - i)]) {
        kernel.heap.fill(0xa5);
        writer.use(keys, vals);
        order.forEach((i, slot) => writer.write(31 * i, starts[i], LENS[i], kernel.inOffset + 64 * slot));
        order.forEach((i, slot) => {
          const key = keys.subarray(31 * i, 31 * i + 31);
          const value = vals.subarray(starts[i], starts[i] + LENS[i]);
          const want = new Uint8Array(64);
          encodeLeaf(key, value, want, 0, value.length > 32 ? kernel.hash(value) : undefined);
          const at = kernel.inOffset + 64 * slot;
          assert.equal(toHex(kernel.heap.subarray(at, at + 64)), toHex(want), `value of ${LENS[i]} bytes at ${starts[i]}, lead ${lead}`);
        });
      }
    }
  });
});
