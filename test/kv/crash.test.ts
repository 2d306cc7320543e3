// Crash consistency: a crash at any write or sync of a batch-and-commit, with any subset of the
// unsynced writes reaching the disk (whole, torn or not at all), reopens to the state before
// or after the commit, never a mix, with every page accounted for.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KvError, type KvTree, openKv } from "../../src/kv/index.ts";
import { IoError, type KvFile } from "../../src/io/index.ts";
import { Rng, hex, same } from "./helpers.ts";

class Crash extends Error {}
/** The crash, as thrown by the file or as the cause of the `IoError` the file seam makes of it. */
const isCrash = (e: unknown): boolean => e instanceof Crash || (e instanceof IoError && e.cause instanceof Crash);

/** A file whose bytes since the last sync are a list of writes that a crash may tear or drop. */
class CrashFile implements KvFile {
  readonly path = "crash.db";
  /** Bytes as of the last sync. */
  durable: Uint8Array;
  /** Writes since the last sync, in order. */
  pending: { pos: number; bytes: Uint8Array }[] = [];
  /** Mutating calls left before the crash (Infinity: never). */
  budget = Infinity;
  #current: Uint8Array;
  #length: number;

  constructor(image: Uint8Array = new Uint8Array(0)) {
    this.durable = image.slice();
    this.#current = image.slice();
    this.#length = image.length;
  }

