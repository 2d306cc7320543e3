// Processes for the lock tests (test/store/lock.test.ts).
//
//   node --import tsx test/store/lock-child.ts race DB WORK ID FIRST_ROUND
//   node --import tsx test/store/lock-child.ts hold DB READY_FILE [spawn]
//   node --import tsx test/store/lock-child.ts try DB
//
// race: a racer that takes part in rounds from FIRST_ROUND on, told what to do by files in WORK:
//   mode.<r>      "<lock|store|db> <racers>": how to take the lock, and how many race for it;
//   go.<r>        a FIFO: each racer writes ready.<r>.<ID>, then blocks opening it for reading
//                 until the test opens it for writing, so all start together;
//   res.<r>.<ID>  written as soon as the attempt returns: "WIN <pid>", "LOCKED <message>" or
//                 "ERR <code> <message>".
// A winner keeps the lock until every racer of the round has reported (so each of them tried
// while it held), writes check.<r>.<ID> ("OK", or "OVERLAP ..." if another one won too) and, in
// store and db rounds, commits key r, then writes acked.<r>. Then it waits for end.<r>: "close"
// (closes and races again from r+1), "kill" (waits to be killed) or "hold" (keeps the lock
// through round r+1, where the others race against it, and checks that all of them report
// LOCKED naming it, then commits key r+1 and waits for end.<r+1>).
//
// try: opens DB with open() (db layer) and prints the outcome as JSON: the error's code, its
// IoError cause's op and code, and the directory's names afterwards.
//
// hold: takes the lock (DirLock), writes {pid, outerPid, spawned} to READY_FILE, and waits to be
// killed. `outerPid` is its pid seen from the test (through /proc/self, which names the pid in
// the namespace of the /proc mount); with `spawn` it first starts `sleep`, which must not keep the
// lock alive after it dies.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync, openSync, closeSync, renameSync } from "node:fs";
import { join } from "node:path";
import { type Db, open } from "../../src/db/index.ts";
import { DirLock } from "../../src/store/lock.ts";
import { Store } from "../../src/store/index.ts";

const nap = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(nap, 0, 0, ms);
const deadline = Date.now() + 600_000;

function waitFor(path: string): string {
  while (!existsSync(path)) {
    if (Date.now() > deadline) process.exit(3);
    sleep(2);
  }
  return readFileSync(path, "utf8");
}

