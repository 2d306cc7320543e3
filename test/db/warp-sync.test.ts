// Warp sync: a database synced from another's CE 129 answers ends at the source root with the
// source's entries; bad responses are refused by name and nothing of them is kept; a sync
// killed at random points (SIGKILL) and rerun still ends at the source root.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DbError, importEntries, open, type StateRequest, WarpSync, warpSync } from "../../src/db/index.ts";
import { type Entry, sortEntries, type StateResponse, toHex } from "../../src/trie/index.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { tempDirs } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-sync-");
const LONG = process.env.BMT_LONG === "1";

async function sourceDb(rng: Rng, n: number, clustered = true): Promise<{ dir: string; entries: Entry[]; root: Uint8Array }> {
  const entries = sortEntries(randomEntries(rng, n, clustered));
  const dir = newDir();
  const { root } = await importEntries(dir, entries);
  return { dir, entries, root };
}

/** Entries of the database at `dir`, in key order. */
function entriesAt(dir: string): [Uint8Array, Uint8Array][] {
  const db = open(dir);
  try {
    return [...db.beginRead().entriesSync()];
  } finally {
    db.close();
  }
}

function assertPrefix(dir: string, entries: Entry[], what: string): number {
  const got = entriesAt(dir);
  assert.ok(got.length <= entries.length, what);
  got.forEach(([k, v], i) => {
    assert.equal(toHex(k), toHex(entries[i].key), `${what}: entry ${i} key`);
    assert.equal(toHex(v), toHex(entries[i].value), `${what}: entry ${i} value`);
  });
  return got.length;
}

