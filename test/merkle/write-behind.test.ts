// Write-behind of the page store's in-place apply: pages read while the worker writes come from
// memory, the table it leaves is byte-equal to an inline apply's, and a failed write stops the
// store until a reopen repairs the table from the WAL.
import assert from "node:assert/strict";
import { closeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type PageChange, PageStore, type TableInfo } from "../../src/merkle/page-store.ts";
import { IoError } from "../../src/io/index.ts";
import { PageStoreError } from "../../src/merkle/page-store-errors.ts";
import { tableFileName } from "../../src/merkle/table-file.ts";
import { Rng, hex, same, tempDir } from "../kv/helpers.ts";
import { failingWorkerFs, makePage, randomPageId } from "./page-store-helpers.ts";

/** Random commits: inserts, rewrites and deletes over a growing set of page ids. */
function* commits(seed: number, rounds: number, perRound: number): Generator<PageChange[]> {
  const rng = new Rng(seed);
  const live: Uint8Array[] = [];
  for (let r = 0; r < rounds; r++) {
    const changes: PageChange[] = [];
    const touched = new Set<string>();
    for (let i = 0; i < perRound; i++) {
      const roll = rng.int(10);
      let id: Uint8Array;
      if (roll < 6 || live.length === 0) {
        id = randomPageId(rng, 6);
        live.push(id);
      } else {
        id = live[rng.int(live.length)];
      }
      if (touched.has(hex(id))) continue;
      touched.add(hex(id));
      changes.push({ id, page: roll === 9 ? null : makePage(id, r * 1000 + i) });
    }
    yield changes;
  }
}

describe("page store write-behind", () => {
  it("serves reads from memory while the worker writes, and leaves the table an inline apply would", () => {
    const { dir, cleanup } = tempDir("bmt-write-behind");
    try {
      const behindDir = join(dir, "behind");
      const inlineDir = join(dir, "inline");
      // No cache: every read goes through the bucket loader, to memory or to the file.
      let behind = PageStore.open(behindDir, { initialBuckets: 64, cacheBytes: 0, pinDepth: -1 });
      let inline = PageStore.open(inlineDir, { initialBuckets: 64, cacheBytes: 0, pinDepth: -1, writeBehind: false });
      const model = new Map<string, { id: Uint8Array; page: Uint8Array | null }>();
      let committed: { seq: number; table: TableInfo } | undefined;
      let seq = 0;
      for (const changes of commits(7, 40, 300)) {
        seq++;
        const table = behind.prepare(changes, seq);
        assert.deepEqual(inline.prepare(changes, seq), table);
        behind.apply();
        inline.apply();
        committed = { seq, table };
        for (const c of changes) model.set(hex(c.id), c);
        // Straight after apply, while the worker is most likely still writing.
        for (const { id, page } of model.values()) {
          const got = behind.get(id);
          if (page === null) assert.equal(got, undefined, `seq ${seq}: deleted page ${hex(id)} absent`);
          else assert.ok(got !== undefined && same(got, page), `seq ${seq}: page ${hex(id)} as committed`);
        }
        if (seq % 10 === 0) {
          behind.close();
          inline.close();
          const file = tableFileName(table.gen);
          assert.ok(same(readFileSync(join(behindDir, file)), readFileSync(join(inlineDir, file))), `seq ${seq}: table files equal`);
          behind = PageStore.open(behindDir, { cacheBytes: 0, pinDepth: -1, committedSeq: seq, table });
          inline = PageStore.open(inlineDir, { cacheBytes: 0, pinDepth: -1, committedSeq: seq, table, writeBehind: false });
        }
      }
      assert.ok(committed !== undefined && committed.table.buckets > 64, "the table grew on the way");
      behind.close();
      inline.close();
    } finally {
      cleanup();
    }
  });

  it("stops the store after a failed write; reopening repairs the table from the WAL", () => {
    const { dir, cleanup } = tempDir("bmt-write-behind");
    const readOnlyFds: number[] = [];
    try {
      // The table file hands the worker a descriptor it cannot write through.
      const failing = failingWorkerFs((path) => path.endsWith(tableFileName(0)), readOnlyFds);
      const store = PageStore.open(dir, { fs: failing, initialBuckets: 1024 });
      const [first, second] = [...commits(11, 2, 50)];
      const table = store.prepare(first, 1);
      store.apply();
      // The loss shows at the next write, which would overwrite the only repair: the WAL.
      // The worker's system error is kept, typed: the write through a read-only descriptor.
      const isFailed = (e: unknown) => {
        const io = (e as Error).cause;
        return (
          e instanceof PageStoreError &&
          e.code === "FAILED" &&
          io instanceof IoError &&
          io.op === "write" &&
          io.code === "EBADF" &&
          io.syscall === "write" &&
          io.path.endsWith(tableFileName(0))
        );
      };
      assert.throws(() => store.prepare(second, 2), isFailed);
      assert.throws(
        () => store.prepare(second, 2),
        (e: unknown) => e instanceof PageStoreError && e.code === "FAILED",
      );
      // Reads still answer from memory.
      for (const c of first) if (c.page !== null) assert.ok(same(store.get(c.id)!, c.page));
      store.close();
      const reopened = PageStore.open(dir, { committedSeq: 1, table, cacheBytes: 0, pinDepth: -1 });
      assert.equal(reopened.stats().replays, 1, "the WAL was replayed");
      for (const c of first) {
        const got = reopened.get(c.id);
        if (c.page === null) assert.equal(got, undefined);
        else assert.ok(got !== undefined && same(got, c.page), `page ${hex(c.id)} repaired`);
      }
      reopened.close();
    } finally {
      for (const fd of readOnlyFds) closeSync(fd);
      cleanup();
    }
  });
});
