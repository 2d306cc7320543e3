// A bulk import killed (SIGKILL) at random points: the database reopens either as it was before
// the import (empty, and usable: a second import gives the right root) or, when the kill came
// after the commit point, with the whole import. Never a part of it, and never nothing when the
// import was acknowledged. The child spills finished pages after every chunk (import-child.ts),
// so kills land while pages and values are being written out before the commit point.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { importEntries, open } from "../../src/db/index.ts";
import { sortEntries, toHex, trieRoot } from "../../src/trie/index.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { tempDirs } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-import-kill-");
const LONG = process.env.BMT_LONG === "1";

describe(`db: bulk import killed at random points (seed ${seed})`, () => {
  it(`reopens empty and usable, or with the whole import (${LONG ? 24 : 6} kills)`, async () => {
    const rng = new Rng(seed);
    const n = 30_000;
    const chunk = 1000;
    const entrySeed = seed + 1;
    const entries = sortEntries(randomEntries(new Rng(entrySeed), n, false));
    const root = toHex(trieRoot(entries));
    const child = join(projectRoot, "test", "db", "import-child.ts");
    const kills = LONG ? 24 : 6;
    const seen = { empty: 0, whole: 0 };
    for (let k = 0; k < kills; k++) {
      const dir = newDir();
      // After which progress line the kill is sent (the last ones land in the commit), and how
      // much later: the instant is random, the outcome must not depend on it.
      const after = rng.int(n / chunk + 1);
      const delayMs = rng.int(4) === 0 ? rng.int(30) : 0;
      let done = false;
      const p = spawn(process.execPath, ["--import", "tsx", child, dir, String(entrySeed), String(n), String(chunk)], {
        cwd: projectRoot,
        stdio: ["ignore", "pipe", "inherit"],
      });
      let lines = 0;
      let buf = "";
      const kill = () => (delayMs === 0 ? p.kill("SIGKILL") : setTimeout(() => p.kill("SIGKILL"), delayMs));
      await new Promise<void>((resolve) => {
        if (after === 0) kill();
        p.stdout.on("data", (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split("\n");
          buf = parts.pop() as string;
          for (const line of parts) {
            if (line === "done") done = true;
            if (++lines === after) kill();
          }
        });
        p.on("exit", () => resolve());
      });
      const db = open(dir);
      let count: number;
      try {
        count = [...db.beginRead().entriesSync()].length;
        const now = toHex(db.root);
        if (count === 0) assert.equal(now, toHex(new Uint8Array(32)), `kill ${k}: no entries but root ${now}`);
        else assert.ok(now === root && count === n, `kill ${k} after line ${after}: ${count} entries, root ${now}`);
        // Acknowledged means durable.
        if (done) assert.equal(count, n, `kill ${k}: the import reported done`);
      } finally {
        db.close();
      }
      if (count === 0) {
        seen.empty++;
        const again = await importEntries(dir, entries, { chunk: 4096 });
        assert.equal(toHex(again.root), root, `kill ${k}: import after the kill`);
        const back = open(dir);
        try {
          assert.equal(toHex(back.root), root);
        } finally {
          back.close();
        }
      } else seen.whole++;
    }
    assert.ok(seen.empty > 0, `some kill came before the commit point (${JSON.stringify(seen)})`);
  });
});
