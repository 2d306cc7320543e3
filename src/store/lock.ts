// One writer process per database directory. Node has no flock and bmt takes no native addon,
// so the lock is built from two things the kernel guarantees: an exclusive link(2), and a FIFO's
// reader count, which dies with the process. A failed file operation is an `IoError` (op, path,
// system error), and leaves nothing behind.
//
// Liveness. Each acquirer makes its own FIFO, `lock-<pid>@<host>-<random>.fifo`, and holds it
// open for reading (O_NONBLOCK) for the lock's life. A checker opens it for writing with
// O_NONBLOCK: ENXIO means no reader, so the owner released it or died (the kernel closes a dead
// process's descriptors; Node opens them O_CLOEXEC, so children do not inherit the reader). Only
// the owner ever opens its FIFO for reading, so once dead it is dead forever. No pid is
// consulted (the one in the name is for messages): PID reuse and PID namespaces cannot make a
// dead holder look alive or a live one dead.
//
// Acquisition. Lock files are generations `lock.<n>`, each a hard link to its acquirer's FIFO,
// made after the FIFO is open for reading. To acquire: list the directory, take the highest
// generation m; if its FIFO has a reader, `LOCKED`. Otherwise link our FIFO as `lock.<m+1>`
// (EEXIST: someone else did first; start over). Then list again: a higher generation, or
// `lock.<m+1>` no longer our FIFO, means we lost: unlink ours (if still ours) and start over.
// Else we hold the lock: unlink the lower generations in ascending order, and FIFOs without a
// reader. Release closes the FIFO and unlinks its name, but leaves `lock.<n>` (dead) for the next
// holder to remove.
//
// Why one holder at a time, whatever the interleaving (M = highest generation present):
// 1. M never decreases. A generation file is unlinked only by a holder, below its own, or by an
//    acquirer backing off from its own below a higher one. A release leaving its file is what
//    keeps this true: had it unlinked `lock.<n>`, an acquirer that had already found it dead could
//    link `lock.<n+1>` after another had taken `lock.1` in the emptied directory: two holders.
// 2. A holder of n raised M from n-1 to n with its link. Had M been >= n, the link fails (EEXIST)
//    or the second listing shows a higher generation. A listing is not atomic, but the higher
//    file could vanish during it only through a cleanup that began after our link, and cleanups
//    go in ascending order, so our `lock.<n>` went first: the inode comparison sees it.
// 3. Before linking n the holder found `lock.<n-1>` dead; M was n-1 from the raise to n-1 until
//    then, so that was the previous raiser's FIFO: it had released or died, for good (and it was
//    no longer cleaning: its reader closes only after its cleanup).
// So holders follow one another in generation order and never overlap.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { hostname, constants as osConstants } from "node:os";
import { join } from "node:path";
import { IoError } from "../io/index.ts";
import { StoreError } from "./errors.ts";

const GENERATION = /^lock\.(0|[1-9][0-9]{0,14})$/;
const FIFO = /^lock-([0-9]+)@(.*)-[0-9a-f]{16}\.fifo$/;
/** The file of earlier versions: the writer's pid. */
const LEGACY = "LOCK";
/** Each failed attempt means another acquirer moved the lock on; this many means a herd. */
const MAX_ATTEMPTS = 1000;

/** True for the names this module keeps in a database directory (lock files and FIFOs). */
export function isLockFileName(name: string): boolean {
  return GENERATION.test(name) || FIFO.test(name) || name === LEGACY;
}

/** FIFOs (dev:ino) whose locks this process holds, to name "this process" in `LOCKED`. */
const heldHere = new Set<string>();

const inodeKey = (st: fs.Stats): string => `${st.dev}:${st.ino}`;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function generations(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new IoError("list", dir, e);
  }
  const out: number[] = [];
  for (const name of names) {
    const m = GENERATION.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** Opens `path` for writing if it is a FIFO with a reader: the descriptor, or null if dead. */
function openLive(path: string): number | null | "gone" {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const c = errno(e);
    if (c === "ENXIO") return null; // a FIFO without a reader
    if (c === "ENOENT") return "gone";
    if (c === "ELOOP" || c === "EISDIR") return null; // not a FIFO: not a lock of ours
    throw new IoError("open", path, e);
  }
  if (!fs.fstatSync(fd).isFIFO()) {
    fs.closeSync(fd);
    return null;
  }
  return fd;
}

/** True when some process holds the FIFO at `path` open for reading (its maker, alive). */
export function fifoHasReader(path: string): boolean {
  const fd = openLive(path);
  if (typeof fd !== "number") return false;
  fs.closeSync(fd);
  return true;
}

