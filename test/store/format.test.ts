import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { after, describe, it } from "node:test";
import { Store, StoreError } from "../../src/store/index.ts";
import { StoreReader } from "../../src/store/reader.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-format-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe(`store: on-disk format (seed ${seed})`, () => {
  it("refuses a database of another format version with a typed error and leaves it as it was", () => {
    const rng = new Rng(seed);
    const dir = join(tmp, "old");
    const store = Store.open(dir);
    store.commit(Array.from({ length: 100 }, () => [rng.bytes(31), rng.bytes(8)] as [Uint8Array, Uint8Array]));
    store.close();
    // Rewrite both record slots as a future format, checksums recomputed: a valid record the
    // build cannot read.
    const metaPath = join(dir, "meta");
    const meta = new Uint8Array(readFileSync(metaPath));
    const crcAt = findCrc(meta);
    for (const base of [0, 4096]) {
      if (meta.length < base + crcAt + 4) continue;
      const dv = new DataView(meta.buffer, base);
      if (dv.getUint32(0, true) === 0) continue;
      dv.setUint32(4, 99, true);
      dv.setUint32(crcAt, crc32(meta.subarray(base, base + crcAt)), true);
    }
    writeFileSync(metaPath, meta);
    const valuesBefore = readFileSync(join(dir, "values"));
    assert.throws(
      () => Store.open(dir),
      (e: unknown) => e instanceof StoreError && e.code === "VERSION" && /format 99/.test(e.message),
    );
    assert.ok(readFileSync(join(dir, "values")).equals(valuesBefore), "the values file is untouched");
    assert.equal(statSync(join(dir, "values")).size, valuesBefore.length);
  });
});

describe(`store: upgrade from format 2 (seed ${seed})`, () => {
  /** A closed database made to look as format 2 wrote it: meta records of version 2, `redo` given. */
  function format2(name: string, redo: Uint8Array): { dir: string; root: string; entries: number } {
    const rng = new Rng(seed + 1);
    const dir = join(tmp, name);
    const store = Store.open(dir);
    store.commit(Array.from({ length: 100 }, () => [rng.bytes(31), rng.bytes(8)] as [Uint8Array, Uint8Array]));
    const root = Buffer.from(store.root).toString("hex");
    store.close();
    const metaPath = join(dir, "meta");
    const meta = new Uint8Array(readFileSync(metaPath));
    const crcAt = findCrc(meta);
    for (const base of [0, 4096]) {
      if (meta.length < base + crcAt + 4) continue;
      const dv = new DataView(meta.buffer, base);
      if (dv.getUint32(0, true) === 0) continue;
      dv.setUint32(4, 2, true);
      dv.setUint32(crcAt, crc32(meta.subarray(base, base + crcAt)), true);
    }
    writeFileSync(metaPath, meta);
    writeFileSync(join(dir, "redo"), redo);
    return { dir, root, entries: 100 };
  }

  /** The start of a format-2 redo record numbered `seq` ("BMTR", length, seq). */
  function oldRecord(seq: number): Uint8Array {
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 0x52544d42, true);
    dv.setUint32(4, 64, true);
    dv.setBigUint64(8, BigInt(seq), true);
    return b;
  }

  it("a cleanly closed format-2 database is upgraded by a writer's open, and keeps its state", () => {
    for (const [name, redo] of [
      ["empty-log", new Uint8Array(0)],
      ["old-records", oldRecord(1)],
    ] as const) {
      const { dir, root, entries } = format2(name, redo);
      // Read-only handles cannot upgrade: refused, nothing changed.
      const meta = readFileSync(join(dir, "meta"));
      assert.throws(
        () => StoreReader.open(dir),
        (e: unknown) => e instanceof StoreError && e.code === "VERSION" && /format-2/.test(e.message),
      );
      assert.ok(readFileSync(join(dir, "meta")).equals(meta));
      const store = Store.open(dir);
      assert.equal(Buffer.from(store.root).toString("hex"), root, name);
      assert.equal(store.size, entries);
      store.commit([[new Uint8Array(31).fill(7), Uint8Array.of(7)]]);
      const after = Buffer.from(store.root).toString("hex");
      store.close();
      assert.ok(statSync(join(dir, "redo")).size >= 12288, "the log has its header");
      const again = Store.open(dir);
      assert.equal(Buffer.from(again.root).toString("hex"), after);
      again.close();
    }
  });

  it("a format-2 database with commits in its old log is refused with VERSION, unchanged", () => {
    // The commit made seq 1 and the close checkpointed it: a record 2 at the log's start is a
    // commit after the commit point.
    const { dir: d2 } = format2("pending", oldRecord(2));
    const before = [readFileSync(join(d2, "meta")), readFileSync(join(d2, "redo")), readFileSync(join(d2, "values"))];
    assert.throws(
      () => Store.open(d2),
      (e: unknown) => e instanceof StoreError && e.code === "VERSION" && /commits in its redo log/.test(e.message),
    );
    const now = [readFileSync(join(d2, "meta")), readFileSync(join(d2, "redo")), readFileSync(join(d2, "values"))];
    now.forEach((b, i) => assert.ok(b.equals(before[i]), `file ${i} unchanged`));
  });
});

/** The record's checksum offset: the one position where the stored u32 is the CRC of what precedes it. */
function findCrc(meta: Uint8Array): number {
  const dv = new DataView(meta.buffer, meta.byteOffset);
  for (let at = 16; at + 4 <= 4096; at += 4) {
    if (dv.getUint32(at, true) === crc32(meta.subarray(0, at)) && dv.getUint32(at, true) !== 0) return at;
  }
  throw new Error("no record checksum found");
}
