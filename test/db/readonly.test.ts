// Read-only handles beside a writer process that commits ~20 times a second and checkpoints
// every 32 commits, with both cores kept busy by spinning processes: every answer a handle gives
// is right (proofs verify against its root, values agree with the proofs, its root is the
// writer's root at its seq), and a handle fails STALE only past the documented bound (the
// writer has begun its second checkpoint after the one the handle read: a fresh handle then
// sees a seq at least 64 past that checkpoint). That is checked on the writer's own progress,
// not on a clock: no assertion depends on how much fits in some time.
//
// The test also stops the writer (SIGSTOP) at random instants of its work, wherever that is
// (mid-commit, mid-checkpoint, mid-apply of the page WAL), and there every read must succeed.
// BMT_LONG=1 runs 160 handles beside the writer (8 reads, scans and proofs each: 1280).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DbError, open } from "../../src/db/index.ts";
import { multiProofValues, toHex, trieRootUnsorted, verifyKeyProof, verifyMultiProof } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { batchFor, universe } from "../store/crash-batches.ts";

const seed = testSeed();
const LONG = process.env.BMT_LONG === "1";
const ROUNDS = Number(process.env.BMT_READONLY_ROUNDS ?? (LONG ? 40 : 6));
const PER_ROUND = 4; // handles beside the running writer per round
const CHECKPOINT_EVERY = 32; // the store's default, which the writer uses
const tmp = mkdtempSync(join(tmpdir(), "bmt-readonly-"));
let child: ChildProcess | null = null;
const spinners: ChildProcess[] = [];
after(() => {
  child?.kill("SIGKILL");
  for (const s of spinners) s.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

/** Roots of the writer's deterministic history, seq by seq. */
function modelRoots(keys: Uint8Array[]): (seq: number) => string {
  const map = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  const roots: string[] = [toHex(trieRootUnsorted([]))];
  return (seq) => {
    while (roots.length <= seq) {
      for (const [key, value] of batchFor(seed, keys, roots.length)) {
        if (value === null) map.delete(toHex(key));
        else map.set(toHex(key), { key, value });
      }
      roots.push(toHex(trieRootUnsorted([...map.values()])));
    }
    return roots[seq];
  };
}

describe(`db: read-only handles beside a writer process (seed ${seed})`, () => {
  it("every answer is right while the writer commits and checkpoints on a busy machine, STALE only past the bound; with the writer stopped anywhere, every read succeeds", async () => {
    const dir = join(tmp, "db");
    const keys = universe(seed);
    const rootAt = modelRoots(keys);
    const rng = new Rng(seed ^ 0x5eed);
    // Both cores busy: one spinning process per core.
    for (let i = 0; i < 2; i++) spinners.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
    // The writer pauses 30 ms after each commit: over 20 commits a second on an idle machine.
    const t0 = performance.now();
    const writer = spawn(process.execPath, ["--import", "tsx", join(projectRoot, "test", "store", "crash-child.ts"), dir, String(seed), "30"], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = writer;
    let acks = 0;
    let wake: (() => void) | null = null;
    let stderr = "";
    writer.stdout.setEncoding("utf8");
    writer.stdout.on("data", (d: string) => {
      acks += d.split("\n").filter((l) => l.startsWith("ack ")).length;
      wake?.();
    });
    writer.stderr.on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => writer.on("exit", (code) => r(code)));
    /** Waits (on the writer's output, not a clock) until it has acknowledged `n` commits. */
    const acked = async (n: number) => {
      while (acks < n) {
        const code = await Promise.race([new Promise<undefined>((r) => (wake = () => r(undefined))), exited]);
        if (code !== undefined) assert.fail(`writer exited (${code}): ${stderr}`);
      }
    };
    // Past the first checkpoint (every 32 commits), so pages come from the table and the log.
    await acked(40);

    const counts = { running: 0, runningStale: 0, stopped: 0, ops: 0, proofs: 0, scans: 0, seqs: new Set<number>() };
    const acksAtStart = acks;
    const tStart = performance.now();
    let seq = -1; // of the handle in use
    /** One read-only handle: proofs, a multiproof, values and a scan; throws STALE or fails the test. */
    const readOnce = () => {
      seq = -1;
      const db = open(dir, { readOnly: true });
      // No `using` here: esbuild (which runs the tests) lowers it with function-scoped error
      // flags, so an error caught in one iteration would be thrown again by the next.
      const r = db.beginRead();
      try {
        const root = r.root;
        seq = db.seq;
        for (let i = 0; i < 2; i++) {
          const key = rng.int(4) === 0 ? rng.bytes(31) : rng.pick(keys);
          const proof = r.prove(key);
          assert.ok(verifyKeyProof(proof, root), `proof of ${toHex(key)} at ${toHex(root)}`);
          counts.proofs++;
          counts.ops++;
        }
        const many = Array.from({ length: 4 }, () => rng.pick(keys));
        const multi = r.proveMany(many);
        assert.ok(verifyMultiProof(multi, root), "multiproof");
        // Values read directly agree with the proofs of the same state.
        const proven = multiProofValues(multi, root);
        counts.proofs++;
        counts.ops++;
        for (const k of many) assert.equal(toHex(r.get(k) ?? new Uint8Array(0)), toHex(proven.get(k) ?? new Uint8Array(0)), `value of ${toHex(k)}`);
        counts.ops += many.length;
        let n = 0;
        for (const _ of r.entriesSync({ start: rng.pick(keys) })) if (++n === 300) break;
        counts.scans++;
        counts.ops++;
        // The state read is one the writer committed: its root is the model's at that seq.
        assert.equal(toHex(root), rootAt(seq), `root at seq ${seq}`);
        counts.seqs.add(seq);
      } finally {
        r.release();
        db.close();
      }
    };
    const isStale = (e: unknown) => e instanceof DbError && e.code === "STALE";

    for (let round = 0; round < ROUNDS; round++) {
      // Beside the running writer: right answers; STALE only past the bound.
      for (let i = 0; i < PER_ROUND; i++) {
        try {
          readOnce();
          counts.running++;
        } catch (e) {
          if (!isStale(e)) throw e;
          counts.runningStale++;
          const fresh = open(dir, { readOnly: true });
          const now = fresh.seq;
          fresh.close();
          const checkpoint = Math.floor(seq / CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
          assert.ok(
            seq >= 0 && now >= checkpoint + 2 * CHECKPOINT_EVERY,
            `STALE within the bound: the handle read seq ${seq} (checkpoint ${checkpoint}), the writer is at ${now}: ${(e as Error).message}`,
          );
        }
        await new Promise((r) => setImmediate(r));
      }
      // Stopped at whatever it was doing: every read succeeds.
      writer.kill("SIGSTOP");
      try {
        for (let i = 0; i < 2; i++) {
          readOnce();
          counts.stopped++;
        }
      } finally {
        writer.kill("SIGCONT");
      }
      // Let it commit again before the next round (an ack after the stop, and a random few more).
      await acked(acks + 1 + rng.int(3));
    }
    const secs = (performance.now() - tStart) / 1000;
    const rate = (acks - acksAtStart) / secs;
    writer.kill("SIGKILL");
    await exited;
    for (const s of spinners) s.kill("SIGKILL");
    console.log(
      `# read-only beside a writer, 2 spinning processes: ${counts.running} handles answered and ${counts.runningStale} STALE while it ran, ` +
        `${counts.stopped} with it stopped; ${counts.ops} reads, scans and proofs (${counts.proofs} proofs, ${counts.scans} scans), ${counts.seqs.size} distinct seqs; ` +
        `${acks} commits, ${rate.toFixed(1)} a second over the reads (${((performance.now() - t0) / 1000).toFixed(1)} s in all)`,
    );
    assert.equal(counts.stopped, 2 * ROUNDS);
    assert.equal(counts.running + counts.runningStale, PER_ROUND * ROUNDS);
  });
});
