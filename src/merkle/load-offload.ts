// A load build on a worker thread: the same pages and top as TrieLoadBuilder, while the caller
// goes on with the values. The caller stays synchronous: chunks are posted, and answers are
// taken with receiveMessageOnPort, blocking in Atomics.wait on a shared counter only when it
// needs one (a chunk buffer to reuse, or the end). The chunks' buffers are shared, not copied
// (PackedEntries with `shared`), so the caller must not refill a chunk until its answer is in.
//
// One thread serves the process, one load at a time, and is unref'd: it never keeps the
// process alive. It is started from a small CommonJS script that imports the thread's module
// (load-worker.ts, or .js in the compiled package) and reports a failed start in shared memory,
// so that a caller blocked waiting sees that failure too.
import { type MessagePort, MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { PackedEntries } from "../kv/index.ts";
import type { LoadBuildState } from "./load-build.ts";
import type { BuildBegin, BuildRequest } from "./load-worker.ts";
import type { MerkleTop, PageWrite } from "./types.ts";

/** A failure of the build thread (its message says what failed). */
export class LoadBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LoadBuildError";
  }
}

type Answer =
  | { readonly op: "pages"; readonly pages: PageWrite[] }
  | { readonly op: "top"; readonly top: MerkleTop; readonly writes: PageWrite[] }
  | { readonly op: "error"; readonly message: string };

// The thread starts from this script. Run from the TypeScript sources, it first registers the
// loader that runs this process (tsx: workers do not inherit it), found from here by the caller.
const STARTER = `
const { workerData } = require("node:worker_threads");
async function start({ url, loader, boot }) {
  if (loader !== null) (await import(loader)).register();
  await import(url);
  Atomics.store(boot, 0, 2);
}
start(workerData).catch((e) => {
  const boot = workerData.boot;
  const bytes = Buffer.from(String((e && e.message) || e)).subarray(0, workerData.error.length);
  workerData.error.set(bytes);
  Atomics.store(boot, 1, bytes.length);
  Atomics.store(boot, 0, 1);
  Atomics.notify(boot, 0);
});
`;
const FROM_SOURCES = import.meta.url.endsWith(".ts");
// Where the thread's module is: next to this one, with this module's extension.
const MODULE_URL = new URL(`./load-worker${FROM_SOURCES ? ".ts" : ".js"}`, import.meta.url).href;

function sourceLoader(): string | null {
  if (!FROM_SOURCES) return null;
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    return null;
  }
}

interface Thread {
  readonly worker: Worker;
  /** [0]: 0 while the module loads, 1 if it failed to, 2 once loaded; [1]: bytes of the failure's message in `error`. */
  readonly boot: Int32Array;
  readonly error: Uint8Array;
}

let thread: Thread | null = null;

function buildThread(): Thread {
  if (thread !== null && Atomics.load(thread.boot, 0) !== 1) return thread;
  const boot = new Int32Array(new SharedArrayBuffer(8));
  const error = new Uint8Array(new SharedArrayBuffer(1024));
  // No inherited flags: the starter is a CommonJS script whatever this process's input type.
  const worker = new Worker(STARTER, { eval: true, execArgv: [], workerData: { url: MODULE_URL, loader: sourceLoader(), boot, error } });
  worker.unref();
  const t: Thread = { worker, boot, error };
  // A thread that dies is replaced at the next load; a load waiting on it fails by `boot`, or
  // by the guard on waits.
  worker.on("error", () => {
    if (thread === t) thread = null;
  });
  worker.on("exit", () => {
    if (thread === t) thread = null;
  });
  thread = t;
  return t;
}

// Longest waits for the thread to start, and for one answer: beyond them the thread is taken as
// gone (a thread that dies cannot say so while this one blocks).
const START_MS = 30_000;
const STALL_MS = 120_000;
const WAIT_SLICE_MS = 20;

/** Starts the build thread now, if it is not running, so that a build about to begin does not wait for it. */
export function startLoadThread(): void {
  buildThread();
}

/** Whether the build thread has started (its module loaded): a build handed to it now does not wait. */
export function loadThreadReady(): boolean {
  return thread !== null && Atomics.load(thread.boot, 0) === 2;
}

