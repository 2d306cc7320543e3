import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Store, StoreError } from "../../src/store/index.ts";
import { MAX_VALUE_SIZE } from "../../src/kv/index.ts";
import { fromHex, toHex, trieRoot } from "../../src/trie/index.ts";
import { keySharing } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-store-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface ModelEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** The model: key hex -> entry. Hex order is key order, so a string sort gives trie order. */
function modelRoot(model: Map<string, ModelEntry>): Uint8Array {
  const keys = [...model.keys()].sort();
  return trieRoot(keys.map((k) => model.get(k) as ModelEntry));
}

const SIZES = [0, 1, 32, 33, 1000];

function value(rng: Rng): Uint8Array {
  if (rng.int(400) === 0) return rng.bytes(100_000 + rng.int(1000));
  const base = rng.pick(SIZES);
  return rng.bytes(Math.max(0, base + rng.int(3) - 1));
}

describe(`store: incremental commits against the from-scratch root (seed ${seed})`, () => {
  it("200 commits growing to 100k keys, churning, shrinking to 1 and 0 keys; reopens at random points", () => {
    const rng = new Rng(seed);
    const dir = join(tmp, "random");
    let store = Store.open(dir);
    const model = new Map<string, ModelEntry>();
    const keyList: Uint8Array[] = [];
    let reopens = 0;
    try {
      for (let c = 1; c <= 200; c++) {
        const batch = new Map<string, [Uint8Array, Uint8Array | null]>();
        const phase = c <= 20 ? "grow" : c <= 170 ? "churn" : "shrink";
        const size = phase === "grow" ? 5000 : phase === "churn" ? 1 + rng.int(500) : Math.max(1, Math.ceil((model.size - 1) / (199 - c)));
        if (phase === "shrink") {
          // Delete down to exactly one key at commit 199 (and to none at 200, below).
          const victims = [...model.keys()].slice(0, Math.min(size, model.size - 1));
          for (const k of victims) batch.set(k, [fromHex(k), null]);
        }
        while (phase !== "shrink" && batch.size < size) {
          let key: Uint8Array;
          const r = rng.int(100);
          // Mostly random keys; some share long prefixes (chains of single-child branches, up
          // to depth 248), which cost a page per 6 levels each, so they stay a small share.
          if (keyList.length > 0 && r < (phase === "grow" ? 10 : 50)) key = rng.pick(keyList);
          else if (keyList.length > 0 && r < 52) key = keySharing(rng, rng.pick(keyList), rng.int(248));
          else if (keyList.length > 0 && r < 53) key = keySharing(rng, rng.pick(keyList), 200 + rng.int(48));
          else key = rng.bytes(31);
          const del = phase === "churn" && rng.int(100) < 35;
          batch.set(toHex(key), [key, del ? null : value(rng)]);
        }
        if (c === 200) for (const k of model.keys()) batch.set(k, [fromHex(k), null]);
        const root = store.commit(batch.values());
        for (const [k, [key, v]] of batch) {
          if (v === null) model.delete(k);
          else {
            if (!model.has(k)) keyList.push(key);
            model.set(k, { key, value: v });
          }
        }
        assert.equal(toHex(root), toHex(modelRoot(model)), `commit ${c} (${phase}, ${model.size} keys)`);
        if (c === 199) assert.equal(model.size, 1, "shrinks to one key");
        if (rng.int(15) === 0 || c === 199) {
          store.close();
          store = Store.open(dir);
          reopens++;
          assert.equal(store.seq, c);
          assert.equal(toHex(store.root), toHex(root));
          let wrong = 0;
          for (const { key, value } of model.values()) {
            const got = store.get(key);
            if (!got || !Buffer.from(got).equals(value)) wrong++;
          }
          assert.equal(wrong, 0, `values differing after reopen at commit ${c}`);
        }
      }
      assert.equal(toHex(store.root), `0x${"00".repeat(32)}`);
      assert.ok(reopens >= 5, `${reopens} reopens`);
      assert.equal(store.stats().merkle.pages, 0, "the empty trie keeps no pages");
    } finally {
      store.close();
    }
  });

  it("refuses bad batches with typed errors and keeps the committed state", () => {
    const dir = join(tmp, "bad");
    const store = Store.open(dir);
    try {
      const rng = new Rng(seed + 1);
      const k = rng.bytes(31);
      const root = store.commit([[k, rng.bytes(40)]]);
      const bad: unknown[] = [
        [[new Uint8Array(30), null]],
        [[k, "text"]],
        [
          [k, null],
          [k.slice(), new Uint8Array(1)],
        ],
        [[k]],
      ];
      for (const b of bad) {
        assert.throws(
          () => store.commit(b as [Uint8Array, Uint8Array | null][]),
          (e: unknown) => (e instanceof StoreError && e.code === "BAD_ARGUMENT") || (e instanceof Error && e.name === "TrieError"),
        );
        assert.equal(toHex(store.root), toHex(root));
        assert.equal(store.seq, 1);
      }
      // A value over the value tree's limit is refused when the batch is read, naming its entry.
      const huge = new Uint8Array(MAX_VALUE_SIZE + 1);
      assert.throws(
        () =>
          store.prepare([
            [rng.bytes(31), new Uint8Array(1)],
            [k, huge],
          ]),
        (e: unknown) => e instanceof StoreError && e.code === "BAD_ARGUMENT" && /batch\[1\] value/.test(e.message),
      );
      assert.equal(store.seq, 1);
      assert.equal(
        store.commit([[k, null]]).every((b) => b === 0),
        true,
      );
    } finally {
      store.close();
    }
  });

  it("keeps a second writer out, in this process and in another, and takes over a stale lock", async () => {
    const dir = join(tmp, "lock");
    const store = Store.open(dir);
    assert.throws(
      () => Store.open(dir),
      (e: unknown) => e instanceof StoreError && e.code === "LOCKED" && /this process/.test(e.message),
    );
    store.close();
    store.close(); // idempotent
    assert.throws(
      () => store.get(new Uint8Array(31)),
      (e: unknown) => e instanceof StoreError && e.code === "CLOSED",
    );
    // A lock left by a process that no longer runs.
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "LOCK"), "999999999\n");
    const again = Store.open(dir);
    again.close();
  });
});
