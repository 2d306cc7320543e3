import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type KvFile, MemFileSystem } from "../../src/io/index.ts";
import type { Change, MerkleTop } from "../../src/merkle/index.ts";
import { REDO_DATA_START, RedoLog } from "../../src/store/redo-log.ts";
import { StoreError } from "../../src/store/errors.ts";
import { compareKeys } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();

// A log over `first` and a second file that is an empty log of the same database (seq 0).
function logOf(first: KvFile, second?: KvFile): RedoLog {
  return new RedoLog([first, second ?? emptyLog()]);
}

function emptyLog(): KvFile {
  const fs = new MemFileSystem();
  const log = new RedoLog([fs.open("redo.0"), fs.open("redo.1")]);
  log.create(0);
  return fs.open("redo.1");
}

function created(fs: MemFileSystem): RedoLog {
  const log = new RedoLog([fs.open("redo.0"), fs.open("redo.1")]);
  log.create(0);
  return log;
}

function reopened(fs: MemFileSystem): RedoLog {
  return new RedoLog([fs.open("redo.0"), fs.open("redo.1")]);
}

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
    const log = created(fs);
    assert.deepEqual(log.replay(0), []);
    const commits = Array.from({ length: 20 }, () => randomCommit(rng));
    commits.forEach((c, i) => log.append(i + 1, c.top, c.changes));
    const again = reopened(fs);
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
    assert.equal(reopened(fs).replay(0).length, 21);
    // Records a checkpoint covers are skipped; the rest replay.
    assert.deepEqual(
      reopened(fs)
        .replay(5)
        .map((r) => r.seq),
      Array.from({ length: 16 }, (_, i) => i + 6),
    );
  });

  it("after a checkpoint switched files, stale records of the file started over are never replayed", () => {
    const rng = new Rng(seed + 1);
    const fs = new MemFileSystem();
    const log = created(fs);
    for (let i = 1; i <= 10; i++) {
      const c = randomCommit(rng);
      log.append(i, c.top, c.changes);
    }
    // Checkpoint at 10, durable once 11 is appended; checkpoint at 11 starts redo.0 over,
    // overwriting from its start.
    log.beginCheckpoint();
    const c = { top: { root: rng.bytes(32), kind: 2 as const }, changes: [] as Change[] };
    log.append(11, c.top, c.changes);
    log.checkpointed(10);
    log.beginCheckpoint();
    log.append(12, c.top, c.changes);
    assert.deepEqual(
      reopened(fs)
        .replay(10)
        .map((r) => r.seq),
      [11, 12],
    );
    assert.deepEqual(
      reopened(fs)
        .replay(11)
        .map((r) => r.seq),
      [12],
    );
  });

  it("drops only a torn or damaged last record; damage before it is CORRUPT with the offset", () => {
    const rng = new Rng(seed + 2);
    const counts = { torn: 0, corrupt: 0, lastDropped: 0, whole: 0 };
    for (let trial = 0; trial < 300; trial++) {
      const fs = new MemFileSystem();
      const log = created(fs);
      const file = fs.open("redo.0");
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
        assert.equal(logOf(f2).replay(0).length, n - 1, `trial ${trial}: cut at ${cut}`);
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
          () => logOf(f2).replay(0),
          (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && new RegExp(`offset ${start}\\b`).test(e.message) && /redo/.test(e.message),
          `trial ${trial}: record ${k} of ${n} damaged at byte ${at}`,
        );
        counts.corrupt++;
      } else {
        const recs = logOf(f2).replay(0);
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
    const log = created(fs);
    const file = fs.open("redo.0");
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
        () => logOf(f).replay(0),
        (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && /shorter than its 12288-byte header/.test(e.message),
      );
    }
    const image = bytes.slice();
    image[10] ^= 1;
    image[8192 + 10] ^= 1;
    const f = new MemFileSystem().open("redo");
    f.write(image, 0);
    assert.throws(
      () => logOf(f).replay(0),
      (e: unknown) => e instanceof StoreError && e.code === "CORRUPT" && /neither header slot/.test(e.message),
    );
    // One slot damaged is what a torn append leaves: every record still replays.
    const one = bytes.slice();
    one[8192 + 10] ^= 1;
    const g = new MemFileSystem().open("redo");
    g.write(one, 0);
    assert.equal(logOf(g).replay(0).length, 3);
  });

  it("two files taking turns: a reopen at any step replays every acknowledged commit after the durable checkpoint", () => {
    // A model of the store's use: appends, checkpoints begun (the commits after go to the
    // other file) and made durable (the meta record's seq moves), and reopens (a crash) at any
    // point, after which a checkpoint in flight is lost; a crash may also leave a last record
    // written and not acknowledged, which the reopen keeps or drops.
    const rng = new Rng(seed + 4);
    const counts = { reopens: 0, spanning: 0, switches: 0, stays: 0 };
    for (let trial = 0; trial < 40; trial++) {
      const fs = new MemFileSystem();
      let log = created(fs);
      const acked: { seq: number; top: MerkleTop; changes: Change[] }[] = [];
      let meta = 0;
      let inFlight: number | null = null;
      let seq = 0;
      for (let step = 0; step < 200; step++) {
        const op = rng.int(10);
        if (op < 6) {
          const c = randomCommit(rng);
          seq++;
          log.append(seq, c.top, c.changes);
          acked.push({ seq, ...c });
        } else if (op === 6 && inFlight === null && seq > meta) {
          const before = log.file;
          log.beginCheckpoint();
          if (log.file === before) counts.stays++;
          else counts.switches++;
          inFlight = seq;
        } else if (op === 7 && inFlight !== null) {
          meta = inFlight;
          inFlight = null;
          log.checkpointed(meta);
        } else if (op >= 8) {
          if (rng.int(3) === 0) {
            // Written, not synced when the crash came: either outcome is right.
            const c = randomCommit(rng);
            log.write(seq + 1, c.top, c.changes);
            if (rng.int(2) === 0) {
              const f = log.file;
              const size = f.size();
              f.truncate(size - 1 - rng.int(20));
            }
          }
          inFlight = null;
          log = reopened(fs);
          const recs = log.replay(meta);
          counts.reopens++;
          const want = acked.filter((r) => r.seq > meta);
          const extra = recs.length - want.length;
          assert.ok(extra === 0 || extra === 1, `trial ${trial} step ${step}: ${recs.length} records after ${meta}, ${want.length} acknowledged`);
          assert.deepEqual(
            recs.slice(0, want.length).map((r) => [r.seq, r.top, r.changes]),
            want.map((r) => [r.seq, r.top, r.changes]),
            `trial ${trial} step ${step}`,
          );
          if (extra === 1) {
            seq++;
            acked.push({ seq, top: recs[recs.length - 1].top, changes: recs[recs.length - 1].changes });
          }
          if (new Set(recs.map((r) => r.seq)).size > 0 && log.records < recs.length) counts.spanning++;
        }
      }
    }
    assert.ok(counts.reopens > 100 && counts.switches > 100 && counts.stays > 5 && counts.spanning > 5, JSON.stringify(counts));
  });

  it("a record missing at the end of the first file, before the second file's records, is CORRUPT", () => {
    const rng = new Rng(seed + 5);
    const fs = new MemFileSystem();
    const log = created(fs);
    for (let i = 1; i <= 4; i++) {
      const c = randomCommit(rng);
      log.append(i, c.top, c.changes);
    }
    const cut = log.tail;
    const c = randomCommit(rng);
    log.append(5, c.top, c.changes);
    log.beginCheckpoint();
    log.append(6, c.top, c.changes);
    // Record 5, the last of redo.0, is gone: alone it could be a torn append, but record 6 in
    // redo.1 was appended after it was acknowledged.
    fs.open("redo.0").truncate(cut + 10);
    assert.throws(
      () => reopened(fs).replay(0),
      (e: unknown) =>
        e instanceof StoreError &&
        e.code === "CORRUPT" &&
        /redo\.1: the redo log continues at commit 6 .*after record 4, the last of .*redo\.0/.test(e.message),
    );
  });
});
