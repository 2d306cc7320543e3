// The README's proofs example runs as written (imports pointed at the source) and prints what
// its comments say.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../support/vectors.ts";

describe("bmt/verify: README example", () => {
  it("runs and prints what its comments say", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const at = readme.indexOf("### Proofs, witnesses and `bmt/verify`");
    assert.ok(at >= 0, "README has a proofs section");
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(block, "the section has a ts example");
    const src = (f: string) => JSON.stringify(pathToFileURL(join(projectRoot, "src", f)).href);
    const code = block[1].replace(`from "bmt/verify"`, `from ${src("verify.ts")}`).replace(`from "bmt"`, `from ${src("index.ts")}`);
    const dir = mkdtempSync(join(tmpdir(), "bmt-proof-readme-"));
    try {
      const file = join(dir, "example.mts");
      writeFileSync(file, code);
      const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1].trim());
      assert.deepEqual(r.stdout.trim().split("\n"), expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
