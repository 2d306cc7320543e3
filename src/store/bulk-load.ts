// Bulk load: entries in strictly increasing key order go to the value tree and the merkle pages
// directly, with no redo log and no commit per chunk; checkpoints are the load's commit points.
// The store hands the load the few operations it needs (`LoadTarget`).
//
// Each chunk is checked and copied once into contiguous buffers (`PackedEntries`): entries
// sorted in memory sit at random addresses, so every pass over their objects costs cache misses,
// while the packed copy is read in order. A load into an empty store builds the trie bottom-up
// (`TrieLoadBuilder`: no page is read, each page is made once, when finished) and appends the
// values to the tree's right edge. `root()` or `commit()` before the end closes that build; the
// chunks after it, and every chunk of an appending load, go through the trie update instead.
//
// A build whose first chunk is large moves to a worker thread (`TrieLoadWorker`) as soon as that
// thread has started: hashing is most of its cost, and this thread meanwhile packs the next chunk
// and appends the values. Until then it runs here (the thread's start is not waited for), and
// the builder's state goes over between two chunks. The chunks then go through a ring of shared
// buffers; a chunk's buffer is refilled only once the thread has answered it, and each answer's
// pages are staged in chunk order with that chunk's last key, as the inline build stages them.
import { compareKeysAt, MAX_VALUE_SIZE, PackedEntries } from "../kv/index.ts";
import { loadThreadReady, type MerkleTop, type PageWrite, startLoadThread, TrieLoadBuilder, TrieLoadWorker } from "../merkle/index.ts";
import { type EntryBatch, KEY_BYTES } from "../trie/index.ts";
import { checkStoreKey } from "./args.ts";
import { StoreError } from "./errors.ts";

/** One entry of a load: a [key, value] pair or a { key, value } object. */
export type LoadEntry = readonly [Uint8Array, Uint8Array] | { readonly key: Uint8Array; readonly value: Uint8Array };
/** A chunk of a load, in key order. */
export type LoadChunk = readonly LoadEntry[];

/** A bulk load in progress: see `Store.beginLoad`. */
export interface StoreLoad {
  /** Adds entries ([key, value] pairs or { key, value } objects), keys strictly increasing (also from one chunk to the next). */
  add(chunk: LoadChunk): void;
  /** Adds entries `from .. to` of a batch, as `add` adds a chunk (the same size is best). */
  addBatch(batch: EntryBatch, from: number, to: number): void;
  /** The root of everything added so far. */
  root(): Uint8Array;
  /** Entries added so far. */
  count(): number;
  /** Makes everything added so far durable as one commit (a checkpoint); returns the root. */
  commit(): Uint8Array;
  /** Makes the rest durable as one commit and ends the load; returns the root. */
  finish(): Uint8Array;
  /** Gives up: what was added since the last `commit` is dropped; close the store (it refuses other calls). */
  abort(): void;
}

/** What a load does to its store. */
export interface LoadTarget {
  readonly path: string;
  /** Throws unless the store is open and sound. */
  live(): void;
  /** The committed root. */
  root(): Uint8Array;
  /** The greatest key stored, if any. */
  lastKey(): Uint8Array | undefined;
  /** Applies a checked, sorted chunk to the trie and the values, in memory (a failure fails the store). */
  apply(chunk: readonly (readonly [Uint8Array, Uint8Array])[]): void;
  /** A checked chunk of a bottom-up build: its values are appended to the value tree (a failure fails the store). */
  values(chunk: PackedEntries): void;
  /** Pages finished by the build, staged in chunk order; `edge` is their chunk's last key (a failure fails the store). */
  pages(pages: readonly PageWrite[], edge: Uint8Array): void;
  /** The build is over: `top` is the trie's, and `pages` its last pages (a failure fails the store). */
  built(top: MerkleTop, pages: readonly PageWrite[]): void;
  /** Makes everything applied so far durable as one commit, a checkpoint (a failure fails the store). */
  save(): void;
  /** Marks the load over (`loading` false) or begun. */
  setLoading(loading: boolean): void;
  /** Fails the store unless it failed already: memory holds what no commit point has. */
  fail(e: unknown): void;
}

