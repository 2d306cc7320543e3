// The store: values (kv B+tree) and the trie's interior (merkle pages) under one commit point.
//
// A commit, in order:
//   1. the trie update is computed against the old state (pure: nothing changes on error);
//   2. the value tree applies the batch copy-on-write, writes its new pages and syncs;
//   3. the page store writes its WAL (or a grown table) and syncs;
//   4. the meta record (seq, root, value-tree meta, page table) is written and synced: the
//      commit point;
//   5. the page store applies its WAL in place; the value tree may reuse the pages it freed.
// A crash before 4 leaves the previous record in force, and nothing it names was overwritten
// (copy-on-write pages, WAL not yet applied); a crash after 4 is repaired at open by replaying
// the WAL. So a reopened store is always at the state before or after a commit.
//
// Directory layout: `meta` (the record), `values` (the B+tree), `merkle/` (page table and WAL),
// `LOCK` (one writer process).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BatchEntry, encodeTreeMeta, type KvTree, openKv, type RangeOptions } from "../kv/index.ts";
import { type PageStoreFileSystem, nodePageStoreFileSystem } from "../merkle/page-store-fs.ts";
import { PageStore, type PageStoreStats } from "../merkle/page-store.ts";
import { type Change, EMPTY, EMPTY_TOP, type MerkleTop, type UpdateResult, type UpdateStats, updateTrie } from "../merkle/update.ts";
import { checkKey, compareKeys, TrieError } from "../trie/index.ts";
import { StoreError } from "./errors.ts";
import { DirLock } from "./lock.ts";
import { type MetaRecord, readMetaRecord, writeMetaRecord } from "./meta-record.ts";

/** Options of `Store.open`. */
export interface StoreOptions {
  /** Page cache budget of the value tree, bytes (default: the kv default, 256 MiB). */
  valueCacheBytes?: number;
  /** Page cache budget of the merkle pages, bytes (default: the page store's, 128 MiB). */
  merkleCacheBytes?: number;
  /** File system seam, for tests that inject faults (default: the host's). */
  fs?: PageStoreFileSystem;
  /** Take the LOCK file (default true; in-memory test file systems turn it off). */
  lock?: boolean;
  /**
   * Buckets of a new database's merkle page table (a power of two >= 4; default the page
   * store's, 4096); the table grows as needed. Used at creation only; small values keep
   * in-memory test databases small.
   */
  merkleInitialBuckets?: number;
  /**
   * Create the database when `path` holds none (default true). With false, a path without a
   * database is refused with `NOT_FOUND` and nothing is created (checked on the host file
   * system).
   */
  create?: boolean;
}

/** Time and work of one commit. */
export interface CommitStats extends UpdateStats {
  changes: number;
  /** Milliseconds per phase. */
  updateMs: number;
  valuesMs: number;
  merkleWalMs: number;
  metaMs: number;
  applyMs: number;
}

/** A commit computed but not written: see `Store.prepare` and `Store.commitPrepared`. */
export interface PreparedCommit {
  /** The committed root the update was computed against. */
  readonly base: MerkleTop;
  /** The changes, sorted by key, keys distinct. */
  readonly changes: readonly Change[];
  /** The trie update of `changes` over `base`. */
  readonly update: UpdateResult;
  /** Milliseconds the update took (reported as `CommitStats.updateMs`). */
  readonly updateMs: number;
}

/** Sorted copy of a batch; refuses repeated keys and malformed entries with typed errors. */
export function sortBatch(batch: Iterable<BatchEntry>): Change[] {
  const out: Change[] = [];
  let i = 0;
  for (const entry of batch) {
    if (!Array.isArray(entry) || entry.length !== 2) throw new StoreError("BAD_ARGUMENT", `batch[${i}] must be a [key, value | null] pair`);
    checkKey(entry[0], `batch[${i}] key`);
    const v = entry[1];
    if (v !== null && !(v instanceof Uint8Array)) throw new StoreError("BAD_ARGUMENT", `batch[${i}] value must be a Uint8Array or null`);
    out.push([entry[0], v]);
    i++;
  }
  out.sort((a, b) => compareKeys(a[0], b[0]));
  for (let j = 1; j < out.length; j++) {
    if (compareKeys(out[j - 1][0], out[j][0]) === 0) {
      throw new StoreError("BAD_ARGUMENT", `batch repeats key 0x${Buffer.from(out[j][0]).toString("hex")}`);
    }
  }
  return out;
}

