// The WAL is built in a shared buffer reused from one checkpoint to the next: what it writes must
// not depend on what the buffer held before, and the buffer must neither grow without bound nor
// be replaced when it already fits. A WAL whose checksums the write-behind worker takes must be
// the same bytes as one sealed inline.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MemFileSystem, StagingBuffer, WriteBehind, WriteJob } from "../../src/io/index.ts";
import { CHECKSUM_OFFSET } from "../../src/merkle/page.ts";
import { buildWal, readWalBody, readWalHeader, type WalRecord, writeWal } from "../../src/merkle/wal.ts";
import { Rng, tempDir } from "../kv/helpers.ts";
import { makePage, randomPageId } from "./page-store-helpers.ts";

function record(rng: Rng, seq: number, pages: number, metas: number): WalRecord {
  const ids = Array.from({ length: pages }, () => randomPageId(rng, 6));
  return {
    seq,
    gen: 3,
    buckets: 1 << 12,
    rebuilt: false,
    pageBuckets: Uint32Array.from(ids, () => rng.int(1 << 12)),
    pages: ids.map((id, i) => makePage(id, seq * 1000 + i)),
    metaBuckets: Uint32Array.from({ length: metas }, () => rng.int(1 << 12)),
    metaValues: Uint8Array.from({ length: metas }, () => 0x80 | rng.int(128)),
  };
}

function fileBytes(fs: MemFileSystem, path: string): Uint8Array {
  const f = fs.open(path);
  const out = new Uint8Array(f.size());
  f.read(out, 0);
  f.close();
  return out;
}

describe("merkle: WAL built in a reused staging buffer", () => {
  it("writes the same bytes as a fresh buffer, whatever the buffer held before", () => {
    const rng = new Rng(0x5a1);
    const staging = new StagingBuffer();
    const fs = new MemFileSystem();
    // Large first, then smaller: the reused buffer holds stale pages, index and meta bytes
    // where the smaller record has padding and reserved header bytes.
    const shapes = [
      [40, 900],
      [3, 7],
      [1, 0],
      [0, 5],
      [25, 1200],
      [2, 2],
    ];
    for (const [i, [pages, metas]] of shapes.entries()) {
      const rec = record(rng, i + 1, pages, metas);
      staging.take(staging.capacity).fill(0xa5); // garbage where the next WAL goes
      const reused = fs.open("reused");
      const written = writeWal(reused, rec, staging);
      reused.close();
      const fresh = fs.open("fresh");
      writeWal(fresh, rec);
      fresh.close();
      assert.deepEqual(fileBytes(fs, "reused"), fileBytes(fs, "fresh"), `record ${i}`);
      assert.equal(written.buffer, staging.take(written.length).buffer, "the WAL is a view of the staging buffer");
      const f = fs.open("reused");
      const header = readWalHeader(f);
      assert.ok(header !== undefined, `record ${i}: header reads back`);
      const body = readWalBody(f, header);
      f.close();
      assert.ok(body !== undefined, `record ${i}: body reads back`);
      assert.deepEqual(body.metaValues, rec.metaValues);
      assert.deepEqual(
        body.pages.map((p) => Buffer.from(p).toString("hex")),
        rec.pages.map((p) => Buffer.from(p).toString("hex")),
      );
    }
  });

  it("keeps a buffer that fits, grows with headroom, and gives back one far too large", () => {
    const s = new StagingBuffer();
    const a = s.take(10 * 4096);
    assert.ok(a.buffer instanceof SharedArrayBuffer);
    assert.equal(a.length, 10 * 4096);
    const cap = s.capacity;
    assert.ok(cap >= a.length);
    const b = s.take(4096);
    assert.equal(b.buffer, a.buffer, "a smaller take reuses the buffer");
    const c = s.take(cap + 1);
    assert.notEqual(c.buffer, a.buffer, "a larger take replaces it");
    assert.ok(s.capacity > cap + 1, "with headroom");
    // A buffer above the keep limit is replaced once twice what is taken would do.
    const big = s.take(200 * 2 ** 20);
    assert.ok(s.capacity >= 200 * 2 ** 20);
    const same = s.take(120 * 2 ** 20);
    assert.equal(same.buffer, big.buffer, "within twice the need: kept");
    const small = s.take(2 ** 20);
    assert.notEqual(small.buffer, big.buffer, "far above the need: replaced");
    assert.ok(s.capacity < 64 * 2 ** 20, `capacity ${s.capacity} shrank`);
    s.release();
    assert.equal(s.capacity, 0);
  });

  it("a WAL sealed by the write-behind worker is byte-equal to one sealed inline", () => {
    const rng = new Rng(0x5a2);
    const fs = new MemFileSystem();
    const { dir, cleanup } = tempDir("wal-behind");
    const behind = new WriteBehind();
    try {
      for (const [i, [pages, metas]] of [
        [12, 30],
        [0, 4],
        [1, 0],
        [30, 700],
      ].entries()) {
        const rec = record(rng, i + 1, pages, metas);
        // Stamped but unsealed images, as the page store hands them over: the checksums are garbage.
        for (const p of rec.pages) p.fill(0x5c, CHECKSUM_OFFSET);
        const inline = fs.open("inline");
        writeWal(inline, rec);
        inline.close();
        const path = join(dir, `wal-${i}`);
        const fd = openSync(path, "w+");
        try {
          const job = new WriteJob();
          const wal = buildWal(rec, new StagingBuffer(), job);
          job.add(wal, 0, wal.length, 0);
          behind.submit(fd, path, job);
          behind.wait();
        } finally {
          closeSync(fd);
        }
        const want = fileBytes(fs, "inline");
        assert.deepEqual(new Uint8Array(readFileSync(path)), want, `record ${i}`);
        const f = fs.open("inline");
        const header = readWalHeader(f);
        assert.ok(header !== undefined && readWalBody(f, header) !== undefined, `record ${i}: reads back, every page sealed`);
        f.close();
      }
    } finally {
      cleanup();
    }
  });
});
