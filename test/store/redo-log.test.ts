import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemFileSystem } from "../../src/io/index.ts";
import type { Change, MerkleTop } from "../../src/merkle/index.ts";
import { REDO_DATA_START, RedoLog } from "../../src/store/redo-log.ts";
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
    const log = RedoLog.create(fs.open("redo"), 0);
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
    // Records a checkpoint covers are skipped; the rest replay.
    assert.deepEqual(
      new RedoLog(fs.open("redo")).replay(5).map((r) => r.seq),
      Array.from({ length: 16 }, (_, i) => i + 6),
    );
  });

  it("after a reset, stale records of the previous generation are never replayed", () => {
    const rng = new Rng(seed + 1);
    const fs = new MemFileSystem();
    const log = RedoLog.create(fs.open("redo"), 0);
    for (let i = 1; i <= 10; i++) {
      const c = randomCommit(rng);
      log.append(i, c.top, c.changes);
    }
    // Checkpoint at 10: the next generation starts at 11, overwriting from offset 0.
    log.reset();
    const c = { top: { root: rng.bytes(32), kind: 2 as const }, changes: [] as Change[] };
    log.append(11, c.top, c.changes);
    const recs = new RedoLog(fs.open("redo")).replay(10);
    assert.deepEqual(
      recs.map((r) => r.seq),
      [11],
    );
  });

  it("drops only a torn or damaged last record; damage before it is CORRUPT with the offset", () => {
    const rng = new Rng(seed + 2);
    const counts = { torn: 0, corrupt: 0, lastDropped: 0, whole: 0 };
    for (let trial = 0; trial < 300; trial++) {
      const fs = new MemFileSystem();
      const file = fs.open("redo");
      const log = RedoLog.create(file, 0);
      const n = 1 + rng.int(5);
      const ends: number[] = [];
      for (let i = 1; i <= n; i++) {
        const c = randomCommit(rng);
        log.append(i, c.top, c.changes);
        ends.push(log.tail);
      }
      const size = file.size();
      const bytes = new Uint8Array(size);
      file.read(bytes, 0);
      const f2 = new MemFileSystem().open("redo");
      const lastStart = n === 1 ? REDO_DATA_START : ends[n - 2];
      if (rng.int(2) === 1) {
        // Torn: the crash cut the last append short (the file ends inside it).
        const cut = lastStart + rng.int(size - lastStart);
        f2.write(bytes.subarray(0, cut), 0);
        assert.equal(new RedoLog(f2).replay(0).length, n - 1, `trial ${trial}: cut at ${cut}`);
        counts.torn++;
        continue;
      }
      // One bit flipped where data lives: a header slot, or the records.
      const at = rng.int(4) === 0 ? rng.pick([0, 8192]) + rng.int(64) : REDO_DATA_START + rng.int(size - REDO_DATA_START);
      const image = bytes.slice();
      image[at] ^= 1 << rng.int(8);
      f2.write(image, 0);
      const k = at < REDO_DATA_START ? 0 : 1 + ends.findIndex((e) => at < e); // record hit (0: header)
      if (k >= 1 && k < n) {
        const start = k === 1 ? REDO_DATA_START : ends[k - 2];
        assert.throws(
          () => new RedoLog(f2).replay(0),
          (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && new RegExp(`offset ${start}\\b`).test(e.message) && /redo/.test(e.message),
          `trial ${trial}: record ${k} of ${n} damaged at byte ${at}`,
        );
        counts.corrupt++;
      } else {
        const recs = new RedoLog(f2).replay(0);
        assert.equal(recs.length, k === n ? n - 1 : n, `trial ${trial}: byte ${at} (record ${k} of ${n})`);
        if (k === n) counts.lastDropped++;
        else counts.whole++;
      }
    }
    assert.ok(counts.corrupt > 20 && counts.torn > 50 && counts.lastDropped > 20, JSON.stringify(counts));
  });

  it("a log shorter than its header, or with both header slots damaged, is CORRUPT", () => {
    const rng = new Rng(seed + 3);
    const fs = new MemFileSystem();
    const file = fs.open("redo");
    const log = RedoLog.create(file, 0);
    for (let i = 1; i <= 3; i++) {
      const c = randomCommit(rng);
      log.append(i, c.top, c.changes);
    }
    const bytes = new Uint8Array(file.size());
    file.read(bytes, 0);
    for (const cut of [0, 1, 64, 8192, REDO_DATA_START - 1]) {
      const f = new MemFileSystem().open("redo");
      f.write(bytes.subarray(0, cut), 0);
      assert.throws(
        () => new RedoLog(f).replay(0),
        (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && /shorter than its 12288-byte header/.test(e.message),
      );
    }
    const image = bytes.slice();
    image[10] ^= 1;
    image[8192 + 10] ^= 1;
    const f = new MemFileSystem().open("redo");
    f.write(image, 0);
    assert.throws(
      () => new RedoLog(f).replay(0),
      (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && /neither header slot/.test(e.message),
    );
    // One slot damaged is what a torn append leaves: every record still replays.
    const one = bytes.slice();
    one[8192 + 10] ^= 1;
    const g = new MemFileSystem().open("redo");
    g.write(one, 0);
    assert.equal(new RedoLog(g).replay(0).length, 3);
  });
});
