// Write-behind: a worker thread writes byte runs into an open file and syncs it while the
// caller goes on. The value tree hands it a checkpoint's new pages (fresh page numbers, which
// nothing durable refers to); the page store its WAL, then, after the commit point, the
// in-place apply, whose bytes the synced WAL already holds. The callers wait only before the
// commit point, the next WAL write, or close. A job may also carry the CRC-32 steps that seal
// what it writes, so that sealing costs the caller nothing.
//
// Completion is signalled in shared memory, not by message: a caller that never yields to the
// event loop (a loop of synchronous commits) still sees it, and `wait` blocks on it with
// Atomics.wait; a caller on the event loop awaits `settled` (Atomics.waitAsync) instead. One worker serves the whole process, jobs in submission order; it is unref'd,
// so it never keeps a process alive.
import { Worker } from "node:worker_threads";
import { IoError } from "./io-error.ts";

// The worker, as a CommonJS script (eval workers need no file on disk, so the same code runs
// from the TypeScript sources and from the compiled package).
const WORKER_SOURCE = `
const { parentPort, workerData: life } = require("node:worker_threads");
const fs = require("node:fs");
const { crc32 } = require("node:zlib");
// A thread that exits (an uncaught error, process.exit) says so in shared memory, where a
// caller blocked in Atomics.wait sees it: the job it was running is marked lost (3).
let current = null;
// Started: a caller blocked waiting for a job tells a slow job from a thread that never ran.
Atomics.store(life, 1, 1);
process.on("exit", () => {
  Atomics.store(life, 0, 1);
  Atomics.notify(life, 0);
  if (current !== null && Atomics.compareExchange(current, 0, 0, 3) === 0) Atomics.notify(current, 0);
});
parentPort.on("message", ({ fd, parts, state, error, fault }) => {
  current = state;
  // Tests: a worker that throws outside the job's handling, or exits, with the job unfinished.
  if (fault === "throw") throw new Error("write-behind: fault injected");
  if (fault === "exit") process.exit(70);
  let failure = "";
  let op = "write";
  try {
    for (const { data, runs, sums } of parts) {
      let last = 0;
      for (let i = 0; i < sums.length; i += 4) {
        const off = sums[i], len = sums[i + 1], seed = sums[i + 2], at = sums[i + 3];
        last = crc32(data.subarray(off, off + len), seed < 0 ? last : seed);
        if (at >= 0) {
          data[at] = last & 255; data[at + 1] = (last >>> 8) & 255;
          data[at + 2] = (last >>> 16) & 255; data[at + 3] = last >>> 24;
        }
      }
      for (let i = 0; i < runs.length; i += 3) {
        let off = runs[i], len = runs[i + 1], pos = runs[i + 2];
        while (len > 0) {
          const n = fs.writeSync(fd, data, off, len, pos);
          off += n; len -= n; pos += n;
        }
      }
    }
    op = "sync";
    fs.fdatasyncSync(fd);
  } catch (e) {
    // What the caller needs to type the failure: the operation and the system error's fields.
    failure = JSON.stringify({ op, message: String((e && e.message) || e), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall });
  }
  const bytes = Buffer.from(failure).subarray(0, error.length);
  error.set(bytes);
  Atomics.store(state, 1, bytes.length);
  Atomics.store(state, 0, failure === "" ? 1 : 2);
  Atomics.notify(state, 0);
  current = null;
});
`;

// Node 20 has Atomics.waitAsync; the ES2022 library this project compiles against does not name it.
const atomics = Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
};

const RUNNING = 0;
const DONE = 1;
const FAILED = 2;
/** The worker's thread exited while running the job. */
const LOST = 3;

let worker: Worker | null = null;
/** The live worker's flags in shared memory: [0] 1 once its thread has exited, [1] 1 once it has started. */
let life: Int32Array = new Int32Array(new SharedArrayBuffer(8));
/** How long a blocked caller waits for a worker that has not started before it gives the job up. */
let bootTimeoutMs = 60_000;
/** Tests: the next worker's source (one that never starts), or null. */
let nextSource: string | null = null;

/**
 * Tests: how long `wait` waits for a worker that never started (returns the old value); with
 * `broken`, the next worker started fails before it runs anything.
 */
