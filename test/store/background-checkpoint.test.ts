// Checkpoints in the background (`commitPrepared(p, { background: true })`, the database's
// async commits): their work on the caller's thread runs in slices with the event loop free
// between them, their waits for the worker do not block, and the next commit awaits `idle()`.
// Reads between any two slices see the committed state; `close()` and `checkpoint()` with one
// in flight finish it; a failed worker write during one fails the store, with nothing
// acknowledged lost. (A kill during one: test/store/crash.test.ts.) The slice budget is set to
// 0 here, so each step is its own slice whatever the machine's speed.
import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { after, before, describe, it } from "node:test";
import { WAL_FILE_NAME } from "../../src/merkle/page-store.ts";
import { tableFileName } from "../../src/merkle/table-file.ts";
import { setCheckpointSliceMs } from "../../src/store/checkpoint.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { tempDir } from "../kv/helpers.ts";
import { failingWorkerFs } from "../merkle/page-store-helpers.ts";
import { randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Random batches over a model (deletes included); the from-scratch root and state after each. */
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
  for (const e of state.values()) {
    const got = store.get(e.key);
    assert.ok(got !== undefined && toHex(got) === toHex(e.value), `${label}: value of ${toHex(e.key)}`);
  }
}

/**
 * A commit the database's way: after the last checkpoint is done, its redo record synced on the
 * thread pool (`commitPreparedAsync`), beginning the next checkpoint in the background. Odd
 * calls take the synchronous `commitPrepared(p, { background: true })`.
 */
let calls = 0;
async function commitBehind(store: Store, batch: [Uint8Array, Uint8Array | null][]): Promise<string> {
  await store.idle();
  const prepared = store.prepare(batch);
  return toHex(calls++ % 2 === 0 ? await store.commitPreparedAsync(prepared) : store.commitPrepared(prepared, { background: true }));
}

