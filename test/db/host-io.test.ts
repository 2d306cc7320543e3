// I/O failures on the host's file system, as a node meets them: the typed error (a DbError whose
// cause is the IoError naming the operation and the path, whose cause is Node's own error with
// its code, errno and syscall), and nothing left behind or changed by a refused open.
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DbError, IoError, open } from "../../src/db/index.ts";
import { DirLock, isLockFileName } from "../../src/store/lock.ts";
import { toHex } from "../../src/trie/index.ts";
import { failingWorkerFs } from "../merkle/page-store-helpers.ts";
import { tempDirs } from "./helpers.ts";

const newDir = tempDirs("bmt-host-io-");
const key = (n: number) => new Uint8Array(31).fill(n);

/** No live writer's lock: the next writer takes it. */
function lockReleased(dir: string): boolean {
  DirLock.acquire(dir).release();
  return true;
}

/** Asserts `f` throws a DbError of `code` caused by an IoError of `op` with system code `sys`. */
function assertIo(f: () => unknown, code: string, op: string, sys: string, pathEnd: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DbError, `a DbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    const io = e.cause;
    assert.ok(io instanceof IoError, `cause ${String(io)}`);
    assert.equal(io.op, op, io.message);
    assert.equal(io.code, sys, io.message);
    assert.ok(io.path.endsWith(pathEnd), `path ${io.path}`);
    const raw = io.cause as NodeJS.ErrnoException;
    assert.equal(raw.code, sys, "Node's own error is the IoError's cause");
    assert.equal(typeof raw.errno, "number");
    assert.equal(typeof raw.syscall, "string");
    return true;
  });
}

/** The files and sizes under `dir`, but for the writer lock's (a refused open leaves its lock dead). */
function listing(dir: string): string {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => !isLockFileName(name))
    .sort()
    .map((name) => {
      const s = statSync(join(dir, name));
      return `${name}:${s.isDirectory() ? "dir" : s.size}`;
    })
    .join(" ");
}

function makeDb(): { dir: string; root: string } {
  const dir = newDir();
  const db = open(dir);
  const s = db.beginWrite();
  for (let n = 1; n <= 40; n++) s.set(key(n), Uint8Array.of(n, n));
  s.finishSync().commitSync();
  const root = toHex(db.root);
  db.close();
  return { dir, root };
}

describe("db: I/O failures on the host file system", () => {
  it("a path that is a regular file: IO (mkdir EEXIST), the file untouched", () => {
    const path = newDir();
    writeFileSync(path, "not a database");
    assertIo(() => open(path), "IO", "mkdir", "EEXIST", path);
    assert.equal(readFileSync(path, "utf8"), "not a database");
  });

  it("a path under a regular file: IO (ENOTDIR), nothing created", () => {
    const file = newDir();
    writeFileSync(file, "x");
    assertIo(() => open(join(file, "db")), "IO", "mkdir", "ENOTDIR", join(file, "db"));
    assert.equal(readFileSync(file, "utf8"), "x");
  });

  for (const name of ["redo.0", "redo.1", "values", "rollback.1", join("merkle", "merkle.wal")]) {
    it(`a database whose ${name} is a directory: IO (EISDIR), the lock released, nothing else changed; it opens again once repaired`, () => {
      const { dir, root } = makeDb();
      const saved = readFileSync(join(dir, name));
      rmSync(join(dir, name));
      mkdirSync(join(dir, name));
      const before = listing(dir);
      assertIo(() => open(dir), "IO", "open", "EISDIR", name);
      assert.equal(listing(dir), before, "the directory is as it was");
      assert.ok(lockReleased(dir), "the lock is released");
      rmSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name), saved);
      const db = open(dir);
      assert.equal(toHex(db.root), root);
      db.close();
    });
  }

  it("a page WAL on a full device: the commit that meets the checkpoint's write fails with FAILED (ENOSPC), the handle stays failed, the reopen is at the last acknowledged commit", (t) => {
    if (!existsSync("/dev/full")) {
      t.skip("no /dev/full on this machine");
      return;
    }
    // (The redo log cannot stand on /dev/full: it must be read, header first, at open.)
    const { dir } = makeDb();
    const wal = join(dir, "merkle", "merkle.wal");
    rmSync(wal);
    symlinkSync("/dev/full", wal);
    const db = open(dir);
    let acknowledged = toHex(db.root);
    let n = 0;
    for (; n < 40; n++) {
      const s = db.beginWrite();
      s.set(key(100 + n), Uint8Array.of(n));
      const finished = s.finishSync();
      if (n < 32) {
        finished.commitSync();
        acknowledged = toHex(db.root);
        continue;
      }
      // The checkpoint the 32nd commit began writes its WAL before the next commit's own writes.
      assertIo(() => finished.commitSync(), "FAILED", "write", "ENOSPC", "merkle.wal");
      break;
    }
    assert.equal(n, 32, "the commit after the checkpoint met the full device");
    assert.throws(
      () => db.beginWrite(),
      (e: unknown) => e instanceof DbError && e.code === "FAILED",
    );
    db.close();
    rmSync(wal);
    writeFileSync(wal, "");
    const again = open(dir);
    assert.equal(toHex(again.root), acknowledged);
    assert.deepEqual(again.beginRead().get(key(131)), Uint8Array.of(31));
    again.close();
  });

  it("damaged bucket meta bytes are CORRUPT, not a second close's EBADF", () => {
    // Four meta units; damage one with no page in it, which the last checkpoint's WAL (replayed
    // at open) does not rewrite, so open meets it.
    const dir = newDir();
    const db = open(dir, { merkleInitialBuckets: 16384 });
    const s = db.beginWrite();
    for (let n = 1; n <= 40; n++) s.set(key(n), Uint8Array.of(n));
    s.finishSync().commitSync();
    db.close();
    const table = join(dir, "merkle", "merkle-table.0");
    const bytes = readFileSync(table);
    let unit = 0;
    while (bytes.subarray(4096 * (1 + unit), 4096 * (2 + unit)).some((b) => b !== 0)) unit++;
    assert.ok(unit < 4, "a unit with no page");
    bytes[4096 * (1 + unit) + 7] ^= 0x5a;
    writeFileSync(table, bytes);
    assert.throws(
      () => open(dir),
      (e: unknown) => (e as { code?: string }).code === "CORRUPT" && !/EBADF/.test(String(e)),
    );
    assert.ok(lockReleased(dir), "the lock is released");
  });
});

describe("db: a failed write of the write-behind worker", () => {
  it("fails the commit that waits for it (FAILED, the worker's EBADF as an IoError), and the reopen is at the last acknowledged commit or the failed one", async () => {
    const dir = newDir();
    const fds: number[] = [];
    try {
      // The page WAL hands the worker a read-only descriptor: its checkpoint write fails.
      const fs = failingWorkerFs((path) => path.endsWith("merkle.wal"), fds);
      const db = open(dir, { fs, lock: false });
      let last = "";
      let inFlight = "";
      let acknowledged = 0;
      let failure: unknown = null;
      // The checkpoint of commit 32 runs in the background; how many commits go on beside it
      // before its write fails depends on the machine, but at most MAX_AHEAD (32) do: the next
      // waits for it. So the failure comes well before commit 100 however busy the machine is.
      for (let n = 1; n <= 100 && failure === null; n++) {
        const s = db.beginWrite();
        s.set(key(n), Uint8Array.of(n));
        try {
          const finished = await s.finish();
          inFlight = toHex(finished.root);
          await finished.commit();
          last = toHex(db.root);
          acknowledged = n;
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(failure instanceof DbError && failure.code === "FAILED", `a commit failed: ${String(failure)}`);
      const io = failure.cause;
      assert.ok(
        io instanceof IoError && io.op === "write" && io.code === "EBADF" && io.syscall === "write" && io.path.endsWith("merkle.wal"),
        `cause ${String(io)}`,
      );
      assert.throws(
        () => db.beginWrite(),
        (e: unknown) => e instanceof DbError && e.code === "FAILED",
      );
      db.close();
      // The failed commit's redo record may have been synced before the checkpoint beside it
      // failed the handle: then the reopen has it (the state after it), never anything older.
      const again = open(dir);
      const reopened = toHex(again.root);
      assert.ok(reopened === last || reopened === inFlight, `reopened at ${reopened}: neither the last acknowledged ${last} nor the failed ${inFlight}`);
      const read = again.beginRead();
      for (let n = 1; n <= acknowledged; n++) assert.deepEqual(read.get(key(n)), Uint8Array.of(n), `acknowledged commit ${n}`);
      again.close();
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });
});
