// The durability path of an async commit runs off the event loop: the redo record's sync (and
// the rollback log's) is awaited on the thread pool. These tests hold that sync open (the
// fault-injecting file system's gates) and check what the rest of the handle sees meanwhile:
// reads at the acknowledged version only, a failed sync that fails the handle for good, and a
// `close` that never closes a file under an operation still in flight.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, DbError, IoError, open } from "../../src/db/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { FaultFs } from "./fault-fs.ts";
import { type Change, Model, randomChanges, sameState, universe, write } from "./helpers.ts";

const seed = testSeed();
const DIR = "/db";
const W = 4;
const OPTIONS = { lock: false, rollbackWindow: W, merkleInitialBuckets: 16 };

/** A database with `n` acknowledged commits, and the chain of states they made. */
function setup(rng: Rng, n: number): { fs: FaultFs; db: Db; keys: Uint8Array[]; chain: Model[] } {
  const fs = new FaultFs();
  const db = open(DIR, { ...OPTIONS, fs });
  const keys = universe(rng, 80);
  const chain = [new Model()];
  for (let i = 0; i < n; i++) {
    const c = randomChanges(rng, keys, i === 0 ? 40 : 1 + rng.int(10));
    write(db.beginWrite(), c).finishSync().commitSync();
    chain.push(Model.of(chain[chain.length - 1]).apply(c));
  }
  return { fs, db, keys, chain };
}

function values(db: Db): string {
  return [...db.beginRead().entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`).join();
}

function modelValues(m: Model): string {
  return m
    .sorted()
    .map(([k, v]) => `${toHex(k)}=${toHex(v)}`)
    .join();
}

/** Either file of the redo log. */
const REDO = /\/redo\.[01]$/;

describe(`db: the redo log's sync off the event loop (seed ${seed})`, () => {
  it("reads see the acknowledged version while a commit's redo record syncs, and the new one once it resolved", async () => {
    const rng = new Rng(seed);
    const { fs, db, keys, chain } = setup(rng, 3);
    const before = chain[chain.length - 1];
    const version = db.seq;
    const change: Change[] = randomChanges(rng, keys, 12);
    const after = Model.of(before).apply(change);
    const gate = fs.gate(REDO);
    const pending = write(db.beginWrite(), change).finishSync().commit();
    await gate.reached;
    // The record is written, not yet durable: nothing of it may be seen.
    assert.equal(db.seq, version, "the version waits for the sync");
    assert.equal(toHex(db.root), before.root(), "the root waits for the sync");
    assert.equal(values(db), modelValues(before), "a snapshot reads the acknowledged state");
    const snap = db.beginRead();
    for (const [k] of change)
      assert.equal(snap.get(k) === undefined ? undefined : toHex(snap.get(k) as Uint8Array), before.get(k) && toHex(before.get(k) as Uint8Array));
    // A session finished meanwhile is computed against the acknowledged state.
    const other = write(db.beginWrite(), [[keys[0], Uint8Array.of(1, 2, 3)]]).finishSync();
    assert.equal(
      toHex(other.root),
      Model.of(before)
        .apply([[keys[0], Uint8Array.of(1, 2, 3)]])
        .root(),
    );
    gate.open();
    await pending;
    assert.equal(db.seq, version + 1);
    assert.equal(toHex(db.root), after.root());
    assert.equal(values(db), modelValues(after));
    // The snapshot taken before keeps reading its version.
    assert.equal(toHex(snap.root), before.root());
    snap.release();
    db.close();
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(sameState(again, [...chain, after], W), null);
    again.close();
  });

  it("a failed async sync fails the handle, writes nothing more, and the reopen keeps every acknowledged commit", async () => {
    const rng = new Rng(seed + 1);
    const { fs, db, keys, chain } = setup(rng, 5);
    const change = randomChanges(rng, keys, 8);
    const gate = fs.gate(REDO);
    const pending = write(db.beginWrite(), change).finishSync().commit();
    await gate.reached;
    gate.open("EIO");
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof DbError && e.code === "FAILED", String(e));
      assert.ok(e.cause instanceof IoError && e.cause.code === "EIO" && e.cause.syscall === "fdatasync" && e.cause.op === "sync", String(e.cause));
      assert.match(e.cause.path, /^\/db\/redo\.[01]$/);
      return true;
    });
    assert.throws(
      () => db.beginWrite(),
      (e: unknown) => e instanceof DbError && e.code === "FAILED",
    );
    await assert.rejects(db.rollback(1), (e: unknown) => e instanceof DbError && e.code === "FAILED");
    db.close();
    assert.deepEqual(fs.afterFault, [], "nothing written or synced after the failed sync (no retried fsync)");
    assert.deepEqual(fs.openFiles(), []);
    assert.deepEqual(fs.closedBusy, []);
    // The failed record reached this file system's memory; a disk may or may not hold it.
    const again = open(DIR, { ...OPTIONS, fs });
    const found = [chain, [...chain, Model.of(chain[chain.length - 1]).apply(change)]].map((c) => sameState(again, c, Math.min(W, c.length - 1)));
    assert.ok(found.includes(null), `reopened at neither the last acknowledged commit nor the failed one: ${found.join("; ")}`);
    again.close();
  });

  it("close while a commit's redo record syncs: the commit completes, the files close after the sync", async () => {
    const rng = new Rng(seed + 2);
    const { fs, db, keys, chain } = setup(rng, 3);
    const change = randomChanges(rng, keys, 8);
    const after = Model.of(chain[chain.length - 1]).apply(change);
    const gate = fs.gate(REDO);
    const pending = write(db.beginWrite(), change).finishSync().commit();
    await gate.reached;
    db.close();
    assert.throws(
      () => db.beginRead(),
      (e: unknown) => e instanceof DbError && e.code === "CLOSED",
    );
    assert.ok(
      fs.openFiles().some((f) => REDO.test(f)),
      "the redo log stays open under its sync",
    );
    gate.open();
    assert.equal(toHex(await pending), after.root(), "the commit is durable, and resolves");
    assert.deepEqual(fs.closedBusy, [], "no file closed under its own sync");
    assert.deepEqual(fs.openFiles(), []);
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(sameState(again, [...chain, after], W), null);
    again.close();
  });

  it("close while a commit's redo record syncs and the sync fails: FAILED, nothing more written, the acknowledged state reopens", async () => {
    const rng = new Rng(seed + 3);
    const { fs, db, keys, chain } = setup(rng, 3);
    const change = randomChanges(rng, keys, 8);
    const gate = fs.gate(REDO);
    const pending = write(db.beginWrite(), change).finishSync().commit();
    await gate.reached;
    db.close();
    gate.open("EIO");
    await assert.rejects(pending, (e: unknown) => e instanceof DbError && e.code === "FAILED");
    assert.deepEqual(fs.afterFault, []);
    assert.deepEqual(fs.closedBusy, []);
    assert.deepEqual(fs.openFiles(), []);
    const again = open(DIR, { ...OPTIONS, fs });
    const found = [chain, [...chain, Model.of(chain[chain.length - 1]).apply(change)]].map((c) => sameState(again, c, Math.min(W, c.length - 1)));
    assert.ok(found.includes(null), found.join("; "));
    again.close();
  });

  it("close while a commit's rollback-log event syncs: the commit is refused with CLOSED and is not in the reopened state", async () => {
    const rng = new Rng(seed + 4);
    const { fs, db, keys, chain } = setup(rng, 3);
    const change = randomChanges(rng, keys, 8);
    const gate = fs.gate("/rollback.1");
    const gate0 = fs.gate("/rollback.0");
    const pending = write(db.beginWrite(), change).finishSync().commit();
    await Promise.race([gate.reached, gate0.reached]);
    db.close();
    gate.open();
    gate0.open();
    await assert.rejects(pending, (e: unknown) => e instanceof DbError && e.code === "CLOSED");
    assert.deepEqual(fs.closedBusy, []);
    assert.deepEqual(fs.openFiles(), []);
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(sameState(again, chain, 3), null);
    again.close();
  });
});