export function setWriteBehindBoot(timeoutMs: number, broken = false): number {
  const old = bootTimeoutMs;
  bootTimeoutMs = timeoutMs;
  nextSource = broken ? 'throw new Error("write-behind: start fault injected");' : null;
  return old;
}

function sharedWorker(): Worker {
  // A worker whose thread has exited, though its exit event has not run yet, takes no more jobs.
  // A test's broken source replaces the live worker at once: whether a healthy one is alive
  // then (one started after an injected exit) must not decide which one runs the next job.
  if (worker === null || Atomics.load(life, 0) === 1 || nextSource !== null) {
    life = new Int32Array(new SharedArrayBuffer(8));
    const source = nextSource ?? WORKER_SOURCE;
    nextSource = null;
    // No inherited flags: the source is a CommonJS script whatever this process's input type
    // (under --input-type=module the worker would fail to parse it before it could report).
    const w = new Worker(source, { eval: true, execArgv: [], workerData: life });
    w.unref();
    // A worker that dies (an uncaught error, or an exit) takes its jobs with it: they stay
    // RUNNING, and a client waiting for one would wait forever. Its clients check that the
    // worker they submitted to is still the live one; a later job starts a new worker.
    const lost = () => {
      if (worker === w) worker = null;
    };
    w.on("error", lost);
    w.on("exit", lost);
    worker = w;
  }
  return worker;
}

type Fault = "throw" | "exit";
let faults: { after: number; kind: Fault } | null = null;

/**
 * Tests: the job submitted after `after` more jobs (0: the next) kills the worker before it
 * writes anything (`throw`: an uncaught error; `exit`: the thread exits); null clears it.
 */
export function setWriteBehindFault(after: number, kind: Fault | null): void {
  faults = kind === null ? null : { after, kind };
}

function takeFault(): Fault | undefined {
  if (faults === null) return undefined;
  if (faults.after-- > 0) return undefined;
  const kind = faults.kind;
  faults = null;
  return kind;
}

/**
 * The byte runs of one job, as views into shared memory (the worker reads them where they are,
 * nothing is copied): the caller must not change those bytes until the job is done.
 */
export class WriteJob {
  readonly #parts: { data: Uint8Array; runs: number[]; sums: number[] }[] = [];

  #part(data: Uint8Array): { data: Uint8Array; runs: number[]; sums: number[] } {
    if (!(data.buffer instanceof SharedArrayBuffer)) throw new Error("write-behind: data must live in a SharedArrayBuffer");
    let part = this.#parts[this.#parts.length - 1];
    if (part === undefined || part.data !== data) {
      part = { data, runs: [], sums: [] };
      this.#parts.push(part);
    }
    return part;
  }

  /** Adds data[offset..+length) to be written at file `position`; adjacent runs merge. */
  add(data: Uint8Array, offset: number, length: number, position: number): void {
    const part = this.#part(data);
    const runs = part.runs;
    const n = runs.length;
    if (n > 0 && runs[n - 3] + runs[n - 2] === offset && runs[n - 1] + runs[n - 2] === position) runs[n - 2] += length;
    else runs.push(offset, length, position);
  }

  /**
   * Has the worker, before it writes `data`'s runs, store at data[at..+4) (u32 LE; nothing when
   * `at` < 0) the CRC-32 of data[offset..+length) started from `seed`, or from the previous
   * checksum of this `data` when `seed` is `CHAIN`. Checksums are taken in the order added, so
   * a later one may cover bytes an earlier one stored. Sealing pages costs the caller nothing.
   */
  checksum(data: Uint8Array, offset: number, length: number, seed: number, at: number): void {
    this.#part(data).sums.push(offset, length, seed, at);
  }

  /** Adds a copy of `bytes` (small pieces whose source will change) to be written at `position`. */
  addCopy(bytes: Uint8Array, position: number): void {
    const copy = new Uint8Array(new SharedArrayBuffer(bytes.length));
    copy.set(bytes);
    this.add(copy, 0, bytes.length, position);
  }

  /** The parts, for the worker. */
  parts(): { data: Uint8Array; runs: Float64Array; sums: Float64Array }[] {
    return this.#parts.map((p) => ({ data: p.data, runs: Float64Array.from(p.runs), sums: Float64Array.from(p.sums) }));
  }
}

/** `WriteJob.checksum`'s seed meaning "continue from the previous checksum". */
export const CHAIN = -1;

