// In-memory stand-ins for the page store and the value store, to drive the merkle update alone.
import { EMPTY_TOP, updateTrie } from "../../src/merkle/index.ts";
import type { Change, EntryVisitor, MerkleTop, PageReader, PageWrite, StateReader } from "../../src/merkle/types.ts";
import { compareKeys, type Entry } from "../../src/trie/index.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Pages by id, as a store would hold them after each commit. */
export class MemPages implements PageReader {
  readonly pages = new Map<string, Uint8Array>();
  /** `unaligned`: hand out pages as views at an odd byte offset, as a shared read buffer may. */
  constructor(private readonly unaligned = false) {}
  get(id: Uint8Array): Uint8Array | undefined {
    const page = this.pages.get(hex(id));
    if (!this.unaligned || page === undefined) return page;
    const buf = new Uint8Array(page.length + 3);
    buf.set(page, 1);
    return buf.subarray(1, 1 + page.length);
  }
  apply(writes: readonly PageWrite[]): void {
    for (const w of writes) {
      if (w.page) this.pages.set(hex(w.id), w.page.slice());
      else {
        if (!this.pages.has(hex(w.id))) throw new Error(`deleting absent page ${hex(w.id)}`);
        this.pages.delete(hex(w.id));
      }
    }
  }
}

/** A sorted state: the model's map, and the prefix seek the update needs from the value store. */
export class ModelState implements StateReader {
  readonly map = new Map<string, Entry>();
  private sortedCache: Entry[] | null = null;

  sorted(): Entry[] {
    this.sortedCache ??= [...this.map.values()].sort((a, b) => compareKeys(a.key, b.key));
    return this.sortedCache;
  }

  set(key: Uint8Array, value: Uint8Array | null): void {
    this.sortedCache = null;
    if (value === null) this.map.delete(hex(key));
    else this.map.set(hex(key), { key, value });
  }

  /** Calls of entriesUnder and the entries they returned. */
  scans = 0;
  scanned = 0;

  entriesUnder(path: Uint8Array, depth: number): [Uint8Array, Uint8Array][] {
    const prefix = prefixOf(path, depth);
    const entries = this.sorted();
    let i = lowerBound(entries, prefix);
    const out: [Uint8Array, Uint8Array][] = [];
    for (; i < entries.length && sharesPrefix(entries[i].key, prefix, depth); i++) out.push([entries[i].key, entries[i].value]);
    this.scans++;
    this.scanned += out.length;
    return out;
  }

  /** Visits entriesUnder's entries as views at odd offsets into scratch buffers, as a page would hold them. */
  scanUnder(path: Uint8Array, depth: number, visit: EntryVisitor): void {
    for (const [k, v] of this.entriesUnder(path, depth)) {
      const buf = new Uint8Array(3 + k.length + v.length + 5).fill(0xa5);
      buf.set(k, 3);
      buf.set(v, 3 + k.length);
      visit(buf, 3, buf, 3 + k.length, v.length);
    }
  }

  leafKeyAt(path: Uint8Array, depth: number): Uint8Array {
    const prefix = new Uint8Array(31);
    for (let i = 0; i < depth; i++) if ((path[i >> 3] >> (7 - (i & 7))) & 1) prefix[i >> 3] |= 0x80 >> (i & 7);
    const entries = this.sorted();
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(entries[mid].key, prefix) < 0) lo = mid + 1;
      else hi = mid;
    }
    const found = entries[lo];
    if (!found) throw new Error(`no key with prefix ${hex(prefix)}/${depth}`);
    for (let i = 0; i < depth; i++) {
      if (((found.key[i >> 3] ^ prefix[i >> 3]) >> (7 - (i & 7))) & 1) throw new Error(`no key with prefix ${hex(prefix)}/${depth}`);
    }
    return found.key;
  }
}

function prefixOf(path: Uint8Array, depth: number): Uint8Array {
  const prefix = new Uint8Array(31);
  for (let i = 0; i < depth; i++) if ((path[i >> 3] >> (7 - (i & 7))) & 1) prefix[i >> 3] |= 0x80 >> (i & 7);
  return prefix;
}

function lowerBound(entries: Entry[], key: Uint8Array): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(entries[mid].key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sharesPrefix(key: Uint8Array, prefix: Uint8Array, depth: number): boolean {
  for (let i = 0; i < depth; i++) if (((key[i >> 3] ^ prefix[i >> 3]) >> (7 - (i & 7))) & 1) return false;
  return true;
}

/** The top and pages of a from-scratch update of sorted `entries`: the canonical form. */
export function scratchBuild(entries: readonly Entry[]): { top: MerkleTop; pages: MemPages } {
  const pages = new MemPages();
  const r = updateTrie(
    EMPTY_TOP,
    entries.map((e) => [e.key, e.value] as Change),
    pages,
    new ModelState(),
  );
  pages.apply(r.writes);
  return { top: r.top, pages };
}
