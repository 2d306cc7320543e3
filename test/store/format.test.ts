import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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
    // A future format: a valid record the build cannot read.
    setMetaVersion(dir, 99);
    const valuesBefore = readFileSync(join(dir, "values"));
    assert.throws(
      () => Store.open(dir),
      (e: unknown) => e instanceof StoreError && e.code === "VERSION" && /format 99/.test(e.message),
    );
    assert.ok(readFileSync(join(dir, "values")).equals(valuesBefore), "the values file is untouched");
    assert.equal(statSync(join(dir, "values")).size, valuesBefore.length);
  });
});

describe(`store: databases of earlier formats (seed ${seed})`, () => {
  it("refuses formats 2, 3 (pages elided under 16 leaves) and 4 (a redo log of one file) with VERSION naming them, writer and reader, changing nothing", () => {
    const rng = new Rng(seed + 1);
    for (const version of [2, 3, 4]) {
      const dir = join(tmp, `format-${version}`);
      const store = Store.open(dir);
      store.commit(Array.from({ length: 100 }, () => [rng.bytes(31), rng.bytes(8)] as [Uint8Array, Uint8Array]));
      store.close();
      setMetaVersion(dir, version);
      const files = () =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name))
          .sort();
      const names = files();
      const before = names.map((f) => readFileSync(f));
      const refused = (e: unknown) =>
        e instanceof StoreError &&
        e.code === "VERSION" &&
        new RegExp(`format ${version} is not supported`).test(e.message) &&
        (version === 4 ? /redo log is one file/ : /16 leaves/).test(e.message);
      assert.throws(() => Store.open(dir), refused, `format ${version}: writer`);
      assert.throws(() => StoreReader.open(dir), refused, `format ${version}: reader`);
      assert.deepEqual(files(), names, `format ${version}: no file made`);
      names.forEach((f, i) => assert.ok(readFileSync(f).equals(before[i]), `format ${version}: ${f} unchanged`));
    }
  });
});

/** Rewrites both record slots of the database at `dir` as format `version`, checksums recomputed. */
function setMetaVersion(dir: string, version: number): void {
  const metaPath = join(dir, "meta");
  const meta = new Uint8Array(readFileSync(metaPath));
  const crcAt = findCrc(meta);
  for (const base of [0, 4096]) {
    if (meta.length < base + crcAt + 4) continue;
    const dv = new DataView(meta.buffer, base);
    if (dv.getUint32(0, true) === 0) continue;
    dv.setUint32(4, version, true);
    dv.setUint32(crcAt, crc32(meta.subarray(base, base + crcAt)), true);
  }
  writeFileSync(metaPath, meta);
}

/** The record's checksum offset: the one position where the stored u32 is the CRC of what precedes it. */
function findCrc(meta: Uint8Array): number {
  const dv = new DataView(meta.buffer, meta.byteOffset);
  for (let at = 16; at + 4 <= 4096; at += 4) {
    if (dv.getUint32(at, true) === crc32(meta.subarray(0, at)) && dv.getUint32(at, true) !== 0) return at;
  }
  throw new Error("no record checksum found");
}