// Entries fetched per round before their keys and values are read: the reads of a round miss
// the cache independently of each other, so they overlap instead of queueing one by one.
const FETCH = 32;
// Sink for the bytes read ahead (keeps the reads from being optimised away).
const touched = { sum: 0 };
// Chunk buffers of a build on the worker thread: this thread packs and appends up to RING - 1
// chunks ahead of it (~1.2 MB each at the import's 16384 entries).
const RING = 4;
// A build runs on the worker thread when its first chunk has at least this many entries: for
// fewer, the thread's start and the messages cost more than the hashing they move.
const WORKER_MIN_CHUNK = 4096;

/**
 * Where bottom-up builds run: "auto" (on the worker thread once it has started, when the first
 * chunk is large), "always" there from the first chunk (waiting for the thread), or "never".
 */
export type LoadWorkerMode = "auto" | "always" | "never";
let workerMode: LoadWorkerMode = "auto";
let workerFailAt = -1;

/**
 * Sets where later loads build their trie; `failAt` >= 0 makes the worker fail that request.
 * @internal For tests and benchmarks.
 */
export function setLoadWorker(mode: LoadWorkerMode, failAt = -1): void {
  workerMode = mode;
  workerFailAt = failAt;
}

/** The load over `target`, whose earlier commits are durable; `append`: the store may hold keys before the first added. */
export function startLoad(target: LoadTarget, append: boolean): StoreLoad {
  const last = new Uint8Array(KEY_BYTES);
  let hasLast = false;
  if (append) {
    const k = target.lastKey();
    if (k !== undefined) {
      last.set(k);
      hasLast = true;
    }
  }
  let count = 0;
  let unsaved = 0;
  let done = false;
  // A load into an empty store builds the trie bottom-up until something needs its root.
  let builder: TrieLoadBuilder | null = append ? null : new TrieLoadBuilder();
  // Or, from the first chunk on, on the worker thread, with its ring of chunk buffers and the
  // last key of each chunk not answered yet.
  let worker: TrieLoadWorker | null = null;
  let ring: PackedEntries[] = [];
  let sent = 0;
  const edges: Uint8Array[] = [];
  const single = new PackedEntries();
  // Whether the build moves to the worker thread once that has started (decided by the first chunk).
  let offload = false;
  // The thread takes a while to start (its modules load): start it now, before the first chunk.
  if (builder !== null && workerMode !== "never") startLoadThread();
  const keysIn: unknown[] = new Array(FETCH);
  const valsIn: unknown[] = new Array(FETCH);
  target.setLoading(true);
  // A failure of the build thread fails the load: memory holds what no commit point has.
  const buildFailed = (e: unknown): never => {
    const err =
      e instanceof StoreError
        ? e
        : new StoreError("FAILED", `store ${target.path}: the load's merkle build failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    worker?.close();
    worker = null;
    target.fail(err);
    throw err;
  };
  // Stages the worker's answers in chunk order: all of them, or (`wait` false) those in already.
  const takePages = (wait: boolean, keep = 0): void => {
    const w = worker as TrieLoadWorker;
    while (w.pending > keep) {
      let pages: PageWrite[] | undefined;
      try {
        pages = w.next(wait);
      } catch (e) {
        buildFailed(e);
      }
      if (pages === undefined) return;
      target.pages(pages, edges.shift() as Uint8Array);
    }
  };
  const closeBuild = (): void => {
    if (builder === null && worker === null) return;
    let result: ReturnType<TrieLoadBuilder["finish"]>;
    if (worker !== null) {
      takePages(true);
      try {
        result = worker.finish();
      } catch (e) {
        return buildFailed(e);
      }
      worker = null;
      ring = [];
    } else {
      const b = builder as TrieLoadBuilder;
      builder = null;
      try {
        result = b.finish();
      } catch (e) {
        target.fail(e);
        throw e;
      }
    }
    builder = null;
    target.built(result.top, result.writes);
  };
  const save = (): void => {
    closeBuild();
    if (unsaved === 0) return;
    target.save();
    unsaved = 0;
  };
  const live = (): void => {
    target.live();
    if (done) throw new StoreError("BAD_ARGUMENT", `store ${target.path}: the load is over`);
  };
  // Checks the chunk and copies it into `packed`; nothing else changes on bad input.
  const pack = (chunk: LoadChunk, packed: PackedEntries): void => {
    packed.reset();
    packed.reserve(chunk.length);
    for (let base = 0; base < chunk.length; base += FETCH) {
      const m = Math.min(FETCH, chunk.length - base);
      for (let j = 0; j < m; j++) {
        const e = chunk[base + j];
        if (Array.isArray(e)) {
          if (e.length !== 2) throw new StoreError("BAD_ARGUMENT", `entry ${count + base + j} must be a [key, value] pair`);
          keysIn[j] = e[0];
          valsIn[j] = e[1];
        } else {
          keysIn[j] = (e as { key?: unknown } | null)?.key;
          valsIn[j] = (e as { value?: unknown } | null)?.value;
        }
      }
      // Touch both ends of each key and value before copying them, for the same reason.
      let touch = 0;
      for (let j = 0; j < m; j++) {
        const k = keysIn[j];
        const v = valsIn[j];
        if (k instanceof Uint8Array && v instanceof Uint8Array && k.length === KEY_BYTES && v.length > 0)
          touch += k[0] + k[KEY_BYTES - 1] + v[0] + v[v.length - 1];
      }
      touched.sum = touch;
      for (let j = 0; j < m; j++) {
        const k = keysIn[j];
        const v = valsIn[j];
        // The name is made only for a bad key (a string per entry is most of this loop).
        if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) checkStoreKey(k, `entry ${count + base + j} key`);
        if (!(v instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `entry ${count + base + j} value must be a Uint8Array`);
        if (v.length > MAX_VALUE_SIZE)
          throw new StoreError("BAD_ARGUMENT", `entry ${count + base + j} value is ${v.length} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
      }
      for (let j = 0; j < m; j++) packed.push(keysIn[j] as Uint8Array, valsIn[j] as Uint8Array);
    }
    keysIn.fill(undefined);
    valsIn.fill(undefined);
    checkOrder(packed);
  };
  // Order, on the packed copy: each key against the one before it (the first against the last added).
  const checkOrder = (packed: PackedEntries): void => {
    const keys = packed.keys;
    for (let i = 0; i < packed.count; i++) {
      const c = i === 0 ? (hasLast ? compareKeysAt(last, 0, keys, 0) : -1) : compareKeysAt(keys, KEY_BYTES * (i - 1), keys, KEY_BYTES * i);
      if (c >= 0) {
        throw new StoreError(
          "BAD_ARGUMENT",
          `entry ${count + i} key 0x${Buffer.from(packed.key(i)).toString("hex")} is not after the previous key (a load takes sorted, distinct keys)`,
        );
      }
    }
  };
  // Copies entries from .. to of a batch (checked whole by checkBatch) into `packed` and checks their order.
  const packBatch = (batch: EntryBatch, from: number, to: number, packed: PackedEntries): void => {
    packed.reset();
    packed.pushBatch(batch, from, to);
    checkOrder(packed);
  };
  // Takes a chunk of `n` entries: `fill` checks and packs it into the buffer given.
  const ingest = (n: number, fill: (packed: PackedEntries) => void): void => {
    if (builder !== null && count === 0) offload = workerMode === "always" || (workerMode === "auto" && n >= WORKER_MIN_CHUNK);
    if (builder !== null && offload && (workerMode === "always" || loadThreadReady())) {
      worker = new TrieLoadWorker(builder.state(), workerFailAt);
      builder = null;
      ring = Array.from({ length: RING }, () => new PackedEntries(true));
    }
    let packed = single;
    if (worker !== null) {
      // This chunk's buffer was the one of chunk sent - RING: wait for its answer.
      takePages(true, RING - 1);
      packed = ring[sent % RING];
    }
    fill(packed);
    if (packed.count === 0) return;
    apply(packed);
  };
  // Applies a checked, packed chunk: only damage or I/O can fail from here, and the load is then over.
  const apply = (packed: PackedEntries): void => {
    const n = packed.count;
    // Checked above, so only damage or I/O can fail from here: the load is then over.
    const edge = packed.key(n - 1).slice();
    if (worker !== null) {
      try {
        worker.add(packed);
      } catch (e) {
        buildFailed(e);
      }
      sent++;
      edges.push(edge);
      target.values(packed);
      takePages(false);
    } else if (builder !== null) {
      let pages: PageWrite[];
      try {
        pages = builder.add(packed);
      } catch (e) {
        target.fail(e);
        throw e;
      }
      target.values(packed);
      target.pages(pages, edge);
    } else {
      const pairs: (readonly [Uint8Array, Uint8Array])[] = new Array(n);
      for (let i = 0; i < n; i++) pairs[i] = [packed.key(i), packed.value(i)];
      target.apply(pairs);
    }
    last.set(edge);
    hasLast = true;
    count += n;
    unsaved += n;
  };
  return {
    add: (chunk: LoadChunk): void => {
      live();
      if (!Array.isArray(chunk)) throw new StoreError("BAD_ARGUMENT", "chunk must be an array of [key, value] pairs");
      ingest(chunk.length, (packed) => pack(chunk, packed));
    },
    addBatch: (batch: EntryBatch, from: number, to: number): void => {
      live();
      const total = checkBatch(batch);
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > total) {
        throw new StoreError("BAD_ARGUMENT", `batch range ${String(from)} .. ${String(to)} is not within its ${total} entries`);
      }
      checkBatchRange(batch, from, to, count);
      ingest(to - from, (packed) => packBatch(batch, from, to, packed));
    },
    commit: (): Uint8Array => {
      live();
      save();
      return target.root();
    },
    root: (): Uint8Array => {
      if (builder !== null || worker !== null) {
        live();
        closeBuild();
      }
      return target.root();
    },
    count: (): number => count,
    finish: (): Uint8Array => {
      live();
      save();
      done = true;
      target.setLoading(false);
      return target.root();
    },
    abort: (): void => {
      if (done) return;
      done = true;
      builder = null;
      worker?.close();
      worker = null;
      target.setLoading(false);
      // Memory now holds a state no commit point has: refuse everything until closed.
      if (unsaved > 0) target.fail(new StoreError("BAD_ARGUMENT", `store ${target.path}: a bulk load was aborted`));
    },
  };
}

