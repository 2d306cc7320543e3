// An in-memory file system that fails one chosen file operation the way the host's would: a
// Node system error with `code`, `errno`, `syscall` (and `path` where Node gives one). Every
// operation counts (open, read, write, sync, truncate, size, close, remove, syncDir, mkdir), so
// a loop over N = 1, 2, ... reaches every failure point of a piece of work, SQLite style. A torn
// mode fails the N-th write instead, after writing a prefix of it.
//
// It also audits descriptors: a file closed twice (which on the host could close a reused
// descriptor number under another file) and files left open are counted, and every mutating
// operation after the injected failure is recorded (a failed handle must write and sync nothing
// more: no retried fsync).
import type { KvFile } from "../../src/io/index.ts";
import type { PageStoreFileSystem } from "../../src/io/fs.ts";
import { Data } from "./file-bytes.ts";

/** The system errors injected. */
export type FaultCode = "EIO" | "ENOSPC" | "EROFS";

const ERRNO: Record<string, number> = { EIO: -5, EBADF: -9, ENOSPC: -28, EROFS: -30 };
const TEXT: Record<string, string> = {
  EIO: "i/o error",
  EBADF: "bad file descriptor",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
};
const SYSCALL = {
  open: "open",
  read: "read",
  write: "write",
  sync: "fdatasync",
  truncate: "ftruncate",
  size: "fstat",
  close: "close",
  remove: "unlink",
  syncDir: "fsync",
  mkdir: "mkdir",
} as const;

type Op = keyof typeof SYSCALL;
const MUTATING: ReadonlySet<Op> = new Set(["write", "sync", "truncate", "remove", "syncDir"]);

