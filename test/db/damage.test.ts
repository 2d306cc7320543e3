// Damage to every file of a database, through the public `open()`: each outcome is the
// acknowledged state (root and every value), or a typed CORRUPT naming the damaged file with
// the directory left byte for byte as it was; never another state without an error, never an
// empty database. Short and seeded in `npm test`; BMT_LONG=1 runs many more trials per file.
//
// The database: commits with a checkpoint behind them (a clean close), then commits logged in
// the redo log after it (the log's stale records of the previous interval lie beyond them),
// and a rollback window whose log has taken snapshots. It is copied while open, which is what
// a crash leaves: every commit was synced when acknowledged.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { before, describe, it } from "node:test";
import { DbError, open, toHex, trieRootUnsorted, verifyKeyProof } from "../../src/index.ts";
import { isLockFileName } from "../../src/store/lock.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { Model, tempDirs, universe } from "./helpers.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
/** Trials per file and kind of damage. */
const PER_KIND = LONG ? 40 : 1;
const newDir = tempDirs("bmt-damage-");
const WINDOW = 8;

type Change = [Uint8Array, Uint8Array | null];

interface Built {
  /** A copy of the database as a crash would leave it. */
  pristine: string;
  model: Model;
  root: string;
  /** The rollback window: `db.history()` as hex. */
  history: string[];
  keys: Uint8Array[];
}

async function commit(db: ReturnType<typeof open>, changes: Change[]): Promise<void> {
  const s = db.beginWrite();
  for (const [k, v] of changes) {
    if (v === null) s.delete(k);
    else s.set(k, v);
  }
  await (await s.finish()).commit();
}

function randomChanges(rng: Rng, keys: Uint8Array[], n: number): Change[] {
  const out = new Map<string, Change>();
  while (out.size < n) {
    const k = rng.pick(keys);
    const v = rng.int(6) === 0 ? null : rng.int(20) === 0 ? rng.bytes(5000 + rng.int(3000)) : rng.bytes(rng.int(120));
    out.set(toHex(k), [k, v]);
  }
  return [...out.values()];
}

async function build(rng: Rng): Promise<Built> {
  const dir = newDir();
  const keys = universe(rng, 600);
  const model = new Model();
  let db = open(dir, { rollbackWindow: WINDOW });
  for (let c = 0; c < 20; c++) {
    const changes = randomChanges(rng, keys, 40);
    await commit(db, changes);
    model.apply(changes);
  }
  db.close(); // the checkpoint
  db = open(dir, { rollbackWindow: WINDOW });
  for (let c = 0; c < 5; c++) {
    const changes = randomChanges(rng, keys, 20);
    await commit(db, changes);
    model.apply(changes);
  }
  const root = toHex(db.root);
  assert.equal(root, model.root());
  const history = db.history().map(toHex);
  const pristine = newDir();
  // As a crash leaves it (the lock's files belong to this live process: they stay behind).
  cpSync(dir, pristine, { recursive: true, filter: (src) => !isLockFileName(src.split("/").at(-1) as string) && !statSync(src).isFIFO() });
  db.close();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(statSync(join(pristine, liveRedo(pristine))).size > 12288, "commits are logged after the checkpoint");
  return { pristine, model, root, history, keys };
}

let building: Promise<Built> | undefined;
/** The one database both suites damage copies of. */
function built(): Promise<Built> {
  building ??= build(new Rng(seed));
  return building;
}

/** Every file under `dir` (relative path -> bytes), the lock's files aside. */
function image(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      // The lock's files and the readers' FIFOs are coordination between live processes.
      else if (st.isFile() && !isLockFileName(name)) out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function sameImage(a: Map<string, Buffer>, b: Map<string, Buffer>, what: string): void {
  assert.deepEqual([...b.keys()], [...a.keys()], `${what}: the files are the same`);
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name) as Buffer), `${what}: ${name} is unchanged`);
}

/** Offsets where data lives in `bytes`: non-zero bytes (the whole file when it has none). */
function liveOffset(rng: Rng, bytes: Buffer): number {
  for (let tries = 0; tries < 64; tries++) {
    const at = rng.int(bytes.length);
    if (bytes[at] !== 0) return at;
  }
  return rng.int(bytes.length);
}

type Kind = "flip" | "zero4k" | "zero4k-aligned" | "delete" | "empty" | "truncate";
const KINDS: Kind[] = ["flip", "zero4k", "zero4k-aligned", "delete", "empty", "truncate"];

