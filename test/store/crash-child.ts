// The writer of the crash test: opens a store and commits forever, one deterministic batch per
// sequence number, until it is killed.
//
//   node --import tsx test/store/crash-child.ts DIR SEED [PAUSE_MS]
//
// PAUSE_MS (default 0) sleeps between commits, for tests that read beside the writer. With
// BMT_CRASH_HOLD=1 the child stops after its first commit instead of acking it: it prints
// `held <seq>` and waits to be killed, so a test can kill it with a commit durable but unacked
// whatever the machine's speed.
// Prints `open <seq>` once the store is open, then `ack <seq> <rootHex>` after each commit
// returns (written synchronously, so an ack on the pipe means the commit was durable), with
// ` during` when the commit was logged while a checkpoint ran (background mode). Batch
// number s depends on (seed, s) alone, so the test rebuilds the expected state of any seq.
import { writeSync } from "node:fs";
import { AheadOfStore, MAX_AHEAD } from "../../src/db/ahead.ts";
import { stateReader, StoreState } from "../../src/db/state.ts";
import { updateTrie } from "../../src/merkle/index.ts";
import { sortBatch, Store } from "../../src/store/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { batchFor, universe } from "./crash-batches.ts";

const nap = new Int32Array(new SharedArrayBuffer(4));

// A line to stdout, whole (lines are under PIPE_BUF, so a pipe takes each in one write). The
// pipe may be full while the test runs synchronous reads: wait for room rather than fail.
function say(line: string): void {
  for (;;) {
    try {
      writeSync(1, line);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(nap, 0, 0, 1);
    }
  }
}

// BMT_CRASH_BACKGROUND=1: the commits go the database's way: each begins a checkpoint in the
// background when one is due (every second commit), and the next ones go on beside it, logged
// at once and applied to the store's memory when it is published; their trie updates read the
// store plus the commits it holds back (src/db/ahead.ts). So kills land in checkpoints' slices
// and writes, with commits acknowledged during them.
async function runBackground(dir: string, seed: number): Promise<void> {
  const keys = universe(seed);
  const store = Store.open(dir, { checkpointEvery: 2 });
  const memory = new StoreState(store);
  const ahead = new AheadOfStore(() => store.seq, memory, { deltaPageBuilds: 0, deltaPagesBuilt: 0 });
  say(`open ${store.seq}\n`);
  const ppid = process.ppid;
  let seq = store.seq;
  while (process.ppid === ppid) {
    if (store.commitsAhead >= MAX_AHEAD) await store.idle();
    const s = seq + 1;
    const changes = sortBatch(batchFor(seed, keys, s));
    const view = ahead.view() ?? memory;
    const update = updateTrie(view.top, changes, view.pages, stateReader(view));
    const root = await store.commitPreparedAsync({ base: view.top, changes, update, updateMs: 0 });
    ahead.note(s, changes, update);
    seq = s;
    if (process.env.BMT_CRASH_HOLD === "1") {
      say(`held ${s}\n`);
      for (;;) Atomics.wait(nap, 0, 0, 1000);
    }
    say(`ack ${s} ${toHex(root)}${store.lastCommit?.duringCheckpoint ? " during" : ""}\n`);
    // Let the checkpoint's slices run between commits too.
    await new Promise((r) => setImmediate(r));
  }
  store.close();
}

function run(dir: string, seed: number, pauseMs: number): void {
  const keys = universe(seed);
  const store = Store.open(dir);
  say(`open ${store.seq}\n`);
  // Safety net in case the test dies without killing us: the parent's pid changes (no time
  // limit: on a loaded machine a long test outlived one).
  const ppid = process.ppid;
  while (process.ppid === ppid) {
    const s = store.seq + 1;
    const root = store.commit(batchFor(seed, keys, s));
    if (process.env.BMT_CRASH_HOLD === "1") {
      say(`held ${s}\n`);
      for (;;) Atomics.wait(nap, 0, 0, 1000);
    }
    say(`ack ${s} ${toHex(root)}\n`);
    if (pauseMs > 0) Atomics.wait(nap, 0, 0, pauseMs);
  }
  store.close();
}

const [dir, seedText, pauseText] = process.argv.slice(2);
const seed = Number(seedText);
const pause = Number(pauseText ?? 0);
if (!dir || !Number.isInteger(seed) || !(pause >= 0)) {
  process.stderr.write("usage: crash-child.ts DIR SEED [PAUSE_MS]\n");
  process.exit(2);
}
if (process.env.BMT_CRASH_BACKGROUND === "1") await runBackground(dir, seed);
else run(dir, seed, pause);
