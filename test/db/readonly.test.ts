// A read-only handle beside a writer process that commits and checkpoints without pause: every
// proof it returns verifies against its root; a read that meets the writer's later work fails
// with STALE (at open too), never with a damage report or a wrong answer.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DbError, open } from "../../src/db/index.ts";
import { multiProofValues, toHex, verifyKeyProof, verifyMultiProof } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { universe } from "../store/crash-batches.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-readonly-"));
let child: ChildProcess | null = null;
after(() => {
  child?.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

describe(`db: read-only handles beside a writer process (seed ${seed})`, () => {
  it("proofs verify or fail with STALE while the writer commits and checkpoints", async () => {
    const dir = join(tmp, "db");
    const keys = universe(seed);
    const rng = new Rng(seed ^ 0x5eed);
    const writer = spawn(process.execPath, ["--import", "tsx", join(projectRoot, "test", "store", "crash-child.ts"), dir, String(seed), "40"], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = writer;
    let acks = 0;
    let stderr = "";
    writer.stdout.setEncoding("utf8");
    writer.stdout.on("data", (d: string) => (acks += d.split("\n").filter((l) => l.startsWith("ack ")).length));
    writer.stderr.on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => writer.on("exit", (code) => r(code)));
    // Past the first checkpoint (every 32 commits), so pages come from the table and the log.
    // The writer pauses 40 ms after each commit (~20 a second), so many reads fit between two.
    while (acks < 40) {
      if (writer.exitCode !== null) assert.fail(`writer exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const counts = { opens: 0, failedOpens: 0, clean: 0, stale: 0, proved: 0 };
    const until = performance.now() + 6000;
    while (performance.now() < until) {
      let db;
      try {
        db = open(dir, { readOnly: true });
      } catch (e) {
        if (e instanceof DbError && e.code === "STALE") {
          counts.failedOpens++;
          continue;
        }
        throw e;
      }
      counts.opens++;
      // No `using` here: esbuild (which runs the tests) lowers it with function-scoped error
      // flags, so an error caught in one iteration would be thrown again by the next.
      const r = db.beginRead();
      try {
        const root = r.root;
        for (let i = 0; i < 2; i++) {
          const key = rng.int(4) === 0 ? rng.bytes(31) : rng.pick(keys);
          const proof = r.prove(key);
          assert.ok(verifyKeyProof(proof, root), `proof of ${toHex(key)} at ${toHex(root)}`);
          counts.proved++;
        }
        const many = Array.from({ length: 4 }, () => rng.pick(keys));
        const multi = r.proveMany(many);
        assert.ok(verifyMultiProof(multi, root), "multiproof");
        // Values read directly agree with the proofs of the same state.
        const proven = multiProofValues(multi, root);
        for (const k of many) assert.equal(toHex(r.get(k) ?? new Uint8Array(0)), toHex(proven.get(k) ?? new Uint8Array(0)), `value of ${toHex(k)}`);
        let n = 0;
        for (const _ of r.entriesSync({ start: rng.pick(keys) })) if (++n === 300) break;
        counts.clean++;
      } catch (e) {
        if (!(e instanceof DbError && e.code === "STALE")) throw e;
        counts.stale++;
      } finally {
        r.release();
        db.close();
      }
      // Let the writer run.
      await new Promise((r) => setTimeout(r, rng.int(15)));
    }
    writer.kill("SIGKILL");
    await exited;
    assert.ok(acks > 60, `the writer committed only ${acks} times`);
    // Reads that overlap a commit go stale (the contract); enough fit between two.
    console.log(`# read-only beside a writer: ${JSON.stringify(counts)}, ${acks} commits`);
    assert.ok(counts.proved >= 40 && counts.clean >= 10 && counts.stale > 0, `outcomes ${JSON.stringify(counts)}`);
  });
});