/** Checks a batch's shape and returns its entry count (the entries are checked range by range: checkBatchRange). */
export function checkBatch(batch: EntryBatch): number {
  if (batch === null || typeof batch !== "object") throw new StoreError("BAD_ARGUMENT", "batch must be an object { keys, values, offsets }");
  const { keys, values, offsets } = batch;
  if (!(keys instanceof Uint8Array) || keys.length % KEY_BYTES !== 0) {
    throw new StoreError(
      "BAD_ARGUMENT",
      `batch.keys must be a Uint8Array of 31-byte keys, got ${keys instanceof Uint8Array ? `${keys.length} bytes` : typeof keys}`,
    );
  }
  if (!(values instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `batch.values must be a Uint8Array, got ${typeof values}`);
  const n = keys.length / KEY_BYTES;
  if (!(offsets instanceof Uint32Array) || offsets.length !== n + 1) {
    throw new StoreError(
      "BAD_ARGUMENT",
      `batch.offsets must be a Uint32Array of ${n + 1} items (one more than the keys), got ${offsets instanceof Uint32Array ? offsets.length : typeof offsets}`,
    );
  }
  return n;
}

/**
 * Checks the offsets and value sizes of entries `from .. to` of a batch (their order is checked
 * on the load's copy); errors name the entry by its index in the load (`base` + i - from).
 */
export function checkBatchRange(batch: EntryBatch, from: number, to: number, base: number): void {
  const { values, offsets } = batch;
  for (let i = from; i < to; i++) {
    const len = offsets[i + 1] - offsets[i];
    if (len < 0)
      throw new StoreError("BAD_ARGUMENT", `batch.offsets[${i + 1}] is ${offsets[i + 1]}, before offsets[${i}] (${offsets[i]}): entry ${base + i - from}`);
    if (len > MAX_VALUE_SIZE)
      throw new StoreError("BAD_ARGUMENT", `entry ${base + i - from} value is ${len} bytes, more than the maximum of ${MAX_VALUE_SIZE}`);
  }
  if (offsets[to] > values.length)
    throw new StoreError("BAD_ARGUMENT", `batch.offsets[${to}] is ${offsets[to]}, past the ${values.length} bytes of batch.values`);
}
