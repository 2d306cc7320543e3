// Reading value pages ahead on the thread pool: what it caches is what a synchronous read would
// have read, and an image made stale while it was read (its page number taken again for a new
// page) is never cached.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { MemFileSystem } from "../../src/io/index.ts";
import { openKv } from "../../src/kv/index.ts";
import { Rng, same, seqKey, tempDir } from "./helpers.ts";

const N = 20_000;
const put = (tag: number) => Array.from({ length: N }, (_, i) => [seqKey(i), new Uint8Array([tag, i & 0xff, 7, 7, 7])] as const);

test("readAhead caches the pages on the keys' paths: the reads that follow read no page from the file", async () => {
  const { dir, cleanup } = tempDir("ahead");
  try {
    const tree = openKv(join(dir, "t.db"));
    tree.apply(put(1));
    tree.commit();
    tree.dropCache();
    const rng = new Rng(0xa11ead);
    const keys = Array.from(new Set(Array.from({ length: 300 }, () => rng.int(N))))
      .sort((a, b) => a - b)
      .map((i) => seqKey(i));
    const read = await tree.readAhead(keys);
    assert.ok(read > 0, "pages were read ahead");
    const before = tree.stats().pagesRead;
    for (const k of keys) assert.ok(same(tree.get(k), new Uint8Array([1, k[3], 7, 7, 7])));
    assert.equal(tree.stats().pagesRead, before, "every page on the keys' paths was in memory");
    assert.equal(await tree.readAhead(keys), 0, "nothing left to read");
    tree.close();
  } finally {
    cleanup();
  }
});

test("readAhead never caches a page whose number was taken for a new page while it was read", async () => {
  const { dir, cleanup } = tempDir("ahead-stale");
  try {
    // A cache of 64 pages (of ~250 leaves): the rewritten pages of the keys read ahead have
    // left memory before the reads return, and what those reads cache stays there.
    const tree = openKv(join(dir, "t.db"), { cacheBytes: 64 * 4096 });
    tree.apply(put(1));
    tree.commit();
    tree.dropCache();
    // The branches above the first keys' leaves in memory, the leaves not: those leaves are
    // what the first round reads.
    tree.get(seqKey(0));
    const keys = Array.from({ length: 40 }, (_, i) => seqKey(100 + i * 100));
    // Started, not awaited: its reads are in flight while the tree is rewritten twice, so the
    // pages it reads are freed by the first commit and taken again by the second.
    const ahead = tree.readAhead(keys);
    tree.apply(put(2));
    tree.commit();
    tree.apply(put(3));
    tree.commit();
    await ahead;
    for (const k of keys) assert.ok(same(tree.get(k), new Uint8Array([3, k[3], 7, 7, 7])), `value of key ${k[2] * 256 + k[3]}`);
    for (let i = 0; i < N; i += 7) assert.ok(same(tree.get(seqKey(i)), new Uint8Array([3, i & 0xff, 7, 7, 7])), `value of key ${i}`);
    assert.equal(tree.check().entries, N);
    tree.close();
  } finally {
    cleanup();
  }
});

test("readAhead on a file without async reads reads nothing, and changes nothing", async () => {
  const tree = openKv("t.db", { fs: new MemFileSystem() });
  tree.apply(put(1));
  tree.commit();
  tree.dropCache();
  assert.equal(await tree.readAhead([seqKey(5)]), 0);
  assert.ok(same(tree.get(seqKey(5)), new Uint8Array([1, 5, 7, 7, 7])));
  tree.close();
});
