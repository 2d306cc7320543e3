// Steady state: repeated updates of a tenth of the keys must not grow the file without bound,
// because pages replaced by one commit are reused after the next.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openKv } from "../../src/kv/index.ts";
import { Rng, seqKey, tempDir } from "./helpers.ts";

test("50 rounds updating 10% of 200k keys keep the file within 1.5x of its first-round size", () => {
  const { dir, cleanup } = tempDir("steady");
  try {
    const path = join(dir, "kv.db");
    const tree = openKv(path);
    const rng = new Rng(99);
    const N = 200_000;
    const keyOf = (i: number): Uint8Array => {
      const k = seqKey(Math.imul(i, 0x9e3779b1) >>> 0); // spread the keys over the key space
      k[4] = i & 0xff;
      return k;
    };
    const keys = Array.from({ length: N }, (_, i) => keyOf(i));
    const value = (round: number, i: number): Uint8Array => {
      const v = new Uint8Array(32);
      v[0] = round;
      v[1] = i & 0xff;
      v[2] = (i >>> 8) & 0xff;
      return v;
    };
    tree.apply(keys.map((k, i) => [k, value(0, i)] as const));
    tree.commit();
    const latest = new Uint8Array(N);
    let firstRoundSize = 0;
    const sizes: number[] = [];
    for (let round = 1; round <= 50; round++) {
      const batch = new Map<number, readonly [Uint8Array, Uint8Array]>();
      while (batch.size < N / 10) {
        const i = rng.int(N);
        batch.set(i, [keys[i], value(round, i)]);
        latest[i] = round;
      }
      tree.apply(batch.values());
      tree.commit();
      const size = statSync(path).size;
      sizes.push(size);
      if (round === 1) firstRoundSize = size;
      assert.ok(size <= 1.5 * firstRoundSize, `round ${round}: ${size} bytes vs ${firstRoundSize} after round 1`);
    }
    tree.check();
    for (let t = 0; t < 2000; t++) {
      const i = rng.int(N);
      assert.equal(tree.get(keys[i])![0], latest[i]);
    }
    assert.equal(tree.size, N);
    tree.close();
  } finally {
    cleanup();
  }
});