/** The merkle pages of a sorted load, built on a worker thread (see the module comment). */
export class TrieLoadWorker {
  readonly #thread: Thread;
  readonly #port: MessagePort;
  readonly #state = new Int32Array(new SharedArrayBuffer(4));
  #sent = 0;
  #received = 0;
  #closed = false;
  #finished = false;

  /**
   * A build that goes on from `from` (a TrieLoadBuilder's state between batches), or a new one.
   * `failAt`: for tests, the request (0-based) the thread fails instead of running.
   */
  constructor(from: LoadBuildState | null = null, failAt = -1) {
    this.#thread = buildThread();
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    port1.unref();
    const begin: BuildBegin = { port: port2, state: this.#state, failAt, build: from };
    this.#thread.worker.postMessage(begin, [port2]);
  }

  /** Chunks sent and not answered yet. */
  get pending(): number {
    return this.#sent - this.#received;
  }

  /** Sends a checked chunk (keys after every key sent before); its buffers must not change until its answer is taken. */
  add(batch: PackedEntries): void {
    this.#live();
    const req: BuildRequest = { op: "add", parts: batch.parts() };
    this.#port.postMessage(req);
    this.#sent++;
  }

  /**
   * The pages finished by the oldest chunk not answered yet; with `wait`, blocks until its
   * answer is in, otherwise undefined when it is not. Throws LoadBuildError if the thread failed.
   */
  next(wait: boolean): PageWrite[] | undefined {
    this.#live();
    if (this.pending === 0) throw new LoadBuildError("trie load worker: no chunk awaits an answer");
    const a = this.#take(wait);
    if (a === undefined) return undefined;
    if (a.op !== "pages") throw new LoadBuildError(`trie load worker: answer ${a.op} where a chunk's pages were due`);
    return a.pages;
  }

  /** Ends the build once every chunk's pages were taken: the trie's top and the last pages. */
  finish(): { top: MerkleTop; writes: PageWrite[] } {
    this.#live();
    if (this.pending !== 0) throw new LoadBuildError("trie load worker: finish before every chunk's pages were taken");
    const req: BuildRequest = { op: "finish" };
    this.#port.postMessage(req);
    this.#sent++;
    this.#finished = true;
    const a = this.#take(true) as Answer;
    this.close();
    if (a.op !== "top") throw new LoadBuildError(`trie load worker: answer ${a.op} where the top was due`);
    return { top: a.top, writes: a.writes };
  }

  /** Drops the build (its thread stays, idle, for the next load). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.close();
  }

  #live(): void {
    if (this.#closed || (this.#finished && this.pending === 0)) throw new LoadBuildError("trie load worker: the build is over");
  }

  #take(wait: boolean): Answer | undefined {
    const want = this.#received + 1;
    let idle = 0;
    for (;;) {
      // The count is raised after the answer is posted, so a counted answer is in the port.
      if (Atomics.load(this.#state, 0) >= want) {
        const m = receiveMessageOnPort(this.#port);
        if (m !== undefined) {
          this.#received++;
          const a = m.message as Answer;
          if (a.op === "error") {
            this.close();
            throw new LoadBuildError(`trie load worker failed: ${a.message}`);
          }
          return a;
        }
      }
      if (!wait) return undefined;
      const boot = this.#thread.boot;
      const started = Atomics.load(boot, 0);
      if (started === 1) {
        this.close();
        const msg = Buffer.from(this.#thread.error.subarray(0, Atomics.load(boot, 1))).toString();
        throw new LoadBuildError(`trie load worker could not start: ${msg}`);
      }
      if (Atomics.wait(this.#state, 0, want - 1, WAIT_SLICE_MS) === "timed-out") {
        idle += WAIT_SLICE_MS;
        const limit = started === 0 ? START_MS : STALL_MS;
        if (idle >= limit) {
          this.close();
          throw new LoadBuildError(`trie load worker: ${started === 0 ? "not started" : "no answer"} in ${limit / 1000} s`);
        }
      } else idle = 0;
    }
  }
}
