// Proofs and witnesses from the database: every reader's proofs equal those of the entries'
// own trie (through stored and elided merkle pages, checkpoints, reopen, past roots, sessions
// and overlays) and verify against its root; the JAM storage_light trace replayed with witness
// sessions; a multiproof of 1000 keys on 100k; 200 random witness sessions.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { readStateFile } from "../../src/cli/state-files.ts";
import { DbError, type Db, type FinishedSession, open, type StateReadable } from "../../src/db/index.ts";
import { pageIdOf, PAGE_LEVELS } from "../../src/merkle/page.ts";
import {
  compareKeys,
  decodeWitness,
  encodeKeyProof,
  encodeMultiProof,
  encodeWitness,
  type Entry,
  entriesNodeSource,
  keyProofToJson,
  multiProofValues,
  proveKey,
  proveMany,
  proveRange,
  respondStateRequest,
  toHex,
  TrieError,
  type TrieNodeSource,
  verifyKeyProof,
  verifyMultiProof,
  verifyRangeProof,
  verifyStateResponse,
  verifyWitness,
  type Witness,
  witnessFromJson,
  witnessToJson,
} from "../../src/trie/index.ts";
import { keySharing, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot, requireVectors } from "../support/vectors.ts";
import { type Change, h, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-proofs-");

const code = (c: string, names?: string) => (e: unknown) => {
  assert.ok(e instanceof DbError, String(e));
  assert.equal(e.code, c, e.message);
  if (names !== undefined) assert.ok(e.message.startsWith(`${names} `), `the message names ${names}: ${e.message}`);
  return true;
};

const entriesOf = (model: Model): Entry[] => model.sorted().map(([key, value]) => ({ key, value }));

/** Keys to prove against `model`: present ones, random absent ones, absent ones beside present ones. */
function probeKeys(rng: Rng, model: Model, n: number): Uint8Array[] {
  const present = model.sorted().map(([k]) => k);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = rng.int(3);
    if (present.length > 0 && r === 0) out.push(rng.pick(present));
    else if (present.length > 0 && r === 1) out.push(keySharing(rng, rng.pick(present), rng.int(248)));
    else out.push(rng.bytes(31));
  }
  return out;
}

/** A few ranges over the key space: small, cut by the limit, the whole space, between present keys. */
function probeRanges(rng: Rng, model: Model): [Uint8Array, Uint8Array, number][] {
  const present = model.sorted().map(([k]) => k);
  const lo = new Uint8Array(31);
  const hi = new Uint8Array(31).fill(0xff);
  const ranges: [Uint8Array, Uint8Array, number][] = [
    [lo, hi, 5],
    [lo, hi, 1],
  ];
  for (let i = 0; i < 4; i++) {
    const a = rng.bytes(31);
    const b = rng.bytes(31);
    const [s, e] = compareKeys(a, b) <= 0 ? [a, b] : [b, a];
    ranges.push([s, e, 1 + rng.int(20)]);
  }
  if (present.length >= 2) {
    const i = rng.int(present.length - 1);
    ranges.push([present[i], present[Math.min(present.length - 1, i + 1 + rng.int(8))], 100]);
    ranges.push([present[i], present[i], 1]);
  }
  return ranges;
}

/**
 * Asserts that `reader`'s single, multi and range proofs equal those built from `model`'s own
 * entries and verify against `model`'s root (and that root is the reader's).
 */