/** Who holds the FIFO open on `fd`: from the name of its FIFO beside it. */
function holderOf(dir: string, fd: number): string {
  const key = inodeKey(fs.fstatSync(fd));
  if (heldHere.has(key)) return "this process (already open)";
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // Only the message suffers.
  }
  for (const name of names) {
    const m = FIFO.exec(name);
    if (m === null) continue;
    try {
      if (inodeKey(fs.lstatSync(join(dir, name))) === key) return `process ${m[1]} on ${m[2]}`;
    } catch {
      // Another acquirer's FIFO, removed since the listing: not the holder's, look on.
    }
  }
  return "a live process";
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === "EPERM"; // exists, another user's
  }
}

/** A `LOCK` file of an earlier version: refuse while its pid runs, else remove it. */
function clearLegacy(dir: string): void {
  const path = join(dir, LEGACY);
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    if (errno(e) === "ENOENT") return;
    throw new IoError("read", path, e);
  }
  const pid = Number.parseInt(text, 10);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    const who = pid === process.pid ? "this process" : `process ${pid}`;
    throw new StoreError(
      "LOCKED",
      `database ${dir} is held by ${who} (the ${LEGACY} file of an earlier bmt version; if that process is not a bmt writer of this database, remove ${path})`,
    );
  }
  try {
    fs.rmSync(path, { force: true });
  } catch (e) {
    throw new IoError("remove", path, e);
  }
}

function fifoName(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 64);
  return `lock-${process.pid}@${host}-${randomBytes(8).toString("hex")}.fifo`;
}

/** The system errors mkfifo reports in words (C locale), by code. */
const STRERROR: Record<string, string> = {
  "Permission denied": "EACCES",
  "Read-only file system": "EROFS",
  "No space left on device": "ENOSPC",
  "Disk quota exceeded": "EDQUOT",
  "No such file or directory": "ENOENT",
  "Not a directory": "ENOTDIR",
  "File exists": "EEXIST",
  "Input/output error": "EIO",
  "Operation not permitted": "EPERM",
};

/** A failed mkfifo as a system error (code, errno, syscall), the spawn's error as its cause. */
function mkfifoFailure(e: unknown): Error {
  const notFound = errno(e) === "ENOENT" && (e as { syscall?: string }).syscall?.startsWith("spawn") === true;
  const stderr = String((e as { stderr?: unknown }).stderr ?? "").trim();
  const code = notFound ? "ENOENT" : (STRERROR[stderr.slice(stderr.lastIndexOf(": ") + 2)] ?? "EUNKNOWN");
  const message = notFound ? "the mkfifo command (coreutils) was not found" : stderr || (e as Error).message;
  const n = (osConstants.errno as Record<string, number>)[code];
  return Object.assign(new Error(message, { cause: e }), { code, errno: n === undefined ? undefined : -n, syscall: notFound ? "spawn" : "mkfifo" });
}

/**
 * Makes and opens for reading a new FIFO in `dir` named by `name()`: [path, fd]. Leaves nothing
 * on failure. Also the reader table's liveness (readers.ts).
 */
export function makeFifo(dir: string, name: () => string = fifoName): [string, number] {
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, name());
    try {
      // No `-m`: mkfifo would chmod by name after making it, and a cleanup may remove the name
      // in between (see below); fchmod on the open descriptor cannot miss.
      execFileSync("mkfifo", [path], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    } catch (e) {
      throw new IoError("mkfifo", path, mkfifoFailure(e));
    }
    try {
      const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try {
        fs.fchmodSync(fd, 0o600); // only its owner may read it (a reader keeps a lock alive)
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
      return [path, fd];
    } catch (e) {
      // ENOENT: a holder's cleanup found it without a reader and took it for a dead one's.
      if (errno(e) === "ENOENT" && attempt < MAX_ATTEMPTS) continue;
      unlinkQuietly(path);
      throw new IoError("open", path, e);
    }
  }
}

/** Unlinks, ignoring every error: what is left behind is dead and the next holder retries. */
function unlinkQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // See above.
  }
}

/** Where a paused acquisition stands: its FIFO's read descriptor (-1 before), what it does next. */
export interface LockStep {
  fd: number;
  next: "fifo" | "list" | "check" | "link" | "relist" | "verify" | "back-off" | "clean";
}

/** An acquired lock; `release` ends it. */
export class DirLock {
  #fd: number;
  readonly #key: string;

