// The writer lock (src/store/lock.ts): one holder at a time, whatever the interleaving; a dead
// holder's lock is taken over, a live one's never; PID reuse and PID namespaces change nothing.
//
// BMT_LONG=1 runs 100 race rounds and 5,000 acquisitions in the interleaving test (5 and 300
// otherwise).
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  constants,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DirLock, isLockFileName, type LockStep } from "../../src/store/lock.ts";
import { DbError, open } from "../../src/db/index.ts";
import { IoError } from "../../src/io/index.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { keyOf } from "./lock-child.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
const ROUNDS = LONG ? 100 : 5;
const STEPS = LONG ? 5000 : 300;
const RACERS = 8;
const childPath = join(projectRoot, "test", "store", "lock-child.ts");
const tmp = mkdtempSync(join(tmpdir(), "bmt-lock-"));
const live = new Set<ChildProcess>();
const pidsToKill = new Set<number>();
after(() => {
  for (const c of live) c.kill("SIGKILL");
  for (const p of pidsToKill) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A pid no process can have. */
const DEAD_PID = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;

const locked = (who: RegExp) => (e: unknown) => e instanceof StoreError && e.code === "LOCKED" && who.test(e.message);

function child(args: string[], wrap: string[] = []): ChildProcess & { stderrText: () => string; exited: Promise<number | null> } {
  const argv = [process.execPath, "--import", "tsx", childPath, ...args];
  const c = spawn(wrap.length > 0 ? wrap[0] : argv[0], [...wrap.slice(1), ...(wrap.length > 0 ? argv : argv.slice(1))], {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: projectRoot,
  });
  let err = "";
  c.stderr?.on("data", (d) => (err += d));
  live.add(c);
  const exited = new Promise<number | null>((r) => c.on("exit", (code) => (live.delete(c), r(code))));
  return Object.assign(c, { stderrText: () => err, exited });
}

/** Writes whole or not at all (a child may read the file the moment it appears). */
function put(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Waits for a file a child writes; fails (not by timing: a hang guard) if the child exits first. */
async function waitFile(path: string, who: () => string = () => ""): Promise<string> {
  const limit = Date.now() + 300_000;
  while (!existsSync(path)) {
    if (Date.now() > limit) throw new Error(`${path} never appeared ${who()}`);
    await sleep(5);
  }
  return readFileSync(path, "utf8");
}

describe("writer lock", () => {
  it(`${RACERS} processes race for a stale or held lock, ${ROUNDS} rounds: exactly one wins, a live writer is never displaced (seed ${seed})`, async () => {
    const rng = new Rng(seed);
    const db = join(tmp, "race-db");
    const work = join(tmp, "race-work");
    mkdirSync(db);
    mkdirSync(work);
    // The first stale lock: a holder killed with SIGKILL.
    const first = child(["hold", db, join(work, "first-ready")]);
    await waitFile(join(work, "first-ready"), first.stderrText);
    first.kill("SIGKILL");
    await first.exited;

    const racers = new Map<string, ReturnType<typeof child>>();
    const start = (id: string, round: number) => racers.set(id, child(["race", db, work, id, String(round)]));
    for (let i = 0; i < RACERS; i++) start(String(i), 0);
    const stderrs = () => [...racers].map(([id, c]) => (c.stderrText() ? `racer ${id}: ${c.stderrText()}` : "")).join("");

    const committed = new Set<number>();
    const tally = { wins: 0, locked: 0, kills: 0, closes: 0, holds: 0, legacy: 0, modes: { lock: 0, store: 0, db: 0 } as Record<string, number> };
    let holder: string | null = null;
    for (let r = 0; r < ROUNDS; r++) {
      const mode = r === 0 ? "db" : r === 1 ? "store" : rng.pick(["lock", "store", "db"]);
      tally.modes[mode]++;
      const ids = [...racers.keys()].filter((id) => id !== holder);
      put(join(work, `mode.${r}`), `${mode} ${ids.length}`);
      const go = join(work, `go.${r}`);
      execFileSync("mkfifo", [go]);
      for (const id of ids) await waitFile(join(work, `ready.${r}.${id}`), stderrs);
      // Open the barrier: every racer blocked opening it for reading goes at once.
      let fd = -1;
      while (fd < 0) {
        try {
          fd = openSync(go, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENXIO") throw e;
          await sleep(1);
        }
      }
      const res = new Map<string, string>();
      for (const id of ids) res.set(id, await waitFile(join(work, `res.${r}.${id}`), stderrs));
      closeSync(fd);
      const errors = [...res].filter(([, v]) => !v.startsWith("WIN ") && !v.startsWith("LOCKED "));
      assert.deepEqual(errors, [], `round ${r}: racers failed`);
      const winners = [...res].filter(([, v]) => v.startsWith("WIN ")).map(([id]) => id);
      tally.locked += res.size - winners.length;
      let owner: string;
      if (holder !== null) {
        const h = racers.get(holder);
        assert.deepEqual(
          winners,
          [],
          `round ${r} (${mode}): the live holder ${holder} (pid ${h?.pid}, exit ${h?.exitCode}, stderr ${h?.stderrText()}) was displaced: ${JSON.stringify([...res])}; ${readdirSync(db).join(" ")}`,
        );
        const pid = racers.get(holder)?.pid;
        for (const [id, v] of res) assert.match(v, new RegExp(`process ${pid} on `), `round ${r}: racer ${id} did not name the holder`);
        owner = holder;
      } else {
        assert.equal(winners.length, 1, `round ${r} (${mode}): ${winners.length} winners: ${JSON.stringify([...res])}`);
        tally.wins++;
        owner = winners[0];
      }
      // The owner checked that every other racer reported LOCKED while it held the lock.
      assert.equal(await waitFile(join(work, `check.${r}.${owner}`), stderrs), "OK", `round ${r}: overlap seen by ${owner}`);
      // The owner's handle (a DirLock, a Store or a Db) committed key r unless it is a DirLock.
      if ((await waitFile(join(work, `acked.${r}`), stderrs)) !== "lock") committed.add(r);
      const end: string =
        r === ROUNDS - 1
          ? "close"
          : r === 0
            ? "kill"
            : r === 1
              ? "hold"
              : holder !== null
                ? rng.pick(["kill", "close"])
                : rng.pick(["kill", "kill", "close", "hold"]);
      put(join(work, `end.${r}`), end);
      if (end === "kill") {
        const c = racers.get(owner) as ReturnType<typeof child>;
        c.kill("SIGKILL");
        await c.exited;
        start(owner, r + 1);
        tally.kills++;
      } else if (end === "close") {
        await waitFile(join(work, `closed.${r}`), stderrs);
        tally.closes++;
      } else tally.holds++;
      holder = end === "hold" ? owner : null;
      if (end !== "hold" && (r === 2 || rng.int(4) === 0)) {
        // A stale LOCK of an earlier version beside the new lock files.
        writeFileSync(join(db, "LOCK"), `${DEAD_PID}\n`);
        tally.legacy++;
      }
    }
    put(join(work, "stop"), "");
    for (const c of racers.values()) await c.exited;
    assert.equal(stderrs(), "");

    // Every acknowledged commit survived the takeovers, kills included.
    const store = Store.open(db);
    try {
      for (const r of committed) assert.equal(store.get(keyOf(r))?.[0], r & 0xff, `the commit of round ${r} was lost`);
      assert.equal(store.size, committed.size);
    } finally {
      store.close();
    }
    console.log(
      `# lock race: ${ROUNDS} rounds, ${tally.wins} won over a stale lock, ${tally.holds} held over (all ${RACERS - 1} racers LOCKED), ${tally.locked} LOCKED results, ${tally.kills} holders killed, ${tally.closes} closed, ${tally.legacy} stale legacy LOCK files, modes ${JSON.stringify(tally.modes)}, ${committed.size} commits kept`,
    );
  });

  it("a writer as PID 1 of its own PID namespace holds the lock against the parent namespace, and a PID 1 started after it died takes it over", async (t) => {
    const probe = (extra: string[]) => spawnSync("unshare", [...extra, "--pid", "--fork", "true"], { encoding: "utf8" });
    let wrap: string[] | null = null;
    let why = "";
    for (const extra of [[], ["--user", "--map-root-user"]]) {
      const p = probe(extra);
      if (p.status === 0) {
        wrap = ["unshare", ...extra, "--pid", "--fork"];
        break;
      }
      why += ` unshare ${extra.join(" ")} --pid --fork: ${p.error?.message ?? p.stderr.trim()};`;
    }
    if (wrap === null) {
      t.skip(`new PID namespaces are not permitted on this machine (${why.trim()})`);
      return;
    }
    const db = join(tmp, "pidns");
    mkdirSync(db);
    const pid1 = async (name: string) => {
      const ready = join(tmp, `pidns-${name}`);
      const c = child(["hold", db, ready], wrap as string[]);
      const info = JSON.parse(await waitFile(ready, c.stderrText)) as { pid: number; outerPid: number };
      pidsToKill.add(info.outerPid);
      assert.equal(info.pid, 1, "the writer runs as PID 1 in its namespace");
      return { c, info };
    };
    const a = await pid1("a");
    assert.throws(() => DirLock.acquire(db), locked(/process 1 on /));
    assert.throws(() => Store.open(db), locked(/process 1 on /));
    process.kill(a.info.outerPid, "SIGKILL");
    await a.c.exited; // unshare exits once its child (our PID 1) is gone
    // A new PID 1 (a restarted container) takes over a lock last held by a PID 1.
    const b = await pid1("b");
    assert.throws(() => DirLock.acquire(db), locked(/process 1 on /));
    process.kill(b.info.outerPid, "SIGKILL");
    await b.c.exited;
    const mine = DirLock.acquire(db);
    assert.equal(mine.generation, 3);
    mine.release();
  });

  it("a holder's child processes do not keep its lock alive", async () => {
    const db = join(tmp, "children");
    mkdirSync(db);
    const ready = join(tmp, "children-ready");
    const c = child(["hold", db, ready, "spawn"]);
    const info = JSON.parse(await waitFile(ready, c.stderrText)) as { pid: number; spawned: number };
    pidsToKill.add(info.spawned);
    assert.throws(() => DirLock.acquire(db), locked(new RegExp(`process ${info.pid} on `)));
    c.kill("SIGKILL");
    await c.exited;
    process.kill(info.spawned, 0); // the child lives on
    const mine = DirLock.acquire(db);
    mine.release();
    process.kill(info.spawned, "SIGKILL");
  });

  it("refuses a second writer in this process, and takes over what dead holders and earlier versions left", async () => {
    const db = join(tmp, "leftovers");
    mkdirSync(db);
    const a = DirLock.acquire(db);
    assert.throws(() => DirLock.acquire(db), locked(/this process \(already open\)/));
    assert.throws(() => Store.open(db), locked(/this process/));
    a.release();
    assert.deepEqual(readdirSync(db), ["lock.1"], "a release leaves its dead generation, and nothing else");

    // Leftovers: a dead generation (its FIFO without a reader), a garbage lower one, a FIFO whose
    // acquirer died before linking it, and a live acquirer's FIFO, which must stay.
    const dead = join(db, "lock-77@h-0123456789abcdef.fifo");
    execFileSync("mkfifo", [dead]);
    linkSync(dead, join(db, "lock.5"));
    writeFileSync(join(db, "lock.4"), "garbage");
    execFileSync("mkfifo", [join(db, "lock-78@h-fedcba9876543210.fifo")]);
    const other = DirLock.steps(db);
    while ((other.next().value as LockStep).next !== "list"); // its FIFO is open, not linked yet
    const b = DirLock.acquire(db);
    assert.equal(b.generation, 6);
    const names = readdirSync(db).sort();
    assert.deepEqual(
      names.filter((n) => n.startsWith("lock.")),
      ["lock.6"],
    );
    assert.equal(names.filter((n) => n.endsWith(".fifo")).length, 2, `own FIFO and the live acquirer's: ${names}`);
    assert.ok(names.every(isLockFileName));
    // The live acquirer goes on and is refused, naming the holder; then the holder dies.
    assert.throws(
      () => {
        for (;;) if (other.next().done) break;
      },
      locked(/this process/),
    );
    assert.equal(readdirSync(db).filter((n) => n.endsWith(".fifo")).length, 1, "the refused acquirer removed its FIFO");
    b.abandon();

    // An earlier version's LOCK: stale (its pid cannot exist) is removed; live is refused.
    writeFileSync(join(db, "LOCK"), `${DEAD_PID}\n`);
    const c = DirLock.acquire(db);
    assert.equal(existsSync(join(db, "LOCK")), false);
    c.release();
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    live.add(sleeper);
    writeFileSync(join(db, "LOCK"), `${sleeper.pid}\n`);
    const before = readdirSync(db).sort();
    assert.throws(() => Store.open(db), locked(new RegExp(`process ${sleeper.pid} \\(the LOCK file of an earlier bmt version`)));
    assert.deepEqual(readdirSync(db).sort(), before, "a refusal leaves nothing behind");
    sleeper.kill("SIGKILL");
    await new Promise((r) => sleeper.on("exit", r));
    const d = DirLock.acquire(db);
    d.release();
  });

  it("an I/O failure while locking is a typed IoError (a DbError IO from open) and leaves nothing behind", () => {
    const db = join(tmp, "io");
    mkdirSync(db);
    const ioError = (op: string, code: string, message?: RegExp) => (e: unknown) =>
      e instanceof IoError && e.op === op && e.code === code && (message === undefined || message.test(e.message)) && e.cause instanceof Error;
    const path = process.env.PATH;
    process.env.PATH = join(tmp, "no-such-dir");
    try {
      assert.throws(() => DirLock.acquire(db), ioError("mkfifo", "ENOENT", /mkfifo command \(coreutils\) was not found/));
      assert.throws(
        () => open(db),
        (e: unknown) => e instanceof DbError && e.code === "IO" && ioError("mkfifo", "ENOENT")(e.cause),
      );
    } finally {
      process.env.PATH = path;
    }
    assert.deepEqual(readdirSync(db), []);
    // mkfifo's own failure, typed from its message.
    assert.throws(() => DirLock.acquire(join(tmp, "missing", "db")), ioError("mkfifo", "ENOENT", /No such file or directory/));
    assert.equal(existsSync(join(tmp, "missing")), false);
    // A file where the directory should be.
    writeFileSync(join(tmp, "a-file"), "x");
    assert.throws(() => DirLock.acquire(join(tmp, "a-file")), ioError("read", "ENOTDIR"));
    assert.equal(readFileSync(join(tmp, "a-file"), "utf8"), "x");
  });

  it("EROFS and ENOSPC while locking, on real mounts: IO naming mkfifo and the system error, the directory unchanged", (t) => {
    const mnt = join(tmp, "probe-mount");
    mkdirSync(mnt);
    const probe = spawnSync("unshare", ["--mount", "sh", "-c", `mount -t tmpfs tmpfs ${JSON.stringify(mnt)} 2>&1 || exit 9`], { encoding: "utf8" });
    if (probe.status !== 0) {
      t.skip(`mounting in a new mount namespace is not permitted here (unshare --mount: ${probe.error?.message ?? (probe.stdout + probe.stderr).trim()})`);
      return;
    }
    // A database, then the same directory mounted read-only (a bind mount), and an empty tmpfs
    // with no inode left, each in a mount namespace of its own.
    const db = join(tmp, "mounts-db");
    open(db).close();
    const before = readdirSync(db).sort();
    const run = (script: string, dir: string) => {
      const node = [process.execPath, "--import", "tsx", childPath, "try", dir].map((a) => JSON.stringify(a)).join(" ");
      const r = spawnSync("unshare", ["--mount", "sh", "-c", `${script} && exec ${node}`], { encoding: "utf8", cwd: projectRoot });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { code?: string; op?: string; sys?: string; names: string[] };
    };
    const q = JSON.stringify(db);
    const ro = run(`mount --bind ${q} ${q} && mount -o remount,bind,ro ${q}`, db);
    assert.deepEqual({ code: ro.code, op: ro.op, sys: ro.sys }, { code: "IO", op: "mkfifo", sys: "EROFS" });
    assert.deepEqual(ro.names, before);
    const full = join(tmp, "mounts-full");
    mkdirSync(full);
    const f = JSON.stringify(full);
    const nospc = run(`mount -t tmpfs -o nr_inodes=1 tmpfs ${f}`, full);
    assert.deepEqual({ code: nospc.code, op: nospc.op, sys: nospc.sys }, { code: "IO", op: "mkfifo", sys: "ENOSPC" });
    assert.deepEqual(nospc.names, []);
  });

  it("a release leaves its generation: an acquirer that found it dead cannot take the next one beside a new lock.1", () => {
    const db = join(tmp, "release-order");
    mkdirSync(db);
    const until = (g: Generator<LockStep, DirLock, void>, step: LockStep["next"]) => {
      for (;;) {
        const r = g.next();
        assert.ok(!r.done, `finished before ${step}`);
        if (r.value.next === step) return;
      }
    };
    const o = DirLock.acquire(db);
    const y = DirLock.steps(db);
    until(y, "check"); // y listed: lock.1 is the highest
    const release = o.releaseSteps();
    release.next(); // o's FIFO is closed: lock.1 is dead
    until(y, "link"); // y found it dead and will link lock.2
    for (const _ of release);
    const x = DirLock.acquire(db); // lock.1 is still there (dead), so x takes lock.2
    assert.equal(x.generation, 2);
    assert.throws(
      () => {
        for (;;) if (y.next().done) break;
      },
      locked(/this process/),
    );
    x.release();
  });

  it(`random interleavings of acquirers, releases and deaths in one process: never two holders (${STEPS} acquisitions, seed ${seed})`, () => {
    const rng = new Rng(seed ^ 0x5eed);
    const db = join(tmp, "interleave");
    mkdirSync(db);
    type Actor =
      | { state: "idle" }
      | { state: "acquiring"; steps: Generator<LockStep, DirLock, void>; fd: number }
      | { state: "holding"; lock: DirLock }
      | { state: "releasing"; lock: DirLock; steps: Generator<void, void, void> };
    const actors: Actor[] = Array.from({ length: 4 }, () => ({ state: "idle" }));
    // Speeds, drawn again now and then: a slow actor sits between two steps while the others
    // acquire, release and die, as a descheduled process would.
    const speed = actors.map(() => 1);
    const pickActor = () => {
      let x = rng.int(speed.reduce((a, b) => a + b, 0));
      for (let i = 0; ; i++) if ((x -= speed[i]) < 0) return i;
    };
    const tally = { acquired: 0, locked: 0, released: 0, diedHolding: 0, diedAcquiring: 0, started: 0 };
    // A releasing actor holds until its first step closes the FIFO.
    const holds = (a: Actor) => a.state === "holding" || (a.state === "releasing" && a.lock.held);
    const alive = (except: number) => actors.some((a, i) => i !== except && (holds(a) || (a.state === "acquiring" && a.fd >= 0)));
    while (tally.started < STEPS || actors.some((a) => a.state === "acquiring" || a.state === "releasing")) {
      const i = pickActor();
      if (rng.int(8) === 0) speed[i] = rng.pick([1, 8, 64]);
      const a = actors[i];
      if (a.state === "idle") {
        if (tally.started < STEPS) {
          actors[i] = { state: "acquiring", steps: DirLock.steps(db), fd: -1 };
          tally.started++;
        }
      } else if (a.state === "releasing") {
        if (a.steps.next().done) actors[i] = { state: "idle" };
      } else if (a.state === "acquiring") {
        if (rng.int(40) === 0) {
          // Dies mid-acquisition: the kernel closes its FIFO; nothing else happens.
          if (a.fd >= 0) closeSync(a.fd);
          actors[i] = { state: "idle" };
          tally.diedAcquiring++;
          continue;
        }
        try {
          const r = a.steps.next();
          if (r.done) {
            actors[i] = { state: "holding", lock: r.value };
            tally.acquired++;
          } else a.fd = r.value.fd;
        } catch (e) {
          assert.ok(e instanceof StoreError && e.code === "LOCKED", `unexpected ${String(e)}`);
          assert.ok(alive(i), "LOCKED while no other holder or acquirer was alive");
          actors[i] = { state: "idle" };
          tally.locked++;
        }
      } else if (rng.int(8) === 0) {
        if (rng.int(2) === 0) {
          actors[i] = { state: "releasing", lock: a.lock, steps: a.lock.releaseSteps() };
          tally.released++;
        } else {
          a.lock.abandon();
          actors[i] = { state: "idle" };
          tally.diedHolding++;
        }
      }
      const holders = actors.filter(holds).length;
      assert.ok(holders <= 1, `${holders} holders at once after ${tally.started} acquisitions`);
    }
    for (const a of actors) if (a.state === "holding") a.lock.release();
    assert.ok(readdirSync(db).every(isLockFileName));
    assert.ok(tally.acquired > 0 && tally.locked > 0);
    console.log(`# lock interleavings: ${JSON.stringify(tally)}`);
  });
});
