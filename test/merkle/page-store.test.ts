// Page store: model test against a Map over many commits through growth and reopens, absent
// lookups, corruption reports, and crash injection at every step of prepare / apply / grow.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { existsSync, readdirSync } from "node:fs";
import { MemFileSystem } from "../../src/io/index.ts";
import { CHECKSUM_OFFSET, checkPage, ELISION_THRESHOLD, MERKLE_PAGE_BYTES, PAGE_ID_OFFSET, stampPage } from "../../src/merkle/page.ts";
import {
  type PageChange,
  PageStore,
  type PageStoreOptions,
  type TableInfo,
  WAL_FILE_NAME,
  decodeTableInfo,
  encodeTableInfo,
} from "../../src/merkle/page-store.ts";
import { PageStoreCorruptionError, PageStoreError } from "../../src/merkle/page-store-errors.ts";
import { memPageStoreFileSystem } from "../../src/io/fs.ts";
import { checksumRegionBytes, metaRegionBytes, TABLE_VERSION, tableFileName } from "../../src/merkle/table-file.ts";
import { Rng, hex, same, tempDir } from "../kv/helpers.ts";
import { CrashFs, isCrash, makePage, randomPageId } from "./page-store-helpers.ts";

const DIR = "/db";

/** What the store layer's meta record would hold. */
interface Committed {
  seq: number;
  table: TableInfo;
}

type Model = Map<string, Uint8Array>;

/** A store plus the simulated store layer around it: commit point = `fs.point()`. */
class Harness {
  store: PageStore;
  committed: Committed | undefined;
  model: Model = new Map();
  ids = new Map<string, Uint8Array>();
  tag = 1;

  /** Creates a new store, or reopens the one `committed` describes. */
  constructor(
    readonly fs: CrashFs,
    readonly options: PageStoreOptions = {},
    committed?: Committed,
  ) {
    this.committed = committed;
    this.store = PageStore.open(DIR, { fs, initialBuckets: 16, committedSeq: committed?.seq, table: committed?.table, ...options });
  }

  /** Runs the full protocol for `changes`; `committed` moves only past the commit point. */
  commit(changes: PageChange[], options?: { distinct?: boolean }): void {
    const seq = (this.committed?.seq ?? 0) + 1;
    const table = this.store.prepare(changes, seq, options);
    this.fs.point();
    this.committed = { seq, table };
    this.store.apply();
  }

  /** Random changes: inserts of new ids, updates and deletes of live ones. */
  randomChanges(rng: Rng, n: number, mix = { insert: 0.5, update: 0.3 }): { changes: PageChange[]; after: Model } {
    const after = new Map(this.model);
    const live = [...this.model.keys()];
    const changes: PageChange[] = [];
    const touched = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = rng.float();
      if (r < mix.insert || live.length === 0) {
        const id = randomPageId(rng);
        const k = hex(id);
        if (touched.has(k)) continue;
        touched.add(k);
        this.ids.set(k, id);
        const page = makePage(id, this.tag++);
        changes.push({ id, page });
        after.set(k, page);
      } else {
        const k = live[rng.int(live.length)];
        if (touched.has(k)) continue;
        touched.add(k);
        const id = this.ids.get(k)!;
        if (r < mix.insert + mix.update) {
          const page = makePage(id, this.tag++);
          changes.push({ id, page });
          after.set(k, page);
        } else {
          changes.push({ id, page: null });
          after.delete(k);
        }
      }
    }
    return { changes, after };
  }

  reopen(fs: CrashFs = this.fs): void {
    this.store.close();
    this.store = PageStore.open(DIR, { fs, committedSeq: this.committed?.seq, table: this.committed?.table, ...this.options });
  }
}

/** Asserts the store holds exactly `model` over every id in `ids`. */
function verify(store: PageStore, model: Model, ids: Map<string, Uint8Array>, label = ""): void {
  for (const [k, id] of ids) {
    const got = store.get(id);
    const want = model.get(k);

    assert.ok(same(got, want), `${label}: page ${k.slice(0, 12)} ${want ? (got ? "differs" : "is missing") : "should be absent"}`);
  }
  assert.equal(store.size, model.size, `${label}: page count`);
}

