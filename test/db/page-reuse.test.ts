// A committed session's merkle page images go to the store, which reuses them for later updates
// once a newer commit replaced them (page-ref.ts, `recyclePageCopy`). Random sessions over a
// state with many stored pages, committed async and blocking, with rollbacks, snapshots read
// across commits and checkpoints: every root is the from-scratch root, snapshots keep reading
// their own state, and the files pass the full check after close.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { open } from "../../src/db/index.ts";
import { recycledPageCopies } from "../../src/merkle/index.ts";
import { checkDatabase } from "../../src/store/check.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { type Change, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-page-reuse-");

describe(`db: page images reused after commits (seed ${seed})`, () => {
  it("40 sessions over 12k keys (stored pages below the root): roots, snapshots and the files agree", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 14000);
    const dir = newDir();
    const db = open(dir, { create: true });
    const chain: Model[] = [];
    let model = new Model();
    try {
      const first: Change[] = keys.slice(0, 12000).map((k) => [k, rng.bytes(32)]);
      const f0 = write(db.beginWrite(), first).finishSync();
      await f0.commit();
      model.apply(first);
      assert.equal(toHex(db.root), model.root());
      let reused = 0;
      for (let s = 0; s < 40; s++) {
        // A snapshot of the state before the commit, read after it (a past state then).
        const snap = db.beginRead();
        const before = model;
        const changes = randomChanges(rng, keys, 150 + rng.int(200), 0.2);
        const w = write(db.beginWrite(), changes);
        const f = s % 3 === 0 ? w.finishSync() : await w.finish();
        const copiesBefore = recycledPageCopies();
        if (s % 4 === 1) f.commitSync();
        else await f.commit();
        if (recycledPageCopies() > copiesBefore) reused++;
        chain.push(before);
        model = Model.of(before).apply(changes);
        assert.equal(toHex(db.root), model.root(), `session ${s}`);
        assert.equal(toHex(snap.root), before.root(), `snapshot before session ${s}`);
        for (let i = 0; i < 20; i++) {
          const k = rng.pick(keys);
          assert.deepEqual(snap.get(k), before.get(k));
          assert.deepEqual(db.beginRead().get(k), model.get(k));
        }
        snap.release();
        if (s % 13 === 12) {
          await db.rollback(2);
          model = chain[chain.length - 2];
          chain.length -= 2;
          assert.equal(toHex(db.root), model.root(), `rollback after session ${s}`);
        }
        // A session on the new state reads the pages the store now owns.
        const probe = write(db.beginWrite(), randomChanges(rng, keys, 5)).finishSync();
        assert.equal(toHex(probe.root), Model.of(model).apply(probe.changes).root());
        probe.release();
      }
      assert.ok(reused > 0, "some commit replaced page images the store owned");
    } finally {
      db.close();
    }
    const report = checkDatabase(dir);
    assert.deepEqual(report.problems, []);
    const again = open(dir);
    try {
      assert.equal(toHex(again.root), model.root());
    } finally {
      again.close();
    }
  });
});
