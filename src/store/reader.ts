// A read-only view of a store's values at its last commit, without the writer lock and without
// writing anything (no WAL replay, no lock file): for tools such as `bmt get` and `bmt root`.
// The last commit is the checkpoint the meta record names plus the redo log's records after it,
// which the reader holds in memory as an overlay of the value tree.
//
// Another process may hold the store open and commit meanwhile. Its commits only append to the
// redo log (read at open), and its next checkpoint, which rewrites merkle pages in place and
// lets the value tree reuse this checkpoint's pages, waits for registered readers up to a bound
// (readers.ts): the reader registers in the reader table at open, and `checkCurrent` tells
// whether the writer has gone past the bound since. A read followed by a successful
// `checkCurrent` read this reader's state, however many commits the writer made meanwhile.
//
// Merkle pages are those of the checkpoint (the page store opened read-only: a committed WAL not
// yet applied is held in memory) plus the pages of the logged commits, computed at the first
// page read by one trie update of all their changes over the checkpoint's values and checked
// against the log's last root (reads of values alone never pay for it).
import { join } from "node:path";
import { encodeTreeMeta, type KvTree, keyString, openKv, type RangeOptions } from "../kv/index.ts";
import { closeQuietly, guardFileSystem, type KvFile } from "../io/index.ts";
import { type Change, type MerkleTop, pageIdKey, PageStore, updateTrie } from "../merkle/index.ts";
import { nodePageStoreFileSystem, type PageStoreFileSystem } from "../io/index.ts";
import { checkKey, lowerBound, TrieError } from "../trie/index.ts";
import { StoreError } from "./errors.ts";
import { readMetaRecord } from "./meta-record.ts";
import { ReaderSlot } from "./readers.ts";
import { openRedoLog, type RedoLog } from "./redo-log.ts";
import { checkFilesPresent, type DirState, inspectDir } from "./open.ts";
import { valuesStateReader } from "./prepared.ts";

/** Changes since the checkpoint: by key (latin1), and their keys in order. */
interface LoggedChanges {
  readonly byKey: Map<string, Uint8Array | null>;
  readonly keys: Uint8Array[];
}

/** Options of `StoreReader.open`. */
export interface StoreReaderOptions {
  /** Page cache budget of the value tree, bytes (default: the kv default). */
  valueCacheBytes?: number;
  /** Page cache budget of the merkle pages, bytes (default: the page store's default). */
  merkleCacheBytes?: number;
  /** File system seam for tests (default: the host's). */
  fs?: PageStoreFileSystem;
}

/** The values and root of a store's last commit, read-only (see the module comment). */
export class StoreReader {
  #closed = false;

  private constructor(
    readonly path: string,
    private readonly metaFile: KvFile,
    private readonly values: KvTree,
    /** Root of the commit this reader shows. */
    readonly top: MerkleTop,
    /** Sequence number of that commit. */
    readonly seq: number,
    /** Sequence number of the checkpoint the meta record names. */
    private readonly checkpointSeq: number,
    private readonly overlay: LoggedChanges,
    /** The redo log, to notice later commits. */
    private readonly log: RedoLog,
    private readonly pages: PageStore,
    /** The checkpoint's root, which the logged commits start from. */
    private readonly checkpointTop: MerkleTop,
    /** Our registration in the writer's reader table (null: another file system). */
    private readonly slot: ReaderSlot | null,
  ) {}

  /** Pages the logged commits changed, by `pageIdKey` (null: deleted); computed when first needed. */
  #logged: Map<number | string, Uint8Array | null> | null = null;

  /**
   * Opens the store at `path` read-only; `NOT_FOUND` when it holds no committed state. A
   * checkpoint of the writer during the open makes it start over (a few times at most: a
   * checkpoint comes once per `checkpointEvery` commits).
   */
  static open(path: string, options: StoreReaderOptions = {}): StoreReader {
    if (typeof path !== "string" || path.length === 0) throw new StoreError("BAD_ARGUMENT", "path must be a non-empty string");
    const fs = guardFileSystem(options.fs ?? nodePageStoreFileSystem);
    let dir: DirState;
    try {
      dir = inspectDir(fs, path);
    } catch (e) {
      if (e instanceof StoreError && e.code === "NOT_EMPTY") throw new StoreError("NOT_FOUND", `no database at ${path}`, { cause: e });
      throw e;
    }
    if (dir.kind !== "database") throw new StoreError("NOT_FOUND", `no database at ${path}`);
    for (let attempt = 1; ; attempt++) {
      const r = StoreReader.#tryOpen(path, fs, options, dir);
      if (r !== null) return r;
      if (attempt === 8) throw new StoreError("FAILED", `${path}: the writer checkpointed during each of ${attempt} attempts to open a read-only view`);
    }
  }

