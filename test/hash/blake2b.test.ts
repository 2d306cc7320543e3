import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake2b } from "@noble/hashes/blake2.js";
import { blake2b256, HashError, HashKernel } from "../../src/hash/index.ts";
import { Rng, testSeed } from "../support/random.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const noble = (d: Uint8Array) => blake2b(d, { dkLen: 32 });
const seed = testSeed();

describe(`hash: BLAKE2b-256 (seed ${seed})`, () => {
  it("matches known answers", () => {
    assert.equal(hex(blake2b256(new Uint8Array(0))), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    assert.equal(hex(blake2b256(new TextEncoder().encode("abc"))), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  });

  it("is not BLAKE2b-512 truncated", () => {
    const abc = new TextEncoder().encode("abc");
    assert.notEqual(hex(blake2b256(abc)), hex(blake2b(abc, { dkLen: 64 }).subarray(0, 32)));
  });

  it("agrees with @noble/hashes for every length 0..300 and around block and chunk edges", () => {
    const rng = new Rng(seed);
    const lengths = [...Array(301).keys(), 1023, 1024, 1025, 65535, 65536, 65537, 65536 + 128, 65536 * 2 + 1];
    for (const n of lengths) {
      const data = rng.bytes(n);
      assert.equal(hex(blake2b256(data)), hex(noble(data)), `length ${n}`);
    }
  });

  it("agrees with @noble/hashes on large inputs (1 MiB .. 9 MiB + 3)", () => {
    const rng = new Rng(seed + 1);
    for (const n of [1 << 20, 9 * (1 << 20) + 3]) {
      const data = rng.bytes(n);
      assert.equal(hex(blake2b256(data)), hex(noble(data)), `length ${n}`);
    }
  });

  it("hashes into a caller's buffer at an offset, including a view into the kernel heap", () => {
    const k = new HashKernel(4);
    const data = new Rng(seed + 2).bytes(200);
    const out = new Uint8Array(40);
    k.hash(data, out, 5);
    assert.equal(hex(out.subarray(5, 37)), hex(noble(data)));
    assert.equal(out[4], 0);
    assert.equal(out[37], 0);
    k.heap.set(data.subarray(0, 100), k.scratchOffset);
    k.hash(k.heap.subarray(k.scratchOffset, k.scratchOffset + 100), k.heap, k.scratchOffset + 200);
    assert.equal(hex(k.heap.subarray(k.scratchOffset + 200, k.scratchOffset + 232)), hex(noble(data.subarray(0, 100))));
  });
});

describe(`hash: batch node kernel (seed ${seed})`, () => {
  it("hashes a full batch of random 64-byte nodes like @noble/hashes", () => {
    const k = new HashKernel(1000);
    const rng = new Rng(seed + 3);
    const nodes = rng.bytes(64 * 1000);
    k.heap.set(nodes, k.inOffset);
    k.hashNodes(1000);
    for (let i = 0; i < 1000; i++) {
      const got = k.heap.subarray(k.outOffset + 32 * i, k.outOffset + 32 * i + 32);
      assert.equal(hex(got), hex(noble(nodes.subarray(64 * i, 64 * i + 64))), `node ${i}`);
    }
  });

  it("hashes only the requested count and leaves later digests untouched", () => {
    const k = new HashKernel(8);
    k.heap.fill(0xaa, k.outOffset, k.outOffset + 8 * 32);
    k.heap.fill(7, k.inOffset, k.inOffset + 8 * 64);
    k.hashNodes(3);
    assert.equal(hex(k.heap.subarray(k.outOffset + 64, k.outOffset + 96)), hex(noble(new Uint8Array(64).fill(7))));
    assert.ok(k.heap.subarray(k.outOffset + 96, k.outOffset + 256).every((b) => b === 0xaa));
    k.hashNodes(0);
  });

  it("hashes in place in the scratch region (digest over its own input)", () => {
    const k = new HashKernel(2);
    const node = new Rng(seed + 4).bytes(64);
    k.heap.set(node, k.scratchOffset);
    k.hashNodesAt(k.scratchOffset, k.scratchOffset, 1);
    assert.equal(hex(k.heap.subarray(k.scratchOffset, k.scratchOffset + 32)), hex(noble(node)));
  });

  it("hashes one node at a time from and to caller buffers", () => {
    const k = new HashKernel(1);
    const rng = new Rng(seed + 5);
    const src = rng.bytes(100);
    const out = new Uint8Array(50);
    k.hashNode(src, 17, out, 9);
    assert.equal(hex(out.subarray(9, 41)), hex(noble(src.subarray(17, 81))));
  });

  it("refuses bad counts and ranges with a typed error", () => {
    const k = new HashKernel(4);
    assert.throws(() => k.hashNodes(5), HashError);
    assert.throws(() => k.hashNodes(-1), HashError);
    assert.throws(() => k.hashNodesAt(k.heap.length - 10, 0, 1), HashError);
    assert.throws(() => new HashKernel(0), HashError);
    assert.throws(() => new HashKernel(1.5), /capacity/);
  });
});