/** Damages `file` (absolute path) and says how. */
function damage(rng: Rng, file: string, kind: Kind): string {
  const bytes = readFileSync(file);
  switch (kind) {
    case "flip": {
      if (bytes.length === 0) return "flip of an empty file (nothing)";
      const at = liveOffset(rng, bytes);
      bytes[at] ^= 1 << rng.int(8);
      writeFileSync(file, bytes);
      return `bit flipped at ${at}`;
    }
    case "zero4k":
    case "zero4k-aligned": {
      if (bytes.length === 0) return "zeros over an empty file (nothing)";
      let at = liveOffset(rng, bytes);
      if (kind === "zero4k-aligned") at -= at % 4096;
      bytes.fill(0, at, Math.min(bytes.length, at + 4096));
      writeFileSync(file, bytes);
      return `4 KiB zeroed at ${at}`;
    }
    case "delete":
      unlinkSync(file);
      return "deleted";
    case "empty":
      truncateSync(file, 0);
      return "emptied";
    case "truncate": {
      const at = rng.int(Math.max(1, bytes.length));
      truncateSync(file, at);
      return `truncated to ${at}`;
    }
  }
}

/** What one open of a damaged copy showed. */
type Outcome = "exact" | "corrupt" | "last-dropped" | "window-reset";

/**
 * Opens `dir` (read-only or writer), reads everything, proves a few keys and (writer) commits
 * once more; returns how it went, or throws an assertion error for a wrong state, an untyped
 * error or a CORRUPT that does not name `fileName`.
 */
async function check(b: Built, dir: string, fileName: string, readOnly: boolean, what: string, rng: Rng, lastModel: Model): Promise<Outcome> {
  const before = image(dir);
  let db: ReturnType<typeof open>;
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code}: ${w.message}`);
  process.on("warning", onWarning);
  try {
    db = open(dir, { readOnly, rollbackWindow: WINDOW });
  } catch (e) {
    process.off("warning", onWarning);
    assertCorrupt(e, fileName, what);
    sameImage(before, image(dir), `${what}: the failed open`);
    return "corrupt";
  }
  let outcome: Outcome = "exact";
  try {
    const root = toHex(db.root);
    // The state: the acknowledged one, or (only for the last redo record damaged, which a torn
    // append also leaves) the one before the last commit.
    let model = b.model;
    if (root !== b.root) {
      assert.ok(fileName.startsWith("redo."), `${what}: root ${root} is not the acknowledged ${b.root}`);
      assert.equal(root, lastModel.root(), `${what}: root ${root} is neither the acknowledged one nor the one before the last commit`);
      model = lastModel;
      outcome = "last-dropped";
    }
    {
      using snap = db.beginRead();
      const got = [...snap.entriesSync({})];
      assert.equal(got.length, model.map.size, `${what}: entries`);
      for (const [k, v] of got) assert.equal(toHex(v), toHex(model.get(k) ?? new Uint8Array(0)), `${what}: value of ${toHex(k)}`);
      for (let i = 0; i < 4; i++) {
        const key = rng.pick(b.keys);
        const proof = snap.prove(key);
        assert.ok(verifyKeyProof(proof, db.root), `${what}: proof of ${toHex(key)}`);
        assert.equal(toHex(proof.value ?? new Uint8Array(0)), toHex(model.get(key) ?? new Uint8Array(0)), `${what}: proven value`);
      }
    }
    if (!readOnly) {
      // The rollback window: the same as acknowledged, or started over and said so.
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      const history = db.history().map(toHex);
      const reset = db.metrics().rollbackLogReset;
      if (outcome === "exact" && JSON.stringify(history) !== JSON.stringify(b.history)) {
        assert.ok(
          reset !== null && reset !== "new" && warnings.some((w) => w.startsWith("BMT_ROLLBACK_LOG_RESET")),
          `${what}: the rollback window changed without a reset reason and a warning (${reset})`,
        );
        assert.ok(fileName.startsWith("rollback."), `${what}: only rollback-log damage may shorten the window (${reset})`);
        assert.deepEqual(history, [root], `${what}: a reset window holds the current root only`);
        outcome = "window-reset";
      }
      // One more commit reads the merkle pages on the changed keys' paths.
      const changes = randomChanges(rng, b.keys, 30);
      await commit(db, changes);
      const next = new Model();
      for (const [k, e] of model.map) next.map.set(k, e);
      next.apply(changes);
      assert.equal(toHex(db.root), toHex(trieRootUnsorted(next.sorted().map(([key, value]) => ({ key, value })))), `${what}: the next commit's root`);
    }
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    // Damage met after the open (a page read): typed, naming the file.
    assertCorrupt(e, fileName, `${what} (after open)`, false);
    outcome = "corrupt";
  } finally {
    process.off("warning", onWarning);
    db.close();
  }
  return outcome;
}

