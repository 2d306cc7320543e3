// The README's warp sync example runs as written (imports pointed at the source, temp
// directories for its paths): the new database ends at the peer's root with its entries.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { importEntries, open } from "../../src/db/index.ts";
import { sortEntries, toHex } from "../../src/trie/index.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";
import { tempDirs } from "./helpers.ts";

const newDir = tempDirs("bmt-db-readme-sync-");

describe("db: README warp sync example", () => {
  it("runs, and the synced database is the peer's state", async () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const at = readme.indexOf("### State requests (JAMNP-S CE 129)");
    assert.ok(at >= 0, "README has the state requests section");
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(block, "the section has a ts example");
    const peerDir = newDir();
    const newDb = newDir();
    const entries = sortEntries(randomEntries(new Rng(testSeed()), 3000, false));
    const { root } = await importEntries(peerDir, entries);
    const code = block[1]
      .replace(`from "bmt"`, `from ${JSON.stringify(pathToFileURL(join(projectRoot, "src", "index.ts")).href)}`)
      .replaceAll(`"/tmp/jam-db"`, JSON.stringify(peerDir))
      .replaceAll(`"/tmp/new-db"`, JSON.stringify(newDb));
    assert.ok(code.includes(JSON.stringify(peerDir)) && code.includes(JSON.stringify(newDb)));
    const file = `${newDb}-example.mts`;
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /3000 pairs\n$/);
    const db = open(newDb);
    try {
      assert.equal(toHex(db.root), toHex(root));
      assert.equal([...db.beginRead().entriesSync()].length, 3000);
    } finally {
      db.close();
    }
  });
});