/**
 * A store with a first commit of `n` inserts, then a second commit (`m` changes, `mix`) prepared
 * as seq 2: its WAL written and synced, not applied.
 */
function secondPrepared(seed: number, n: number, m: number, mix: { insert: number; update: number }, options: PageStoreOptions = {}) {
  const h = new Harness(new CrashFs(), options);
  const rng = new Rng(seed);
  const base = h.randomChanges(rng, n, { insert: 1, update: 0 });
  h.commit(base.changes);
  h.model = base.after;
  const next = h.randomChanges(rng, m, mix);
  const table = h.store.prepare(next.changes, 2);
  return { h, base, next, table, wal: h.fs.bytesOf(join(DIR, WAL_FILE_NAME)) as Uint8Array };
}

describe("page store", () => {
  it("stores, updates, deletes and finds nothing for absent ids", () => {
    const h = new Harness(new CrashFs(), { cacheBytes: 0 });
    const rng = new Rng(7);
    const { changes, after } = h.randomChanges(rng, 10);
    h.commit(changes);
    h.model = after;
    verify(h.store, h.model, h.ids, "first commit");
    // Absent ids: mostly settled by meta bytes alone.
    h.store.dropCache();
    const before = h.store.stats().pagesRead;
    for (let i = 0; i < 2000; i++) {
      const id = randomPageId(rng, 41);
      if (!h.ids.has(hex(id))) assert.equal(h.store.get(id), undefined);
    }
    assert.ok(h.store.stats().pagesRead - before < 100, `absent lookups read ${h.store.stats().pagesRead - before} pages`);
    // A duplicate id in one batch: the last change wins.
    const [first] = [...h.ids.values()];
    const p1 = makePage(first, 9001);
    h.commit([
      { id: first, page: p1 },
      { id: first, page: null },
    ]);
    h.model.delete(hex(first));
    verify(h.store, h.model, h.ids, "duplicate");
    h.reopen();
    verify(h.store, h.model, h.ids, "reopened");
    const info = encodeTableInfo(h.committed!.table);
    assert.deepEqual(decodeTableInfo(info), h.committed!.table);
  });

  it("with distinct ids vouched for, skips the de-duplication and stores the same pages", () => {
    const plain = new Harness(new CrashFs(), { cacheBytes: 0 });
    const vouched = new Harness(new CrashFs(), { cacheBytes: 0 });
    const r1 = new Rng(11);
    const r2 = new Rng(11);
    for (let round = 0; round < 6; round++) {
      const a = plain.randomChanges(r1, 40);
      const b = vouched.randomChanges(r2, 40);
      plain.commit(a.changes);
      vouched.commit(b.changes, { distinct: true });
      plain.model = a.after;
      vouched.model = b.after;
      verify(vouched.store, vouched.model, vouched.ids, `round ${round}`);
      assert.deepEqual(vouched.committed!.table, plain.committed!.table, `round ${round}: same table`);
      assert.equal(vouched.store.stats().pages, plain.store.stats().pages);
    }
    vouched.store.dropCache();
    plain.store.dropCache();
    for (const id of plain.ids.values()) {
      const got = vouched.store.get(id);
      const want = plain.store.get(id);
      assert.equal(got === undefined, want === undefined);
      if (got !== undefined && want !== undefined) assert.ok(same(got, want), `page ${hex(id)}`);
    }
  });

  it("rewrites of stored pages stay in place however many, and only new pages grow the table", () => {
    const h = new Harness(new CrashFs(), { cacheBytes: 0 });
    const rng = new Rng(12);
    // 11 pages in 16 buckets: just under the 0.75 load limit.
    const { changes, after } = h.randomChanges(rng, 11, { insert: 1, update: 0 });
    h.commit(changes);
    h.model = after;
    const rebuilds = h.store.stats().rebuilds;
    // Every page rewritten: 11 writes would pass the limit if each needed a bucket.
    const rewrite = h.randomChanges(rng, 40, { insert: 0, update: 1 });
    assert.equal(rewrite.changes.length, 11);
    h.commit(rewrite.changes);
    h.model = rewrite.after;
    assert.equal(h.store.stats().rebuilds, rebuilds, "no rebuild for rewrites");
    assert.equal(h.store.stats().buckets, 16);
    verify(h.store, h.model, h.ids, "rewritten");
    // Two new pages do pass it: the table grows, and the placement tried first left no trace.
    const grow = h.randomChanges(rng, 2, { insert: 1, update: 0 });
    h.commit(grow.changes);
    h.model = grow.after;
    assert.equal(h.store.stats().rebuilds, rebuilds + 1, "new pages past the limit rebuild the table");
    assert.ok(h.store.stats().buckets > 16);
    verify(h.store, h.model, h.ids, "grown");
    h.reopen();
    verify(h.store, h.model, h.ids, "reopened");
  });

  it("rejects bad input and out-of-order calls with typed errors", () => {
    const h = new Harness(new CrashFs());
    const id = randomPageId(new Rng(1));
    const other = randomPageId(new Rng(2));
    const code = (fn: () => unknown, c: string) => assert.throws(fn, (e: unknown) => e instanceof PageStoreError && e.code === c);
    code(() => h.store.get(new Uint8Array(31)), "BAD_ARGUMENT");
    code(() => h.store.prepare([{ id, page: makePage(other, 1) }], 1), "BAD_PAGE");
    code(() => h.store.prepare([{ id, page: new Uint8Array(MERKLE_PAGE_BYTES) }], 1), "BAD_PAGE");
    code(() => h.store.apply(), "STATE");
    h.store.prepare([{ id, page: makePage(id, 1) }], 1);
    code(() => h.store.prepare([], 2), "STATE");
    h.store.abort();
    assert.equal(h.store.get(id), undefined, "aborted commit is invisible");
    h.commit([{ id, page: makePage(id, 2) }]);
    code(() => h.store.prepare([], 1), "BAD_ARGUMENT");
    h.store.close();
    code(() => h.store.get(id), "CLOSED");
  });

  it("matches a Map model over many commits, growing and reopening", () => {
    const rng = new Rng(12345);
    const h = new Harness(new CrashFs(), { cacheBytes: 64 * 1024, pinDepth: 1 });
    const gens = new Set<number>();
    for (let c = 0; c < 160; c++) {
      const r = rng.float();
      const { changes, after } = h.randomChanges(rng, 1 + rng.int(40), c > 110 ? { insert: 0.2, update: 0.3 } : { insert: 0.55, update: 0.25 });
      if (r < 0.05) {
        // Prepared and abandoned before the commit point: nothing changes, even after reopen.
        h.store.prepare(changes, (h.committed?.seq ?? 0) + 1);
        if (rng.int(2) === 0) h.store.abort();
        else h.reopen();
      } else {
        h.commit(changes);
        h.model = after;
      }
      gens.add(h.store.table.gen);
      if (rng.float() < 0.1) h.reopen();
      if (rng.float() < 0.1) h.store.dropCache();
      if (c % 20 === 19) verify(h.store, h.model, h.ids, `commit ${c}`);
      else {
        for (let i = 0; i < 30; i++) {
          const k = [...h.ids.keys()][rng.int(h.ids.size)];
          assert.ok(same(h.store.get(h.ids.get(k)!), h.model.get(k)), `commit ${c}: sample ${k.slice(0, 12)}`);
        }
      }
    }
    h.reopen();
    verify(h.store, h.model, h.ids, "final");
    const s = h.store.stats();
    assert.ok(gens.size >= 4, `grew only ${gens.size - 1} times`);
    assert.ok(s.cachedPages <= 16, "cache stays within budget");
    assert.ok(s.pinnedPages >= 1, "top pages are pinned");
    // Only the live generation and the WAL remain (removed files are gone from the map).
    assert.deepEqual(h.fs.names().sort(), [join(DIR, tableFileName(s.gen)), join(DIR, WAL_FILE_NAME)].sort());
  });

  it("works on the host file system and on MemFileSystem", () => {
    const { dir, cleanup } = tempDir("bmt-page-store");
    try {
      for (const fs of [undefined, memPageStoreFileSystem(new MemFileSystem())]) {
        const rng = new Rng(99);
        const model: Model = new Map();
        const ids = new Map<string, Uint8Array>();
        let store = PageStore.open(dir, { fs, initialBuckets: 16 });
        let committed: Committed | undefined;
        for (let seq = 1; seq <= 12; seq++) {
          const changes: PageChange[] = [];
          for (let i = 0; i < 12; i++) {
            const id = randomPageId(rng);
            ids.set(hex(id), id);
            const page = makePage(id, seq * 100 + i);
            model.set(hex(id), page);
            changes.push({ id, page });
          }
          committed = { seq, table: store.prepare(changes, seq) };
          store.apply();
          if (seq % 4 === 0) {
            store.close();
            store = PageStore.open(dir, { fs, committedSeq: committed.seq, table: committed.table });
          }
        }
        verify(store, model, ids, fs ? "mem" : "disk");
        if (!fs) assert.deepEqual(readdirSync(dir).sort(), [tableFileName(store.table.gen), WAL_FILE_NAME].sort());
        store.close();
      }
      assert.ok(!existsSync(join(dir, tableFileName(0))));
    } finally {
      cleanup();
    }
  });

  it("reports a damaged page with its file and offset, never returning it", () => {
    const h = new Harness(new CrashFs(), { cacheBytes: 0, pinDepth: -1 });
    const rng = new Rng(3);
    const { changes, after } = h.randomChanges(rng, 6, { insert: 1, update: 0 });
    h.commit(changes);
    h.model = after;
    const path = join(DIR, tableFileName(h.store.table.gen));
    const bytes = h.fs.bytesOf(path)!;
    const [k, id] = [...h.ids][0];
    let at = -1;
    for (let o = 0; o < bytes.length; o += MERKLE_PAGE_BYTES) {
      if (same(bytes.subarray(o + PAGE_ID_OFFSET, o + PAGE_ID_OFFSET + 32), id)) at = o;
    }
    assert.ok(at > 0, `page ${k} found in the table file`);
    bytes[at + 100] ^= 1;
    h.store.dropCache();
    assert.throws(
      () => h.store.get(id),
      (e: unknown) => e instanceof PageStoreCorruptionError && e.code === "CORRUPT" && e.file === path && e.offset === at,
    );
    bytes[at + 100] ^= 1;
    assert.ok(same(h.store.get(id), h.model.get(k)));
  });

  it("never applies a torn or corrupt WAL", () => {
    for (const where of ["header", "body"] as const) {
      const { h, table, wal } = secondPrepared(5, 6, 4, { insert: 0.5, update: 0.5 });
      const old = h.model;
      wal[where === "header" ? 20 : wal.length - 10] ^= 0x40;
      h.store.close();
      // Even if the commit point named it, a damaged WAL is ignored rather than applied.
      const store = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table });
      verify(store, old, h.ids, where);
      store.close();
    }
  });

  it("seals what it writes of the images it is given, and refuses one of the wrong size or id", () => {
    const h = new Harness(new CrashFs(), { cacheBytes: 0 });
    const rng = new Rng(7);
    const id = randomPageId(rng);
    const other = randomPageId(rng);
    const page = new Uint8Array(MERKLE_PAGE_BYTES);
    for (let i = 0; i < 200; i++) page[i * 7] = rng.int(256);
    stampPage(page, id);
    const given = page.slice();
    const code = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof PageStoreError && e.code === "BAD_PAGE");
    code(() => h.store.prepare([{ id: other, page }], 1));
    code(() => h.store.prepare([{ id, page: page.subarray(0, MERKLE_PAGE_BYTES - 1) }], 1));
    h.commit([{ id, page }]);
    assert.ok(same(page, given), "the caller's image is left as it was");
    // Read back from the table file (images in memory are sealed only where they are written).
    h.store.dropCache();
    const stored = h.store.get(id) as Uint8Array;
    assert.ok(checkPage(stored, id), "stored sealed");
    assert.ok(same(stored.subarray(0, CHECKSUM_OFFSET), given.subarray(0, CHECKSUM_OFFSET)));
    h.store.close();
  });

  it("replays a WAL of the previous format (version 1: the body CRC runs over page bodies)", () => {
    const { h, next, table, wal } = secondPrepared(8, 6, 6, { insert: 0.5, update: 0.5 });
    // Rewrite the version-2 WAL as version 1 would have written it.
    const dv = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
    const pages = dv.getUint32(28, true);
    const first = wal.length - pages * MERKLE_PAGE_BYTES;
    let crc = crc32(wal.subarray(64, first));
    for (let j = 0; j < pages; j++) crc = crc32(wal.subarray(first + j * MERKLE_PAGE_BYTES, first + j * MERKLE_PAGE_BYTES + CHECKSUM_OFFSET), crc);
    dv.setUint32(4, 1, true);
    dv.setUint32(36, crc, true);
    dv.setUint32(60, crc32(wal.subarray(0, 60)), true);
    h.store.close();
    const store = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table });
    assert.equal(store.stats().replays, 1);
    verify(store, next.after, h.ids, "version 1");
    store.close();
  });

  it("opens read-only: a committed WAL held in memory, a newer one ignored, no file touched", () => {
    const { h, base, next, table } = secondPrepared(9, 8, 8, { insert: 0.4, update: 0.4 });
    const files = () => [WAL_FILE_NAME, tableFileName(table.gen)].map((f) => Buffer.from(h.fs.bytesOf(join(DIR, f)) ?? new Uint8Array(0)).toString("hex"));
    const before = files();
    // The commit point named seq 2: its WAL is not applied yet, and the reader sees through it.
    const at2 = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table, readOnly: true });
    verify(at2, next.after, h.ids, "read-only at the WAL's seq");
    assert.equal(at2.readOnly, true);
    assert.throws(
      () => at2.prepare([], 3),
      (e: unknown) => e instanceof PageStoreError && e.code === "READ_ONLY",
    );
    at2.close();
    // Seq 1 committed: the WAL is a later prepare's, and the table holds seq 1.
    const at1 = PageStore.open(DIR, { fs: h.fs, committedSeq: 1, table: h.committed!.table, readOnly: true });
    verify(at1, base.after, h.ids, "read-only before the WAL's seq");
    at1.close();
    assert.deepEqual(files(), before, "files unchanged");
    h.store.apply();
    h.store.close();
  });

  it("checks every meta unit at open: a damaged meta byte is reported with its offset, unless a replay rewrites it", () => {
    const { h, next, table, wal } = secondPrepared(10, 40, 20, { insert: 0.5, update: 0.3 }, { initialBuckets: 256 });
    assert.equal(table.gen, 0, "no growth");
    const path = join(DIR, tableFileName(table.gen));
    const file = h.fs.bytesOf(path) as Uint8Array;
    h.store.close();
    // A bucket whose meta byte the prepared commit (seq 2) changes: the first in its index.
    const walView = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
    const changed = walView.getUint32(64 + 4 * walView.getUint32(28, true), true);
    const at = MERKLE_PAGE_BYTES + changed;
    const unitOffset = MERKLE_PAGE_BYTES * (1 + Math.floor(changed / MERKLE_PAGE_BYTES));
    const damaged = (e: unknown) => e instanceof PageStoreCorruptionError && e.code === "CORRUPT" && e.file === path && e.offset === unitOffset;
    file[at] ^= 0x81;
    // Committed at seq 1, the table alone holds the state: the damage is reported.
    assert.throws(() => PageStore.open(DIR, { fs: h.fs, committedSeq: 1, table: h.committed!.table, readOnly: true }), damaged);
    // Committed at seq 2, the unit is one the WAL rewrites (as after a torn apply): a reader
    // skips it, and the writer's replay repairs it.
    const ro = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table, readOnly: true });
    verify(ro, next.after, h.ids, "read-only over a torn unit");
    ro.close();
    const rw = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table });
    assert.equal(rw.stats().replays, 1);
    verify(rw, next.after, h.ids, "replayed");
    rw.close();
    // With no WAL left to replay, the writer reports the damage too.
    const w = h.fs.open(join(DIR, WAL_FILE_NAME));
    w.truncate(0);
    w.close();
    file[at] ^= 0x81;
    assert.throws(() => PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table }), damaged);
  });

  it("refuses a table of an older format or another elision threshold (VERSION naming it), changing nothing", () => {
    const { h, table } = secondPrepared(11, 30, 10, { insert: 0.5, update: 0.5 });
    h.store.apply();
    h.store.close();
    const path = join(DIR, tableFileName(table.gen));
    const current = (h.fs.bytesOf(path) as Uint8Array).slice();
    const wal = (h.fs.bytesOf(join(DIR, WAL_FILE_NAME)) as Uint8Array).slice();
    // Format 1 lacked the checksum region, format 2 the threshold; both elided below 16 leaves.
    const metaEnd = MERKLE_PAGE_BYTES + metaRegionBytes(table.buckets);
    const v1 = new Uint8Array(current.length - checksumRegionBytes(table.buckets));
    v1.set(current.subarray(0, metaEnd));
    v1.set(current.subarray(metaEnd + checksumRegionBytes(table.buckets)), metaEnd);
    const header = (bytes: Uint8Array, version: number, threshold: number) => {
      const out = bytes.slice();
      const dv = new DataView(out.buffer);
      dv.setUint32(4, version, true);
      dv.setUint32(16, threshold, true);
      dv.setUint32(28, crc32(out.subarray(0, 28)), true);
      return out;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ["format 1", header(v1, 1, 0), /format 1 \(pages of subtries of 16\+ leaves\)/],
      ["format 2", header(current, 2, 0), /format 2 \(pages of subtries of 16\+ leaves\)/],
      [
        "another threshold",
        header(current, TABLE_VERSION, ELISION_THRESHOLD + 1),
        new RegExp(`format ${TABLE_VERSION} \\(pages of subtries of ${ELISION_THRESHOLD + 1}\\+`),
      ],
    ];
    for (const [name, bytes, message] of cases) {
      const f = h.fs.open(path);
      f.truncate(0);
      f.write(bytes, 0);
      f.close();
      for (const readOnly of [false, true]) {
        assert.throws(
          () => PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table, readOnly }),
          (e: unknown) => e instanceof PageStoreError && e.code === "VERSION" && message.test(e.message) && e.message.includes(path),
          name,
        );
        assert.ok(same(h.fs.bytesOf(path) as Uint8Array, bytes), `${name}: table unchanged`);
        assert.ok(same(h.fs.bytesOf(join(DIR, WAL_FILE_NAME)) as Uint8Array, wal), `${name}: WAL unchanged`);
      }
    }
  });

  it("notices a WAL page replaced by another sealed page", () => {
    const { h, table, wal } = secondPrepared(6, 6, 6, { insert: 0.5, update: 0.5 });
    // Pages start at the first 4 KiB boundary; copy the second image over the first.
    wal.copyWithin(MERKLE_PAGE_BYTES, 2 * MERKLE_PAGE_BYTES, 3 * MERKLE_PAGE_BYTES);
    h.store.close();
    const store = PageStore.open(DIR, { fs: h.fs, committedSeq: 2, table });
    assert.equal(store.stats().replays, 0);
    verify(store, h.model, h.ids, "swapped");
    store.close();
  });

  describe("crash at every step", () => {
    interface Scenario {
      name: string;
      /** Builds the committed state before the step. */
      base(h: Harness, rng: Rng): void;
      /** Changes of the step under test. */
      step(h: Harness, rng: Rng): { changes: PageChange[]; after: Model };
      expectRebuild: boolean;
    }
    const fill = (n: number) => (h: Harness, rng: Rng) => {
      const b = h.randomChanges(rng, n, { insert: 1, update: 0 });
      h.commit(b.changes);
      h.model = b.after;
    };
    const scenarios: Scenario[] = [
      { name: "first commit, growing", base: () => {}, step: (h, rng) => h.randomChanges(rng, 14, { insert: 1, update: 0 }), expectRebuild: true },
      { name: "in-place commit", base: fill(8), step: (h, rng) => h.randomChanges(rng, 4, { insert: 0.25, update: 0.5 }), expectRebuild: false },
      { name: "growing commit", base: fill(8), step: (h, rng) => h.randomChanges(rng, 12, { insert: 0.8, update: 0.1 }), expectRebuild: true },
      {
        name: "deletes after growth",
        base: (h, rng) => {
          fill(10)(h, rng);
          fill(10)(h, rng);
        },
        step: (h, rng) => h.randomChanges(rng, 10, { insert: 0.2, update: 0.1 }),
        expectRebuild: false,
      },
    ];

    for (const sc of scenarios) {
      it(sc.name, () => {
        const setup = (fs: CrashFs) => {
          const h = new Harness(fs, { cacheBytes: 0 });
          const rng = new Rng(2024);
          sc.base(h, rng);
          return { h, rng, step: sc.step(h, rng) };
        };
        // Dry run: how many counted calls the step makes.
        const dry = setup(new CrashFs());
        const start = dry.h.fs.ops;
        const rebuilds = dry.h.store.stats().rebuilds;
        dry.h.commit(dry.step.changes);
        assert.equal(dry.h.store.stats().rebuilds > rebuilds, sc.expectRebuild, "scenario exercises the intended path");
        const steps = dry.h.fs.ops - start;
        const rng = new Rng(77);
        let outcomes = 0;
        for (let k = 1; k <= steps + 1; k++) {
          for (const tear of [false, true]) {
            for (let trial = 0; trial < 2; trial++) {
              const { h, step } = setup(new CrashFs());
              const old = h.model;
              const baseSeq = h.committed?.seq ?? 0;
              h.fs.crashAt = h.fs.ops + k;
              h.fs.tear = tear;
              try {
                h.commit(step.changes);
              } catch (e) {
                if (!isCrash(e)) throw e;
              }
              const expect = (h.committed?.seq ?? 0) > baseSeq ? step.after : old;
              let disk = h.fs.recover(rng);
              // Sometimes crash again while the reopen replays or cleans up.
              if (trial === 1) {
                disk.crashAt = disk.ops + 1 + rng.int(6);
                try {
                  PageStore.open(DIR, { fs: disk, initialBuckets: 16, committedSeq: h.committed?.seq, table: h.committed?.table }).close();
                } catch (e) {
                  if (!isCrash(e)) throw e;
                }
                disk = disk.recover(rng);
              }
              const r = new Harness(disk, { cacheBytes: 0 }, h.committed);
              r.ids = h.ids;
              r.tag = h.tag + 1000;
              r.store.dropCache();
              verify(r.store, expect, h.ids, `${sc.name}: crash at step ${k}${tear ? " (torn)" : ""}, trial ${trial}`);
              if (expect === step.after) outcomes |= 2;
              else outcomes |= 1;
              // The recovered store keeps working.
              r.model = expect;
              const more = r.randomChanges(rng, 12, { insert: 0.6, update: 0.2 });
              r.commit(more.changes);
              r.model = more.after;
              r.reopen();
              r.store.dropCache();
              verify(r.store, r.model, r.ids, `${sc.name}: after recovery from step ${k}`);
              r.store.close();
            }
          }
        }
        assert.equal(outcomes, 3, "both outcomes were exercised");
      });
    }
  });
});