/** Errors of code CORRUPT met after an open that were not `DbError`s (the layer below's own). */
let rawAfterOpen = 0;

function assertCorrupt(e: unknown, fileName: string, what: string, atOpen = true): void {
  const err = e as { code?: unknown; message?: unknown };
  assert.ok(
    e instanceof Error && err.code === "CORRUPT",
    `${what}: expected a CORRUPT error, got ${e instanceof Error ? `${e.name} ${String(err.code)}: ${e.message}` : String(e)}`,
  );
  if (atOpen) assert.ok(e instanceof DbError, `${what}: CORRUPT is a DbError (got ${(e as Error).name}: ${(e as Error).message})`);
  else if (!(e instanceof DbError)) rawAfterOpen++;
  assert.ok(String(err.message).includes(fileName), `${what}: the error names ${fileName}: ${String(err.message)}`);
}

describe(`db: damage to every file of a database (seed ${seed}${LONG ? ", long" : ""})`, () => {
  let b: Built;
  let lastModel: Model;
  before(async () => {
    b = await built();
    // The state before the last commit, read at the rollback window's first step back.
    lastModel = await stateBefore(b);
  });

  it("the undamaged copy opens at the acknowledged state", async () => {
    const rng = new Rng(seed + 1);
    for (const readOnly of [true, false]) {
      const dir = newDir();
      cpSync(b.pristine, dir, { recursive: true });
      assert.equal(await check(b, dir, "-", readOnly, `undamaged, ${readOnly ? "read-only" : "writer"}`, rng, lastModel), "exact");
    }
  });

  it("every file: flips, zeroed 4 KiB runs, deleted, emptied, truncated: the acknowledged state or CORRUPT naming the file", async () => {
    const rng = new Rng(seed + 2);
    // readers/ holds the writer's marks for read-only handles in other processes: rewritten by
    // every writer's open, no durable state, so not damaged here.
    const files = [...image(b.pristine).keys()].filter((f) => !f.startsWith("readers/"));
    assert.ok(files.length >= 7, `files: ${files.join(", ")}`);
    const counts: Record<string, Record<string, number>> = {};
    for (const file of files) {
      const name = file.split("/").at(-1) as string;
      counts[file] = { trials: 0, exact: 0, corrupt: 0, "last-dropped": 0, "window-reset": 0 };
      for (const kind of KINDS) {
        for (let t = 0; t < PER_KIND; t++) {
          for (const readOnly of [true, false]) {
            const dir = newDir();
            cpSync(b.pristine, dir, { recursive: true });
            const how = damage(rng, join(dir, file), kind);
            const what = `${file} ${how}, ${readOnly ? "read-only" : "writer"}`;
            const outcome = await check(b, dir, name, readOnly, what, rng, lastModel);
            counts[file].trials++;
            counts[file][outcome]++;
            rmSync(dir, { recursive: true, force: true });
          }
        }
      }
    }
    console.log(`# damage trials (seed ${seed}): ${JSON.stringify(counts)}; CORRUPT after open not as DbError: ${rawAfterOpen}`);
    const total = Object.values(counts).reduce((n, c) => n + c.trials, 0);
    assert.equal(total, files.length * KINDS.length * PER_KIND * 2);
    // The trials did meet damage: each file the state is read from was refused at least once
    // (the page WAL was applied at the checkpoint, so damage to it changes nothing).
    for (const file of files.filter((f) => /^(meta|redo|values|merkle\/merkle-table\.\d+)$/.test(f))) {
      assert.ok(counts[file].corrupt > 0, `${file}: some damage was refused (${JSON.stringify(counts[file])})`);
    }
  });
});

