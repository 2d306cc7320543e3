// Crash safety: a child process commits in a loop and is killed with SIGKILL at random moments;
// the store must reopen at the last acknowledged commit or at the one in flight, with the root
// and the values of exactly that commit.
//
// Kills land mostly while the child commits; some land while it starts (possibly while its
// Store.open repairs what the previous kill left). After some kills the next child opens the
// store without the test looking first, so repairs run in children that are killed too. The
// test keeps `low`, the last seq known to be on disk (from its own check, an `open` line or an
// ack): a kill leaves the disk at `low` or `low + 1`, and the next observation says which.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Store } from "../../src/store/index.ts";
import { toHex, trieRoot } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { batchFor, universe } from "./crash-batches.ts";

const seed = testSeed();
const KILLS = Number(process.env.BMT_CRASH_KILLS ?? 50);
// Kills of a child whose checkpoints run in the background (every second commit), with commits
// acknowledged while they run (crash-child.ts); more with BMT_LONG=1.
const BACKGROUND_KILLS = Number(process.env.BMT_CRASH_KILLS_BACKGROUND ?? (process.env.BMT_LONG === "1" ? 50 : 12));
const childPath = join(projectRoot, "test", "store", "crash-child.ts");
const tmp = mkdtempSync(join(tmpdir(), "bmt-crash-"));
const live = new Set<ChildProcess>();
after(() => {
  for (const c of live) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The expected state, advanced batch by batch. */
class Model {
  seq = 0;
  readonly map = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  constructor(
    readonly seed: number,
    readonly keys: Uint8Array[],
  ) {}
  advanceTo(seq: number): void {
    assert.ok(seq >= this.seq, `the store went back from seq ${this.seq} to ${seq}`);
    while (this.seq < seq) {
      this.seq++;
      for (const [key, value] of batchFor(this.seed, this.keys, this.seq)) {
        const k = toHex(key);
        if (value === null) this.map.delete(k);
        else this.map.set(k, { key, value });
      }
    }
  }
  root(): string {
    // Hex order is key order.
    const sorted = [...this.map.keys()].sort().map((k) => this.map.get(k) as { key: Uint8Array; value: Uint8Array });
    return toHex(trieRoot(sorted));
  }
}

interface Round {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from spawn to the `open` line, if it came. */
  openMs: number | null;
}

/**
 * Spawns the child and kills it `early` ms after the spawn, or else `delay` ms after its first
 * ack (with `hold`, once it says it holds a durable commit unacked); returns everything it wrote.
 */
async function round(dir: string, early: number | null, delay: number, hold: boolean, background: boolean): Promise<Round> {
  const child = spawn(process.execPath, ["--import", "tsx", childPath, dir, String(seed)], {
    cwd: projectRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BMT_CRASH_HOLD: hold ? "1" : "0", BMT_CRASH_BACKGROUND: background ? "1" : "0" },
  });
  live.add(child);
  try {
    let buf = "";
    let stderr = "";
    const lines: string[] = [];
    const spawned = performance.now();
    let openMs: number | null = null;
    let onAck: (() => void) | null = null;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      const parts = buf.split("\n");
      buf = parts.pop() as string;
      for (const l of parts) {
        lines.push(l);
        if (l.startsWith("open ")) openMs = performance.now() - spawned;
        if (l.startsWith("ack ") || l.startsWith("held ")) onAck?.();
      }
    });
    child.stderr.on("data", (d: string) => {
      stderr += d;
    });
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (code, signal) => resolve([code, signal])));
    if (early !== null) {
      await Promise.race([sleep(early), closed]);
    } else {
      // The first ack (no clock: the child commits or dies), then a random time of commits.
      await Promise.race([new Promise<void>((r) => (onAck = r)), closed]);
      if (!hold) await Promise.race([sleep(delay), closed]);
    }
    child.kill("SIGKILL");
    const [code, signal] = await closed;
    if (buf) lines.push(buf); // a line cut short by the kill (writes are whole lines, so rare)
    return { lines, stderr, code, signal, openMs };
  } finally {
    child.kill("SIGKILL");
    live.delete(child);
  }
}

