// What a database user can catch: only `DbError`s. Damage the layers below report in their own
// terms (a value page or a merkle bucket failing its checksum) reaches the caller as a
// `DbCorruptionError` (code CORRUPT) naming the file and offset, with the lower layer's error
// as `cause`; an error of a kind the database does not type is `INTERNAL`, never raw.
import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { toDbError } from "../../src/db/boundary.ts";
import { DbCorruptionError, DbError, open } from "../../src/db/index.ts";
import { KvCorruptionError, KvError } from "../../src/kv/index.ts";
import { ELISION_THRESHOLD } from "../../src/merkle/page.ts";
import { PageStoreCorruptionError } from "../../src/merkle/page-store-errors.ts";
import { StoreError } from "../../src/store/index.ts";
import { TrieError } from "../../src/trie/index.ts";
import { Rng } from "../support/random.ts";
import { tempDirs } from "./helpers.ts";

const dir = tempDirs("bmt-db-errors-");

function flipByte(file: string, offset: number): void {
  const fd = openSync(file, "r+");
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] ^= 0x5a;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

/** Runs every read kind over `db`; returns what each threw (or null). */
function readAll(db: ReturnType<typeof open>, keys: Uint8Array[]): unknown[] {
  const errors: unknown[] = [];
  const attempt = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      errors.push(e);
    }
  };
  const snap = db.beginRead();
  attempt(() => [...snap.entriesSync()]);
  for (const k of keys) attempt(() => snap.get(k));
  attempt(() => snap.proveMany(keys));
  for (const k of keys.slice(0, 50)) attempt(() => snap.prove(k));
  attempt(() => {
    const s = db.beginWrite();
    for (const k of keys.slice(0, 200)) s.set(k, new Uint8Array([1, 2, 3]));
    s.finishSync();
  });
  attempt(() => snap.release());
  return errors;
}

describe("db: errors a database user can catch", () => {
  it("damage to the value tree or the merkle table reaches readers as DbCorruptionError with file, offset and cause", async () => {
    const rng = new Rng(5);
    // Enough keys for pages at page-depth 1 (more than the 64-bucket table holds, so it grows).
    const keys = Array.from({ length: (3000 * ELISION_THRESHOLD) / 16 }, () => rng.bytes(31));
    for (const [which, cause] of [
      ["values", KvCorruptionError],
      ["merkle table", PageStoreCorruptionError],
    ] as const) {
      const path = dir();
      const db = open(path, { merkleInitialBuckets: 64, valueCacheBytes: 64 * 1024, merkleCacheBytes: 64 * 1024 });
      const s = db.beginWrite();
      for (const k of keys) s.set(k, rng.bytes(40));
      await (await s.finish()).commit();
      db.close();
      // The merkle table in force is the newest generation (it grew during the commit).
      const tables = readdirSync(join(path, "merkle"))
        .filter((f) => f.startsWith("merkle-table."))
        .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
      const file = which === "values" ? "values" : join("merkle", tables[tables.length - 1]);
      // Flip a byte in the middle of every 4 KiB page past the first two (a live page is hit).
      const size = statSync(join(path, file)).size;
      for (let at = 2 * 4096 + 2000; at < size; at += 4096 * 3) flipByte(join(path, file), at);
      let errors: unknown[];
      try {
        const again = open(path, { valueCacheBytes: 64 * 1024, merkleCacheBytes: 64 * 1024 });
        errors = readAll(again, keys);
        again.close();
      } catch (e) {
        errors = [e];
      }
      assert.ok(errors.length > 0, `damage to ${file} went unnoticed`);
      for (const e of errors) {
        assert.ok(e instanceof DbError, `${file}: a ${(e as Error)?.name} escaped: ${(e as Error)?.message}`);
        assert.equal(e.code, "CORRUPT", `${file}: ${e.message}`);
        assert.ok(e instanceof DbCorruptionError, `${file}: not a DbCorruptionError`);
        assert.equal(e.file, join(path, file));
        assert.equal(typeof e.offset, "number");
        assert.ok(e.cause instanceof cause || (e.cause as Error)?.cause instanceof cause, `${file}: cause is ${(e.cause as Error)?.name}`);
      }
    }
  });

  it("lower layers' errors convert by code; an untyped error is INTERNAL with the original as cause", () => {
    const corrupt = toDbError(new KvCorruptionError("/x/values", 8192, "checksum"));
    assert.ok(corrupt instanceof DbCorruptionError);
    assert.deepEqual([corrupt.code, corrupt.file, corrupt.offset], ["CORRUPT", "/x/values", 8192]);
    const wrapped = toDbError(new StoreError("CORRUPT", "replay failed", { cause: new PageStoreCorruptionError("/x/merkle/t", 4096, "bucket") }));
    assert.ok(wrapped instanceof DbCorruptionError);
    assert.deepEqual([wrapped.file, wrapped.offset], ["/x/merkle/t", 4096]);
    assert.equal(toDbError(new StoreError("LOCKED", "held")).code, "LOCKED");
    assert.equal(toDbError(new StoreError("NOT_EMPTY", "x")).code, "BAD_ARGUMENT");
    assert.equal(toDbError(new KvError("STALE", "x")).code, "STALE");
    assert.equal(toDbError(new KvError("BAD_META", "x")).code, "CORRUPT");
    assert.equal(toDbError(new TrieError("BAD_PATH", "x")).code, "CORRUPT");
    const raw = new TypeError("boom");
    const internal = toDbError(raw);
    assert.deepEqual([internal.code, internal.cause], ["INTERNAL", raw]);
    const same = new DbError("CLOSED", "closed");
    assert.equal(toDbError(same), same);
  });
});