  #tick(): void {
    if (--this.budget < 0) throw new Crash("crash");
  }

  read(buf: Uint8Array, position: number): number {
    const n = Math.max(0, Math.min(buf.length, this.#length - position));
    buf.set(this.#current.subarray(position, position + n));
    return n;
  }
  write(buf: Uint8Array, position: number): void {
    this.#tick();
    this.pending.push({ pos: position, bytes: buf.slice() });
    const end = position + buf.length;
    if (end > this.#current.length) {
      const grown = new Uint8Array(Math.max(end, this.#current.length * 2));
      grown.set(this.#current);
      this.#current = grown;
    }
    this.#current.set(buf, position);
    this.#length = Math.max(this.#length, end);
  }
  sync(): void {
    this.#tick();
    this.durable = this.#current.slice(0, this.#length);
    this.pending = [];
  }
  truncate(size: number): void {
    this.#tick();
    const img = new Uint8Array(size);
    img.set(this.#current.subarray(0, Math.min(size, this.#length)));
    this.#current = img;
    this.#length = size;
    this.durable = img.slice();
    this.pending = [];
  }
  size(): number {
    return this.#length;
  }
  close(): void {}

  /** The disk after a crash: the synced bytes plus some of the pending writes, some torn. */
  afterCrash(rng: Rng): Uint8Array {
    let end = this.durable.length;
    for (const w of this.pending) end = Math.max(end, w.pos + w.bytes.length);
    const img = new Uint8Array(end);
    img.set(this.durable);
    let length = this.durable.length;
    for (const w of this.pending) {
      const r = rng.float();
      if (r < 0.4) continue; // lost
      // Whole, or torn at a 512-byte sector boundary.
      const part = r < 0.7 ? w.bytes : w.bytes.subarray(0, 512 * rng.int(Math.ceil(w.bytes.length / 512)));
      img.set(part, w.pos);
      length = Math.max(length, w.pos + part.length);
    }
    return img.subarray(0, length);
  }
}

function key(i: number): Uint8Array {
  const k = new Uint8Array(31);
  k[0] = (i * 37) & 0xff;
  k[1] = i >> 8;
  k[2] = i & 0xff;
  return k;
}

function matches(tree: KvTree, model: Map<string, Uint8Array>): boolean {
  if (tree.size !== model.size) return false;
  for (const [k, v] of tree.entries()) if (!same(v, model.get(hex(k)))) return false;
  return true;
}

test("a crash at any write or sync of a commit reopens to before or after it", () => {
  const rng = new Rng(1234);
  const opts = { maxDirtyBytes: 1, cacheBytes: 1 << 20 }; // spill dirty pages early: more crash points
  const outcomes = { before: 0, after: 0 };
  let points = 0;
  for (let round = 0; round < 2; round++) {
    // A committed starting state (created through the crash file without crashing).
    const base = new CrashFile();
    const tree = openKv("x", { ...opts, fs: { open: () => base } });
    const before = new Map<string, Uint8Array>();
    const n = 3000 + round * 1500;
    for (let at = 0; at < n; at += 1000) {
      const batch = [];
      for (let i = at; i < at + 1000; i++) {
        const v = rng.bytes(rng.float() < 0.02 ? 5000 : rng.int(120));
        batch.push([key(i), v] as const);
        before.set(hex(key(i)), v);
      }
      tree.apply(batch);
      tree.commit();
    }
    const image = base.durable;
    // The change under test: updates, inserts, deletes (including big values).
    const change: [Uint8Array, Uint8Array | null][] = [];
    const after = new Map(before);
    for (let i = 0; i < n + 500; i += 1 + rng.int(3)) {
      const v = rng.float() < 0.3 ? null : rng.bytes(rng.float() < 0.03 ? 9000 : rng.int(200));
      change.push([key(i), v]);
      if (v === null) after.delete(hex(key(i)));
      else after.set(hex(key(i)), v);
    }
    for (let budget = 0; ; budget++) {
      const file = new CrashFile(image);
      const t = openKv("x", { ...opts, fs: { open: () => file } });
      file.budget = budget;
      let crashed = false;
      try {
        t.apply(change);
        t.commit();
      } catch (e) {
        if (!isCrash(e)) throw e;
        crashed = true;
      }
      for (let trial = 0; trial < (crashed ? 2 : 1); trial++) {
        const disk = crashed ? new CrashFile(file.afterCrash(rng)) : new CrashFile(file.durable);
        const r = openKv("x", { ...opts, fs: { open: () => disk } });
        r.check();
        const isBefore = matches(r, before);
        const isAfter = !isBefore && matches(r, after);
        assert.ok(isBefore || isAfter, `crash after ${budget} calls: state is neither before nor after`);
        if (!crashed) assert.ok(isAfter, "a completed commit is durable");
        if (isBefore) outcomes.before++;
        else outcomes.after++;
        // The recovered tree keeps working: its free list never hands out a live page.
        r.apply([
          [key(1), new Uint8Array([1])],
          [key(n + 9999), new Uint8Array([2])],
        ]);
        r.commit();
        r.check();
        r.close();
      }
      if (!crashed) {
        points += budget;
        break;
      }
    }
  }
  assert.ok(outcomes.before > 0 && outcomes.after > 0, JSON.stringify(outcomes));
  assert.ok(points >= 20, `only ${points} crash points`);
  if (process.env.KV_CRASH_VERBOSE) console.log({ points, ...outcomes });
});

test("a crash while creating the file leaves a file that opens empty", () => {
  for (let budget = 0; budget < 2; budget++) {
    const file = new CrashFile();
    file.budget = budget;
    assert.throws(() => openKv("x", { fs: { open: () => file } }), isCrash);
    for (const torn of [false, true]) {
      const disk = new CrashFile(torn ? file.afterCrash(new Rng(budget + 1)) : file.durable);
      const t = openKv("x", { fs: { open: () => disk } });
      assert.equal(t.size, 0);
      t.apply([[key(1), new Uint8Array([1])]]);
      t.commit();
      t.close();
    }
  }
});

test("after a failed write the tree refuses use until reopened at its last commit", () => {
  const file = new CrashFile();
  const t = openKv("x", { fs: { open: () => file } });
  t.apply([[key(1), new Uint8Array([1])]]);
  t.commit();
  t.apply([[key(2), new Uint8Array([2])]]);
  file.budget = 0;
  assert.throws(() => t.commit(), isCrash);
  file.budget = Infinity;
  assert.throws(
    () => t.get(key(1)),
    (e: unknown) => e instanceof KvError && e.code === "FAILED",
  );
  assert.throws(
    () => t.apply([[key(3), null]]),
    (e: unknown) => e instanceof KvError && e.code === "FAILED",
  );
  const r = openKv("x", { fs: { open: () => file } });
  assert.deepEqual([...r.keys()].map(hex), [hex(key(1))]);
  r.check();
});
