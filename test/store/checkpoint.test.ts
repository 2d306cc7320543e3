import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IoError, MemFileSystem } from "../../src/io/index.ts";
import { memPageStoreFileSystem } from "../../src/io/fs.ts";
import { MERKLE_PAGE_BYTES, pageIdOf } from "../../src/merkle/page.ts";
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
    assert.deepEqual(
      [...reader.entries()].map(([k, v]) => toHex(k) + toHex(v)),
      want.map((e) => toHex(e.key) + toHex(e.value)),
    );
    for (const e of want.slice(0, 20)) assert.equal(toHex(reader.get(e.key) as Uint8Array), toHex(e.value));
    reader.checkCurrent();
    // "Crash": the store is dropped without close; a new one replays commits 21..23.
    const again = Store.open("/db", { fs, lock: false, checkpointEvery: 5 });
    assert.equal(again.seq, 23);
    assert.equal(toHex(again.root), toHex(trieRoot(want)));
    assert.deepEqual(
      [...again.entries()].map(([k]) => toHex(k)),
      want.map((e) => toHex(e.key)),
    );
    again.commit([[want[0].key, null]]);
    assert.throws(
      () => reader.checkCurrent(),
      (e: unknown) => e instanceof StoreError && e.code === "FAILED",
    );
    again.close();
    const last = Store.open("/db", { fs, lock: false });
    assert.equal(last.seq, 24);
    assert.equal(last.stats().redo.records, 0, "close checkpointed");
    assert.equal(toHex(last.root), toHex(trieRoot(want.slice(1))));
    last.close();
  });

  it("a reader serves the writer's merkle pages: checkpointed ones and those of the logged commits", () => {
    const rng = new Rng(seed + 1);
    const fs = memPageStoreFileSystem(new MemFileSystem());
    const store = Store.open("/db", { fs, lock: false, checkpointEvery: 4, merkleInitialBuckets: 64 });
    const keys: Uint8Array[] = [];
    for (let c = 0; c < 6; c++) {
      const batch: [Uint8Array, Uint8Array | null][] = [];
      for (let i = 0; i < 1500; i++) {
        const key = rng.bytes(31);
        keys.push(key);
        batch.push([key, randomValue(rng)]);
      }
      // Later commits also delete and rewrite, so logged pages shrink, change and vanish.
      for (let i = 0; i < 200 && c > 3; i++) batch.push([keys[rng.int(keys.length - 1500)], rng.int(2) ? null : randomValue(rng)]);
      store.commit([...new Map(batch.map((e) => [toHex(e[0]), e])).values()]);
    }
    assert.equal(store.stats().redo.records, 2, "two commits only in the log");
    const reader = StoreReader.open("/db", { fs });
    assert.equal(toHex(reader.root), toHex(store.root));
    let stored = 0;
    const body = (p: Uint8Array | undefined) => (p === undefined ? "absent" : toHex(p.subarray(0, MERKLE_PAGE_BYTES - 4)));
    const seen = new Set<string>();
    for (const key of keys) {
      for (let d = 0; d < 4; d++) {
        const id = pageIdOf(key, d);
        if (seen.has(toHex(id))) continue;
        seen.add(toHex(id));
        const mine = store.page(id);
        assert.equal(body(reader.page(id)), body(mine), `page ${toHex(id).slice(0, 12)} at depth ${d}`);
        if (mine === undefined) break;
        stored++;
      }
    }
    assert.ok(stored > 40, `only ${stored} stored pages compared`);
    reader.checkCurrent();
    reader.close();
    store.close();
  });

  it("a checkpoint whose meta record is torn leaves the previous one in force, and nothing acknowledged is lost", () => {
    const rng = new Rng(seed + 2);
    for (const every of [2, 3, 4]) {
      // Tear the k-th meta record write (a checkpoint's commit point): its first 24 bytes reach the
      // file, then the process "dies".
      for (let k = 2; k <= 5; k++) {
        const mem = new MemFileSystem();
        const base = memPageStoreFileSystem(mem);
        let metaWrites = 0;
        const fs = {
          ...base,
          open(path: string) {
            const f = base.open(path);
            if (!path.endsWith("/meta")) return f;
            const write = f.write.bind(f);
            f.write = (buf: Uint8Array, at: number) => {
              if (++metaWrites === k) {
                write(buf.subarray(0, 24), at);
                throw new Error("crash");
              }
              return write(buf, at);
            };
            return f;
          },
        };
        const store = Store.open("/db", { fs, lock: false, checkpointEvery: every, merkleInitialBuckets: 64 });
        let model = new Map<string, Entry>();
        let crashed = false;
        let inFlight = new Map<string, Entry>();
        for (let c = 0; c < 20 && !crashed; c++) {
          const batch: [Uint8Array, Uint8Array][] = [];
          for (let i = 0; i < 10; i++) batch.push([rng.bytes(31), randomValue(rng)]);
          inFlight = new Map(model);
          for (const [key, value] of batch) inFlight.set(toHex(key), { key, value });
          try {
            store.commit(batch);
            model = inFlight;
          } catch (e) {
            assert.ok(e instanceof IoError && e.op === "write" && (e.cause as Error).message === "crash", String(e));
            crashed = true;
          }
        }
        assert.ok(crashed, `every ${every}: meta write ${k} happened`);
        const again = Store.open("/db", { fs: base, lock: false, checkpointEvery: every });
        // Every acknowledged commit survives; the one that met the crash may or may not (a
        // commit point is written after a commit is logged, or before the next one is).
        const roots = [model, inFlight].map((m) => toHex(trieRoot([...m.values()].sort((a, b) => compareKeys(a.key, b.key)))));
        const got = roots.indexOf(toHex(again.root));
        assert.ok(got >= 0, `every ${every}, torn meta write ${k}: root is the last acknowledged or the one in flight`);
        assert.equal(again.size, [model, inFlight][got].size, `every ${every}, torn meta write ${k}: size`);
        again.close();
      }
    }
  });

  it("a commit point damaged after it was written is reported, not replaced by the one before it", () => {
    const rng = new Rng(seed + 4);
    const mem = new MemFileSystem();
    const fs = memPageStoreFileSystem(mem);
    const store = Store.open("/db", { fs, lock: false, checkpointEvery: 3, merkleInitialBuckets: 64 });
    for (let c = 0; c < 7; c++) store.commit(Array.from({ length: 10 }, () => [rng.bytes(31), randomValue(rng)] as [Uint8Array, Uint8Array]));
    assert.equal(store.stats().redo.records, 1, "commit 7 is in the log, after the checkpoint at 6");
    // Flip a byte of the root in the slot holding seq 6: the slot holding seq 3 is the newest valid one.
    const meta = fs.open("/db/meta");
    const slots = new Uint8Array(8192);
    meta.read(slots, 0);
    const newest = new DataView(slots.buffer).getBigUint64(8, true) === 6n ? 0 : 1;
    slots[newest * 4096 + 20] ^= 1;
    meta.write(slots.subarray(newest * 4096, newest * 4096 + 4096), newest * 4096);
    assert.throws(
      () => Store.open("/db", { fs, lock: false }),
      (e: unknown) =>
        e instanceof StoreError &&
        e.code === "CORRUPT" &&
        /names commit point 6 as durable, after the last one the meta file holds \(seq 3\); the newer one is damaged/.test(e.message),
    );
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