function assertProofs(reader: StateReadable, model: Model, rng: Rng, n: number, what: string): Uint8Array[] {
  const entries = entriesOf(model);
  const reference: TrieNodeSource = entriesNodeSource(entries);
  const root = reference.root().name;
  assert.equal(toHex(reader.root), toHex(root), `${what}: root`);
  const keys = probeKeys(rng, model, n);
  for (const key of keys) {
    const proof = reader.prove(key);
    assert.deepEqual(proof, proveKey(reference, key), `${what}: proof of ${toHex(key)}`);
    assert.ok(verifyKeyProof(proof, root), `${what}: proof of ${toHex(key)} verifies`);
    assert.equal(h(proof.value ?? undefined), h(model.get(key)), `${what}: proven value of ${toHex(key)}`);
  }
  const multi = reader.proveMany(keys);
  assert.deepEqual(multi, proveMany(reference, keys), `${what}: multiproof`);
  const values = multiProofValues(multi, root);
  for (const key of keys) assert.equal(h(values.get(key) ?? undefined), h(model.get(key)), `${what}: multiproof value of ${toHex(key)}`);
  for (const [start, end, limit] of probeRanges(rng, model)) {
    const range = reader.proveRange(start, end, limit);
    assert.deepEqual(range, proveRange(reference, start, end, limit), `${what}: range ${toHex(start)}..${toHex(end)} limit ${limit}`);
    assert.ok(verifyRangeProof(range, root), `${what}: range proof verifies`);
    // CE 129: the same bytes as from the entries' own trie, and they verify.
    const maxSize = [0, 300, 4000][limit % 3];
    const answer = reader.stateRequest(start, end, maxSize);
    assert.deepEqual(answer, respondStateRequest(reference, start, end, maxSize), `${what}: state request ${toHex(start)}..${toHex(end)} maxSize ${maxSize}`);
    const verified = verifyStateResponse(root, start, end, answer, maxSize);
    const listed = model
      .sorted()
      .filter(([k]) => compareKeys(k, start) >= 0 && compareKeys(k, end) <= 0)
      .slice(0, verified.entries.length);
    assert.deepEqual(
      verified.entries.map((e) => toHex(e.key)),
      listed.map(([k]) => toHex(k)),
      `${what}: state request pairs`,
    );
  }
  return keys;
}

/** How many of `keys` have proofs that pass stored pages and end in an elided subtrie below them. */
function storedThenElided(reader: StateReadable, keys: readonly Uint8Array[]): number {
  const pages = reader.view().pages;
  let n = 0;
  for (const key of keys) {
    let stored = 0;
    while (pages.get(pageIdOf(key, stored)) !== undefined) stored++;
    if (stored >= 1 && reader.prove(key).siblings.length > stored * PAGE_LEVELS) n++;
  }
  return n;
}

