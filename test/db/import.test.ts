// Bulk import: the pages and values it writes are those of an incremental build of the same
// state, byte for byte; its root is trieRoot's; a bad entry, an unsorted stream, a root other
// than the expected one, or a non-empty database leave the database as it was.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { DbError, type ImportItem, importEntries, open } from "../../src/db/index.ts";
import { ELISION_THRESHOLD, pageIdKey, pageIdOf } from "../../src/merkle/page.ts";
import { setLoadWorker } from "../../src/store/bulk-load.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { compareKeys, type Entry, type EntryBatch, sortEntries, toHex, trieRoot, verifyStateResponse } from "../../src/trie/index.ts";
import { keySharing, randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { tempDirs } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-import-");

/** Every stored page on any key's path (every stored page lies on one), by id. */
function pagesOf(store: Store, keys: readonly Uint8Array[]): Map<number | string, string> {
  const out = new Map<number | string, string>();
  for (const key of keys) {
    for (let d = 0; d < 8; d++) {
      const id = pageIdOf(key, d);
      const page = store.page(id);
      if (page === undefined) break;
      out.set(pageIdKey(id), Buffer.from(page).toString("hex"));
    }
  }
  return out;
}

/** The entries as one batch (fresh buffers). */
function batchOf(list: readonly Entry[]): EntryBatch {
  const keys = new Uint8Array(31 * list.length);
  const offsets = new Uint32Array(list.length + 1);
  for (let i = 0; i < list.length; i++) {
    keys.set(list[i].key, 31 * i);
    offsets[i + 1] = offsets[i] + list[i].value.length;
  }
  const values = new Uint8Array(offsets[list.length]);
  for (let i = 0; i < list.length; i++) values.set(list[i].value, offsets[i]);
  return { keys, values, offsets };
}

const code = (c: string) => (e: unknown) => e instanceof DbError && e.code === c;

describe(`db: bulk import (seed ${seed})`, () => {
  it("writes the pages and values an incremental build writes, and the root trieRoot gives, across chunk sizes", async () => {
    const rng = new Rng(seed);
    for (const [n, chunk, clustered] of [
      [3000, 100, true],
      [12_000, 997, false],
      [20_000, 65536, true],
      [15, 4, false],
      [1, 1, false],
    ] as const) {
      const entries = sortEntries(randomEntries(rng, n, clustered));
      const a = newDir();
      const result = await importEntries(a, entries, { chunk });
      assert.equal(toHex(result.root), toHex(trieRoot(entries)), `n ${n}: root`);
      assert.equal(result.count, n);
      // With a merkle budget of one byte the load writes out every finished page after each chunk.
      const c = newDir();
      assert.equal(toHex((await importEntries(c, entries, { chunk, merkleCacheBytes: 1 })).root), toHex(result.root), `n ${n}: spilled root`);
      // The same state committed in random batches.
      const b = newDir();
      const inc = Store.open(b);
      const shuffled = entries.slice().sort(() => rng.int(3) - 1);
      for (let at = 0; at < shuffled.length; at += 2500) inc.commit(shuffled.slice(at, at + 2500).map((e) => [e.key, e.value]));
      inc.close();
      const sa = Store.open(a);
      const sb = Store.open(b);
      const sc = Store.open(c);
      try {
        assert.equal(toHex(sa.root), toHex(sb.root));
        const keys = entries.map((e) => e.key);
        const pa = pagesOf(sa, keys);
        const pb = pagesOf(sb, keys);
        const pc = pagesOf(sc, keys);
        assert.deepEqual([...pa.keys()].sort(), [...pb.keys()].sort(), `n ${n}: page ids`);
        assert.deepEqual([...pc.keys()].sort(), [...pb.keys()].sort(), `n ${n}: spilled page ids`);
        for (const [id, page] of pa) assert.ok(page === pb.get(id), `n ${n}: page ${id}`);
        for (const [id, page] of pc) assert.ok(page === pb.get(id), `n ${n}: spilled page ${id}`);
        for (const e of entries) assert.equal(toHex(sc.get(e.key) as Uint8Array), toHex(e.value));
        // Enough keys for most pages at page-depth 1 (64 prefixes over the threshold).
        if (n >= 90 * ELISION_THRESHOLD) assert.ok(pa.size > 10, `n ${n}: ${pa.size} pages compared`);
        for (const e of entries) assert.equal(toHex(sa.get(e.key) as Uint8Array), toHex(e.value));
        assert.equal(sa.size, n);
      } finally {
        sa.close();
        sb.close();
        sc.close();
      }
      // The imported database opens and serves as any other.
      const db = open(a);
      try {
        const snap = db.beginRead();
        const start = keySharing(rng, entries[0].key, 100);
        const end = new Uint8Array(31).fill(0xff);
        const v = verifyStateResponse(db.root, start, end, snap.stateRequest(start, end, 5000));
        assert.ok(v.entries.length > 0 || n === 1);
        snap.release();
      } finally {
        db.close();
      }
    }
  });

  it("a root asked mid-load ends the bottom-up build; later chunks and large values still give the canonical pages", () => {
    const rng = new Rng(seed + 3);
    const sizes = [0, 1, 32, 33, 1024, 1025, 5000];
    for (const [n, at] of [
      [ELISION_THRESHOLD + 1, ELISION_THRESHOLD],
      [9000, 4500],
      [9000, 1],
    ] as const) {
      const entries = sortEntries(randomEntries(rng, n, true).map((e) => ({ key: e.key, value: rng.bytes(rng.pick(sizes)) })));
      const a = newDir();
      const loading = Store.open(a);
      const load = loading.beginLoad();
      const pairs = entries.map((e) => [e.key, e.value] as const);
      load.add(pairs.slice(0, at));
      assert.equal(toHex(load.root()), toHex(trieRoot(entries.slice(0, at))), `n ${n}: root at ${at}`);
      for (let i = at; i < n; i += 777) load.add(entries.slice(i, i + 777));
      assert.equal(toHex(load.finish()), toHex(trieRoot(entries)), `n ${n}: root`);
      loading.close();
      const b = newDir();
      const inc = Store.open(b);
      inc.commit(pairs);
      inc.close();
      const keys = entries.map((e) => e.key);
      const sa = Store.open(a);
      const sb = Store.open(b);
      try {
        const pa = pagesOf(sa, keys);
        const pb = pagesOf(sb, keys);
        assert.deepEqual([...pa.keys()].sort(), [...pb.keys()].sort(), `n ${n}: page ids`);
        for (const [id, page] of pa) assert.ok(page === pb.get(id), `n ${n}: page ${id}`);
        for (const e of entries) assert.equal(toHex(sa.get(e.key) as Uint8Array), toHex(e.value));
      } finally {
        sa.close();
        sb.close();
      }
    }
  });

  it("writes finished pages out during the load, reads none back, and refuses page reads until it commits", () => {
    const rng = new Rng(seed + 2);
    const entries = sortEntries(randomEntries(rng, 20_000, false));
    const dir = newDir();
    const store = Store.open(dir, { merkleCacheBytes: 1 });
    try {
      const load = store.beginLoad();
      const pairs = entries.map((e) => [e.key, e.value] as const);
      for (let at = 0; at < pairs.length; at += 1000) load.add(pairs.slice(at, at + 1000));
      // The first keys' pages are finished and spilled: no table holds them before the commit.
      assert.throws(
        () => store.page(pageIdOf(entries[0].key, 1)),
        (e: unknown) => e instanceof StoreError && e.code === "BAD_ARGUMENT" && /not in the table yet/.test((e as Error).message),
      );
      assert.equal(toHex(load.finish()), toHex(trieRoot(entries)));
      assert.ok(store.page(pageIdOf(entries[0].key, 1)) !== undefined);
      assert.ok(store.page(pageIdOf(entries[0].key, 0)) !== undefined);
    } finally {
      store.close();
    }
    const again = Store.open(dir);
    try {
      assert.equal(toHex(again.root), toHex(trieRoot(entries)));
      assert.ok(again.page(pageIdOf(entries[0].key, 1)) !== undefined);
    } finally {
      again.close();
    }
  });

  it("takes an async stream; a root other than the expected one, a bad or unsorted entry, or a failing stream leave it empty", async () => {
    const rng = new Rng(seed + 1);
    const entries = sortEntries(randomEntries(rng, 5000, false));
    const root = trieRoot(entries);
    async function* stream(list: readonly Entry[], failAt = -1) {
      for (let i = 0; i < list.length; i++) {
        if (i === failAt) throw new Error("stream broke");
        yield [list[i].key, list[i].value] as const;
      }
    }
    const assertEmpty = (dir: string) => {
      const db = open(dir);
      try {
        assert.equal(toHex(db.root), toHex(new Uint8Array(32)));
        assert.equal([...db.beginRead().entriesSync()].length, 0);
      } finally {
        db.close();
      }
    };
    const wrong = root.slice();
    wrong[5] ^= 1;
    const d1 = newDir();
    await assert.rejects(importEntries(d1, stream(entries), { expectRoot: wrong, chunk: 700 }), code("ROOT_MISMATCH"));
    assertEmpty(d1);
    const unsorted = entries.slice();
    [unsorted[4000], unsorted[4001]] = [unsorted[4001], unsorted[4000]];
    await assert.rejects(
      importEntries(d1, stream(unsorted), { chunk: 700 }),
      (e: unknown) => code("BAD_ARGUMENT")(e) && /entry 4001/.test((e as Error).message),
    );
    assertEmpty(d1);
    await assert.rejects(importEntries(d1, stream(entries, 3000), { chunk: 700 }), /stream broke/);
    assertEmpty(d1);
    const bad = entries.map((e, i) => (i === 2222 ? { key: e.key.subarray(0, 30), value: e.value } : e));
    await assert.rejects(importEntries(d1, bad, { chunk: 700 }), (e: unknown) => code("BAD_ARGUMENT")(e) && /entry 2222/.test((e as Error).message));
    assertEmpty(d1);
    const ok = await importEntries(d1, stream(entries), { expectRoot: root, chunk: 700 });
    assert.equal(toHex(ok.root), toHex(root));
    // Not empty any more.
    await assert.rejects(importEntries(d1, stream(entries.slice(0, 5))), code("NOT_EMPTY"));
    const db = open(d1);
    try {
      assert.equal(toHex(db.root), toHex(root));
      const all = [...db.beginRead().entriesSync()];
      assert.equal(all.length, entries.length);
      assert.ok(all.every(([k], i) => compareKeys(k, entries[i].key) === 0));
    } finally {
      db.close();
    }
  });

  it("builds the trie on the worker thread or inline alike, whatever the chunks; a failing worker fails the import and leaves it empty", async () => {
    const rng = new Rng(seed + 4);
    const sizes = [0, 32, 33, 1025];
    try {
      for (const [n, chunks] of [
        [0, [1]],
        [1, [1, 7]],
        [2, [1, 2]],
        [3000, [1, 7, 997, 65536]],
      ] as const) {
        const entries = sortEntries(randomEntries(rng, n, true).map((e) => ({ key: e.key, value: rng.bytes(rng.pick(sizes)) })));
        const root = toHex(trieRoot(entries));
        setLoadWorker("never");
        const base = newDir();
        assert.equal(toHex((await importEntries(base, entries, { chunk: 997 })).root), root, `n ${n}: inline root`);
        const keys = entries.map((e) => e.key);
        const sb = Store.open(base);
        const want = pagesOf(sb, keys);
        sb.close();
        setLoadWorker("always");
        for (const chunk of chunks) {
          const label = `n ${n}, chunk ${chunk}`;
          const a = newDir();
          assert.equal(toHex((await importEntries(a, entries, { chunk })).root), root, `${label}: root`);
          const sa = Store.open(a);
          try {
            const got = pagesOf(sa, keys);
            assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${label}: page ids`);
            for (const [id, page] of want) assert.ok(page === got.get(id), `${label}: page ${id}`);
            for (const e of entries) assert.equal(toHex(sa.get(e.key) as Uint8Array), toHex(e.value), `${label}: value`);
            assert.equal(sa.size, n);
          } finally {
            sa.close();
          }
        }
      }
      // The worker fails a chunk, or the end of the build: the import fails (FAILED), nothing is
      // committed, and the database takes the same import afterwards.
      const entries = sortEntries(randomEntries(rng, 5000, false));
      for (const failAt of [0, 2, 5]) {
        setLoadWorker("always", failAt);
        const d = newDir();
        await assert.rejects(
          importEntries(d, entries, { chunk: 1000 }),
          (e: unknown) => code("FAILED")(e) && /merkle build/.test((e as Error).message),
          `fail at ${failAt}`,
        );
        setLoadWorker("always");
        const db = open(d);
        try {
          assert.equal(toHex(db.root), toHex(new Uint8Array(32)), `fail at ${failAt}: empty`);
          assert.equal([...db.beginRead().entriesSync()].length, 0);
        } finally {
          db.close();
        }
        assert.equal(toHex((await importEntries(d, entries, { chunk: 1000 })).root), toHex(trieRoot(entries)), `fail at ${failAt}: imported after`);
      }
    } finally {
      setLoadWorker("auto");
    }
  });

  it("takes batches (three buffers), alone or between entries: the pages, values and root of the same entries one by one", async () => {
    const rng = new Rng(seed + 5);
    const sizes = [0, 1, 32, 33, 1024, 1025, 5000];
    try {
      for (const mode of ["never", "always"] as const) {
        setLoadWorker(mode);
        for (const [n, chunk] of [
          [0, 16],
          [1, 1],
          [2, 1],
          [3000, 997],
          [9000, 16384],
        ] as const) {
          const entries = sortEntries(randomEntries(rng, n, true).map((e) => ({ key: e.key, value: rng.bytes(rng.pick(sizes)) })));
          const label = `${mode}, n ${n}, chunk ${chunk}`;
          const base = newDir();
          const want = await importEntries(base, entries, { chunk });
          assert.equal(toHex(want.root), toHex(trieRoot(entries)), `${label}: root`);
          // Cut into runs: a batch, some entries, a batch... (a batch of 0 entries included).
          const items: ImportItem[] = [];
          const batches: EntryBatch[] = [];
          for (let at = 0; at <= n; ) {
            const len = rng.int(Math.max(2, n >> 2));
            const b = batchOf(entries.slice(at, at + len));
            items.push(b);
            batches.push(b);
            at += len;
            const ones = rng.int(3);
            for (const e of entries.slice(at, at + ones)) items.push(rng.int(2) === 0 ? e : [e.key, e.value]);
            at += ones;
            if (at >= n && rng.int(2) === 0) break;
          }
          const seen: number[] = [];
          const a = newDir();
          // The caller reuses a batch's buffers once the import asks for the next item: it must
          // have copied what it keeps (large values too, which the build thread hashes later).
          async function* reusing() {
            for (const item of items) {
              yield item;
              if (batches.includes(item as EntryBatch)) {
                (item as EntryBatch).keys.fill(0xee);
                (item as EntryBatch).values.fill(0xee);
              }
            }
          }
          const got = await importEntries(a, reusing(), { chunk, onProgress: (c) => seen.push(c) });
          assert.equal(toHex(got.root), toHex(want.root), `${label}: root`);
          assert.equal(got.count, n, `${label}: count`);
          assert.ok(seen.every((c, i) => i === 0 || c >= seen[i - 1]) && (n === 0 || seen[seen.length - 1] === n), `${label}: progress ${seen.join(",")}`);
          const sa = Store.open(a);
          const sb = Store.open(base);
          try {
            const keys = entries.map((e) => e.key);
            const pa = pagesOf(sa, keys);
            const pb = pagesOf(sb, keys);
            assert.deepEqual([...pa.keys()].sort(), [...pb.keys()].sort(), `${label}: page ids`);
            for (const [id, page] of pb) assert.ok(page === pa.get(id), `${label}: page ${id}`);
            for (const e of entries) assert.equal(toHex(sa.get(e.key) as Uint8Array), toHex(e.value), `${label}: value`);
            assert.equal(sa.size, n);
          } finally {
            sa.close();
            sb.close();
          }
        }
      }
    } finally {
      setLoadWorker("auto");
    }
  });

  it("refuses a bad batch with BAD_ARGUMENT naming what is wrong, and leaves the database empty", async () => {
    const rng = new Rng(seed + 6);
    const entries = sortEntries(randomEntries(rng, 3000, false));
    const good = batchOf(entries);
    const dir = newDir();
    const offsets = (edit: (o: Uint32Array) => void) => {
      const o = good.offsets.slice();
      edit(o);
      return o;
    };
    const swapped = batchOf(entries.map((e, i) => (i === 2001 ? entries[2002] : i === 2002 ? entries[2001] : e)));
    const repeated = batchOf(entries.map((e, i) => (i === 1500 ? entries[1499] : e)));
    const cases: [string, ImportItem[], RegExp][] = [
      ["keys not a whole number of keys", [{ ...good, keys: good.keys.subarray(1) }], /batch\.keys must be a Uint8Array of 31-byte keys, got 92999 bytes/],
      ["keys not bytes", [{ ...good, keys: [1, 2] as unknown as Uint8Array }], /batch\.keys must be a Uint8Array/],
      ["values not bytes", [{ ...good, values: "ab" as unknown as Uint8Array }], /batch\.values must be a Uint8Array, got string/],
      ["offsets one short", [{ ...good, offsets: good.offsets.subarray(1) }], /batch\.offsets must be a Uint32Array of 3001 items .* got 3000/],
      ["offsets of another type", [{ ...good, offsets: Int32Array.from(good.offsets) as unknown as Uint32Array }], /batch\.offsets must be a Uint32Array/],
      [
        "offsets going back",
        [{ ...good, offsets: offsets((o) => (o[2500] = o[2499] - 1)) }],
        /batch\.offsets\[2500\] is .* before offsets\[2499\].*entry 2499/,
      ],
      ["offsets past the values", [{ ...good, values: good.values.subarray(0, good.values.length - 1) }], /batch\.offsets\[3000\] is .* past the/],
      ["keys out of order", [swapped], /entry 2002 key 0x[0-9a-f]+ is not after the previous key/],
      ["a repeated key", [repeated], /entry 1500 key .* is not after the previous key/],
      ["a batch after a greater key", [entries[2999], batchOf(entries.slice(0, 10))], /entry 1 key .* is not after the previous key/],
    ];
    for (const [what, items, message] of cases) {
      await assert.rejects(importEntries(dir, items, { chunk: 1000 }), (e: unknown) => code("BAD_ARGUMENT")(e) && message.test((e as Error).message), what);
      const db = open(dir);
      try {
        assert.equal(toHex(db.root), toHex(new Uint8Array(32)), `${what}: empty`);
      } finally {
        db.close();
      }
    }
    assert.equal(toHex((await importEntries(dir, [good], { chunk: 1000 })).root), toHex(trieRoot(entries)));
  });

  it("the worker threads do not keep the process alive, and start under --input-type=module", () => {
    const dir = newDir();
    const script = `
      import { importEntries } from ${JSON.stringify(new URL("../../src/db/index.ts", import.meta.url).href)};
      const entries = [];
      for (let i = 0; i < 20000; i++) {
        const key = new Uint8Array(31);
        key[0] = i >> 8; key[1] = i & 255; key[2] = 1;
        entries.push([key, new Uint8Array(32).fill(i & 255)]);
      }
      const r = await importEntries(${JSON.stringify(dir)}, entries, { chunk: 8192 });
      console.log(r.count);
    `;
    // As -e with --input-type=module, which a worker would inherit: both threads (the build's
    // and the write-behind) start CommonJS sources, and must not take this process's flags.
    const out = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 120_000 });
    assert.equal(out.signal, null, `the child did not exit by itself: ${out.stderr}`);
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout.trim(), "20000");
  });
});