describe(`store: checkpoints in the background (seed ${seed})`, () => {
  let sliceMs = 0;
  before(() => {
    sliceMs = setCheckpointSliceMs(0);
  });
  after(() => {
    setCheckpointSliceMs(sliceMs);
  });

  it("reads and trie updates between any two slices see the committed state; idle() finishes the checkpoint", async () => {
    const rng = new Rng(seed);
    const { batches, roots, states } = workload(rng, 13, 150);
    const { dir, cleanup } = tempDir("bmt-store-background");
    try {
      // Small caches: pages evicted during the checkpoint come back from the files.
      const options = { checkpointEvery: 3, valueCacheBytes: 64 * 1024, merkleCacheBytes: 64 * 1024, merkleInitialBuckets: 64 };
      const store = Store.open(dir, options);
      let background = 0;
      let turns = 0;
      for (let i = 0; i < batches.length; i++) {
        assert.equal(await commitBehind(store, batches[i]), roots[i], `commit ${i + 1}`);
        if (store.lastCommit?.checkpointBehind !== true) continue;
        background++;
        const done = store.stats().checkpoints;
        // Between slices: what a finishing session or a snapshot does.
        while (store.checkpointPending) {
          checkState(store, roots[i], states[i], `commit ${i + 1}, checkpoint in flight`);
          if (i + 1 < batches.length) assert.equal(toHex(store.prepare(batches[i + 1]).update.top.root), roots[i + 1], `update over commit ${i + 1}`);
          assert.equal(store.stats().checkpoints, done, "not finished while pending");
          turns++;
          await turn();
        }
        assert.equal(store.stats().checkpoints, done + 1, "finished in the background");
        assert.equal(store.stats().redo.records, 0, "the log starts over after it");
        const last = store.lastCheckpoint;
        assert.ok(last !== null && last.background && last.slices >= 2, `slices: ${JSON.stringify(last)}`);
      }
      assert.equal(background, 4, "commits 3, 6, 9 and 12 began checkpoints in the background");
      assert.ok(turns >= 8, `${turns} turns ran beside checkpoints`);
      store.close();
      const again = Store.open(dir, options);
      checkState(again, roots[roots.length - 1], states[states.length - 1], "reopened");
      again.close();
    } finally {
      cleanup();
    }
  });

  it("close() and checkpoint() with a background checkpoint in flight finish it, at every turn", async () => {
    const rng = new Rng(seed + 1);
    const { batches, roots, states } = workload(rng, 3, 150);
    const { dir, cleanup } = tempDir("bmt-store-background");
    try {
      const options = { checkpointEvery: 3, merkleInitialBuckets: 64 };
      let last = 0;
      for (let k = 0; ; k++) {
        // A fresh database each time: 3 commits, the third begins a checkpoint; then k turns.
        const sub = `${dir}/k${k}`;
        const store = Store.open(sub, options);
        for (let i = 0; i < 3; i++) await commitBehind(store, batches[i]);
        assert.equal(store.lastCommit?.checkpointBehind, true);
        for (let j = 0; j < k && store.checkpointPending; j++) await turn();
        const pending = store.checkpointPending;
        if (k % 2 === 0) {
          store.close();
        } else {
          store.checkpoint();
          assert.equal(store.checkpointPending, false, "checkpoint() returns with nothing in flight");
          assert.equal(store.stats().checkpoints, 1);
          assert.equal(store.stats().redo.records, 0);
          checkState(store, roots[2], states[2], `checkpoint() after ${k} turns`);
          store.close();
        }
        const again = Store.open(sub, options);
        checkState(again, roots[2], states[2], `reopened after close at turn ${k}`);
        assert.equal(again.stats().redo.records, 0, `the checkpoint was finished (turn ${k}), nothing to replay`);
        again.close();
        last = k;
        if (!pending) break;
      }
      assert.ok(last >= 3, `the checkpoint spanned ${last} turns`);
    } finally {
      cleanup();
    }
  });

  for (const [what, victim] of [
    ["value pages", (p: string) => basename(p) === "values"],
    ["page WAL", (p: string) => basename(p) === WAL_FILE_NAME && basename(dirname(p)) === "merkle"],
    ["meta record", (p: string) => basename(p) === "meta"],
    ["merkle pages in place", (p: string) => basename(p) === tableFileName(0) && basename(dirname(p)) === "merkle"],
  ] as const) {
    it(`a failed worker write of the ${what} during a background checkpoint fails the store; nothing acknowledged is lost`, async () => {
      const rng = new Rng(seed + 2);
      const { batches, roots, states } = workload(rng, 12, 60);
      const { dir, cleanup } = tempDir("bmt-store-background");
      const fds: number[] = [];
      try {
        const store = Store.open(dir, { fs: failingWorkerFs(victim, fds), checkpointEvery: 3, merkleInitialBuckets: 1024 });
        let acknowledged = 0;
        let failure: unknown;
        for (const batch of batches) {
          try {
            assert.equal(await commitBehind(store, batch), roots[acknowledged]);
            acknowledged++;
          } catch (e) {
            failure = e;
            break;
          }
        }
        assert.ok(failure instanceof StoreError && failure.code === "FAILED", `the failed write was reported as FAILED: ${String(failure)}`);
        assert.ok(acknowledged >= 3 && acknowledged < batches.length, `${acknowledged} acknowledged`);
        // Never retried: the store refuses everything until reopened.
        await store.idle();
        assert.throws(
          () => store.commitPrepared(store.prepare(batches[acknowledged])),
          (e: unknown) => e instanceof StoreError && e.code === "FAILED",
        );
        assert.throws(
          () => store.checkpoint(),
          (e: unknown) => e instanceof StoreError && e.code === "FAILED",
        );
        store.close();
        const reopened = Store.open(dir);
        // Every acknowledged commit is in the redo log; nothing after it was written.
        checkState(reopened, roots[acknowledged - 1], states[acknowledged - 1], `reopened (${acknowledged} acknowledged)`);
        reopened.close();
      } finally {
        for (const fd of fds) closeSync(fd);
        cleanup();
      }
    });
  }
});