/** A durable GP state on disk with its root, updated incrementally per commit. */
export class Store {
  #top: MerkleTop;
  #seq: number;
  #closed = false;
  #failed: unknown = null;
  #lastCommit: CommitStats | null = null;

  private constructor(
    readonly path: string,
    private readonly metaFile: ReturnType<PageStoreFileSystem["open"]>,
    private readonly values: KvTree,
    private readonly pages: PageStore,
    private readonly lock: DirLock | null,
    rec: MetaRecord,
  ) {
    this.#top = rec.top;
    this.#seq = rec.seq;
  }

  /** Opens the store in directory `path`, creating it when it holds no committed state. */
  static open(path: string, options: StoreOptions = {}): Store {
    if (typeof path !== "string" || path.length === 0) throw new StoreError("BAD_ARGUMENT", "path must be a non-empty string");
    const fs = options.fs ?? nodePageStoreFileSystem;
    if (options.create === false && !existsSync(join(path, "meta"))) {
      throw new StoreError("NOT_FOUND", `no database at ${path}`);
    }
    fs.mkdir(path);
    const lock = options.lock === false ? null : DirLock.acquire(join(path, "LOCK"));
    const opened: { close(): void }[] = [];
    try {
      const metaFile = fs.open(join(path, "meta"));
      opened.push(metaFile);
      let rec = readMetaRecord(metaFile);
      const valuesPath = join(path, "values");
      const merkleDir = join(path, "merkle");
      let values: KvTree;
      let pages: PageStore;
      if (rec === null) {
        // Never committed (new, or a crash before the first record): start from nothing.
        const f = fs.open(valuesPath);
        f.truncate(0);
        f.sync();
        f.close();
        values = openKv(valuesPath, { fs, cacheBytes: options.valueCacheBytes });
        opened.push(values);
        pages = PageStore.open(merkleDir, { fs, cacheBytes: options.merkleCacheBytes, initialBuckets: options.merkleInitialBuckets });
        opened.push(pages);
        rec = { seq: 0, top: EMPTY_TOP, kv: values.durableMeta, table: pages.table };
        writeMetaRecord(metaFile, rec);
        fs.syncDir(path);
      } else {
        values = openKv(valuesPath, { fs, cacheBytes: options.valueCacheBytes, meta: encodeTreeMeta(rec.kv) });
        opened.push(values);
        pages = PageStore.open(merkleDir, { fs, cacheBytes: options.merkleCacheBytes, committedSeq: rec.seq, table: rec.table });
        opened.push(pages);
      }
      return new Store(path, metaFile, values, pages, lock, rec);
    } catch (e) {
      for (const f of opened.reverse()) f.close();
      lock?.release();
      throw e;
    }
  }

