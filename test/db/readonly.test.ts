// A read-only handle beside a writer process that commits and checkpoints without pause: every
// answer it gives is right (proofs verify against its root, values agree with the proofs, its
// root is the writer's root at its seq); a read that meets the writer's later work may fail with
// STALE, never with a damage report or a wrong answer.
//
// No assertion depends on how many reads fit between two commits. The test stops the writer
// (SIGSTOP) at random instants of its work, wherever that is (mid-commit, mid-checkpoint, mid-
// apply of the page WAL), and there every read must succeed: the disk then holds one state a
// reader must be able to read whole. Between stops, reads run beside the moving writer.
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
const ROUNDS = Number(process.env.BMT_READONLY_ROUNDS ?? 16);
const tmp = mkdtempSync(join(tmpdir(), "bmt-readonly-"));
let child: ChildProcess | null = null;
after(() => {
  child?.kill("SIGKILL");
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
  it("every answer is right while the writer commits and checkpoints; with the writer stopped anywhere, every read succeeds", async () => {
    const dir = join(tmp, "db");
    const keys = universe(seed);
    const rootAt = modelRoots(keys);
    const rng = new Rng(seed ^ 0x5eed);
    // The writer pauses 40 ms after each commit: about 20 commits a second on an idle machine.
    const writer = spawn(process.execPath, ["--import", "tsx", join(projectRoot, "test", "store", "crash-child.ts"), dir, String(seed), "40"], {
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

    const counts = { running: 0, runningStale: 0, stopped: 0, proofs: 0, scans: 0, seqs: new Set<number>() };
    /** One read-only handle: proofs, a multiproof, values and a scan; throws STALE or fails the test. */
    const readOnce = () => {
      const db = open(dir, { readOnly: true });
      // No `using` here: esbuild (which runs the tests) lowers it with function-scoped error
      // flags, so an error caught in one iteration would be thrown again by the next.
      const r = db.beginRead();
      try {
        const root = r.root;
        const seq = db.seq;
        for (let i = 0; i < 2; i++) {
          const key = rng.int(4) === 0 ? rng.bytes(31) : rng.pick(keys);
          const proof = r.prove(key);
          assert.ok(verifyKeyProof(proof, root), `proof of ${toHex(key)} at ${toHex(root)}`);
          counts.proofs++;
        }
        const many = Array.from({ length: 4 }, () => rng.pick(keys));
        const multi = r.proveMany(many);
        assert.ok(verifyMultiProof(multi, root), "multiproof");
        // Values read directly agree with the proofs of the same state.
        const proven = multiProofValues(multi, root);
        for (const k of many) assert.equal(toHex(r.get(k) ?? new Uint8Array(0)), toHex(proven.get(k) ?? new Uint8Array(0)), `value of ${toHex(k)}`);
        let n = 0;
        for (const _ of r.entriesSync({ start: rng.pick(keys) })) if (++n === 300) break;
        counts.scans++;
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
      // Beside the running writer: right answers, or STALE.
      for (let i = 0; i < 3; i++) {
        try {
          readOnce();
          counts.running++;
        } catch (e) {
          if (!isStale(e)) throw e;
          counts.runningStale++;
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
    writer.kill("SIGKILL");
    await exited;
    console.log(
      `# read-only beside a writer: ${counts.running} reads answered and ${counts.runningStale} STALE while it ran, ` +
        `${counts.stopped} with it stopped; ${counts.proofs} proofs, ${counts.scans} scans, ${counts.seqs.size} distinct seqs, ${acks} commits`,
    );
    assert.equal(counts.stopped, 2 * ROUNDS);
  });
});
