// Checkpoints written behind the caller, on real files: roots and values as committed through
// checkpoints, closes and drops; a failed write behind (value pages, page WAL, or merkle pages
// in place) stops the store, and a reopen loses nothing acknowledged.
import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { WAL_FILE_NAME } from "../../src/merkle/page-store.ts";
import { tableFileName } from "../../src/merkle/table-file.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { tempDir } from "../kv/helpers.ts";
import { failingWorkerFs } from "../merkle/page-store-helpers.ts";
import { randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

/** Random batches over a model; the from-scratch root after each. */
function workload(rng: Rng, commits: number, perCommit: number) {
  const model = new Map<string, Entry>();
  const keys: Uint8Array[] = [];
  const batches: [Uint8Array, Uint8Array | null][][] = [];
  const roots: string[] = [];
  const states: Map<string, Entry>[] = [];
  for (let c = 0; c < commits; c++) {
    const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
    for (let i = 0; i < perCommit; i++) {
      const key = keys.length > 0 && rng.int(3) === 0 ? rng.pick(keys) : rng.bytes(31);
      if (rng.int(3) !== 0) keys.push(key);
      batch.set(toHex(key), [key, rng.int(5) === 0 ? null : randomValue(rng)]);
    }
    for (const [k, v] of batch.values()) {
      if (v === null) model.delete(toHex(k));
      else model.set(toHex(k), { key: k, value: v });
    }
    batches.push([...batch.values()]);
    roots.push(toHex(trieRoot([...model.values()].sort((a, b) => compareKeys(a.key, b.key)))));
    states.push(new Map(model));
  }
  return { batches, roots, states };
}

function checkState(store: Store, root: string, state: Map<string, Entry>, label: string): void {
  assert.equal(toHex(store.root), root, `${label}: root`);
  let n = 0;
  for (const e of state.values()) {
    if (n++ % 7 !== 0) continue;
    const got = store.get(e.key);
    assert.ok(got !== undefined && toHex(got) === toHex(e.value), `${label}: value of ${toHex(e.key)}`);
  }
}

describe(`store: checkpoints written behind (seed ${seed})`, () => {
  it("keeps roots and values through checkpoints, closes and drops", () => {
    const rng = new Rng(seed);
    const { batches, roots, states } = workload(rng, 36, 100);
    const { dir, cleanup } = tempDir("bmt-store-behind");
    try {
      // Small caches, so pages evicted while the worker writes must come back from memory.
      const options = { checkpointEvery: 3, valueCacheBytes: 64 * 1024, merkleCacheBytes: 64 * 1024, merkleInitialBuckets: 16 };
      let store = Store.open(dir, options);
      let checkpoints = 0;
      for (let i = 0; i < batches.length; i++) {
        store.commit(batches[i]);
        if (store.lastCommit?.checkpoint) checkpoints++;
        checkState(store, roots[i], states[i], `commit ${i + 1}`);
        if (i % 11 === 10) {
          store.close();
          store = Store.open(dir, options);
          checkState(store, roots[i], states[i], `commit ${i + 1}, reopened`);
        } else if (i % 17 === 16) {
          // Dropped without close, as a killed process would (its lock released by hand).
          (store as unknown as { files: { lock: { release(): void } | null } }).files.lock?.release();
          store = Store.open(dir, options);
          checkState(store, roots[i], states[i], `commit ${i + 1}, dropped`);
        }
      }
      assert.ok(checkpoints >= 8, `${checkpoints} checkpoints ran`);
      store.close();
    } finally {
      cleanup();
    }
  });

  it("a commit that begins a checkpoint returns with its writes in flight; the next commit finishes it", () => {
    const rng = new Rng(seed + 2);
    const { batches, roots, states } = workload(rng, 9, 80);
    const { dir, cleanup } = tempDir("bmt-store-behind");
    try {
      const options = { checkpointEvery: 4, merkleInitialBuckets: 64 };
      const store = Store.open(dir, options);
      for (let i = 0; i < 4; i++) store.commit(batches[i]);
      assert.equal(store.lastCommit?.checkpoint, true, "commit 4 begins a checkpoint");
      assert.equal(store.stats().checkpoints, 0, "not finished yet");
      assert.equal(store.stats().redo.records, 0, "the commits after it go to the log's other file");
      checkState(store, roots[3], states[3], "commit 4, checkpoint in flight");
      store.commit(batches[4]);
      assert.equal(store.stats().checkpoints, 1, "commit 5 finished it");
      assert.equal(store.stats().redo.records, 1, "the log starts over after it");
      assert.ok(store.lastCommit !== null && store.lastCommit.settleMs >= 0 && !store.lastCommit.checkpoint);
      for (let i = 5; i < 7; i++) store.commit(batches[i]);
      // An explicit checkpoint is finished when it returns.
      store.checkpoint();
      assert.equal(store.stats().checkpoints, 2);
      assert.equal(store.stats().redo.records, 0);
      store.commit(batches[7]);
      assert.equal(store.lastCommit?.checkpoint, false, "the interval restarts at an explicit checkpoint");
      assert.equal(store.stats().redo.records, 1);
      store.commit(batches[8]);
      // Dropped without close, as a killed process would (its lock released by hand).
      (store as unknown as { files: { lock: { release(): void } | null } }).files.lock?.release();
      const again = Store.open(dir, options);
      checkState(again, roots[8], states[8], "reopened");
      again.close();
    } finally {
      cleanup();
    }
  });

  for (const [what, victim] of [
    ["value pages", (p: string) => basename(p) === "values"],
    ["merkle pages in place", (p: string) => basename(p) === tableFileName(0) && basename(dirname(p)) === "merkle"],
    ["page WAL", (p: string) => basename(p) === WAL_FILE_NAME && basename(dirname(p)) === "merkle"],
  ] as const) {
    it(`a failed write of the ${what} stops the store; a reopen loses nothing acknowledged`, () => {
      const rng = new Rng(seed + 1);
      const { batches, roots, states } = workload(rng, 12, 60);
      const { dir, cleanup } = tempDir("bmt-store-behind");
      const fds: number[] = [];
      try {
        const store = Store.open(dir, { fs: failingWorkerFs(victim, fds), checkpointEvery: 4, merkleInitialBuckets: 1024 });
        let acknowledged = 0;
        let failure: unknown;
        for (const batch of batches) {
          try {
            store.commit(batch);
            acknowledged++;
          } catch (e) {
            failure = e;
            break;
          }
        }
        assert.ok(failure !== undefined, "the failed write was reported");
        assert.ok(acknowledged < batches.length);
        // Nothing goes on: the store refuses further commits.
        assert.throws(
          () => store.commit(batches[acknowledged]),
          (e: unknown) => e instanceof StoreError && e.code === "FAILED",
        );
        store.close();
        const reopened = Store.open(dir);
        // The commit that failed in its checkpoint was already in the redo log: it may survive.
        const at = toHex(reopened.root) === roots[acknowledged] ? acknowledged : acknowledged - 1;
        checkState(reopened, roots[at], states[at], `reopened at commit ${at + 1} (${acknowledged} acknowledged)`);
        reopened.close();
      } finally {
        for (const fd of fds) closeSync(fd);
        cleanup();
      }
    });
  }
});