describe(`db: the rollback log's snapshot in the background (seed ${seed})`, () => {
  /** A database whose next async commit starts the rollback log's snapshot (16 events in the live file). */
  function due(rng: Rng) {
    return setup(rng, 16);
  }

  it("commits go on while the snapshot is written, the next commit after it switches files, and a crash at any of those points reopens exact", async () => {
    const rng = new Rng(seed + 5);
    const { fs, db, keys, chain } = due(rng);
    const gates = [fs.gate("/rollback.0", "write"), fs.gate("/rollback.1", "write")];
    const images: { fs: FaultFs; chain: Model[] }[] = [];
    const commit = async () => {
      const c = randomChanges(rng, keys, 1 + rng.int(8));
      await write(db.beginWrite(), c).finishSync().commit();
      chain.push(Model.of(chain[chain.length - 1]).apply(c));
      images.push({ fs: fs.clone(), chain: [...chain] });
    };
    const snaps = db.metrics().rollbackLogSnapshots;
    await commit();
    await Promise.race(gates.map((g) => g.reached));
    // The snapshot's first write is held: commits keep appending to the live file.
    for (let i = 0; i < 3; i++) await commit();
    assert.equal(db.metrics().rollbackLogSnapshots, snaps, "no switch while the snapshot is being written");
    for (const g of gates) g.open();
    for (let i = 0; i < 30 && db.metrics().rollbackLogSnapshots === snaps; i++) await commit();
    assert.equal(db.metrics().rollbackLogSnapshots, snaps + 1, "the commit after the snapshot switched files");
    await commit();
    db.close();
    assert.deepEqual(fs.closedBusy, []);
    for (const [i, im] of images.entries()) {
      const again = open(DIR, { ...OPTIONS, fs: im.fs });
      assert.equal(sameState(again, im.chain, W), null, `image after commit ${i}`);
      again.close();
    }
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(sameState(again, chain, W), null);
    again.close();
  });

  it("close with the snapshot in flight: abandoned, no file closed under its write, and the reopen keeps every commit with its history", async () => {
    const rng = new Rng(seed + 6);
    const { fs, db, keys, chain } = due(rng);
    const gates = [fs.gate("/rollback.0", "write"), fs.gate("/rollback.1", "write")];
    const c = randomChanges(rng, keys, 6);
    await write(db.beginWrite(), c).finishSync().commit();
    chain.push(Model.of(chain[chain.length - 1]).apply(c));
    await Promise.race(gates.map((g) => g.reached));
    db.close();
    assert.equal(fs.openFiles().filter((f) => f.includes("rollback")).length, 2, "the log's files stay open under the snapshot's write");
    for (const g of gates) g.open();
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(fs.closedBusy, [], "no file closed under its own write");
    assert.deepEqual(fs.openFiles(), []);
    const again = open(DIR, { ...OPTIONS, fs });
    assert.equal(sameState(again, chain, W), null);
    // And the log goes on: enough commits for the next snapshot, then a rollback through it.
    for (let i = 0; i < 20; i++) {
      const d = randomChanges(rng, keys, 1 + rng.int(5));
      await write(again.beginWrite(), d).finishSync().commit();
      chain.push(Model.of(chain[chain.length - 1]).apply(d));
    }
    await again.rollback(W);
    assert.equal(toHex(again.root), chain[chain.length - 1 - W].root());
    again.close();
  });
});