  // One attempt; null when a checkpoint of the writer overtook it.
  static #tryOpen(path: string, fs: PageStoreFileSystem, options: StoreReaderOptions, dir: DirState): StoreReader | null {
    const metaFile = fs.open(join(path, "meta"));
    let slot: ReaderSlot | null = null;
    try {
      const rec = readMetaRecord(metaFile);
      if (rec === null) {
        if (dir.marker) throw new StoreError("NOT_FOUND", `no committed database at ${path} (its creation has not finished)`);
        throw new StoreError(
          "CORRUPT",
          `${join(path, "meta")}: neither commit point slot (offsets 0 and 4096 of ${metaFile.size()} bytes) holds a valid record, beside the database's other files`,
        );
      }
      checkFilesPresent(fs, path, dir, rec);
      if (fs === nodePageStoreFileSystem) {
        // Registered before the writer announces a later checkpoint, or we see its announcement.
        slot = ReaderSlot.register(path, rec.seq);
        const intent = slot.marks().intent;
        if (intent > rec.seq) {
          // The writer sets the mark after it wrote that commit point: if the meta file still
          // shows no newer one, the newer record is damaged (not a checkpoint in flight).
          const now = readMetaRecord(metaFile);
          if (now !== null && now.seq === rec.seq) {
            throw new StoreError(
              "CORRUPT",
              `${join(path, "meta")}: the commit point of seq ${intent}, which the writer wrote (readers/marks), is not readable; the newest valid one is seq ${rec.seq}`,
            );
          }
          slot.release();
          metaFile.close();
          return null;
        }
      }
      // A writer's checkpoint meanwhile may show up as damage (the log rewritten under the
      // replay, pages rewritten in place): report it as what it is.
      const moved = (e: unknown): unknown => {
        const now = readMetaRecord(metaFile);
        if (now !== null && now.seq !== rec.seq) {
          return new StoreError("FAILED", `${path} was checkpointed by another process while a read-only view opened`, { cause: e });
        }
        return e;
      };
      let top = rec.top;
      let seq = rec.seq;
      const byKey = new Map<string, Uint8Array | null>();
      const log = openRedoLog(fs, path);
      try {
        for (const r of log.replay(rec.seq)) {
          for (const [k, v] of r.changes) byKey.set(keyString(k), v);
          top = r.top;
          seq = r.seq;
        }
      } catch (e) {
        // The writer started a file over under the replay (a checkpoint began): start over.
        let again = false;
        try {
          again = log.movedSince(-1);
        } catch {
          // Unreadable now: the replay's own failure is the one to report.
        }
        closeQuietly(log);
        if (again) {
          slot?.release();
          metaFile.close();
          return null;
        }
        throw moved(e);
      }
      const keys = [...byKey.keys()].sort().map((k) => new Uint8Array(Buffer.from(k, "latin1")));
      let values: KvTree;
      try {
        values = openKv(join(path, "values"), { fs, cacheBytes: options.valueCacheBytes, meta: encodeTreeMeta(rec.kv) });
      } catch (e) {
        closeQuietly(log);
        throw moved(e);
      }
      let pages: PageStore;
      try {
        pages = PageStore.open(join(path, "merkle"), { fs, committedSeq: rec.seq, table: rec.table, readOnly: true, cacheBytes: options.merkleCacheBytes });
      } catch (e) {
        closeQuietly(values);
        closeQuietly(log);
        throw moved(e);
      }
      // A checkpoint during the open may have reset the log under the replay: start over.
      if (slot !== null && slot.marks().intent > rec.seq) {
        pages.close();
        values.close();
        log.close();
        slot.release();
        metaFile.close();
        return null;
      }
      return new StoreReader(path, metaFile, values, top, seq, rec.seq, { byKey, keys }, log, pages, rec.top, slot);
    } catch (e) {
      slot?.release();
      closeQuietly(metaFile);
      throw e;
    }
  }

  #live(): void {
    if (this.#closed) throw new StoreError("CLOSED", `store reader ${this.path} is closed`);
  }

  /** The root this reader shows. */
  get root(): Uint8Array {
    return this.top.root.slice();
  }

  /**
   * Throws `FAILED` when the writer has gone past the bound it keeps this reader's state for
   * (its reads may then have seen rewritten pages); reads done before a call that returns are of
   * this reader's state. Registered readers keep their state until the writer begins its second
   * checkpoint after the one they read; others (another file system, no reader table) only
   * until the writer commits again.
   */
  checkCurrent(): void {
    this.#live();
    if (this.slot !== null && this.slot.registered) {
      if (this.slot.marks().applied > this.checkpointSeq) {
        throw new StoreError(
          "FAILED",
          `${this.path}: the writer has applied a later checkpoint over the state this read-only view opened at (checkpoint ${this.checkpointSeq}): it keeps a view's state only until its second checkpoint after that one`,
        );
      }
      return;
    }
    const rec = readMetaRecord(this.metaFile);
    if (rec === null || rec.seq !== this.checkpointSeq || this.log.movedSince(this.seq + 1)) {
      throw new StoreError(
        "FAILED",
        `${this.path} was committed by another process since this read-only view opened (at seq ${this.seq}) and it has no reader table to keep its state`,
      );
    }
  }

  /**
   * The merkle page `id` of this reader's state (sealed on disk, or computed from the log), or
   * undefined when absent. Check `checkCurrent` after using it, as after any read.
   */
  page(id: Uint8Array): Uint8Array | undefined {
    this.#live();
    const logged = this.#logged ?? this.#computeLogged();
    if (logged.size > 0) {
      const p = logged.get(pageIdKey(id));
      if (p !== undefined) return p ?? undefined;
    }
    return this.pages.get(id);
  }

  #computeLogged(): Map<number | string, Uint8Array | null> {
    const logged = new Map<number | string, Uint8Array | null>();
    if (this.overlay.keys.length > 0) {
      try {
        loggedPages(this.path, this.checkpointTop, this.overlay.keys, this.overlay.byKey, this.values, this.pages, this.top, logged);
      } catch (e) {
        // A writer's checkpoint meanwhile shows up as damage: report what it is.
        this.checkCurrent();
        throw e;
      }
    }
    this.#logged = logged;
    return logged;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#live();
    checkKey(key);
    const o = this.overlay.byKey.get(keyString(key));
    if (o !== undefined) return o ?? undefined;
    return this.values.get(key);
  }

  /** Entries with start <= key < end (bounds optional) in key order. */
  *entries(range: RangeOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    this.#live();
    const { byKey, keys } = this.overlay;
    if (keys.length === 0) {
      for (const [k, v] of this.values.entries(range)) yield [k, v];
      return;
    }
    // Merge the overlay's keys in the range with the value tree's, the overlay winning.
    let i = range.start === undefined ? 0 : lowerBound(keys, range.start, (k) => k);
    const inRange = (k: Uint8Array) => range.end === undefined || Buffer.compare(k, range.end) < 0;
    for (const [k, v] of this.values.entries(range)) {
      for (; i < keys.length && Buffer.compare(keys[i], k) <= 0 && inRange(keys[i]); i++) {
        const ov = byKey.get(keyString(keys[i])) as Uint8Array | null;
        if (ov !== null) yield [keys[i], ov];
      }
      if (!byKey.has(keyString(k))) yield [k, v];
    }
    for (; i < keys.length && inRange(keys[i]); i++) {
      const ov = byKey.get(keyString(keys[i])) as Uint8Array | null;
      if (ov !== null) yield [keys[i], ov];
    }
  }

  /** The first key whose first `bits` bits equal those of `key`, or undefined. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    this.#live();
    if (this.overlay.keys.length === 0) return this.values.seekPrefixKey(key, bits);
    checkKey(key);
    const start = new Uint8Array(key.length);
    for (let b = 0; b < bits; b++) if ((key[b >> 3] >> (7 - (b & 7))) & 1) start[b >> 3] |= 0x80 >> (b & 7);
    for (const [k] of this.entries({ start })) {
      for (let b = 0; b < bits; b++) if (((k[b >> 3] ^ key[b >> 3]) >> (7 - (b & 7))) & 1) return undefined;
      return k;
    }
    return undefined;
  }

  /** Closes the files; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Every file once, whatever fails; the first failure is thrown after.
    let failure: unknown = null;
    for (const f of [this.values, this.pages, this.log, this.metaFile]) {
      try {
        f?.close();
      } catch (e) {
        failure ??= e;
      }
    }
    this.slot?.release();
    if (failure !== null) throw failure;
  }
}

/**
 * The pages of the logged commits: one update of all their changes (final values) over the
 * checkpoint's state, which must end at the log's last root.
 */
function loggedPages(
  path: string,
  base: MerkleTop,
  keys: Uint8Array[],
  byKey: Map<string, Uint8Array | null>,
  values: KvTree,
  pages: PageStore,
  want: MerkleTop,
  out: Map<number | string, Uint8Array | null>,
): void {
  // The keys are in byte order already (sorted as latin1 strings).
  const changes: Change[] = keys.map((k) => [k, byKey.get(keyString(k)) as Uint8Array | null]);
  let result;
  try {
    result = updateTrie(base, changes, pages, valuesStateReader(path, values));
  } catch (e) {
    if (e instanceof TrieError) throw new StoreError("CORRUPT", `${path}: the logged commits do not apply to the checkpoint (${e.message})`, { cause: e });
    throw e;
  }
  if (result.top.kind !== want.kind || Buffer.compare(result.top.root, want.root) !== 0) {
    throw new StoreError(
      "CORRUPT",
      `${path}: the logged commits give root 0x${Buffer.from(result.top.root).toString("hex")}, the log says 0x${Buffer.from(want.root).toString("hex")}`,
    );
  }
  for (const w of result.writes) out.set(pageIdKey(w.id), w.page);
}

/** First index of `keys` (sorted) not below `key`. */
