// Fork states in the style of the JAM conformance fuzzer (forks at depth 1, ancestry 24): a
// chain of blocks, each with 1-3 sibling blocks on the same parent, finalized with a random lag
// of up to 24 blocks, and random restarts (the caller imports the unfinalized blocks again).
// Every state's root equals a from-scratch root of its model; reads and proofs of random
// retained states agree with their models; the finalized state survives every restart; the
// retained states and delta bytes the API reports go back to nothing once the head is finalized.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DbError, ForkStates, open } from "../../src/db/index.ts";
import { toHex, trieRootUnsorted, verifyKeyProof, verifyStateResponse } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { tempDirs } from "./helpers.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
const BLOCKS = LONG ? 3000 : 500;
const MAX_LAG = 24;
const newDir = tempDirs("bmt-db-forks-");

type Model = Map<string, Uint8Array>;
interface Block {
  id: string;
  parent: string;
  changes: [Uint8Array, Uint8Array | null][];
  model: Model;
  root: string;
}

const rootOf = (m: Model) => toHex(trieRootUnsorted([...m.entries()].map(([k, value]) => ({ key: Buffer.from(k.slice(2), "hex"), value }))));

describe(`db: fork states, conformance-fuzzer style (seed ${seed})`, () => {
  it(`${BLOCKS} blocks with 1-3 siblings each, finalization lag up to ${MAX_LAG}, random restarts`, async (t) => {
    const rng = new Rng(seed ^ 0xf0f5);
    const dir = newDir();
    const keys = Array.from({ length: 300 }, () => rng.bytes(31));
    let db = open(dir, { rollbackWindow: 8 });
    // Genesis: the finalized state to start from.
    const genesis: Model = new Map();
    const s = db.beginWrite();
    for (const k of keys.slice(0, 150)) {
      const v = rng.bytes(1 + rng.int(60));
      s.set(k, v);
      genesis.set(toHex(k), v);
    }
    await (await s.finish()).commit();
    const blocks = new Map<string, Block>();
    blocks.set("genesis", { id: "genesis", parent: "", changes: [], model: genesis, root: rootOf(genesis) });
    assert.equal(toHex(db.root), blocks.get("genesis")?.root);
    let forks = new ForkStates(db, "genesis");
    const baseline = { pinned: db.metrics().pinnedVersions, snapshots: db.metrics().openSnapshots };

    const chain: string[] = ["genesis"]; // the canonical chain, genesis first
    let finalizedAt = 0; // index in `chain`
    const counts = { stateRequests: 0, imported: 0, siblings: 0, finalizes: 0, restarts: 0, proofs: 0, dropped: 0, maxStates: 0, maxBytes: 0 };

    const importBlock = (b: Block) => {
      const root = forks.import(b.id, b.parent, b.changes);
      assert.equal(toHex(root), b.root, `root of ${b.id}`);
      counts.imported++;
    };
    const makeBlock = (id: string, parent: Block): Block => {
      const model: Model = new Map(parent.model);
      const changes = new Map<string, [Uint8Array, Uint8Array | null]>();
      const n = 1 + rng.int(12);
      for (let i = 0; i < n; i++) {
        const k = rng.pick(keys);
        const v = rng.int(5) === 0 ? null : rng.bytes(rng.int(3) === 0 ? 0 : 1 + rng.int(80));
        changes.set(toHex(k), [k, v]);
      }
      for (const [hk, [, v]] of changes) {
        if (v === null) model.delete(hk);
        else model.set(hk, v);
      }
      return { id, parent: parent.id, changes: [...changes.values()], model, root: rootOf(model) };
    };
    /** The retained states must be exactly the finalized block and the blocks descending from it. */
    const checkRetained = () => {
      const finalized = chain[finalizedAt];
      assert.equal(forks.finalized, finalized);
      const want = new Set<string>([finalized]);
      for (const b of blocks.values()) {
        // A block is retained when its parent chain reaches the finalized block.
        let p: Block | undefined = b;
        const seen: string[] = [];
        while (p !== undefined && p.id !== finalized && p.id !== "genesis") {
          seen.push(p.id);
          p = blocks.get(p.parent);
        }
        if (p?.id === finalized) for (const id of seen) want.add(id);
      }
      const listed = forks.list();
      assert.deepEqual(new Set(listed.map((x) => x.id)), want, "retained states");
      for (const x of listed) assert.equal(toHex(x.root), blocks.get(x.id)?.root, `listed root of ${x.id}`);
      const st = forks.stats();
      assert.equal(st.states, want.size - 1);
      let bytes = 0;
      for (const id of want) if (id !== finalized) for (const [, v] of (blocks.get(id) as Block).changes) bytes += 31 + (v === null ? 0 : v.length);
      assert.equal(st.deltaBytes, bytes, "delta bytes reported");
      counts.maxStates = Math.max(counts.maxStates, st.states);
      counts.maxBytes = Math.max(counts.maxBytes, st.deltaBytes);
    };
    /** Reads and a proof of a random retained state agree with its model. */
    const checkRead = (id: string) => {
      const b = blocks.get(id) as Block;
      const r = forks.reader(id);
      try {
        assert.equal(toHex(r.root), b.root, `reader root of ${id}`);
        for (let i = 0; i < 3; i++) {
          const k = rng.pick(keys);
          const want = b.model.get(toHex(k));
          const got = r.get(k);
          assert.equal(got === undefined ? undefined : toHex(got), want === undefined ? undefined : toHex(want), `value in ${id}`);
        }
        const k = rng.pick(keys);
        const proof = r.prove(k);
        assert.ok(verifyKeyProof(proof, forks.root(id)), `proof in ${id}`);
        const want = b.model.get(toHex(k));
        assert.equal(proof.value === null ? undefined : toHex(proof.value), want === undefined ? undefined : toHex(want));
        counts.proofs++;
        // A CE 129 state request served from the state verifies against its root.
        const [a, z] = [rng.pick(keys), rng.pick(keys)].sort((x, y) => Buffer.compare(x, y));
        verifyStateResponse(forks.root(id), a, z, r.stateRequest(a, z, 4096), 4096);
        counts.stateRequests++;
      } finally {
        if (id === forks.finalized) (r as unknown as { release(): void }).release();
      }
    };

    for (let height = 1; height <= BLOCKS; height++) {
      const parent = blocks.get(chain[chain.length - 1]) as Block;
      // 1-3 siblings on the same parent; the first extends the canonical chain.
      const n = 1 + rng.int(3);
      for (let j = 0; j < n; j++) {
        const b = makeBlock(`${height}.${j}`, parent);
        blocks.set(b.id, b);
        importBlock(b);
        if (j > 0) counts.siblings++;
      }
      chain.push(`${height}.0`);
      // Reads and proofs of a random retained state.
      const retained = forks.list();
      checkRead(rng.pick(retained).id);
      // Finalize with a random lag.
      const lag = rng.int(MAX_LAG + 1);
      const target = chain.length - 1 - lag;
      if (target > finalizedAt && rng.int(3) === 0) {
        const before = forks.stats().states;
        const committed = await forks.finalize(chain[target]);
        assert.equal(committed, target - finalizedAt);
        finalizedAt = target;
        counts.finalizes++;
        counts.dropped += before - forks.stats().states;
        assert.equal(toHex(db.root), blocks.get(chain[target])?.root, "database root after finalize");
        checkRetained();
      }
      if (height % 50 === 0) checkRetained();
      // A restart: the finalized state is on disk; the unfinalized blocks are imported again.
      if (rng.int(40) === 0) {
        forks.release();
        db.close();
        db = open(dir, { rollbackWindow: 8 });
        counts.restarts++;
        const fin = blocks.get(chain[finalizedAt]) as Block;
        assert.equal(toHex(db.root), fin.root, "finalized root after a restart");
        const snap = db.beginRead();
        for (const k of keys) {
          const want = fin.model.get(toHex(k));
          const got = snap.get(k);
          assert.equal(got === undefined ? undefined : toHex(got), want === undefined ? undefined : toHex(want), "finalized value after a restart");
        }
        snap.release();
        forks = new ForkStates(db, fin.id);
        // Re-import in creation order every block descending from the finalized one.
        const keep = new Set([fin.id]);
        for (const b of blocks.values()) {
          if (keep.has(b.parent)) {
            keep.add(b.id);
            importBlock(b);
          }
        }
        checkRetained();
      }
    }

    // Bad input changes nothing.
    const st = forks.stats();
    assert.throws(
      () => forks.import("x", "nope", []),
      (e: unknown) => e instanceof DbError && e.code === "BAD_ARGUMENT" && /parent nope/.test(e.message),
    );
    assert.throws(
      () => forks.import(chain[chain.length - 1], forks.finalized, []),
      (e: unknown) => e instanceof DbError && e.code === "BAD_ARGUMENT",
    );
    assert.throws(
      () => forks.import("y", forks.finalized, [[new Uint8Array(3), null]]),
      (e: unknown) => e instanceof DbError && e.code === "BAD_ARGUMENT" && /changes\[0\]/.test(e.message),
    );
    assert.deepEqual(forks.stats(), st);

    // Finalize the head: nothing else is retained, and memory is back to the baseline.
    await forks.finalize(chain[chain.length - 1]);
    finalizedAt = chain.length - 1;
    checkRetained();
    assert.equal(forks.stats().states, 0);
    assert.equal(forks.stats().deltaBytes, 0);
    assert.equal(forks.list().length, 1);
    for (let i = 0; i < 5 && db.metrics().pinnedVersions > baseline.pinned; i++) {
      // Pins of released sessions go at once; of sessions never released, at collection.
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(db.metrics().pinnedVersions, baseline.pinned, "pinned versions back to the baseline");
    assert.equal(db.metrics().openSnapshots, baseline.snapshots, "open snapshots back to the baseline");
    db.close();
    t.diagnostic(`${JSON.stringify(counts)}, ${chain.length - 1} canonical blocks`);
  });
});
