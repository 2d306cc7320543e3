// Page store over one file: reads with checksum checks through a bounded cache, copy-on-write
// allocation, and the free list with its one-commit delay.
//
// Page lifecycle. A page written since the last durable commit is "fresh"; freeing it makes it
// reusable at once, since no durable tree refers to it. Freeing any other page puts it on the
// pending list: the durable tree still refers to it, so it is reused only after the next
// commit is durable. At commit the free list (reusable + pending) is written to a chain of
// free-list pages taken from the reusable pages, and that chain is in turn pending in the
// following epoch. The chain's page format is free-list.ts; page buffers come from
// page-buffers.ts.
import { KvCorruptionError } from "./errors.ts";
import type { KvFile } from "../io/file.ts";
import { ValuePageCache } from "./cache.ts";
import { StagingBuffer } from "../io/staging.ts";
import { runSteps, STEP_PAGES, type Steps } from "../io/steps.ts";
import { type WriteBehind, WriteJob } from "../io/write-behind.ts";
import type { PageSink } from "./node-list.ts";
import { FREE_PER_PAGE, fillFreeListPage, readFreeList } from "./free-list.ts";
import { PageBuffers, SLAB_PAGES } from "./page-buffers.ts";
import { FIRST_DATA_PAGE, KIND_FREELIST, PAGE_SIZE, pageIsSound, sealBehind, sealValuePage } from "./page.ts";

const WRITE_RUN = 256; // pages per coalesced write (1 MiB)

/** Counters of page traffic. */
export interface PagerStats {
  /** Pages read from the file. */
  pagesRead: number;
  /** Pages written to the file. */
  pagesWritten: number;
  /** Cache lookups that hit. */
  cacheHits: number;
  /** Cache lookups that missed. */
  cacheMisses: number;
  /** Pages held by the cache now. */
  cachedPages: number;
  /** Most pages the cache may hold (its byte budget / PAGE_SIZE). */
  cacheCapacity: number;
}

/** Free-list state recorded by a prepared commit. */
export interface PreparedFreeList {
  /** First page of the chain (0 when empty). */
  head: number;
  /** Number of page numbers listed. */
  count: number;
}

/** Pages of one file: cached reads, copy-on-write allocation, deferred reuse. */
export class Pager implements PageSink {
  /** The file holding the pages. */
  readonly file: KvFile;
  /** Every page number is below this. */
  highWater: number;
  #cache: ValuePageCache;
  #dirty = new Map<number, Uint8Array>();
  #fresh = new Set<number>();
  #reusable: number[] = []; // kept so that pop() tends to return low numbers
  #pending: number[] = [];
  /** Pages freed before the last durable commit and kept from reuse for readers of the one before (`markDurable(true)`). */
  #held: number[] = [];
  #maxDirty: number;
  #prepared: { list: number[]; chain: number[]; reusable: number; sorted: number[] | null } | null = null;
  /** Page buffers: carved from slabs, recycled once nobody can read them. */
  readonly #buffers = new PageBuffers();
  #runBuf = new Uint8Array(WRITE_RUN * PAGE_SIZE);
  #pagesRead = 0;
  #pagesWritten = 0;
  /** Set while a prepared commit's pages are being written behind; they stay dirty until done. */
  #behind: WriteBehind | null = null;
  #behindError: unknown = undefined;
  /** Where pages written behind are sealed; reused once the job reading it is settled. */
  readonly #staging = new StagingBuffer();
  /**
   * Page numbers being read ahead (`readAhead`), one set per call in flight. A number taken
   * again for a new page meanwhile (`allocate`) leaves its set: the image read is stale.
   */
  readonly #ahead = new Set<Set<number>>();

  /** Creates a pager over `file` whose pages are all below `highWater`. */
  constructor(file: KvFile, highWater: number, cacheBytes: number, maxDirtyPages: number) {
    this.file = file;
    this.highWater = highWater;
    this.#cache = new ValuePageCache(cacheBytes);
    this.#maxDirty = maxDirtyPages;
  }

  /** Page traffic so far. */
  stats(): PagerStats {
    return {
      pagesRead: this.#pagesRead,
      pagesWritten: this.#pagesWritten,
      cacheHits: this.#cache.hits,
      cacheMisses: this.#cache.misses,
      cachedPages: this.#cache.size,
      cacheCapacity: this.#cache.capacity,
    };
  }