describe(`db: proofs and witnesses (seed ${seed})`, () => {
  it("proofs through stored and elided pages equal the entries' proofs, across 60 commits, checkpoints, reopen and past roots", async () => {
    const rng = new Rng(seed);
    const dir = newDir();
    const keys = universe(rng, 32_000);
    let db: Db = open(dir, { merkleCacheBytes: 1 << 20 });
    const init = randomChanges(rng, keys.slice(0, 24_000), 24_000, 0);
    await (await write(db.beginWrite(), init).finish()).commit();
    const model = new Model().apply(init);
    const past: { root: Uint8Array; model: Model }[] = [];
    for (let c = 1; c <= 60; c++) {
      if (c % 15 === 0) past.push({ root: db.root, model: Model.of(model) });
      const changes = randomChanges(rng, keys, 150 + rng.int(150), 0.3);
      await (await write(db.beginWrite(), changes).finish()).commit();
      model.apply(changes);
      if (c === 40) {
        // Past the store's first checkpoint (every 32 commits): pages on disk and in memory.
        const snapshot = db.beginRead();
        assertProofs(snapshot, model, rng, 150, "after 40 commits");
        snapshot.release();
      }
    }
    assert.ok(model.map.size >= 20_000, `${model.map.size} keys`);
    db.close();
    db = open(dir, { merkleCacheBytes: 1 << 20, valueCacheBytes: 1 << 20 });
    const snapshot = db.beginRead();
    const probed = assertProofs(snapshot, model, rng, 300, "after reopen");
    const present = probed.filter((k) => model.get(k) !== undefined);
    const deep = storedThenElided(snapshot, present);
    assert.ok(deep > present.length / 2, `${deep} of ${present.length} proofs pass stored pages and end in elided subtries`);
    // Past roots in the rollback window (the log survived the reopen).
    for (const p of past) {
      const at = db.beginReadAt(p.root);
      assertProofs(at, p.model, rng, 40, `at past root ${toHex(p.root).slice(0, 10)}`);
      const k = rng.pick(p.model.sorted())[0];
      assert.equal(verifyKeyProof(at.prove(k), db.root), toHex(p.root) === toHex(db.root), "a past proof is not one of the current root");
      at.release();
    }
    // A finished session, an overlay over it and a session on that overlay: each proves its own state.
    const c1 = randomChanges(rng, keys, 200, 0.4);
    const f1 = await write(db.beginWrite(), c1).finish();
    const m1 = Model.of(model).apply(c1);
    assertProofs(f1, m1, rng, 60, "finished session");
    const o1 = f1.toOverlay();
    const c2 = randomChanges(rng, keys, 200, 0.4);
    const f2 = await write(db.beginWrite({ overlays: [o1] }), c2).finish();
    const m2 = Model.of(m1).apply(c2);
    assertProofs(o1, m1, rng, 40, "overlay");
    assertProofs(f2, m2, rng, 60, "session on an overlay");
    // The snapshot still proves the state it was taken at.
    assertProofs(snapshot, model, rng, 40, "snapshot beside sessions");
    await o1.commit();
    await f2.commit();
    assertProofs(f2, m2, rng, 40, "committed session");
    assertProofs(snapshot, model, rng, 40, "snapshot after two commits");
    snapshot.release();
    assert.ok(db.metrics().proofs > 500, `${db.metrics().proofs} proofs counted`);
    db.close();
  });

  it("storage_light replayed with witness sessions: every witness gives the block's post-state root; every key of the last state proven, absent keys disproven, past states proven", async () => {
    const dir = join(requireVectors(), "traces", "storage_light");
    const files = Array.from({ length: 100 }, (_, i) => join(dir, `${String(i + 1).padStart(8, "0")}.json`));
    const rng = new Rng(seed ^ 0x5eed);
    const db = open(newDir());
    const genesis = readStateFile(join(dir, "genesis.json"))[0];
    await (
      await write(
        db.beginWrite(),
        genesis.entries.map((e): Change => [e.key, e.value]),
      ).finish()
    ).commit();
    assert.equal(toHex(db.root), toHex(genesis.expectedRoot));
    const posts: { root: Uint8Array; entries: Entry[] }[] = [];
    for (const file of files) {
      const states = readStateFile(file);
      const [pre, post] = ["pre_state", "post_state"].map((l) => states.find((s) => s.label === l) as typeof genesis);
      assert.equal(toHex(db.root), toHex(pre.expectedRoot), file);
      const before = new Map(pre.entries.map((e) => [toHex(e.key), e.value]));
      const after = new Map(post.entries.map((e) => [toHex(e.key), e]));
      const session = db.beginWrite({ witness: true });
      // Read what the block changes, and a few keys it leaves alone, before writing.
      for (const e of pre.entries) if (rng.int(4) === 0 || toHex(after.get(toHex(e.key))?.value ?? new Uint8Array(0)) !== toHex(e.value)) session.get(e.key);
      session.get(rng.bytes(31));
      for (const e of post.entries)
        if (toHex(before.get(toHex(e.key)) ?? new Uint8Array(0)) !== toHex(e.value) || !before.has(toHex(e.key))) session.set(e.key, e.value);
      for (const e of pre.entries) if (!after.has(toHex(e.key))) session.delete(e.key);
      const f = await session.finish();
      const w = f.witness();
      assert.equal(toHex(w.prevRoot), toHex(pre.expectedRoot), `${file}: witness prevRoot`);
      const verified = verifyWitness(decodeWitness(encodeWitness(w)));
      assert.equal(toHex(verified.root), toHex(post.expectedRoot), `${file}: the witness gives the post-state root`);
      for (const k of f.witnessKeys?.read ?? []) assert.equal(h(verified.reads.get(k) ?? undefined), h(before.get(toHex(k))), `${file}: read ${toHex(k)}`);
      await f.commit();
      assert.equal(toHex(db.root), toHex(post.expectedRoot));
      posts.push({ root: post.expectedRoot, entries: post.entries });
    }
    const last = posts[posts.length - 1];
    using snapshot = db.beginRead();
    for (const e of last.entries) {
      const proof = snapshot.prove(e.key);
      assert.ok(verifyKeyProof(proof, last.root), `inclusion of ${toHex(e.key)}`);
      assert.equal(toHex(proof.value ?? new Uint8Array(0)), toHex(e.value));
      // The shared JSON shape, as issue-independent tools read it.
      const json = keyProofToJson(proof) as Record<string, unknown>;
      assert.deepEqual(Object.keys(json), ["root", "key", "value", "siblings", "terminal"]);
      assert.equal(json.value, toHex(e.value));
    }
    const present = new Set(last.entries.map((e) => toHex(e.key)));
    for (let i = 0; i < 300; i++) {
      const key = i % 2 ? rng.bytes(31) : keySharing(rng, rng.pick(last.entries).key, rng.int(248));
      if (present.has(toHex(key))) continue;
      const proof = snapshot.prove(key);
      assert.equal(proof.value, null, `non-inclusion of ${toHex(key)}`);
      assert.ok(verifyKeyProof(proof, last.root));
    }
    // Past states in the rollback window (100 commits): every key of a few of them.
    for (const back of [1, 10, 50, 99]) {
      const p = posts[posts.length - 1 - back];
      using at = db.beginReadAt(p.root);
      const multi = at.proveMany(p.entries.map((e) => e.key));
      const values = multiProofValues(multi, p.root);
      for (const e of p.entries) assert.equal(toHex(values.get(e.key) ?? new Uint8Array(0)), toHex(e.value));
      for (const e of p.entries.slice(0, 10)) assert.ok(verifyKeyProof(at.prove(e.key), p.root));
    }
    db.close();
  });

  it("a multiproof of 1000 random keys on a 100k-key database verifies and is at most half the size of the 1000 single proofs", async (t) => {
    const rng = new Rng(seed ^ 0x100000);
    const db = open(newDir());
    const keys: Uint8Array[] = [];
    for (let c = 0; c < 4; c++) {
      const s = db.beginWrite();
      for (let i = 0; i < 25_000; i++) {
        const k = rng.bytes(31);
        keys.push(k);
        s.set(k, rng.bytes(rng.int(2) ? 8 : 40));
      }
      await (await s.finish()).commit();
    }
    using snapshot = db.beginRead();
    const picked = Array.from({ length: 1000 }, (_, i) => (i % 2 ? rng.pick(keys) : rng.bytes(31)));
    snapshot.proveMany(picked.slice(0, 100)); // warm the caches
    let t0 = performance.now();
    const singles = picked.map((k) => snapshot.prove(k));
    const singleUs = ((performance.now() - t0) * 1000) / picked.length;
    t0 = performance.now();
    const multi = snapshot.proveMany(picked);
    const multiMs = performance.now() - t0;
    assert.ok(verifyMultiProof(multi, db.root));
    const values = multiProofValues(multi, db.root);
    for (let i = 0; i < picked.length; i++) {
      assert.ok(verifyKeyProof(singles[i], db.root));
      assert.equal(h(values.get(picked[i]) ?? undefined), h(singles[i].value ?? undefined));
    }
    const multiBytes = encodeMultiProof(multi).length;
    const singleBytes = singles.reduce((sum, p) => sum + encodeKeyProof(p).length, 0);
    const ratio = multiBytes / singleBytes;
    t.diagnostic(
      `100k keys: multiproof of 1000 keys ${multiBytes} B (${(multiBytes / 1000).toFixed(1)} B/key), 1000 single proofs ${singleBytes} B: ratio ${(100 * ratio).toFixed(1)} %; ` +
        `prove ${singleUs.toFixed(1)} µs/key, proveMany ${multiMs.toFixed(1)} ms`,
    );
    assert.ok(ratio <= 0.5, `ratio ${ratio}`);
    db.close();
  });

  it("200 random witness sessions (reads, inserts, updates, deletes, delete to empty, overlays): verifyWitness gives exactly the committed root; changed bytes fail", async (t) => {
    const rng = new Rng(seed ^ 0x200);
    const big = { db: open(newDir()), keys: universe(rng, 2500), model: new Model() };
    const small = { db: open(newDir()), keys: universe(rng, 40), model: new Model() };
    const init = randomChanges(rng, big.keys, 1500, 0);
    await (await write(big.db.beginWrite(), init).finish()).commit();
    big.model.apply(init);
    let emptied = 0;
    let flipped = 0;
    const verdicts = new Map<string, number>();
    let overlays = 0;
    for (let i = 0; i < 200; i++) {
      const target = i % 4 === 0 ? small : big;
      const { db, keys } = target;
      // Sometimes on an overlay of an uncommitted session.
      let parent: FinishedSession | null = null;
      let base = target.model;
      if (rng.int(5) === 0) {
        const pc = randomChanges(rng, keys, 1 + rng.int(20), 0.4);
        parent = await write(db.beginWrite(), pc).finish();
        base = Model.of(target.model).apply(pc);
        overlays++;
      }
      const session = db.beginWrite({ witness: true, overlays: parent ? [parent.toOverlay()] : [] });
      const model = Model.of(base);
      const reads = new Map<string, Uint8Array | undefined>();
      const wrote = new Set<string>();
      const toEmpty = target === small && rng.int(3) === 0;
      const present = base.sorted().map(([k]) => k);
      const ops = toEmpty ? 0 : 1 + rng.int(60);
      for (let o = 0; o < ops; o++) {
        const r = rng.int(10);
        const k = r < 2 ? rng.bytes(31) : r < 4 || present.length === 0 ? rng.pick(keys) : rng.pick(present);
        if (r < 5) {
          // A read: of the base unless the session wrote the key before.
          const v = session.get(k);
          assert.equal(h(v), h(model.get(k)));
          if (!reads.has(toHex(k)) && !wrote.has(toHex(k))) reads.set(toHex(k), base.get(k));
        } else if (r < 8) {
          const v = randomValue(rng);
          session.set(k, v);
          wrote.add(toHex(k));
          model.apply([[k, v]]);
        } else {
          session.delete(k);
          wrote.add(toHex(k));
          model.apply([[k, null]]);
        }
      }
      if (toEmpty) {
        for (const k of present) {
          if (rng.int(2)) {
            session.get(k);
            reads.set(toHex(k), base.get(k));
          }
          session.delete(k);
          model.apply([[k, null]]);
        }
        emptied++;
      }
      const f = await session.finish();
      const want = model.root();
      const baseRoot = base.root();
      assert.equal(toHex(f.root), want, `session ${i}: root`);
      const commitFirst = rng.int(3) === 0;
      if (commitFirst) {
        if (parent) await parent.commit();
        await f.commit();
      }
      const w = f.witness();
      assert.equal(toHex(w.prevRoot), baseRoot, `session ${i}: prevRoot`);
      assert.deepEqual(
        w.reads.map(([k]) => toHex(k)),
        (f.witnessKeys?.read ?? []).map(toHex),
        `session ${i}: the witness's reads are the session's reads of its base`,
      );
      assert.deepEqual(
        [...reads.keys()].sort(),
        w.reads.map(([k]) => toHex(k)),
        `session ${i}: reads`,
      );
      for (const [k, v] of w.reads) assert.equal(h(v ?? undefined), h(base.get(k)), `session ${i}: read value of ${toHex(k)}`);
      const verified = verifyWitness(w);
      assert.equal(toHex(verified.root), toHex(f.root), `session ${i}: verifyWitness recomputes the root`);
      const bytes = encodeWitness(w);
      assert.equal(toHex(verifyWitness(decodeWitness(bytes)).root), toHex(f.root), `session ${i}: from its encoding`);
      assert.equal(toHex(verifyWitness(witnessFromJson(JSON.stringify(witnessToJson(w)))).root), toHex(f.root), `session ${i}: from JSON`);
      if (toEmpty) assert.equal(toHex(verified.root), toHex(new Uint8Array(32)), `session ${i}: deleted to empty`);
      // Changed bytes: every byte of the first small witnesses, 12 random ones of the others.
      // None may pass for this session's witness, nor claim anything false of the base: a
      // change is refused, or is the true witness of another session (a key changed to another
      // one that the same path proves absent, read or inserted there).
      const claim: Claim = {
        reads: w.reads.map(([k, v]) => `${toHex(k)}=${h(v ?? undefined)}`).join(),
        writes: w.writes.map(([k, v]) => `${toHex(k)}=${h(v ?? undefined)}`).join(),
        root: toHex(f.root),
      };
      const positions = target === small && i < 24 ? bytes.map((_, j) => j) : Array.from({ length: 12 }, () => rng.int(bytes.length));
      for (const at of positions) {
        const bad = bytes.slice();
        bad[at] ^= 1 + rng.int(255);
        const verdict = judge(bad, base, baseRoot, claim);
        assert.ok(
          verdict === "refused" || verdict.startsWith("another session"),
          `session ${i}: witness with byte ${at} of ${bytes.length} changed: ${verdict}`,
        );
        verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
        flipped++;
      }
      if (!commitFirst) {
        if (parent) await parent.commit();
        await f.commit();
      }
      target.model = model;
      assert.equal(toHex(db.root), want);
    }
    assert.ok(emptied >= 5, `${emptied} sessions deleted to empty`);
    assert.ok(overlays >= 10, `${overlays} sessions on overlays`);
    assert.ok(flipped > 2000);
    t.diagnostic(`${flipped} witnesses with a byte changed, none false: ${[...verdicts].map(([v, n]) => `${n} ${v}`).join(", ")}`);
    big.db.close();
    small.db.close();
  });

  it("the README's proof example runs and prints what its comments say", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const at = readme.indexOf("### Proofs from the database");
    assert.ok(at >= 0, "README has the section");
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(block, "the section has a ts example");
    const dir = newDir();
    const code = block[1]
      .replace(`from "bmt"`, `from ${JSON.stringify(pathToFileURL(join(projectRoot, "src", "index.ts")).href)}`)
      .replace(`open("/tmp/jam-proofs")`, `open(${JSON.stringify(dir)})`);
    assert.notEqual(code, block[1]);
    const file = `${dir}-example.mts`;
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1].trim());
    assert.deepEqual(r.stdout.trim().split("\n"), expected);
  });

  it("a read-only handle beside the writer proves from the same pages: checkpointed, logged since, and after the writer closes", async () => {
    const rng = new Rng(seed + 7);
    const dir = newDir();
    const keys = universe(rng, 6000);
    let db = open(dir);
    for (let c = 0; c < 4; c++) await (await write(db.beginWrite(), randomChanges(rng, keys, 2500, c < 2 ? 0 : 0.3)).finish()).commit();
    db.close();
    // Reopened: the state so far is checkpointed, what follows is in the redo log.
    db = open(dir);
    await (await write(db.beginWrite(), randomChanges(rng, keys, 2500)).finish()).commit();
    const probes = [...Array.from({ length: 30 }, () => rng.pick(keys)), ...Array.from({ length: 10 }, () => rng.bytes(31))];
    const check = (label: string) => {
      using w = db.beginRead();
      const ro = open(dir, { readOnly: true });
      try {
        using r = ro.beginRead();
        assert.equal(toHex(r.root), toHex(w.root), label);
        for (const k of probes) assert.deepEqual(r.prove(k), w.prove(k), `${label}: proof of ${toHex(k)}`);
        assert.deepEqual(r.proveMany(probes), w.proveMany(probes), `${label}: multiproof`);
        const [lo, hi] = [keys[0], keys[1]].sort(compareKeys);
        assert.deepEqual(r.proveRange(lo, hi, 50), w.proveRange(lo, hi, 50), `${label}: range`);
      } finally {
        ro.close();
      }
    };
    check("logged commits");
    await (await write(db.beginWrite(), randomChanges(rng, keys, 300)).finish()).commit();
    check("after another commit");
    db.close();
    const ro = open(dir, { readOnly: true });
    {
      using r = ro.beginRead();
      for (const k of probes) assert.ok(verifyKeyProof(r.prove(k), r.root), `closed writer: proof of ${toHex(k)}`);
    }
    ro.close();
  });

  it("errors: bad arguments name the argument; released, closed, no witness mode; read-only handles prove the same, and keep their state while the writer commits", async () => {
    const dir = newDir();
    const db = open(dir);
    const k = (n: number) => new Uint8Array(31).fill(n);
    await (
      await write(db.beginWrite(), [
        [k(1), Uint8Array.of(1)],
        [k(2), new Uint8Array(64)],
      ]).finish()
    ).commit();
    const s = db.beginRead();
    assert.throws(() => s.prove(new Uint8Array(30)), code("BAD_ARGUMENT", "key"));
    assert.throws(() => s.prove("0x01" as unknown as Uint8Array), code("BAD_ARGUMENT", "key"));
    assert.throws(() => s.proveMany(k(1) as unknown as Uint8Array[]), code("BAD_ARGUMENT", "keys"));
    assert.throws(() => s.proveMany([k(1), new Uint8Array(32)]), code("BAD_ARGUMENT", "keys[1]"));
    assert.throws(() => s.proveRange(k(1), new Uint8Array(3), 5), code("BAD_ARGUMENT", "end"));
    assert.throws(() => s.proveRange(new Uint8Array(3), k(1), 5), code("BAD_ARGUMENT", "start"));
    assert.throws(() => s.proveRange(k(2), k(1), 5), code("BAD_ARGUMENT", "start"));
    for (const limit of [0, -1, 1.5, Number.NaN, "5" as unknown as number]) assert.throws(() => s.proveRange(k(1), k(2), limit), code("BAD_ARGUMENT", "limit"));
    assert.equal(s.proveMany([]).paths.length, 0);
    assert.ok(verifyMultiProof(s.proveMany([]), db.root));
    const writerProofs = [s.prove(k(1)), s.prove(k(3))];
    const writerRange = s.proveRange(k(0), k(9), 10);
    s.release();
    assert.throws(() => s.prove(k(1)), code("RELEASED"));
    assert.throws(() => s.proveMany([k(1)]), code("RELEASED"));
    assert.throws(() => s.proveRange(k(0), k(9), 10), code("RELEASED"));
    const plain = await write(db.beginWrite(), [[k(3), Uint8Array.of(3)]]).finish();
    assert.throws(() => plain.witness(), code("NO_WITNESS"));
    // A witness-mode session with no reads and no writes: its witness is the bare root.
    const idle = await db.beginWrite({ witness: true }).finish();
    assert.equal(toHex(verifyWitness(idle.witness()).root), toHex(db.root));
    // A delete of an absent key changes nothing and is left out of the witness.
    const ghost = db.beginWrite({ witness: true });
    ghost.delete(k(7));
    ghost.set(k(8), Uint8Array.of(8));
    const gw = (await ghost.finish()).witness();
    assert.deepEqual(
      gw.writes.map(([key]) => toHex(key)),
      [toHex(k(8))],
    );
    // Read-only: the same pages, read beside the writer; proofs identical.
    const ro = open(dir, { readOnly: true });
    {
      using r = ro.beginRead();
      assert.deepEqual([r.prove(k(1)), r.prove(k(3))], writerProofs);
      assert.deepEqual(r.proveRange(k(0), k(9), 10), writerRange);
      assert.ok(verifyMultiProof(r.proveMany([k(1), k(2), k(5)]), db.root));
      assert.throws(() => r.prove(k(9).subarray(1)), code("BAD_ARGUMENT", "key"));
      // The writer commits again: the read-only snapshot keeps its state (the reader table keeps
      // the pages it reads), and proves exactly as before, against the root it opened at.
      const before = r.root;
      await plain.commit();
      assert.notEqual(toHex(db.root), toHex(before));
      assert.deepEqual(r.prove(k(1)), writerProofs[0]);
      assert.ok(verifyKeyProof(r.prove(k(3)), before));
    }
    ro.close();
    const f = await write(db.beginWrite({ witness: true }), [[k(4), Uint8Array.of(4)]]).finish();
    db.close();
    assert.throws(() => f.prove(k(1)), code("CLOSED"));
    assert.throws(() => f.witness(), code("CLOSED"));
  });
});

