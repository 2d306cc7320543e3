// The load build on the worker thread: its top and every page it hands out equal the inline
// builder's, byte for byte, for any split into chunks, 0, 1 or 2 keys and values of 0, 32, 33
// and 1025 bytes, also when the build begins inline and moves to the thread between chunks; a failure of the thread comes back as a LoadBuildError, and the thread is then
// free for the next build.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PackedEntries } from "../../src/kv/index.ts";
import { LoadBuildError, type MerkleTop, type PageWrite, TrieLoadBuilder, TrieLoadWorker } from "../../src/merkle/index.ts";
import { pageIdKey } from "../../src/merkle/page.ts";
import { compareKeys, type Entry, toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const VALUE_SIZES = [0, 32, 33, 1024, 1025];

function entriesOf(rng: Rng, n: number, clustered: boolean): Entry[] {
  const byKey = new Map<string, Entry>();
  const keys: Uint8Array[] = [];
  while (byKey.size < n) {
    const key = clustered && keys.length > 0 && rng.int(2) === 0 ? keySharing(rng, rng.pick(keys), rng.int(248)) : rng.bytes(31);
    const hex = toHex(key);
    if (byKey.has(hex)) continue;
    keys.push(key);
    byKey.set(hex, { key, value: rng.bytes(rng.pick(VALUE_SIZES)) });
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

function packOf(entries: readonly Entry[], shared: boolean): PackedEntries {
  const p = new PackedEntries(shared);
  for (const e of entries) p.push(e.key, e.value);
  return p;
}

interface Built {
  top: MerkleTop;
  pages: Map<string, string>;
}

function collect(into: Map<string, string>, writes: readonly PageWrite[]): void {
  for (const w of writes) {
    const id = String(pageIdKey(w.id));
    assert.equal(into.has(id), false, "a page handed out twice");
    into.set(id, Buffer.from(w.page as Uint8Array).toString("hex"));
  }
}

function inline(entries: Entry[], cuts: number[]): Built {
  const b = new TrieLoadBuilder();
  const pages = new Map<string, string>();
  let at = 0;
  for (const cut of [...cuts, entries.length]) {
    collect(pages, b.add(packOf(entries.slice(at, cut), false)));
    at = cut;
  }
  const { top, writes } = b.finish();
  collect(pages, writes);
  return { top, pages };
}

/**
 * The first `here` chunks built inline, the rest on the worker from the inline builder's state,
 * with up to `ahead` chunks in flight (each in its own shared buffers).
 */
function offloaded(entries: Entry[], cuts: number[], ahead: number, here = 0): Built {
  const pages = new Map<string, string>();
  const b = new TrieLoadBuilder();
  const ends = [...cuts, entries.length];
  let at = 0;
  for (const cut of ends.slice(0, here)) {
    collect(pages, b.add(packOf(entries.slice(at, cut), false)));
    at = cut;
  }
  const w = new TrieLoadWorker(here > 0 ? b.state() : null);
  for (const cut of ends.slice(here)) {
    if (w.pending >= ahead) collect(pages, w.next(true) as PageWrite[]);
    w.add(packOf(entries.slice(at, cut), true));
    at = cut;
    // Whatever is in already may be taken early.
    while (w.pending > 0) {
      const got = w.next(false);
      if (got === undefined) break;
      collect(pages, got);
    }
  }
  while (w.pending > 0) collect(pages, w.next(true) as PageWrite[]);
  const { top, writes } = w.finish();
  collect(pages, writes);
  return { top, pages };
}

function randomCuts(rng: Rng, n: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; at < n; ) {
    at += 1 + rng.int(rng.int(3) === 0 ? 5 : 3000);
    if (at < n) cuts.push(at);
  }
  return cuts;
}

describe(`merkle: load build on the worker thread (seed ${seed})`, () => {
  it("gives the inline builder's top and pages, byte for byte, whatever the chunks", () => {
    const rng = new Rng(seed);
    for (const n of [0, 1, 2, 3, 129, 5000, 20_000]) {
      for (const clustered of [false, true]) {
        const entries = entriesOf(rng, n, clustered);
        const root = toHex(trieRoot(entries));
        const chunkings = [[], randomCuts(rng, n), Array.from({ length: Math.min(n, 200) }, (_, i) => i + 1)];
        for (const cuts of chunkings) {
          const label = `n ${n}${clustered ? " clustered" : ""}, ${cuts.length + 1} chunks`;
          const want = inline(entries, cuts);
          for (const [ahead, here] of [
            [1, 0],
            [3, 0],
            [2, 1],
            [2, Math.floor(cuts.length / 2)],
            [2, cuts.length + 1],
          ]) {
            const got = offloaded(entries, cuts, ahead, here);
            assert.equal(toHex(got.top.root), root, `${label}: root`);
            assert.equal(got.top.kind, want.top.kind, `${label}: kind`);
            assert.deepEqual([...got.pages.keys()].sort(), [...want.pages.keys()].sort(), `${label}: page ids`);
            for (const [id, page] of want.pages) assert.ok(page === got.pages.get(id), `${label}: page ${id}`);
          }
        }
      }
    }
  });

  it("turns a failure of the thread into a LoadBuildError, in a chunk or at the end, and serves the next build", () => {
    const rng = new Rng(seed + 1);
    const entries = entriesOf(rng, 3000, false);
    // Fails the second chunk: the first chunk's pages come back, then the error.
    const a = new TrieLoadWorker(null, 1);
    a.add(packOf(entries.slice(0, 1000), true));
    a.add(packOf(entries.slice(1000, 2000), true));
    assert.ok(Array.isArray(a.next(true)));
    assert.throws(() => a.next(true), LoadBuildError);
    assert.throws(() => a.add(packOf(entries.slice(2000), true)), LoadBuildError, "the build is over");
    // Fails the finish.
    const b = new TrieLoadWorker(null, 1);
    b.add(packOf(entries, true));
    b.next(true);
    assert.throws(() => b.finish(), LoadBuildError);
    // Misuse is refused.
    const c = new TrieLoadWorker();
    assert.throws(() => c.next(true), LoadBuildError);
    c.add(packOf(entries, true));
    assert.throws(() => c.finish(), LoadBuildError);
    c.close();
    // The thread serves the next build.
    const got = offloaded(entries, [1500], 2);
    assert.equal(toHex(got.top.root), toHex(trieRoot(entries)));
  });
});