describe(`db: warp sync (seed ${seed})`, () => {
  it("syncs to the source root over many responses, durable points between, for states of 0, 1, 2 and many keys", async () => {
    const rng = new Rng(seed);
    for (const n of [0, 1, 2, 20_000]) {
      const src = await sourceDb(rng, n);
      const peer = open(src.dir);
      const snap = peer.beginRead();
      const target = newDir();
      let asked = 0;
      const out = await warpSync(
        target,
        src.root,
        (req) => {
          asked++;
          return snap.stateRequest(req.start, req.end, req.maxSize);
        },
        { maxSize: 16 << 10, commitEvery: 3000 },
      );
      snap.release();
      peer.close();
      assert.equal(toHex(out.root), toHex(src.root));
      assert.equal(out.pairs, n);
      if (n === 20_000) assert.ok(asked > 20, `${asked} requests`);
      assert.equal(assertPrefix(target, src.entries, `n ${n}`), n);
      const db = open(target);
      assert.equal(toHex(db.root), toHex(src.root));
      db.close();
    }
  });

  it("refuses bad responses by name, keeps none of them, and goes on with good ones", async () => {
    const rng = new Rng(seed + 1);
    const src = await sourceDb(rng, 6000);
    const other = await sourceDb(rng, 6000);
    const peer = open(src.dir);
    const snap = peer.beginRead();
    const liar = open(other.dir);
    const lsnap = liar.beginRead();
    const target = newDir();
    const sync = WarpSync.open(target, src.root, { maxSize: 8 << 10, commitEvery: 1000 });
    const honest = (req: StateRequest): StateResponse => snap.stateRequest(req.start, req.end, req.maxSize);
    const lies: ((req: StateRequest) => StateResponse)[] = [
      // A pair omitted, a value altered, a node altered, nodes reordered, the end lied about,
      // another state's answer, and an over-size answer.
      (req) => {
        const r = honest(req);
        const cut = r.pairs.slice(0, 31 + 1 + r.pairs[31]);
        return { boundary: r.boundary, pairs: r.pairs.slice(cut.length) };
      },
      (req) => {
        const r = honest(req);
        const p = r.pairs.slice();
        p[p.length - 1] ^= 0x40;
        return { boundary: r.boundary, pairs: p };
      },
      (req) => {
        const r = honest(req);
        const b = r.boundary.slice();
        b[b.length - 10] ^= 1;
        return { boundary: b, pairs: r.pairs };
      },
      (req) => {
        const r = honest(req);
        const b = new Uint8Array(r.boundary.length);
        b.set(r.boundary.subarray(64), 0);
        b.set(r.boundary.subarray(0, 64), r.boundary.length - 64);
        return { boundary: b, pairs: r.pairs };
      },
      (req) => ({ boundary: honest({ ...req, maxSize: 0 }).boundary.subarray(0, 64 * 1), pairs: new Uint8Array(0) }),
      (req) => lsnap.stateRequest(req.start, req.end, req.maxSize),
      (req) => snap.stateRequest(req.start, req.end, req.maxSize * 4),
    ];
    let refused = 0;
    let responses = 0;
    for (let req = sync.next(); req !== null; req = sync.next()) {
      if (responses % 3 === 1 && refused < lies.length * 2) {
        const lie = lies[refused % lies.length];
        const before = sync.progress.pairs;
        assert.throws(
          () => sync.receive(lie(req)),
          (e: unknown) => e instanceof DbError && e.code === "BAD_RESPONSE" && e.message.includes(toHex(req.start)),
          `lie ${refused % lies.length}`,
        );
        assert.equal(sync.progress.pairs, before, "nothing of a refused response is kept");
        refused++;
      }
      sync.receive(honest(req));
      responses++;
    }
    assert.equal(refused, lies.length * 2);
    assert.equal(toHex(sync.finish()), toHex(src.root));
    assert.equal(assertPrefix(target, src.entries, "after lies"), src.entries.length);
    snap.release();
    peer.close();
    lsnap.release();
    liar.close();
  });

  it("resumes after a close midway, and refuses to finish on a database of another state", async () => {
    const rng = new Rng(seed + 2);
    const src = await sourceDb(rng, 5000);
    const peer = open(src.dir);
    const snap = peer.beginRead();
    const target = newDir();
    const first = WarpSync.open(target, src.root, { maxSize: 4 << 10 });
    for (let i = 0; i < 5; i++) first.receive(snap.stateRequest((first.next() as StateRequest).start, (first.next() as StateRequest).end, 4 << 10));
    const half = first.progress.pairs;
    first.close();
    assert.equal(assertPrefix(target, src.entries, "closed midway"), half);
    const out = await warpSync(target, src.root, (req) => snap.stateRequest(req.start, req.end, req.maxSize), { maxSize: 64 << 10 });
    assert.equal(out.resumedWith, half);
    assert.equal(out.pairs, 5000 - half);
    assert.equal(toHex(out.root), toHex(src.root));
    // A target holding a prefix of another state: the end says so.
    const other = await sourceDb(rng, 50);
    await assert.rejects(
      warpSync(other.dir, src.root, (req) => snap.stateRequest(req.start, req.end, req.maxSize)),
      (e: unknown) => e instanceof DbError && (e.code === "ROOT_MISMATCH" || e.code === "BAD_ARGUMENT"),
    );
    snap.release();
    peer.close();
  });

  it(`killed at random points (SIGKILL) and rerun, ends at the source root (${LONG ? 20 : 4} kills)`, async () => {
    const rng = new Rng(seed + 3);
    const src = await sourceDb(rng, LONG ? 200_000 : 30_000, false);
    const target = newDir();
    const child = join(projectRoot, "test", "db", "warp-sync-child.ts");
    const kills = LONG ? 20 : 4;
    let finished = false;
    let held = 0;
    for (let k = 0; k < kills && !finished; k++) {
      const after = 1 + rng.int(40);
      const p = spawn(process.execPath, ["--import", "tsx", child, src.dir, target, String(8 << 10), String(500)], {
        cwd: projectRoot,
        stdio: ["ignore", "pipe", "inherit"],
      });
      let lines = 0;
      let buf = "";
      await new Promise<void>((resolve) => {
        p.stdout.on("data", (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split("\n");
          buf = parts.pop() as string;
          for (const line of parts) {
            if (line === "done") finished = true;
            else if (++lines === after) p.kill("SIGKILL");
          }
        });
        p.on("exit", () => resolve());
      });
      // Whatever instant it died at, the database holds a verified prefix, never less than before.
      const now = assertPrefix(target, src.entries, `after kill ${k}`);
      assert.ok(now >= held, `kill ${k}: ${now} entries, had ${held}`);
      held = now;
    }
    assert.ok(held > 0 || finished, "some kill came after a durable point");
    const peer = open(src.dir);
    const snap = peer.beginRead();
    const out = await warpSync(target, src.root, (req) => snap.stateRequest(req.start, req.end, req.maxSize), { maxSize: 64 << 10 });
    snap.release();
    peer.close();
    assert.equal(toHex(out.root), toHex(src.root));
    assert.equal(out.resumedWith, held);
    assert.equal(assertPrefix(target, src.entries, "after rerun"), src.entries.length);
  });
});