  private constructor(
    readonly dir: string,
    readonly generation: number,
    readonly fifoPath: string,
    fd: number,
  ) {
    this.#fd = fd;
    this.#key = inodeKey(fs.fstatSync(fd));
    heldHere.add(this.#key);
  }

  /** Takes the writer lock of directory `dir`, or throws `LOCKED` naming the holder. */
  static acquire(dir: string): DirLock {
    const steps = DirLock.steps(dir);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * The acquisition, paused between its file-system operations so that tests can interleave
   * acquirers in one process. A caller that stops driving it should close the last descriptor
   * yielded, as death would.
   */
  static *steps(dir: string): Generator<LockStep, DirLock, void> {
    clearLegacy(dir);
    yield { fd: -1, next: "fifo" };
    let [fifo, fd] = makeFifo(dir);
    let held = false;
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        yield { fd, next: "list" };
        const gens = generations(dir);
        const m = gens.length === 0 ? 0 : gens[gens.length - 1];
        if (m > 0) {
          yield { fd, next: "check" };
          const live = openLive(join(dir, `lock.${m}`));
          if (live === "gone") continue; // replaced under us by a higher generation
          if (live !== null) {
            let who: string;
            try {
              who = holderOf(dir, live);
            } finally {
              fs.closeSync(live);
            }
            throw new StoreError("LOCKED", `database ${dir} is held by ${who}`);
          }
        }
        const n = m + 1;
        const mine = join(dir, `lock.${n}`);
        yield { fd, next: "link" };
        try {
          fs.linkSync(fifo, mine);
        } catch (e) {
          if (errno(e) === "EEXIST") continue;
          if (errno(e) === "ENOENT" && fs.existsSync(dir)) {
            // A holder's cleanup took our FIFO for an orphan before we opened it: a new one.
            fs.closeSync(fd);
            fd = -1;
            unlinkQuietly(fifo);
            [fifo, fd] = makeFifo(dir);
            continue;
          }
          throw new IoError("link", mine, e);
        }
        yield { fd, next: "relist" };
        const after = generations(dir);
        yield { fd, next: "verify" };
        let ours = false;
        try {
          ours = inodeKey(fs.lstatSync(mine)) === inodeKey(fs.fstatSync(fd));
        } catch (e) {
          if (errno(e) !== "ENOENT") throw new IoError("open", mine, e);
        }
        if (after[after.length - 1] > n || !ours) {
          // Lost to a higher generation. Unlinking by name is safe even if the file is no longer
          // ours: a name below M is no one's lock.
          yield { fd, next: "back-off" };
          if (ours) unlinkQuietly(mine);
          continue;
        }
        // Held. Older generations first (see 2 above), then FIFOs without a reader.
        for (const g of after) {
          if (g >= n) break;
          yield { fd, next: "clean" };
          unlinkQuietly(join(dir, `lock.${g}`));
        }
        yield { fd, next: "clean" };
        DirLock.#removeDeadFifos(dir, fifo);
        held = true;
        return new DirLock(dir, n, fifo, fd);
      }
      throw new StoreError("LOCKED", `database ${dir}: the writer lock could not be taken in ${MAX_ATTEMPTS} attempts (other processes keep taking it)`);
    } finally {
      if (!held && fd >= 0) {
        // A generation we linked stays: it is dead now, and removing it could lower M (see 1).
        fs.closeSync(fd);
        unlinkQuietly(fifo);
      }
    }
  }

  static #removeDeadFifos(dir: string, own: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!FIFO.test(name)) continue;
      const path = join(dir, name);
      if (path === own) continue;
      try {
        const live = openLive(path);
        if (live === null) unlinkQuietly(path);
        else if (live !== "gone") fs.closeSync(live);
      } catch {
        // Left for the next holder.
      }
    }
  }

  /** True until `release` (or `abandon`). */
  get held(): boolean {
    return this.#fd >= 0;
  }

  /** Ends the lock: closes the FIFO (from then on it is dead) and unlinks its name. */
  release(): void {
    for (const _ of this.releaseSteps());
  }

  /** `release`, paused between its file-system operations (for tests, as `steps`). */
  *releaseSteps(): Generator<void, void, void> {
    if (this.#fd < 0) return;
    this.abandon();
    yield;
    unlinkQuietly(this.fifoPath);
  }

  /** Closes the FIFO only, leaving every file as a killed process would (for tests). */
  abandon(): void {
    if (this.#fd < 0) return;
    heldHere.delete(this.#key);
    const fd = this.#fd;
    this.#fd = -1;
    fs.closeSync(fd);
  }
}
