import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemFileSystem } from "../../src/io/index.ts";
import type { Change, MerkleTop } from "../../src/merkle/index.ts";
import { RedoLog } from "../../src/store/redo-log.ts";
import { StoreError } from "../../src/store/errors.ts";
import { compareKeys } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

function randomCommit(rng: Rng): { top: MerkleTop; changes: Change[] } {
  const changes: Change[] = [];
  const n = rng.int(6);
  for (let i = 0; i < n; i++) changes.push([rng.bytes(31), rng.int(3) === 0 ? null : rng.bytes(rng.pick([0, 1, 32, 33, 300]))]);
  changes.sort((a, b) => compareKeys(a[0], b[0]));
  return { top: { root: rng.bytes(32), kind: rng.int(3) as 0 | 1 | 2 }, changes };
}

describe(`store: redo log (seed ${seed})`, () => {
  it("replays what was appended, in order, after the given sequence number", () => {
    const rng = new Rng(seed);
    const fs = new MemFileSystem();
    const log = new RedoLog(fs.open("redo"));
    assert.deepEqual(log.replay(0), []);
    const commits = Array.from({ length: 20 }, () => randomCommit(rng));
    commits.forEach((c, i) => log.append(i + 1, c.top, c.changes));
    const again = new RedoLog(fs.open("redo"));
    const recs = again.replay(0);
    assert.equal(recs.length, 20);
    recs.forEach((r, i) => {
      assert.equal(r.seq, i + 1);
      assert.deepEqual(r.top, commits[i].top);
      assert.deepEqual(r.changes, commits[i].changes);
    });
    // Appends continue after the replayed records.
    const extra = randomCommit(rng);
    again.append(21, extra.top, extra.changes);
    assert.equal(new RedoLog(fs.open("redo")).replay(0).length, 21);
    // A log whose first record is not the expected successor replays nothing.
    assert.deepEqual(new RedoLog(fs.open("redo")).replay(5), []);
  });

  it("after a reset, stale records of the previous generation are never replayed", () => {
    const rng = new Rng(seed + 1);
    const fs = new MemFileSystem();
    const log = new RedoLog(fs.open("redo"));
    for (let i = 1; i <= 10; i++) {
      const c = randomCommit(rng);
      log.append(i, c.top, c.changes);
    }
    // Checkpoint at 10: the next generation starts at 11, overwriting from offset 0.
    log.reset();
    const c = { top: { root: rng.bytes(32), kind: 2 as const }, changes: [] as Change[] };
    log.append(11, c.top, c.changes);
    const recs = new RedoLog(fs.open("redo")).replay(10);
    assert.deepEqual(recs.map((r) => r.seq), [11]);
  });

  it("stops at a torn record and keeps everything before it; a record damaged after it was written is CORRUPT", () => {
    const rng = new Rng(seed + 2);
    for (let trial = 0; trial < 200; trial++) {
      const fs = new MemFileSystem();
      const file = fs.open("redo");
      const log = new RedoLog(file);
      const n = 1 + rng.int(5);
      const ends: number[] = [];
      for (let i = 1; i <= n; i++) {
        const c = randomCommit(rng);
        log.append(i, c.top, c.changes);
        ends.push(log.bytes);
      }
      const size = file.size();
      const bytes = new Uint8Array(size);
      file.read(bytes, 0);
      let image: Uint8Array;
      let cut: number;
      const torn = rng.int(2) === 1;
      if (torn) {
        cut = rng.int(size); // torn: the file ends mid-log
        image = bytes.subarray(0, cut);
      } else {
        cut = rng.int(size); // one bit flipped
        image = bytes.slice();
        image[cut] ^= 1 << rng.int(8);
      }
      const f2 = new MemFileSystem().open("redo");
      f2.write(image, 0);
      const intact = ends.filter((e) => e <= cut).length; // records wholly before the damage
      const start = intact === 0 ? 0 : ends[intact - 1]; // the damaged record's first byte
      // A flip past a record's magic, length and number, with a record after it, is detected;
      // anything else reads as the torn end of the log.
      if (!torn && intact < n - 1 && cut - start >= 16) {
        assert.throws(() => new RedoLog(f2).replay(0), (e: unknown) => e instanceof StoreError && e.code === "CORRUPT", `trial ${trial}`);
        continue;
      }
      const recs = new RedoLog(f2).replay(0);
      assert.equal(recs.length, intact, `trial ${trial}: ${intact} records end before byte ${cut}`);
    }
  });
});