/** Writes whole or not at all, so the test never reads half a result. */
function put(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export function keyOf(round: number): Uint8Array {
  const k = new Uint8Array(31);
  new DataView(k.buffer).setUint32(0, round + 1);
  return k;
}

type Handle = { kind: "lock"; h: DirLock } | { kind: "store"; h: Store } | { kind: "db"; h: Db };

function take(mode: string, db: string): Handle {
  if (mode === "lock") return { kind: "lock", h: DirLock.acquire(db) };
  if (mode === "store") return { kind: "store", h: Store.open(db) };
  return { kind: "db", h: open(db, { rollbackWindow: 4 }) };
}

function commit(handle: Handle, round: number): void {
  const value = Uint8Array.of(round & 0xff, process.pid & 0xff);
  if (handle.kind === "store") handle.h.commit([[keyOf(round), value]]);
  else if (handle.kind === "db") {
    const s = handle.h.beginWrite();
    s.set(keyOf(round), value);
    s.finishSync().commitSync();
  }
}

function close(handle: Handle): void {
  if (handle.kind === "lock") handle.h.release();
  else handle.h.close();
}

function results(work: string, round: number, count: number): Map<string, string> {
  const prefix = `res.${round}.`;
  for (;;) {
    const names = readdirSync(work).filter((n) => n.startsWith(prefix) && !n.endsWith(".tmp"));
    if (names.length >= count) return new Map(names.map((n) => [n.slice(prefix.length), readFileSync(join(work, n), "utf8")]));
    if (Date.now() > deadline) process.exit(3);
    sleep(2);
  }
}

/** Holds through round `round` (won or held over); returns the next round to race in. */
function hold(handle: Handle, work: string, id: string, round: number, won: boolean): number {
  // A held-over holder gets here before the test has written the next round's mode.
  const racers = Number(waitFor(join(work, `mode.${round}`)).split(" ")[1]);
  const res = results(work, round, racers);
  const others = [...res].filter(([who]) => who !== id);
  const bad = others.filter(([, r]) => !(r.startsWith("LOCKED ") && (won || r.includes(`process ${process.pid} `))));
  put(join(work, `check.${round}.${id}`), bad.length === 0 ? "OK" : `OVERLAP ${JSON.stringify(bad)}`);
  commit(handle, round);
  put(join(work, `acked.${round}`), handle.kind);
  const end = waitFor(join(work, `end.${round}`));
  if (end === "close") {
    close(handle);
    put(join(work, `closed.${round}`), "ok");
    return round + 1;
  }
  if (end === "hold") return hold(handle, work, id, round + 1, false);
  if (end !== "kill") throw new Error(`end.${round}: unknown ${JSON.stringify(end)}`);
  while (Date.now() < deadline) sleep(1000); // to be killed
  process.exit(3);
}

function race(db: string, work: string, id: string, first: number): void {
  let round = first;
  for (;;) {
    const go = join(work, `go.${round}`);
    while (!existsSync(go)) {
      if (existsSync(join(work, "stop")) || Date.now() > deadline) process.exit(0);
      sleep(2);
    }
    const mode = readFileSync(join(work, `mode.${round}`), "utf8").split(" ")[0];
    put(join(work, `ready.${round}.${id}`), String(process.pid));
    closeSync(openSync(go, "r")); // blocks until the test opens it for writing
    let handle: Handle | null = null;
    let result: string;
    try {
      handle = take(mode, db);
      result = `WIN ${process.pid}`;
    } catch (e) {
      const code = (e as { code?: string }).code;
      result = code === "LOCKED" ? `LOCKED ${(e as Error).message}` : `ERR ${code} ${(e as Error).stack}`;
    }
    put(join(work, `res.${round}.${id}`), result);
    round = handle === null ? round + 1 : hold(handle, work, id, round, true);
  }
}

function tryOpen(db: string): void {
  let out: Record<string, unknown>;
  try {
    open(db).close();
    out = { opened: true };
  } catch (e) {
    const cause = (e as { cause?: { op?: string; code?: string } }).cause;
    out = { name: (e as Error).name, code: (e as { code?: string }).code, op: cause?.op, sys: cause?.code };
  }
  process.stdout.write(`${JSON.stringify({ ...out, names: readdirSync(db).sort() })}\n`);
}

function holdForever(db: string, readyFile: string, spawnChild: boolean): void {
  const lock = DirLock.acquire(db);
  let spawned = 0;
  if (spawnChild) {
    const child = spawn("sleep", ["600"], { stdio: "ignore", detached: true });
    child.unref();
    spawned = child.pid ?? 0;
  }
  const outerPid = Number(readlinkSync("/proc/self"));
  put(readyFile, JSON.stringify({ pid: process.pid, outerPid, spawned, generation: lock.generation }));
  while (Date.now() < deadline) sleep(1000);
}

// The test imports keyOf; only a run as a script takes part.
if (process.argv[1]?.endsWith("lock-child.ts")) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === "race" && args.length === 4) race(args[0], args[1], args[2], Number(args[3]));
  else if (cmd === "hold" && args.length >= 2) holdForever(args[0], args[1], args[2] === "spawn");
  else if (cmd === "try" && args.length === 1) tryOpen(args[0]);
  else {
    process.stderr.write("usage: lock-child.ts race DB WORK ID FIRST_ROUND | hold DB READY_FILE [spawn] | try DB\n");
    process.exit(2);
  }
}
