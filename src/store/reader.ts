// A read-only view of a store's values at its last commit, without the writer lock and without
// writing anything (no WAL replay, no lock file): for tools such as `bmt get` and `bmt root`.
//
// Another process may hold the store open and commit meanwhile. Its value tree reuses the pages
// a commit frees once the next commit is durable, so pages of the state this reader opened at
// stay intact as long as the writer's durable seq has not moved: `checkCurrent` tells, and a
// read followed by a successful `checkCurrent` read that state. Merkle pages are not read (the
// page store's WAL may need a replay only the writer may do).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { encodeTreeMeta, type KvFile, type KvTree, openKv, type RangeOptions } from "../kv/index.ts";
import { nodePageStoreFileSystem, type PageStoreFileSystem } from "../merkle/page-store-fs.ts";
import type { MerkleTop } from "../merkle/update.ts";
import { checkKey } from "../trie/index.ts";
import { StoreError } from "./errors.ts";
import { readMetaRecord } from "./meta-record.ts";

/** Options of `StoreReader.open`. */
export interface StoreReaderOptions {
  /** Page cache budget of the value tree, bytes (default: the kv default). */
  valueCacheBytes?: number;
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
  ) {}

  /** Opens the store at `path` read-only; `NOT_FOUND` when it holds no committed state. */
  static open(path: string, options: StoreReaderOptions = {}): StoreReader {
    if (typeof path !== "string" || path.length === 0) throw new StoreError("BAD_ARGUMENT", "path must be a non-empty string");
    const fs = options.fs ?? nodePageStoreFileSystem;
    if (fs === nodePageStoreFileSystem && !existsSync(join(path, "meta"))) throw new StoreError("NOT_FOUND", `no database at ${path}`);
    const metaFile = fs.open(join(path, "meta"));
    try {
      const rec = readMetaRecord(metaFile);
      if (rec === null) throw new StoreError("NOT_FOUND", `no committed database at ${path}`);
      const values = openKv(join(path, "values"), { fs, cacheBytes: options.valueCacheBytes, meta: encodeTreeMeta(rec.kv) });
      return new StoreReader(path, metaFile, values, rec.top, rec.seq);
    } catch (e) {
      metaFile.close();
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
   * Throws `FAILED` when a writer has committed since this reader opened (its reads may then
   * have seen recycled pages); reads done before a call that returns are of this reader's state.
   */
  checkCurrent(): void {
    this.#live();
    const rec = readMetaRecord(this.metaFile);
    if (rec === null || rec.seq !== this.seq) {
      throw new StoreError("FAILED", `${this.path} was committed by another process since this read-only view opened (seq ${this.seq} -> ${rec?.seq}); reopen it`);
    }
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#live();
    checkKey(key);
    return this.values.get(key);
  }

  /** Entries with start <= key < end (bounds optional) in key order. */
  *entries(range: RangeOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    this.#live();
    for (const [k, v] of this.values.entries(range)) yield [k, v];
  }

  /** The first key whose first `bits` bits equal those of `key`, or undefined. */
  seekPrefixKey(key: Uint8Array, bits: number): Uint8Array | undefined {
    this.#live();
    return this.values.seekPrefixKey(key, bits);
  }

  /** Closes the files; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.values.close();
    } finally {
      this.metaFile.close();
    }
  }
}