/** One client's jobs on the shared worker: at most one in flight. */
export class WriteBehind {
  readonly #state = new Int32Array(new SharedArrayBuffer(8));
  readonly #error = new Uint8Array(new SharedArrayBuffer(1024));
  #busy = false;
  #path = "";
  /** The worker the job in flight went to, and its exit flag (see `#lost`). */
  #on: Worker | null = null;
  #life: Int32Array = new Int32Array(2);

  /**
   * Starts writing `job`'s runs into the file open as `fd` (named `path` in errors), then
   * syncing it. The file must stay open until the job is done (`done` or `wait`).
   */
  submit(fd: number, path: string, job: WriteJob): void {
    if (this.#busy) throw new Error("write-behind: a job is already in flight");
    Atomics.store(this.#state, 0, RUNNING);
    this.#busy = true;
    this.#path = path;
    this.#on = sharedWorker();
    this.#life = life;
    this.#on.postMessage({ fd, parts: job.parts(), state: this.#state, error: this.#error, fault: takeFault() });
  }

  // The worker of the job in flight has exited (its flag, set from its thread) or is no longer
  // the live one (its error or exit event).
  #lost(): boolean {
    return Atomics.load(this.#life, 0) === 1 || this.#on !== worker;
  }

  /** True when the last job is written and synced (or none was submitted). Never blocks. */
  get done(): boolean {
    return !this.#busy || Atomics.load(this.#state, 0) === DONE;
  }

  /**
   * Resolves once the job in flight, if any, has stopped running (written and synced, or
   * failed, or its worker lost), without blocking the thread; `wait` then returns or throws
   * at once with the outcome.
   */
  async settled(): Promise<void> {
    if (!this.#busy || Atomics.load(this.#state, 0) !== RUNNING) return;
    // A pending waitAsync does not keep the process alive, and the worker is unref'd: without
    // this timer a script awaiting a commit could see its process exit under it.
    const alive = setTimeout(() => {}, 2 ** 31 - 1);
    try {
      while (this.#busy && Atomics.load(this.#state, 0) === RUNNING && !this.#lost()) {
        const r = atomics.waitAsync(this.#state, 0, RUNNING, 1000);
        if (r.async) await r.value;
      }
    } finally {
      clearTimeout(alive);
    }
  }

  /**
   * Blocks until the job in flight, if any, is written and synced; throws an `IoError` (the
   * worker's system error as its cause) if it failed.
   */
  wait(): void {
    if (!this.#busy) return;
    const t0 = performance.now();
    let unborn = false;
    while (Atomics.load(this.#state, 0) === RUNNING) {
      // The worker was lost (it died, or never started): nothing will signal. A job it had
      // not begun is seen lost within the wait's timeout.
      if (this.#lost()) break;
      // A thread that failed to start reports it only by an event, which a blocked caller never
      // receives: give up on one that has not started after the boot timeout.
      if (Atomics.load(this.#life, 1) === 0 && performance.now() - t0 >= bootTimeoutMs) {
        unborn = true;
        break;
      }
      Atomics.wait(this.#state, 0, RUNNING, Math.min(1000, bootTimeoutMs));
    }
    this.#busy = false;
    const state = Atomics.load(this.#state, 0);
    if (unborn && state === RUNNING) {
      // Never given another job; it is stopped if it ever starts.
      if (worker === this.#on) worker = null;
      void this.#on?.terminate();
      throw new IoError("write", this.#path, new Error(`the write-behind worker did not start within ${bootTimeoutMs} ms`));
    }
    if (state === RUNNING || state === LOST) {
      throw new IoError("write", this.#path, new Error("the write-behind worker exited before finishing its write"));
    }
    if (state === FAILED) {
      const text = Buffer.from(this.#error.subarray(0, Atomics.load(this.#state, 1))).toString();
      let failure: { op?: string; message?: string; code?: string; errno?: number; syscall?: string } = { message: text };
      try {
        failure = JSON.parse(text);
      } catch {
        // Cut at the error buffer's length: keep the text as the message.
      }
      const cause = Object.assign(new Error(failure.message ?? text), { code: failure.code, errno: failure.errno, syscall: failure.syscall });
      throw new IoError(failure.op === "sync" ? "sync" : "write", this.#path, cause);
    }
  }
}