/** An error shaped as Node's for a failed system call. */
export function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${TEXT[code] ?? code}, ${syscall}${path === undefined ? "" : ` '${path}'`}`);
  e.errno = ERRNO[code];
  e.code = code;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
}

/** See the module comment. */
export class FaultFs implements PageStoreFileSystem {
  #files = new Map<string, Data>();
  #open = new Set<object>();
  /** Operations so far (every kind counts). */
  ops = 0;
  /** Writes so far. */
  writes = 0;
  /** Fail operation number `at` (1-based, counted from arming) with `code`; or tear write number `at`. */
  #armed: { at: number; code: FaultCode; tear: boolean; persist: boolean; base: number } | null = null;
  /** The error injected, once it was. */
  fault: NodeJS.ErrnoException | null = null;
  /** What failed. */
  faultOp: Op | null = null;
  /** Mutating operations after the fault, as `op path`. */
  afterFault: string[] = [];
  /** Files closed a second time. */
  doubleCloses: string[] = [];
  /** Files closed while an async write or sync of theirs was in flight. */
  closedBusy: string[] = [];
  /** Async operations in flight, per open file (the latest file opened under a path). */
  #busy = new Map<string, { add(n: number): void }>();

  #issuedBefore = false;
  #gates: { suffix: string | RegExp; kind: "sync" | "write"; reach(): void; opened: Promise<FaultCode | undefined> }[] = [];

  /**
   * Holds the next async `kind` (sync or write) of a file whose path ends with `suffix` (or
   * matches it, a RegExp): it
   * starts (`reached` resolves) and does not finish until `open()`; `open(code)` fails it with
   * that system error instead (the fault, as `arm` injects it).
   */
  gate(suffix: string | RegExp, kind: "sync" | "write" = "sync"): { reached: Promise<void>; open(code?: FaultCode): void } {
    let reach = () => {};
    const reached = new Promise<void>((r) => {
      reach = r;
    });
    let open: (code?: FaultCode) => void = () => {};
    const opened = new Promise<FaultCode | undefined>((r) => {
      open = r;
    });
    this.#gates.push({ suffix, kind, reach, opened });
    return { reached, open };
  }

  /** Runs `op` on a later turn of the event loop, as the thread pool would. */
  #later(path: string, op: () => void, kind: "sync" | "write" = "sync"): Promise<void> {
    const b = this.#busy.get(path);
    b?.add(1);
    const at = this.#gates.findIndex((g) => g.kind === kind && (typeof g.suffix === "string" ? path.endsWith(g.suffix) : g.suffix.test(path)));
    const gate = at === -1 ? null : this.#gates.splice(at, 1)[0];
    gate?.reach();
    // An async operation issued before the fault is not one written after it, whenever it runs.
    const before = this.fault === null;
    return new Promise((resolve, reject) => {
      const run = (code: FaultCode | undefined) =>
        setImmediate(() => {
          b?.add(-1);
          try {
            if (code !== undefined) {
              this.ops++;
              this.fault = systemError(code, SYSCALL[kind === "sync" ? "sync" : "write"]);
              this.faultOp = kind;
              throw this.fault;
            }
            this.#issuedBefore = before;
            try {
              op();
            } finally {
              this.#issuedBefore = false;
            }
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      if (gate === null) run(undefined);
      else void gate.opened.then(run);
    });
  }

  /**
   * Arms the fault: operation `at` from now (or write `at`, when tearing) fails with `code`;
   * with `persist`, so does every operation after it (a device that is gone) until `disarm`.
   */
  arm(at: number, code: FaultCode, tear = false, persist = false): void {
    this.#armed = { at, code, tear, persist, base: tear ? this.writes : this.ops };
    this.fault = null;
    this.faultOp = null;
    this.afterFault = [];
  }

  /** Stops injecting (the fs is healthy from now on). */
  disarm(): void {
    this.#armed = null;
  }

  /** True when the armed fault has fired. */
  get fired(): boolean {
    return this.fault !== null;
  }

  /** Files open now, by path. */
  openFiles(): string[] {
    return [...this.#open].map((f) => (f as KvFile).path);
  }

  /** A healthy copy of the bytes (no open files, no fault). */
  clone(): FaultFs {
    const c = new FaultFs();
    for (const [p, d] of this.#files) c.#files.set(p, d.copy());
    return c;
  }

  // Counts `op`; throws the injected error when it is the armed one. `tear` writes a prefix first.
  #step(op: Op, path: string, tear?: (keep: number) => void, len = 0): void {
    this.ops++;
    if (op === "write") this.writes++;
    if (this.fault !== null && MUTATING.has(op) && !this.#issuedBefore) this.afterFault.push(`${op} ${path}`);
    const a = this.#armed;
    if (a === null) return;
    if (this.fault !== null) {
      if (a.persist) throw systemError(a.code, SYSCALL[op], op === "open" || op === "remove" || op === "mkdir" ? path : undefined);
      return;
    }
    const n = a.tear ? (op === "write" ? this.writes - a.base : -1) : this.ops - a.base;
    if (n !== a.at) return;
    if (a.tear && tear) tear(Math.floor(len / 2));
    // Node names the path only for calls that take one (open, unlink, mkdir), not for descriptors.
    const named = op === "open" || op === "remove" || op === "mkdir";
    this.fault = systemError(a.tear ? "EIO" : a.code, SYSCALL[op], named ? path : undefined);
    this.faultOp = op;
    throw this.fault;
  }

  #data(path: string): Data {
    let d = this.#files.get(path);
    if (d === undefined) {
      d = new Data();
      this.#files.set(path, d);
    }
    return d;
  }

  open(path: string): KvFile {
    this.#step("open", path);
    const fs = this;
    const data = this.#data(path);
    let closed = false;
    let busy = 0;
    this.#busy.set(path, {
      add: (n: number) => {
        busy += n;
      },
    });
    const live = (op: Op) => {
      if (closed) throw systemError("EBADF", SYSCALL[op]);
      if (fs.#files.get(path) !== data) throw new Error(`${path}: used after removal`);
    };
    const file: KvFile = {
      path,
      read(buf, position) {
        live("read");
        fs.#step("read", path);
        const n = Math.max(0, Math.min(buf.length, data.length - position));
        if (n > 0) buf.set(data.bytes.subarray(position, position + n));
        return n;
      },
      write(buf, position) {
        live("write");
        fs.#step("write", path, (keep) => data.write(buf.subarray(0, keep), position), buf.length);
        data.write(buf, position);
      },
      sync() {
        live("sync");
        fs.#step("sync", path);
      },
      // As the host's: the operation runs later (here on a later turn of the event loop), and
      // the descriptor must stay open until it has.
      syncAsync() {
        return fs.#later(path, () => file.sync());
      },
      writeAsync(buf, position) {
        const copy = buf.slice();
        return fs.#later(path, () => (file.write as (b: Uint8Array, p: number) => void)(copy, position), "write");
      },
      truncate(size) {
        live("truncate");
        fs.#step("truncate", path);
        data.truncate(size);
      },
      size() {
        live("size");
        fs.#step("size", path);
        return data.length;
      },
      close() {
        if (busy > 0) fs.closedBusy.push(path);
        if (closed) {
          fs.doubleCloses.push(path);
          throw systemError("EBADF", "close");
        }
        // A failed close still releases the descriptor, as on the host.
        closed = true;
        fs.#open.delete(file);
        fs.#step("close", path);
      },
    };
    this.#open.add(file);
    return file;
  }

  remove(path: string): void {
    this.#step("remove", path);
    this.#files.delete(path);
  }

  syncDir(dir: string): void {
    this.#step("syncDir", dir);
  }

  mkdir(dir: string): void {
    this.#step("mkdir", dir);
  }

  /** Paths of the files present. */
  names(): string[] {
    return [...this.#files.keys()];
  }
}