/** The model before the last commit: the acknowledged model with the last commit undone. */
async function stateBefore(b: Built): Promise<Model> {
  const dir = newDir();
  cpSync(b.pristine, dir, { recursive: true });
  const db = open(dir, { rollbackWindow: WINDOW });
  try {
    const prev = db.history()[1];
    using past = db.beginReadAt(prev);
    const m = new Model();
    for (const [k, v] of past.entriesSync({})) m.map.set(toHex(k), [k.slice(), v.slice()]);
    assert.equal(m.root(), toHex(prev));
    return m;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A copy of the pristine database, damaged by `f`. */
function damagedCopy(b: Built, f: (dir: string) => void): string {
  const dir = newDir();
  cpSync(b.pristine, dir, { recursive: true });
  f(dir);
  return dir;
}

/** Opening `dir` (writer and read-only) is CORRUPT naming `name` (and `also`), and changes nothing. */
function refused(dir: string, name: string, also?: RegExp): void {
  for (const readOnly of [false, true]) {
    const before = image(dir);
    assert.throws(
      () => open(dir, { readOnly }),
      (e: unknown) => e instanceof DbError && e.code === "CORRUPT" && e.message.includes(name) && (also === undefined || also.test(e.message)),
      `${readOnly ? "read-only" : "writer"} open of ${dir}`,
    );
    sameImage(before, image(dir), `${readOnly ? "read-only" : "writer"} open`);
  }
}

/** Offsets of the live redo records (the first at 12288), from the log's own framing. */
/** The redo file whose header names the newest commit: the one of the commits after the checkpoint. */
function liveRedo(dir: string): string {
  const newest = (name: string) => {
    const r = readFileSync(join(dir, name));
    return Math.max(Number(r.readBigUInt64LE(8)), Number(r.readBigUInt64LE(8192 + 8)));
  };
  return newest("redo.1") > newest("redo.0") ? "redo.1" : "redo.0";
}

function redoRecords(bytes: Buffer, upTo: number): number[] {
  const out: number[] = [];
  let at = 12288;
  for (let i = 0; i < upTo; i++) {
    out.push(at);
    at += bytes.readUInt32LE(at + 4);
  }
  return out;
}

describe(`db: the damage cases a crash cannot explain (seed ${seed})`, () => {
  let b: Built;
  before(async () => {
    b = await built();
  });

  it("a missing, empty or zeroed meta beside the data is CORRUPT naming meta, never a new database", () => {
    refused(
      damagedCopy(b, (d) => unlinkSync(join(d, "meta"))),
      "meta",
      /missing beside/,
    );
    refused(
      damagedCopy(b, (d) => truncateSync(join(d, "meta"), 0)),
      "meta",
    );
    refused(
      damagedCopy(b, (d) => writeFileSync(join(d, "meta"), Buffer.alloc(statSync(join(d, "meta")).size))),
      "meta",
    );
    // 4 KiB of zeros across both slots' records.
    refused(
      damagedCopy(b, (d) => {
        const m = readFileSync(join(d, "meta"));
        m.fill(0, 64, 64 + 4096);
        writeFileSync(join(d, "meta"), m);
      }),
      "meta",
    );
    // And with create explicitly on: still refused, values untouched.
    const dir = damagedCopy(b, (d) => unlinkSync(join(d, "meta")));
    const values = readFileSync(join(dir, "values"));
    assert.throws(
      () => open(dir, { create: true }),
      (e: unknown) => e instanceof DbError && e.code === "CORRUPT",
    );
    assert.ok(readFileSync(join(dir, "values")).equals(values));
  });

  it("a redo record damaged before the last one is CORRUPT with its offset, for writers, read-only handles and `bmt root --db`", () => {
    for (const field of [0, 4, 8, 20]) {
      let offset = 0;
      const dir = damagedCopy(b, (d) => {
        const r = readFileSync(join(d, liveRedo(d)));
        offset = redoRecords(r, 2)[0];
        r[offset + field] ^= 0x40; // magic, length, number, root of the first of five records
        writeFileSync(join(d, liveRedo(d)), r);
      });
      refused(dir, liveRedo(dir), new RegExp(`offset ${offset}\\b`));
      const cli = spawnSync(process.execPath, ["--import", "tsx", join(projectRoot, "src", "cli", "main.ts"), "root", "--db", dir], {
        cwd: projectRoot,
        encoding: "utf8",
      });
      assert.equal(cli.status, 1, `bmt root --db exit status (stderr ${cli.stderr})`);
      assert.equal(cli.stdout, "", "no root printed");
      assert.equal(cli.stderr.trim().split("\n").length, 1, `one line on stderr: ${cli.stderr}`);
      assert.match(cli.stderr, /redo/);
    }
  });

  it("a redo log deleted, emptied or cut into its header after a crash is CORRUPT", () => {
    // Either file: the one of the live records, or the one a checkpoint left.
    for (const name of ["redo.0", "redo.1"]) {
      refused(
        damagedCopy(b, (d) => unlinkSync(join(d, name))),
        name,
        /missing/,
      );
      refused(
        damagedCopy(b, (d) => truncateSync(join(d, name), 0)),
        name,
        /shorter than its 12288-byte header/,
      );
      refused(
        damagedCopy(b, (d) => truncateSync(join(d, name), 5000)),
        name,
        /shorter than its 12288-byte header/,
      );
    }
    // Cut after the first live record: the header names commit 25, the log holds 21.
    const dir = damagedCopy(b, (d) => {
      const r = readFileSync(join(d, liveRedo(d)));
      truncateSync(join(d, liveRedo(d)), redoRecords(r, 2)[1]);
    });
    refused(dir, liveRedo(dir), /damaged or missing/);
  });

  it("a rollback-log event damaged before the last one, or a snapshot record, is CORRUPT naming the file and offset", () => {
    // The live file: the one of the higher generation (u32 at byte 8). After its 64-byte header:
    // the snapshot (u64 length at byte 32), then one event per commit since.
    const gen = (d: string, i: number) => readFileSync(join(d, `rollback.${i}`)).readUInt32LE(8);
    for (const where of ["event", "snapshot"] as const) {
      let live = "";
      let offset = 0;
      const dir = damagedCopy(b, (d) => {
        live = gen(d, 0) > gen(d, 1) ? "rollback.0" : "rollback.1";
        const f = readFileSync(join(d, live));
        const events = 64 + Number(f.readBigUInt64LE(32));
        offset = where === "event" ? events : 64;
        assert.ok(
          where === "snapshot" ? events > 64 : f.length > events + 2 * 80,
          `${live} holds ${where === "event" ? "events after its snapshot" : "a snapshot"}`,
        );
        f[offset + 8 + 20] ^= 1; // a byte of the body: its checksum fails
        writeFileSync(join(d, live), f);
      });
      const before = image(dir);
      assert.throws(
        () => open(dir, { rollbackWindow: WINDOW }),
        (e: unknown) => e instanceof DbError && e.code === "CORRUPT" && e.message.includes(live) && new RegExp(`offset ${offset}\\b`).test(e.message),
        where,
      );
      sameImage(before, image(dir), `the refused open (${where})`);
    }
  });

  it("create refuses a directory holding other files, and changes nothing there", () => {
    const dir = newDir();
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "not a database");
    assert.throws(
      () => open(dir),
      (e: unknown) => e instanceof DbError && e.code === "BAD_ARGUMENT" && e.message.includes(dir) && /not a bmt database/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), ["notes.txt"]);
  });

  it("refused opens of a new directory leave nothing behind", () => {
    const parent = newDir();
    const cases: [string, Parameters<typeof open>[1], string][] = [
      ["create: false", { create: false }, "NOT_FOUND"],
      ["read-only", { readOnly: true }, "NOT_FOUND"],
      ["a bad table size, met while creating", { merkleInitialBuckets: 3 }, ""],
    ];
    for (const [what, options, code] of cases) {
      const dir = join(parent, "a", "b", "db");
      assert.throws(
        () => open(dir, options),
        (e: unknown) => e instanceof Error && (code === "" || (e as DbError).code === code),
        what,
      );
      assert.ok(!existsSync(parent), `${what}: nothing was left (not even the parents made on the way)`);
      // An existing empty directory is left empty.
      mkdirSync(parent);
      assert.throws(
        () => open(parent, options),
        (e: unknown) => e instanceof Error,
        what,
      );
      // (The lock's dead generation file stays: the lock's own rule, see src/store/lock.ts.)
      assert.deepEqual(
        readdirSync(parent).filter((n) => !isLockFileName(n)),
        [],
        `${what}: the empty directory stays empty`,
      );
      rmSync(parent, { recursive: true });
    }
  });

  it("a crash during creation is recovered, never taken for damage; a finished one keeps its data", () => {
    // Before the first commit point: the marker and some files, no meta.
    const dir = newDir();
    mkdirSync(join(dir, "merkle"), { recursive: true });
    writeFileSync(join(dir, "CREATING"), "bmt: database being created\n");
    writeFileSync(join(dir, "values"), Buffer.alloc(5000, 7));
    writeFileSync(join(dir, "redo.0"), Buffer.alloc(100, 1));
    writeFileSync(join(dir, "meta"), Buffer.alloc(0));
    const db = open(dir);
    assert.equal(db.seq, 0);
    db.close();
    assert.ok(!existsSync(join(dir, "CREATING")), "the marker is gone once created");
    // After the commit point, before the marker's removal: the database opens as it is.
    const done = damagedCopy(b, (d) => writeFileSync(join(d, "CREATING"), ""));
    const again = open(done, { rollbackWindow: WINDOW });
    assert.equal(toHex(again.root), b.root);
    again.close();
    assert.ok(!existsSync(join(done, "CREATING")));
  });
});