/** What a witness claims, as strings: its reads, its writes and the root they lead to. */
interface Claim {
  reads: string;
  writes: string;
  root: string;
}

/**
 * What an encoded witness is against the state `base` (root `baseRoot`) and the session that
 * made `original`: "refused" (it does not decode or verify), "another session" (it claims
 * something else, all of it true of `base`), or what is wrong.
 */
function judge(bytes: Uint8Array, base: Model, baseRoot: string, original: Claim): string {
  let w: Witness;
  let root: Uint8Array;
  try {
    w = decodeWitness(bytes);
    root = verifyWitness(w).root;
  } catch (e) {
    assert.ok(e instanceof TrieError, `only typed errors: ${String(e)}`);
    return "refused";
  }
  const claim: Claim = {
    reads: w.reads.map(([k, v]) => `${toHex(k)}=${h(v ?? undefined)}`).join(),
    writes: w.writes.map(([k, v]) => `${toHex(k)}=${h(v ?? undefined)}`).join(),
    root: toHex(root),
  };
  if (claim.reads === original.reads && claim.writes === original.writes && claim.root === original.root) return "accepted as the session's witness";
  if (toHex(w.prevRoot) !== baseRoot) return `false prevRoot ${toHex(w.prevRoot)}`;
  for (const [k, v] of w.reads) if (h(v ?? undefined) !== h(base.get(k))) return `false read of ${toHex(k)}`;
  const expected =
    claim.writes === original.writes
      ? original.root
      : Model.of(base)
          .apply(w.writes.map(([k, v]): Change => [k, v]))
          .root();
  if (claim.root !== expected) return `false root ${claim.root}`;
  return claim.writes === original.writes
    ? "another session's reads"
    : claim.reads === original.reads
      ? "another session's writes"
      : "another session's reads and writes";
}
