// BLAKE2b-256 (RFC 7693, digest length 32, no key) as generated WebAssembly.
//
// Exports:
//   compress(h, m, t, last)   one block: state words at h (64 B), message at m (128 B),
//                             byte counter t (i64), last = 1 for the final block.
//   blocks(h, data, n, t)     n non-final blocks from data; t = bytes hashed before them.
//   nodes(src, dst, n)        n independent 64-byte inputs at src -> n 32-byte digests at dst.
//   branch(l, r, dst)         the name of a GP branch from its children's names, in place.
//
// All rounds are unrolled and the 16 state words live in locals, so the engine keeps them in
// registers. `nodes` is specialised for the trie's 64-byte nodes: the initial state is a
// constant, the counter is 64, and message words 8..15 are zero, so half of the message
// additions vanish.

import { type FunctionBody, I32, I64, ModuleBuilder, Op } from "./wasm-emit.ts";

/** BLAKE2b initialisation vector (the SHA-512 IV). */
export const IV: readonly bigint[] = [
  0x6a09e667f3bcc908n,
  0xbb67ae8584caa73bn,
  0x3c6ef372fe94f82bn,
  0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n,
  0x9b05688c2b3e6c1fn,
  0x1f83d9abfb41bd6bn,
  0x5be0cd19137e2179n,
];

/** Parameter block word 0 for a 32-byte digest, no key, fanout 1, depth 1. */
export const PARAM0 = 0x01010020n;

const SIGMA: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const ROUNDS = 12;
const MASK64 = (1n << 64n) - 1n;