  /** Number of pages free for reuse now, and pending reuse after the next commit. */
  freeCounts(): { reusable: number; pending: number } {
    return { reusable: this.#reusable.length, pending: this.#pending.length + this.#held.length };
  }

  /** Every free page number, reusable now or after the next commit (for checks). */
  freePages(): number[] {
    return this.#reusable.concat(this.#pending, this.#held);
  }

  /**
   * Runs `work` with page views pinned: buffers evicted meanwhile are not recycled, so views
   * `work` took earlier stay intact. Batch updates hold many views at once and run pinned;
   * readers hold a view only until their next pager call (cursors re-fetch by page number),
   * so outside pinned work an evicted buffer is recycled for the next page loaded or built.
   */
  pinned<T>(work: () => T): T {
    return this.#buffers.pinned(work);
  }

  #cacheSet(no: number, p: Uint8Array): void {
    const evicted = this.#cache.set(no, p);
    if (evicted !== undefined) this.#buffers.evicted(evicted);
  }

  /** Page `no`, which must be of `kind`; damaged pages throw `KvCorruptionError`. */
  read(no: number, kind: number): Uint8Array {
    let p = (this.#dirty.size > 0 ? this.#dirty.get(no) : undefined) ?? this.#cache.get(no);
    if (p === undefined) {
      p = this.#load(no);
      this.#cacheSet(no, p);
    }
    if (p[4] !== kind) this.#corrupt(no, `expected page kind ${kind}, found ${p[4]}`);
    return p;
  }

  /** Page `no` when it is in memory (dirty or cached), else undefined; never reads the file. */
  peek(no: number): Uint8Array | undefined {
    return (this.#dirty.size > 0 ? this.#dirty.get(no) : undefined) ?? this.#cache.peek(no);
  }

  /**
   * Reads the pages `nos` that are not in memory on the thread pool (adjacent ones in one call)
   * and caches those that are sound, so that a synchronous `read` later finds them in memory
   * instead of blocking on the file. Resolves to the number of pages cached. Best effort: a
   * file without `readAsync`, a failed or short read, or a damaged page caches nothing, and the
   * synchronous read reports what is wrong. A page whose number was taken for a new page while
   * it was read (its image is stale), or that entered memory meanwhile, is dropped.
   */
  async readAhead(nos: readonly number[]): Promise<number> {
    const readAsync = this.file.readAsync;
    if (readAsync === undefined) return 0;
    const want = nos.filter((no) => no >= FIRST_DATA_PAGE && no < this.highWater && this.peek(no) === undefined).sort((a, b) => a - b);
    if (want.length === 0) return 0;
    const reading = new Set(want);
    this.#ahead.add(reading);
    let cached = 0;
    // Each run is checked and cached as its read returns: many small callbacks, not one block.
    const run = async (first: number, count: number): Promise<void> => {
      const buf = new Uint8Array(count * PAGE_SIZE);
      let n: number;
      try {
        n = await readAsync.call(this.file, buf, first * PAGE_SIZE);
      } catch {
        return;
      }
      for (let x = 0; x < Math.floor(n / PAGE_SIZE); x++) {
        const no = first + x;
        const p = buf.subarray(x * PAGE_SIZE, (x + 1) * PAGE_SIZE);
        if (!reading.has(no) || this.peek(no) !== undefined || !pageIsSound(p, no)) continue;
        this.#pagesRead++;
        this.#cacheSet(no, p);
        cached++;
      }
    };
    try {
      const runs: Promise<void>[] = [];
      for (let i = 0; i < want.length; ) {
        let j = i + 1;
        while (j < want.length && j - i < SLAB_PAGES && want[j] === want[j - 1] + 1) j++;
        runs.push(run(want[i], j - i));
        i = j;
      }
      await Promise.all(runs);
      return cached;
    } finally {
      this.#ahead.delete(reading);
    }
  }

  /** Like `read`, but a page not already in memory is not cached (for one-off scans). */
  readOnce(no: number, kind: number): Uint8Array {
    const p = this.#dirty.get(no) ?? this.#cache.get(no) ?? this.#load(no);
    if (p[4] !== kind) this.#corrupt(no, `expected page kind ${kind}, found ${p[4]}`);
    return p;
  }

  /**
   * Up to `count` pages from `first` on, not cached, reading the ones not in memory with as few
   * calls as possible; for chains laid out in adjacent pages. The run is a guess (a chain may
   * leave it at any page), so it is cut short, never refused, at the end of the file or at a
   * page that exists nowhere (freed before it was ever written): the caller reads on page by
   * page from there. Pages read from the file are NOT yet verified: `fromFile[i]` is 1 for
   * those, and the caller must pass each page it uses through `verify`. The first page must
   * exist.
   */
  readRunUnverified(first: number, count: number): { pages: Uint8Array[]; fromFile: Uint8Array } {
    if (!(first >= FIRST_DATA_PAGE && first < this.highWater && count >= 1)) {
      this.#corrupt(first, `page run [${first}, ${first + count}) out of range`);
    }
    count = Math.min(count, this.highWater - first);
    const pages: Uint8Array[] = [];
    const fromFile = new Uint8Array(count);
    let i = 0;
    while (i < count) {
      const mem = this.#dirty.get(first + i) ?? this.#cache.get(first + i);
      if (mem !== undefined) {
        pages.push(mem);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < count && !this.#dirty.has(first + j)) j++;
      const buf = new Uint8Array((j - i) * PAGE_SIZE);
      const n = this.file.read(buf, (first + i) * PAGE_SIZE);
      const whole = Math.floor(n / PAGE_SIZE);
      this.#pagesRead += whole;
      if (i === 0 && whole === 0) this.#corrupt(first, `short read (${n} bytes)`);
      for (let x = 0; x < whole; x++) {
        pages.push(buf.subarray(x * PAGE_SIZE, (x + 1) * PAGE_SIZE));
        fromFile[i + x] = 1;
      }
      if (whole < j - i) break;
      i = j;
    }
    return { pages, fromFile };
  }

  /** Checks a page from `readRunUnverified`: its checksum when read from the file, and its kind. */
  verify(no: number, p: Uint8Array, kind: number, fromFile: boolean): void {
    if (fromFile && !pageIsSound(p, no)) this.#corrupt(no, "checksum mismatch");
    if (p[4] !== kind) this.#corrupt(no, `expected page kind ${kind}, found ${p[4]}`);
  }

  #corrupt(no: number, detail: string): never {
    throw new KvCorruptionError(this.file.path, no * PAGE_SIZE, detail);
  }

  #load(no: number): Uint8Array {
    if (!(no >= FIRST_DATA_PAGE && no < this.highWater)) {
      this.#corrupt(no, `page number ${no} out of range [${FIRST_DATA_PAGE}, ${this.highWater})`);
    }
    const p = this.#buffers.take();
    const n = this.file.read(p, no * PAGE_SIZE);
    this.#pagesRead++;
    if (n !== PAGE_SIZE) this.#corrupt(no, `short read (${n} bytes)`);
    if (!pageIsSound(p, no)) this.#corrupt(no, "checksum mismatch");
    return p;
  }

  /**
   * Reserves a page number: a reusable page if any, else a new one at the end. A reusable
   * page's cached buffer belongs to a released version (its only possible holders are stale
   * cursors, which check before reading), so it is recycled for the next new page.
   */
  allocate(): number {
    if (this.#reusable.length === 0) {
      const no = this.highWater++;
      this.#fresh.add(no);
      return no;
    }
    const no = this.#reusable.pop()!;
    this.#fresh.add(no);
    for (const reading of this.#ahead) reading.delete(no);
    const old = this.#cache.take(no);
    if (old !== undefined) this.#buffers.release(old);
    return no;
  }

  /** A zeroed page buffer of `kind`, recycled when possible. */
  page(kind: number): Uint8Array {
    return this.#buffers.page(kind);
  }

  /** A page buffer holding a copy of `src` (recycled when possible; no zeroing first). */
  copyOf(src: Uint8Array): Uint8Array {
    const p = this.#buffers.take();
    p.set(src);
    return p;
  }

  /**
   * The buffer of page `no` to modify in place, when no durable tree refers to it (it was
   * written since the last durable commit); null otherwise. The page is dirty from then on.
   */
  rewritable(no: number): Uint8Array | null {
    if (!this.#fresh.has(no)) return null;
    let p = this.#dirty.get(no);
    if (p === undefined) {
      // Written out early (see `put`): take it from the cache, which must not evict a dirty page.
      p = this.#cache.take(no) ?? this.#load(no);
      this.#dirty.set(no, p);
    }
    return p;
  }

  /** Records the new contents of a page reserved with `allocate`. */
  put(no: number, page: Uint8Array): void {
    this.#dirty.set(no, page);
    if (this.#dirty.size >= this.#maxDirty) this.writeDirty();
  }

  /** Gives a page back: reusable now if fresh, else after the next durable commit. */
  free(no: number): void {
    if (this.#fresh.delete(no)) {
      this.#dirty.delete(no);
      this.#cache.delete(no);
      this.#reusable.push(no);
    } else {
      this.#pending.push(no);
    }
  }

  /**
   * Writes every dirty page (sealed with its checksum) in runs of adjacent pages, then keeps
   * them as clean cached pages, or, without `keepCached`, recycles their buffers (a bulk load
   * reads none of them again: caching them would only allocate a new buffer per page). Safe at
   * any time: dirty pages never overwrite a durable page.
   */
  writeDirty(keepCached = true): void {
    this.settle();
    if (this.#dirty.size === 0) return;
    const nos = Array.from(this.#dirty.keys()).sort((a, b) => a - b);
    const run = this.#runBuf;
    let i = 0;
    while (i < nos.length) {
      let j = i;
      while (j < nos.length && j - i < WRITE_RUN && nos[j] === nos[i] + (j - i)) {
        const p = this.#dirty.get(nos[j])!;
        sealValuePage(p, nos[j]);
        run.set(p, (j - i) * PAGE_SIZE);
        j++;
      }
      this.file.write(run.subarray(0, (j - i) * PAGE_SIZE), nos[i] * PAGE_SIZE);
      i = j;
    }
    this.#pagesWritten += nos.length;
    if (keepCached) for (const no of nos) this.#cacheSet(no, this.#dirty.get(no)!);
    else for (const no of nos) this.#buffers.evicted(this.#dirty.get(no)!);
    this.#dirty.clear();
  }

  /**
   * First step of a commit: records the free list in a chain of free-list pages, writes all
   * dirty pages and syncs the file. Returns where the chain starts. With `behind` (and a file
   * with a descriptor) the writes and the sync run on a worker thread: `settle` must return
   * before the commit point is written.
   */
  prepare(behind?: WriteBehind): PreparedFreeList {
    return runSteps(this.prepareSteps(behind));
  }

  /**
   * `prepare` in steps (see io/steps.ts): the copies of the dirty pages for the worker are
   * made a few hundred at a time. Nothing may change the tree until the last step is done.
   */
  *prepareSteps(behind?: WriteBehind): Steps<PreparedFreeList> {
    // The chain lives in reusable pages (never in pending ones: the durable tree uses those).
    const k = Math.ceil((this.#reusable.length + this.#pending.length) / FREE_PER_PAGE);
    const chain: number[] = [];
    for (let i = 0; i < k; i++) chain.push(this.allocate());
    if (this.#held.length > 0) throw new Error("pager: prepare while freed pages are held (releaseHeld first)");
    const reusable = this.#reusable.length;
    const list = this.#reusable.concat(this.#pending);
    for (let i = 0; i < k; i++) {
      const p = this.page(KIND_FREELIST);
      fillFreeListPage(p, list.slice(i * FREE_PER_PAGE, (i + 1) * FREE_PER_PAGE), i + 1 < k ? chain[i + 1] : 0);
      this.put(chain[i], p);
    }
    const fd = this.file.fd;
    let sorted: number[] | null = null;
    if (behind !== undefined && fd !== undefined) {
      // The free list in reuse order, sorted here rather than in `markDurable`, which runs in
      // the block that publishes a checkpoint (tens of thousands of pages: ~10 ms sorted there).
      yield;
      sorted = descending(list);
      yield* this.#writeBehind(behind, fd);
    } else {
      this.writeDirty();
      this.file.sync();
    }
    this.#prepared = { list, chain, reusable, sorted };
    return { head: k > 0 ? chain[0] : 0, count: list.length };
  }

  // Copies the dirty pages into one shared buffer for the worker, which seals the copies (the
  // images in memory stay unsealed). They stay dirty (reads take them from memory, and nothing
  // changes them: the caller writes no page before `settle`). With none left to write (a bulk
  // load writes its pages as it goes) the job is the sync alone, which then overlaps the
  // caller's next steps (~70 ms for 1M entries' pages).
  *#writeBehind(behind: WriteBehind, fd: number): Steps<void> {
    if (this.#behind !== null) throw new Error("pager: the last prepared pages are still being written");
    const job = new WriteJob();
    if (this.#dirty.size > 0) {
      // A typed array's numeric sort: a comparator's takes ~5 ms for a checkpoint's pages.
      const nos = Float64Array.from(this.#dirty.keys()).sort();
      yield;
      const data = this.#staging.take(nos.length * PAGE_SIZE);
      for (let i = 0; i < nos.length; i++) {
        if (i % STEP_PAGES === STEP_PAGES - 1) yield;
        const p = this.#dirty.get(nos[i])!;
        data.set(p, i * PAGE_SIZE);
        sealBehind(job, data, i * PAGE_SIZE, nos[i]);
        job.add(data, i * PAGE_SIZE, PAGE_SIZE, nos[i] * PAGE_SIZE);
      }
    }
    behind.submit(fd, this.file.path, job);
    this.#behind = behind;
  }

  /**
   * Waits for pages a `prepare` wrote behind, and syncs them: they are durable when this
   * returns. Throws if the write failed (the commit must then not be published).
   */
  settle(): void {
    const behind = this.#behind;
    if (behind === null) return;
    if (this.#behindError !== undefined) throw this.#behindError;
    try {
      behind.wait();
    } catch (e) {
      // The pages stay dirty and unwritten: this commit must never be published.
      this.#behindError = e;
      throw e;
    }
    this.#behind = null;
    this.#pagesWritten += this.#dirty.size;
    for (const [no, p] of this.#dirty) this.#cacheSet(no, p);
    this.#dirty.clear();
  }

  /**
   * Second step of a commit, once the commit point is durable: freed pages become reusable.
   * With `hold`, the pages the previous durable tree used (freed since it) are held back until
   * `releaseHeld`, so a reader of that tree in another process still finds them intact.
   */
  markDurable(hold = false): void {
    const prepared = this.#prepared;
    if (prepared === null) return;
    if (this.#behind !== null) throw new Error("pager: markDurable before the prepared pages were settled");
    this.#prepared = null;
    if (hold) {
      this.#reusable = prepared.list.slice(0, prepared.reusable).sort((a, b) => b - a);
      this.#held = prepared.list.slice(prepared.reusable);
    } else {
      this.#reusable = prepared.sorted ?? prepared.list.sort((a, b) => b - a);
    }
    this.#pending = prepared.chain;
    this.#fresh.clear();
  }

  /** Held pages (see `markDurable`) become reusable. */
  releaseHeld(): void {
    if (this.#held.length === 0) return;
    this.#reusable = this.#reusable.concat(this.#held).sort((a, b) => b - a);
    this.#held = [];
  }

  /** Loads the free list of a durable commit (at open). */
  loadFreeList(head: number, count: number): void {
    const { list, chain } = readFreeList(
      head,
      count,
      this.highWater,
      (no) => this.readOnce(no, KIND_FREELIST),
      (no, detail) => this.#corrupt(no, detail),
    );
    this.#reusable = list.sort((a, b) => b - a);
    this.#pending = chain;
    this.#fresh.clear();
  }

  /** Drops every cached page (tests use it to force reads from the file). */
  dropCache(): void {
    this.writeDirty();
    this.#cache.clear();
    // Images being read ahead were read for the cache just dropped.
    for (const reading of this.#ahead) reading.clear();
  }
}

// Page numbers largest first (`allocate` pops the smallest), through a typed array: its numeric
// sort is several times faster than a comparator's.
function descending(list: readonly number[]): number[] {
  const sorted = Float64Array.from(list).sort();
  const out = new Array<number>(sorted.length);
  for (let i = 0, n = sorted.length; i < n; i++) out[i] = sorted[n - 1 - i];
  return out;
}