describe(`store: crash safety under SIGKILL (seed ${seed})`, () => {
  for (const [what, background, kills] of [
    ["a committing child", false, KILLS],
    ["a child whose checkpoints run in the background, in slices, with commits beside them", true, BACKGROUND_KILLS],
  ] as const) {
    it(`${kills} kills of ${what}; the store reopens at the last ack or the commit in flight`, async (t) => {
      const rng = new Rng(seed ^ 0x2545f491);
      const dir = join(tmp, background ? "db-background" : "db");
      const keys = universe(seed);
      const model = new Model(seed, keys);
      const ackRoots = new Map<number, string>();
      let low = 0; // seq known to be on disk
      let unresolved = false; // a kill whose outcome no open/check has seen yet
      const outcomes = { atAck: 0, inFlight: 0 };
      let checks = 0;
      let earlyKills = 0;
      let beforeOpen = 0;
      let openMs = 700; // running estimate of spawn -> `open`
      const t0 = performance.now();

      /** The disk is at `seq`: resolves the previous kill's outcome. */
      const observe = (seq: number, what: string) => {
        assert.ok(seq === low || seq === low + 1, `${what}: seq ${seq}, expected ${low} (last ack) or ${low + 1} (in flight)`);
        if (unresolved) {
          if (seq === low) outcomes.atAck++;
          else outcomes.inFlight++;
          unresolved = false;
        }
        low = seq;
      };

      const check = () => {
        const store = Store.open(dir);
        try {
          observe(store.seq, "check");
          checks++;
          // An acked root below the current seq, checked on the way.
          const acked = [...ackRoots.keys()].filter((s) => s > model.seq && s < store.seq);
          const mid = acked.length > 0 ? Math.max(...acked) : -1;
          if (mid > 0) {
            model.advanceTo(mid);
            assert.equal(ackRoots.get(mid), model.root(), `acked root of seq ${mid}`);
          }
          model.advanceTo(store.seq);
          const root = model.root();
          assert.equal(toHex(store.root), root, `root at seq ${store.seq}`);
          const ack = ackRoots.get(store.seq);
          if (ack !== undefined) assert.equal(ack, root, `acked root of seq ${store.seq}`);
          ackRoots.clear();
          let wrong = 0;
          for (const key of keys) {
            const want = model.map.get(toHex(key))?.value;
            const got = store.get(key);
            if (want === undefined ? got !== undefined : !(got && Buffer.from(got).equals(want))) wrong++;
          }
          assert.equal(wrong, 0, `values differing from the model at seq ${store.seq}`);
          assert.equal(store.size, model.map.size, `entry count at seq ${store.seq}`);
        } finally {
          store.close();
        }
      };

      // One kill in eight is of a child that holds a durable commit it has not acked, so the
      // in-flight outcome is met whatever the machine's speed (random kills meet it too, about
      // one in ten, between the commit point and the ack).
      let held = 0;
      let during = 0; // acks of commits logged while a checkpoint ran
      let acked = 0; // rounds that acked a commit
      let k = 1;
      for (; k <= kills; k++) {
        const hold = rng.int(8) === 0;
        const early = !hold && rng.int(100) < 15 ? Math.round(openMs * (0.6 + rng.int(60) / 100)) : null;
        const r = await round(dir, early, 30 + rng.int(371), hold, background);
        assert.equal(r.signal, "SIGKILL", `child ${k} ended by itself (code ${r.code}): ${r.stderr}`);
        let lastSeq = -1;
        let ackedHere = false;
        for (const line of r.lines) {
          const [tag, n, root] = line.split(" ");
          const seq = Number(n);
          if (tag === "open") {
            observe(seq, `open of child ${k}`);
            lastSeq = seq;
          } else if (tag === "ack" && root?.length === 66) {
            assert.equal(seq, lastSeq + 1, `child ${k}: ack ${seq} after ${lastSeq}`);
            ackRoots.set(seq, root);
            if (line.endsWith(" during")) during++;
            lastSeq = seq;
            low = seq;
            ackedHere = true;
          } else if (tag === "held" && hold) {
            assert.equal(seq, lastSeq + 1, `child ${k}: held ${seq} after ${lastSeq}`);
            held++;
          } else if (line !== "" && !/^(open|ack)/.test(line)) {
            assert.fail(`child ${k} wrote '${line}'`);
          }
        }
        if (ackedHere) acked++;
        // A child not killed early acks (or holds) a commit: nothing here waits on a clock.
        if (early === null) assert.ok(ackedHere || hold, `child ${k} was killed before its first ack`);
        if (r.openMs !== null) openMs = 0.7 * openMs + 0.3 * r.openMs;
        if (early !== null) earlyKills++;
        if (r.openMs === null) beforeOpen++;
        unresolved = true;
        // Usually look before the next child does; sometimes leave the repair to the child.
        if (rng.int(100) < 60) check();
      }
      if (unresolved) check();
      const killed = k - 1;
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const summary = `${killed} kills (${earlyKills} at start, ${beforeOpen} before the child's open returned, ${held} holding an unacked commit), ${acked} rounds acked, ${checks} checks, reached seq ${low} in ${secs} s; outcomes: ${outcomes.atAck} at the last ack, ${outcomes.inFlight} with the commit in flight durable${background ? `; ${during} commits acked while a checkpoint ran` : ""}`;
      t.diagnostic(summary);
      assert.ok(low >= acked, `progress: ${summary}`);
      // Both outcomes were met: a kill before the child's open leaves the disk at the last ack,
      // a held child leaves its commit durable unacked (random kills meet both too).
      if (beforeOpen > 0) assert.ok(outcomes.atAck > 0, summary);
      if (held > 0) assert.ok(outcomes.inFlight > 0, summary);
    });
  }
});
