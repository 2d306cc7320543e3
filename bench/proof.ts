// Proofs at scale: single-key proof create and verify per key (entries node source), multiproof
// bytes per key against single proofs, and @ethereumjs/mpt's proof create/verify side by side.
// `npm run bench:proof` (N=1000000 entries; MPT_N=... keys for @ethereumjs/mpt, 0 to skip it,
// default N; ROUNDS=5 interleaved rounds; SINGLE=10000 keys proven one by one per round, of
// which the first KEYS=1000 also go into one multiproof). DB=0 skips the same single proofs taken
// from a database (`Snapshot.prove`: merkle pages on disk, small subtries rebuilt from the values).
import { createMerkleProof, createMPT, verifyMerkleProof } from "@ethereumjs/mpt";
import {
  encodeKeyProof,
  encodeMultiProof,
  type Entry,
  entriesNodeSource,
  type KeyProof,
  type MultiProof,
  proveKey,
  proveMany,
  verifyKeyProof,
  verifyMultiProof,
} from "../src/trie/index.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open as openDb } from "../src/db/index.ts";
import { interleaved, machine, median, randomSortedEntries, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);
const MPT_N = Number(process.env.MPT_N ?? N);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const KEYS = Number(process.env.KEYS ?? 1000);
const SINGLE = Math.max(KEYS, Number(process.env.SINGLE ?? 10_000));

function sample(entries: readonly Entry[], n: number): Uint8Array[] {
  return Array.from({ length: n }, () => entries[Math.floor(Math.random() * entries.length)].key);
}

const entries = randomSortedEntries(N);
let t = performance.now();
const source = entriesNodeSource(entries);
const sourceMs = performance.now() - t;
const root = source.root().name;

// Work kept between the timed steps of one round.
let keys: Uint8Array[] = [];
let singles: KeyProof[] = [];
let multi: MultiProof | undefined;
const bytes = { single: [] as number[], multi: [] as number[] };

const ours = await interleaved(ROUNDS, {
  create: () => {
    keys = sample(entries, SINGLE);
    const t0 = performance.now();
    singles = keys.map((k) => proveKey(source, k));
    return ((performance.now() - t0) * 1000) / SINGLE;
  },
  verify: () => {
    const t0 = performance.now();
    for (const p of singles) if (!verifyKeyProof(p, root)) throw new Error("a proof failed");
    return ((performance.now() - t0) * 1000) / SINGLE;
  },
  multiCreate: () => {
    const t0 = performance.now();
    multi = proveMany(source, keys.slice(0, KEYS));
    return ((performance.now() - t0) * 1000) / KEYS;
  },
  multiVerify: () => {
    const t0 = performance.now();
    if (!verifyMultiProof(multi as MultiProof, root)) throw new Error("the multiproof failed");
    const us = ((performance.now() - t0) * 1000) / KEYS;
    bytes.single.push(singles.slice(0, KEYS).reduce((s, p) => s + encodeKeyProof(p).length, 0) / KEYS);
    bytes.multi.push(encodeMultiProof(multi as MultiProof).length / KEYS);
    return us;
  },
});

// The same proofs from a database holding the same entries.
let fromDb: { load: number; create: number } | undefined;
if (process.env.DB !== "0") {
  const dir = mkdtempSync(join(tmpdir(), "bmt-bench-proof-"));
  const db = openDb(dir, { rollbackWindow: 0 });
  try {
    t = performance.now();
    for (let i = 0; i < entries.length; i += 50_000) {
      const w = db.beginWrite();
      for (const e of entries.slice(i, i + 50_000)) w.set(e.key, e.value);
      await (await w.finish()).commit();
    }
    const load = performance.now() - t;
    if (Buffer.compare(db.root, root) !== 0) throw new Error("database root differs from the entries' root");
    const create: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ks = sample(entries, SINGLE);
      const snap = db.beginRead();
      const t0 = performance.now();
      const proofs = ks.map((k) => snap.prove(k));
      create.push(((performance.now() - t0) * 1000) / SINGLE);
      snap.release();
      for (let i = 0; i < 100; i++) if (!verifyKeyProof(proofs[i], root)) throw new Error("a database proof failed");
    }
    fromDb = { load, create: median(create) };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

let mpt: { build: number; create: number; verify: number; bytes: number } | undefined;
if (MPT_N > 0) {
  // In-memory (its default MapDB): a key-value backed trie would only be slower to set up.
  const trie = await createMPT();
  const mptKeys = entries.length === MPT_N ? entries.map((e) => e.key) : sample(entries, MPT_N);
  const value = new Uint8Array(32).fill(0x5a);
  t = performance.now();
  for (let i = 0; i < mptKeys.length; i += 10_000) {
    await trie.batch(mptKeys.slice(i, i + 10_000).map((key) => ({ type: "put" as const, key, value })));
  }
  const build = performance.now() - t;
  const mptRoot = trie.root();
  const create: number[] = [];
  const verify: number[] = [];
  const size: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ks = Array.from({ length: KEYS }, () => mptKeys[Math.floor(Math.random() * mptKeys.length)]);
    let t0 = performance.now();
    const proofs = [];
    for (const k of ks) proofs.push(await createMerkleProof(trie, k));
    create.push(((performance.now() - t0) * 1000) / KEYS);
    t0 = performance.now();
    for (let i = 0; i < KEYS; i++) if ((await verifyMerkleProof(ks[i], proofs[i], { root: mptRoot })) === null) throw new Error("mpt proof failed");
    verify.push(((performance.now() - t0) * 1000) / KEYS);
    size.push(proofs.reduce((s, p) => s + p.reduce((a, n) => a + n.length, 0), 0) / KEYS);
  }
  mpt = { build, create: median(create), verify: median(verify), bytes: median(size) };
}

const f = (x: number) => x.toFixed(1);
const singleBytes = median(bytes.single);
const multiBytes = median(bytes.multi);
console.log(
  `# proofs, ${entries.length} random entries (31-byte keys, 32-byte values), random present keys (${SINGLE} single, ${KEYS} per multiproof) per round, median of ${ROUNDS}`,
);
console.log(`# ${machine()}`);
console.log(
  `# entries node source built in ${f(sourceMs)} ms; ${fromDb ? `database loaded in ${f(fromDb.load / 1000)} s (50k-entry commits); ` : ""}@ethereumjs/mpt ${mpt ? `(in-memory MapDB, ${MPT_N} keys) built in ${f(mpt.build / 1000)} s` : "skipped"}\n`,
);
console.log(
  table(
    ["what", "create µs/key", "verify µs/key", "bytes/key"],
    [
      ["bmt single proof (`proveKey` over the entries source)", f(ours.create), f(ours.verify), f(singleBytes)],
      ...(fromDb ? [["bmt single proof from a database (`Snapshot.prove`: merkle pages + value scans)", f(fromDb.create), "(as above)", "(as above)"]] : []),
      [
        `bmt multiproof of ${KEYS} keys (\`proveMany\`)`,
        f(ours.multiCreate),
        f(ours.multiVerify),
        `${f(multiBytes)} (${((100 * multiBytes) / singleBytes).toFixed(1)} % of single)`,
      ],
      ...(mpt ? [["@ethereumjs/mpt single proof (`createMerkleProof` / `verifyMerkleProof`)", f(mpt.create), f(mpt.verify), f(mpt.bytes)]] : []),
    ],
  ),
);
