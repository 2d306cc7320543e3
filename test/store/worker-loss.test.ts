// The write-behind worker lost during a checkpoint: its thread throws (an uncaught error) or
// exits with a job unfinished, at each of a background checkpoint's jobs (the value pages, the
// page WAL with its checksums, the meta record, the in-place apply). The store fails with a
// typed error and refuses everything, never retrying the write; close() returns, also with the
// checkpoint in flight; a reopen finds every acknowledged commit. The next job starts a new
// worker. Faults are injected by job count (`setWriteBehindFault`), so nothing here depends on
// timing; the slice budget is 0.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { IoError } from "../../src/io/io-error.ts";
import { setWriteBehindBoot, setWriteBehindFault } from "../../src/io/write-behind.ts";
import { PageStoreError } from "../../src/merkle/page-store-errors.ts";
import { setCheckpointSliceMs } from "../../src/store/checkpoint.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { tempDir } from "../kv/helpers.ts";
import { randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const turn = () => new Promise<void>((r) => setImmediate(r));

function workload(rng: Rng, commits: number, perCommit: number) {
  const model = new Map<string, Entry>();
  const batches: [Uint8Array, Uint8Array | null][][] = [];
  const roots: string[] = [];
  const states: Map<string, Entry>[] = [];
  const keys: Uint8Array[] = [];
  for (let c = 0; c < commits; c++) {
    const batch: [Uint8Array, Uint8Array | null][] = [];
    const seen = new Set<string>();
    for (let i = 0; i < perCommit; i++) {
      const key = keys.length > 0 && rng.int(3) === 0 ? rng.pick(keys) : rng.bytes(31);
      if (seen.has(toHex(key))) continue;
      seen.add(toHex(key));
      keys.push(key);
      const value = rng.int(6) === 0 ? null : randomValue(rng);
      batch.push([key, value]);
      if (value === null) model.delete(toHex(key));
      else model.set(toHex(key), { key, value });
    }
    batches.push(batch);
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

/** Closes a store whose worker was lost: its files are released; what it throws is typed. */
function closeTyped(store: Store): void {
  try {
    store.close();
  } catch (e) {
    assert.ok(e instanceof StoreError || e instanceof PageStoreError || e instanceof IoError, `close() throws only typed errors: ${String(e)}`);
  }
  assert.throws(
    () => store.get(new Uint8Array(31)),
    (e: unknown) => e instanceof StoreError,
    "closed",
  );
}

const failed = (e: unknown) => e instanceof StoreError && e.code === "FAILED";
const options = { checkpointEvery: 3, merkleInitialBuckets: 1024 };

describe(`store: the write-behind worker lost during a background checkpoint (seed ${seed})`, () => {
  let sliceMs = 0;
  before(() => {
    sliceMs = setCheckpointSliceMs(0);
  });
  after(() => {
    setCheckpointSliceMs(sliceMs);
    setWriteBehindFault(0, null);
  });

  // The jobs of a store's first background checkpoint, in order (the commits' redo records
  // are synced on the thread pool, not by the worker).
  const jobs = ["value pages", "page WAL", "meta record", "merkle pages in place"];
  for (const kind of ["throw", "exit"] as const) {
    for (let job = 0; job < jobs.length; job++) {
      it(`a worker that ${kind === "throw" ? "throws" : "exits"} during the ${jobs[job]} job fails the store; a reopen loses nothing acknowledged`, async () => {
        const rng = new Rng(seed + job);
        const { batches, roots, states } = workload(rng, 8, 60);
        const { dir, cleanup } = tempDir("bmt-store-worker-loss");
        try {
          const store = Store.open(dir, options);
          let acknowledged = 0;
          let failure: unknown;
          for (const batch of batches) {
            // The third commit begins the first checkpoint: its job `job` kills the worker.
            if (acknowledged === 2) setWriteBehindFault(job, kind);
            try {
              await store.idle();
              assert.equal(toHex(await store.commitPreparedAsync(store.prepare(batch))), roots[acknowledged]);
              acknowledged++;
            } catch (e) {
              failure = e;
              break;
            }
          }
          setWriteBehindFault(0, null);
          assert.ok(failed(failure), `the lost job was reported as FAILED: ${String(failure)}`);
          assert.ok(acknowledged >= 3 && acknowledged < batches.length, `${acknowledged} acknowledged`);
          // Never retried: the store refuses everything until reopened.
          await store.idle();
          assert.throws(() => store.commitPrepared(store.prepare(batches[acknowledged])), failed);
          assert.throws(() => store.checkpoint(), failed);
          // Also the page store's job posted before the loss was known is lost: close may say so.
          closeTyped(store);
          const reopened = Store.open(dir, options);
          checkState(reopened, roots[acknowledged - 1], states[acknowledged - 1], `reopened (${acknowledged} acknowledged)`);
          // A new worker writes the next checkpoint.
          for (let i = acknowledged; i < batches.length; i++) reopened.commit(batches[i]);
          reopened.checkpoint();
          reopened.close();
          const again = Store.open(dir, options);
          checkState(again, roots[batches.length - 1], states[batches.length - 1], "after a checkpoint by a new worker");
          again.close();
        } finally {
          setWriteBehindFault(0, null);
          cleanup();
        }
      });
    }
  }

  it("a worker that never starts fails a blocking checkpoint after the boot timeout instead of hanging; the next worker writes it", () => {
    const rng = new Rng(seed + 20);
    const { batches, roots, states } = workload(rng, 4, 60);
    const { dir, cleanup } = tempDir("bmt-store-worker-loss");
    const boot = setWriteBehindBoot(60_000);
    try {
      // The live worker exits at its next job, so that the job after it starts a new one.
      const first = Store.open(`${dir}/a`, { ...options, checkpointEvery: 1000 });
      first.commit(batches[0]);
      setWriteBehindFault(0, "exit");
      // A blocking checkpoint throws the write's IoError; the store is failed from then on.
      assert.throws(
        () => first.checkpoint(),
        (e: unknown) => e instanceof IoError || failed(e),
      );
      assert.throws(() => first.commit(batches[1]), failed);
      closeTyped(first);
      setWriteBehindFault(0, null);
      // A healthy worker is alive now (as one started by a job after the exit may be, depending
      // on when the exit was seen): the broken one below must replace it.
      const healthy = Store.open(`${dir}/c`, { ...options, checkpointEvery: 1000 });
      healthy.commit(batches[0]);
      healthy.checkpoint();
      healthy.close();
      // The new worker's thread fails before it runs anything: only an event (which a blocked
      // caller never receives) would say so. The outcome does not depend on the timeout's length.
      setWriteBehindBoot(200, true);
      const store = Store.open(`${dir}/b`, { ...options, checkpointEvery: 1000 });
      for (const batch of batches.slice(0, 3)) store.commit(batch);
      const cause = (e: unknown): unknown =>
        e instanceof IoError ? e.cause : (e as Error).cause instanceof IoError ? ((e as Error).cause as IoError).cause : e;
      assert.throws(
        () => store.checkpoint(),
        (e: unknown) => (e instanceof IoError || failed(e)) && /did not start within 200 ms/.test(String(cause(e))),
      );
      assert.throws(() => store.commit(batches[3]), failed);
      closeTyped(store);
      setWriteBehindBoot(60_000);
      const again = Store.open(`${dir}/b`, options);
      checkState(again, roots[2], states[2], "reopened after the worker never started");
      again.commit(batches[3]);
      again.checkpoint();
      again.close();
      const last = Store.open(`${dir}/b`, options);
      checkState(last, roots[3], states[3], "after a checkpoint by a worker that started");
      last.close();
    } finally {
      setWriteBehindBoot(boot);
      setWriteBehindFault(0, null);
      cleanup();
    }
  });

  it("close() with the checkpoint in flight and the worker lost returns; a reopen loses nothing acknowledged", async () => {
    const rng = new Rng(seed + 10);
    const { batches, roots, states } = workload(rng, 3, 60);
    const { dir, cleanup } = tempDir("bmt-store-worker-loss");
    try {
      for (let job = 0; job < 3; job++) {
        const sub = `${dir}/j${job}`;
        const store = Store.open(sub, options);
        for (let i = 0; i < 2; i++) await store.commitPreparedAsync(store.prepare(batches[i]));
        setWriteBehindFault(job, "exit");
        await store.commitPreparedAsync(store.prepare(batches[2]));
        assert.equal(store.checkpointPending, true, "the third commit began a checkpoint");
        // A few turns: the checkpoint's slices run and the faulty job reaches the worker (or not).
        for (let t = 0; t < 4 * (job + 1) && store.checkpointPending; t++) await turn();
        closeTyped(store);
        setWriteBehindFault(0, null);
        const again = Store.open(sub, options);
        checkState(again, roots[2], states[2], `reopened after close (fault at job ${job})`);
        again.close();
      }
    } finally {
      setWriteBehindFault(0, null);
      cleanup();
    }
  });
});
