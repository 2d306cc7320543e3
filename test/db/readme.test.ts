// The README's database example runs as written (import from the source, a temp directory) and
// prints what its comments say.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { projectRoot } from "../support/vectors.ts";
import { tempDirs } from "./helpers.ts";

const newDir = tempDirs("bmt-db-readme-");

describe("db: README example", () => {
  it("runs and prints what its comments say", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const at = readme.indexOf("### The database");
    assert.ok(at >= 0, "README has a database section");
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(block, "the section has a ts example");
    const dir = newDir();
    const code = block[1]
      .replace(`from "bmt"`, `from ${JSON.stringify(pathToFileURL(join(projectRoot, "src", "index.ts")).href)}`)
      .replace(`open("/tmp/jam-state")`, `open(${JSON.stringify(join(dir, "state"))})`);
    assert.notEqual(code, block[1]);
    const file = `${dir}-example.mts`;
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    // Each console.log line of the example ends with `// expected output`.
    const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1].replace(/:.*$/, "").trim());
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, expected.length, r.stdout);
    for (let i = 0; i < lines.length; i++) {
      const want = expected[i];
      if (want.includes("…")) {
        const [head, tail] = want.split("…");
        assert.ok(lines[i].startsWith(head) && lines[i].endsWith(tail), `line ${i + 1}: ${lines[i]} vs ${want}`);
      } else assert.equal(lines[i], want, `line ${i + 1}`);
    }
  });
});
