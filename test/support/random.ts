// Seeded randomness, so a failing case can be replayed from the seed printed by the test.

/** xorshift128+ over two 32-bit halves; deterministic for a given seed. */
export class Rng {
  private a: number;
  private b: number;
  constructor(readonly seed: number) {
    this.a = seed ^ 0x9e3779b9 || 1;
    this.b = Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35 || 2;
    for (let i = 0; i < 8; i++) this.u32();
  }
  u32(): number {
    let x = this.a;
    const y = this.b;
    this.a = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    this.b = x;
    return (x + y) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** A seed from the environment (BMT_SEED) or the clock; tests print it. */
export function testSeed(): number {
  const env = process.env.BMT_SEED;
  return env ? Number(env) : Date.now() % 0x7fffffff;
}