  #live(): void {
    if (this.#closed) throw new StoreError("CLOSED", `store ${this.path} is closed`);
    if (this.#failed) throw new StoreError("FAILED", `store ${this.path} failed during a commit; reopen it`, { cause: this.#failed });
  }

  /** The committed state root (GP merklization). */
  get root(): Uint8Array {
    return this.#top.root.slice();
  }

  /** The committed root node's kind (0 empty, 1 leaf, 2 branch). */
  get top(): MerkleTop {
    return this.#top;
  }

  /** Number of commits since creation. */
  get seq(): number {
    return this.#seq;
  }

  /** Number of entries. */
  get size(): number {
    return this.values.stats().entries;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#live();
    checkKey(key);
    return this.values.get(key);
  }

  /**
   * Entries with start <= key < end (bounds optional) in key order (sync). A scan belongs to the
   * committed state it started on: it throws if a commit happens before it ends.
   */
  *entries(range: RangeOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    this.#live();
    for (const [k, v] of this.values.entries(range)) yield [k, v];
  }

  /** The first key whose first `bits` bits equal those of `key`, or undefined. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    this.#live();
    return this.values.seekPrefixKey(key, bits);
  }

  /** The committed merkle page `id` (sealed image, shared: do not modify), or undefined. */
  page(id: Uint8Array): Uint8Array | undefined {
    this.#live();
    return this.pages.get(id);
  }

  /**
   * Applies a batch (any order; value null deletes) as one durable commit and returns the new
   * root. Bad input throws a typed error and changes nothing.
   */
  commit(batch: Iterable<BatchEntry>): Uint8Array {
    return this.commitPrepared(this.prepare(batch));
  }

  /**
   * Step 1 of `commit`: validates and sorts the batch and computes its trie update against the
   * committed state. Pure: nothing changes, whatever it throws.
   */
  prepare(batch: Iterable<BatchEntry>): PreparedCommit {
    this.#live();
    const changes = sortBatch(batch);
    const t0 = performance.now();
    let update: UpdateResult;
    try {
      update = updateTrie(this.#top, changes, this.pages, {
        leafKeyAt: (path, depth) => {
          const key = this.values.seekPrefixKey(path, depth);
          if (!key) throw new StoreError("CORRUPT", `${this.path}: the trie has a leaf under a ${depth}-bit prefix that holds no key`);
          return key;
        },
        entriesUnder: (path, depth) => this.values.prefixEntries(path, depth),
      });
    } catch (e) {
      if (e instanceof TrieError) throw new StoreError("BAD_ARGUMENT", e.message, { cause: e });
      throw e;
    }
    return { base: this.#top, changes, update, updateMs: performance.now() - t0 };
  }

  /**
   * Step 2 of `commit`: writes a prepared commit durably and returns the new root. `prepared`
   * may come from `prepare` or from a layer above that ran `updateTrie` over a view equal to the
   * committed state; one computed against another root is refused with `BAD_ARGUMENT` (nothing
   * changes).
   */
  commitPrepared(prepared: PreparedCommit): Uint8Array {
    this.#live();
    const { changes, update } = prepared;
    if (prepared.base.kind !== this.#top.kind || Buffer.compare(prepared.base.root, this.#top.root) !== 0) {
      throw new StoreError("BAD_ARGUMENT", "prepared commit: computed against another root than the committed one");
    }
    for (let j = 1; j < changes.length; j++) {
      if (compareKeys(changes[j - 1][0], changes[j][0]) >= 0) throw new StoreError("BAD_ARGUMENT", `prepared commit: changes not sorted and distinct at ${j}`);
    }
    const t1 = performance.now();
    const seq = this.#seq + 1;
    // The value tree validates the whole batch before changing anything.
    this.values.apply(changes);
    try {
      const kv = this.values.prepareCommit();
      const t2 = performance.now();
      const table = this.pages.prepare(update.writes, seq);
      const t3 = performance.now();
      const rec: MetaRecord = { seq, top: update.top, kv, table };
      writeMetaRecord(this.metaFile, rec);
      const t4 = performance.now();
      this.#top = update.top;
      this.#seq = seq;
      this.pages.apply();
      this.values.markDurable(kv);
      const t5 = performance.now();
      this.#lastCommit = {
        ...update.stats,
        changes: changes.length,
        updateMs: prepared.updateMs,
        valuesMs: t2 - t1,
        merkleWalMs: t3 - t2,
        metaMs: t4 - t3,
        applyMs: t5 - t4,
      };
    } catch (e) {
      // Memory and disk may now disagree; the disk is at the old or the new commit, and a
      // reopen finds out which.
      this.#failed = e;
      throw e;
    }
    return this.#top.root.slice();
  }

  /** Work and timings of the last commit. */
  get lastCommit(): CommitStats | null {
    return this.#lastCommit;
  }

  /** Counters of the page store and the value tree. */
  stats(): { merkle: PageStoreStats; values: ReturnType<KvTree["stats"]> } {
    return { merkle: this.pages.stats(), values: this.values.stats() };
  }

  /** True when the store holds no entries. */
  get empty(): boolean {
    return this.#top.kind === EMPTY;
  }

  /** Closes the files and releases the lock; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.pages.close();
      this.values.close();
      this.metaFile.close();
    } finally {
      this.lock?.release();
    }
  }
}

