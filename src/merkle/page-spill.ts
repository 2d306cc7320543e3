// The load spill: merkle pages a bulk load has finished with, written out before its commit
// point so that memory does not grow with the load. A sorted load completes subtries in key
// order; a page off the path of the last key added never changes again, so it can leave memory
// at once. The spill is a plain file of sealed 4 KiB pages (each carries its id) in the page
// store's directory; nothing refers to it, and every open of a writable store removes it, so a
// crash before the commit point leaves the state as it was. The checkpoint that ends the load
// builds the next table generation from the live table, the spill and the pages still in memory
// (table-growth.ts); once that table is live the spilled pages are dropped.
import { closeQuietly, type KvFile } from "../io/index.ts";
import { pathIn, type PageStoreFileSystem } from "../io/fs.ts";
import { checkPage, MERKLE_PAGE_BYTES, PAGE_ID_BYTES, PAGE_ID_OFFSET, sealMerklePage } from "./page.ts";
import { PageStoreCorruptionError } from "./page-store-errors.ts";

/** File name of the spill in the page store's directory. */
export const SPILL_FILE_NAME = "load-spill";

// Pages gathered before one write, and read at once when the spill is scanned (1 MiB).
const RUN_PAGES = 256;

/** Pages written out during a bulk load, read back by the checkpoint that ends it. */
export class PageSpill {
  #file: KvFile | null = null;
  /** Pages in the file; those before `#first` are in a table already (see `drop`). */
  #count = 0;
  #first = 0;
  readonly #run = new Uint8Array(RUN_PAGES * MERKLE_PAGE_BYTES);
  #inRun = 0;

  constructor(
    private readonly dir: string,
    private readonly fs: PageStoreFileSystem,
  ) {}

  /** Removes a spill left by a load that never reached its commit point. */
  static discard(dir: string, fs: PageStoreFileSystem): void {
    fs.remove(pathIn(dir, SPILL_FILE_NAME));
  }

  /** Pages spilled and not yet in a live table. */
  get size(): number {
    return this.#count + this.#inRun - this.#first;
  }

  /** Spills a copy of `page` (4096 bytes) as page `id`, sealed. */
  add(id: Uint8Array, page: Uint8Array): void {
    const at = this.#inRun * MERKLE_PAGE_BYTES;
    const copy = this.#run.subarray(at, at + MERKLE_PAGE_BYTES);
    copy.set(page);
    sealMerklePage(copy, id);
    if (++this.#inRun === RUN_PAGES) this.#flush();
  }

  #flush(): void {
    if (this.#inRun === 0) return;
    if (this.#file === null) {
      const path = pathIn(this.dir, SPILL_FILE_NAME);
      this.fs.remove(path);
      this.#file = this.fs.open(path);
    }
    this.#file.write(this.#run.subarray(0, this.#inRun * MERKLE_PAGE_BYTES), this.#count * MERKLE_PAGE_BYTES);
    this.#count += this.#inRun;
    this.#inRun = 0;
  }

  /**
   * Visits every spilled page not yet in a live table, in the order spilled, as a view valid
   * only during the call (checksum and id checked: the file is not synced, but it is read back
   * by the process that wrote it). Returns how many were visited: `drop(n)` once they are live.
   */
  each(visit: (page: Uint8Array, id: Uint8Array) => void): number {
    this.#flush();
    const n = this.#count - this.#first;
    const buf = new Uint8Array(RUN_PAGES * MERKLE_PAGE_BYTES);
    for (let i = this.#first; i < this.#count; i += RUN_PAGES) {
      const k = Math.min(RUN_PAGES, this.#count - i);
      const file = this.#file as KvFile;
      const off = i * MERKLE_PAGE_BYTES;
      if (file.read(buf.subarray(0, k * MERKLE_PAGE_BYTES), off) < k * MERKLE_PAGE_BYTES) throw new PageStoreCorruptionError(file.path, off, "spill truncated");
      for (let j = 0; j < k; j++) {
        const page = buf.subarray(j * MERKLE_PAGE_BYTES, (j + 1) * MERKLE_PAGE_BYTES);
        if (!checkPage(page)) throw new PageStoreCorruptionError(file.path, off + j * MERKLE_PAGE_BYTES, "spilled page fails its checksum");
        visit(page, page.subarray(PAGE_ID_OFFSET, PAGE_ID_OFFSET + PAGE_ID_BYTES));
      }
    }
    return n;
  }

  /** The first `n` pages not yet live are now in the live table: forget them (the file goes once all are). */
  drop(n: number): void {
    if (n === 0) return;
    this.#first += n;
    if (this.#first < this.#count || this.#inRun > 0) return;
    this.#first = 0;
    this.#count = 0;
    this.close();
    this.fs.remove(pathIn(this.dir, SPILL_FILE_NAME));
  }

  /** Closes the file (kept: the next open removes it). */
  close(): void {
    if (this.#file !== null) closeQuietly(this.#file);
    this.#file = null;
  }
}
