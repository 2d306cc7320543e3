import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemFileSystem } from "../../src/kv/index.ts";
import { memPageStoreFileSystem } from "../../src/merkle/page-store-fs.ts";
import { StoreReader } from "../../src/store/reader.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

/** Random commits against a model map; returns the model's sorted entries after each. */
function workload(rng: Rng, commits: number) {
  const model = new Map<string, Entry>();
  const keys: Uint8Array[] = [];
  const batches: [Uint8Array, Uint8Array | null][][] = [];
  const states: Entry[][] = [];
  for (let c = 0; c < commits; c++) {
    const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
    for (let i = 0; i < 40; i++) {
      const key = keys.length > 0 && rng.int(3) === 0 ? rng.pick(keys) : rng.bytes(31);
      if (!keys.includes(key)) keys.push(key);
      batch.set(toHex(key), [key, rng.int(4) === 0 ? null : randomValue(rng)]);
    }
    for (const [k, v] of batch.values()) {
      if (v === null) model.delete(toHex(k));
      else model.set(toHex(k), { key: k, value: v });
    }
    batches.push([...batch.values()]);
    states.push([...model.values()].sort((a, b) => compareKeys(a.key, b.key)));
  }
  return { batches, states };
}

describe(`store: redo log and checkpoints (seed ${seed})`, () => {
  it("checkpoints every N commits, replays the log after a crash, and a reader sees logged commits", () => {
    const rng = new Rng(seed);
    const mem = new MemFileSystem();
    const fs = memPageStoreFileSystem(mem);
    const { batches, states } = workload(rng, 23);
    const store = Store.open("/db", { fs, lock: false, checkpointEvery: 5, merkleInitialBuckets: 64 });
    batches.forEach((b, i) => {
      store.commit(b);
      assert.equal(store.lastCommit?.checkpoint, (i + 1) % 5 === 0, `commit ${i + 1} checkpoints on every 5th`);
      assert.equal(toHex(store.root), toHex(trieRoot(states[i])), `commit ${i + 1}`);
    });
    assert.equal(store.stats().checkpoints, 4);
    assert.equal(store.stats().redo.records, 3);
    // A reader (no lock) sees the checkpoint plus the three logged commits.
    const reader = StoreReader.open("/db", { fs });
    assert.equal(reader.seq, 23);
    assert.equal(toHex(reader.root), toHex(store.root));
    const want = states[22];
    assert.deepEqual([...reader.entries()].map(([k, v]) => toHex(k) + toHex(v)), want.map((e) => toHex(e.key) + toHex(e.value)));
    for (const e of want.slice(0, 20)) assert.equal(toHex(reader.get(e.key) as Uint8Array), toHex(e.value));
    reader.checkCurrent();
    // "Crash": the store is dropped without close; a new one replays commits 21..23.
    const again = Store.open("/db", { fs, lock: false, checkpointEvery: 5 });
    assert.equal(again.seq, 23);
    assert.equal(toHex(again.root), toHex(trieRoot(want)));
    assert.deepEqual([...again.entries()].map(([k]) => toHex(k)), want.map((e) => toHex(e.key)));
    again.commit([[want[0].key, null]]);
    assert.throws(() => reader.checkCurrent(), (e: unknown) => e instanceof StoreError && e.code === "FAILED");
    again.close();
    const last = Store.open("/db", { fs, lock: false });
    assert.equal(last.seq, 24);
    assert.equal(last.stats().redo.records, 0, "close checkpointed");
    assert.equal(toHex(last.root), toHex(trieRoot(want.slice(1))));
    last.close();
  });

  it("refuses bad checkpoint options", () => {
    const fs = memPageStoreFileSystem(new MemFileSystem());
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => Store.open("/db", { fs, lock: false, checkpointEvery: bad }),
        (e: unknown) => e instanceof StoreError && e.code === "BAD_ARGUMENT" && /checkpointEvery/.test(e.message),
      );
    }
  });
});