/** Emits the 12 rounds over state locals v[0..15]; m[j] is a local index or -1 for a zero word. */
function emitRounds(b: FunctionBody, v: number[], m: number[]): void {
  const g = (a: number, bb: number, c: number, d: number, x: number, y: number) => {
    const mix = (word: number, rot1: bigint, rot2: bigint) => {
      b.get(v[a]).get(v[bb]).op(Op.i64Add);
      if (word >= 0) b.get(word).op(Op.i64Add);
      b.tee(v[a]).get(v[d]).op(Op.i64Xor).i64(rot1).op(Op.i64RotR).set(v[d]);
      b.get(v[c]).get(v[d]).op(Op.i64Add).tee(v[c]).get(v[bb]).op(Op.i64Xor).i64(rot2).op(Op.i64RotR).set(v[bb]);
    };
    mix(x, 32n, 24n);
    mix(y, 16n, 63n);
  };
  for (let r = 0; r < ROUNDS; r++) {
    const s = SIGMA[r % 10];
    g(0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
}

function locals(b: FunctionBody, n: number, type: number): number[] {
  return Array.from({ length: n }, () => b.local(type));
}

/** compress(h: i32, m: i32, t: i64, last: i32) */
function emitCompress(mod: ModuleBuilder): number {
  const { index, body: b } = mod.func("compress", [I32, I32, I64, I32]);
  const [H, M, T, LAST] = [0, 1, 2, 3];
  const v = locals(b, 16, I64);
  const m = locals(b, 16, I64);
  for (let j = 0; j < 16; j++)
    b.get(M)
      .mem(Op.i64Load, j * 8)
      .set(m[j]);
  for (let i = 0; i < 8; i++) {
    b.get(H)
      .mem(Op.i64Load, i * 8)
      .set(v[i]);
    b.i64(IV[i]).set(v[i + 8]);
  }
  b.get(v[12]).get(T).op(Op.i64Xor).set(v[12]);
  // v14 ^= last ? ~0 : 0, computed without a branch as 0 - last.
  b.get(v[14]).i64(0n).get(LAST).op(Op.i64ExtendI32U);
  b.op(Op.i64Sub).op(Op.i64Xor).set(v[14]);
  emitRounds(b, v, m);
  for (let i = 0; i < 8; i++) {
    b.get(H);
    b.get(H)
      .mem(Op.i64Load, i * 8)
      .get(v[i])
      .op(Op.i64Xor)
      .get(v[i + 8])
      .op(Op.i64Xor);
    b.mem(Op.i64Store, i * 8);
  }
  return index;
}

/** blocks(h: i32, data: i32, n: i32, t: i64): n non-final blocks, counter continuing from t. */
function emitBlocks(mod: ModuleBuilder, compress: number): void {
  const { body: b } = mod.func("blocks", [I32, I32, I32, I64]);
  const [H, DATA, N, T] = [0, 1, 2, 3];
  b.block();
  b.get(N).op(Op.i32Eqz).brIf(0);
  b.loop();
  b.get(T).i64(128n).op(Op.i64Add).set(T);
  b.get(H).get(DATA).get(T).i32(0).call(compress);
  b.get(DATA).i32(128).op(Op.i32Add).set(DATA);
  b.get(N).i32(1).op(Op.i32Sub).tee(N).brIf(0);
  b.op(Op.end);
  b.op(Op.end);
}

const NODE_H0 = [IV[0] ^ PARAM0, IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7]];

/** Emits: digest of the 64-byte message in locals m[0..7], stored at the address in local DST. */
function emitNodeDigest(b: FunctionBody, v: number[], m: number[], dst: number): void {
  for (let i = 0; i < 8; i++) b.i64(NODE_H0[i]).set(v[i]);
  for (let i = 0; i < 8; i++) {
    let w = IV[i];
    if (i === 4) w ^= 64n; // byte counter: one 64-byte input
    if (i === 6) w ^= MASK64; // final block
    b.i64(w).set(v[i + 8]);
  }
  emitRounds(b, v, [...m, -1, -1, -1, -1, -1, -1, -1, -1]);
  for (let i = 0; i < 4; i++) {
    b.get(dst)
      .i64(NODE_H0[i])
      .get(v[i])
      .op(Op.i64Xor)
      .get(v[i + 8])
      .op(Op.i64Xor)
      .mem(Op.i64Store, i * 8);
  }
}

/** nodes(src: i32, dst: i32, n: i32): hash n 64-byte inputs. */
function emitNodes(mod: ModuleBuilder): void {
  const { body: b } = mod.func("nodes", [I32, I32, I32]);
  const [SRC, DST, N] = [0, 1, 2];
  const v = locals(b, 16, I64);
  const m = locals(b, 8, I64);
  b.block();
  b.get(N).op(Op.i32Eqz).brIf(0);
  b.loop();
  for (let j = 0; j < 8; j++)
    b.get(SRC)
      .mem(Op.i64Load, j * 8)
      .set(m[j]);
  emitNodeDigest(b, v, m, DST);
  b.get(SRC).i32(64).op(Op.i32Add).set(SRC);
  b.get(DST).i32(32).op(Op.i32Add).set(DST);
  b.get(N).i32(1).op(Op.i32Sub).tee(N).brIf(0);
  b.op(Op.end);
  b.op(Op.end);
}

/**
 * branch(left: i32, right: i32, dst: i32): the name of a GP branch node from its children's
 * names, read in place; the left name's top bit is dropped, as the branch encoding says.
 * `dst` may overlap either input.
 */
function emitBranch(mod: ModuleBuilder): void {
  const { body: b } = mod.func("branch", [I32, I32, I32]);
  const [LEFT, RIGHT, DST] = [0, 1, 2];
  const v = locals(b, 16, I64);
  const m = locals(b, 8, I64);
  b.get(LEFT).mem(Op.i64Load, 0).i64(~0x80n).op(Op.i64And).set(m[0]);
  for (let j = 1; j < 4; j++)
    b.get(LEFT)
      .mem(Op.i64Load, j * 8)
      .set(m[j]);
  for (let j = 0; j < 4; j++)
    b.get(RIGHT)
      .mem(Op.i64Load, j * 8)
      .set(m[4 + j]);
  emitNodeDigest(b, v, m, DST);
}

/** The kernel module's bytes, for a memory of `pages` 64 KiB pages (growable by the host). */
export function blake2bModuleBytes(pages: number): Uint8Array {
  const mod = new ModuleBuilder(pages);
  const compress = emitCompress(mod);
  emitBlocks(mod, compress);
  emitNodes(mod);
  emitBranch(mod);
  return mod.encode();
}
