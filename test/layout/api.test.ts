// The public surface is exactly what README's API index lists: every runtime export of the root
// entry is documented there by name, and nothing is documented that is not exported.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../support/vectors.ts";

/** The backquoted names of README's API index (the list between "## API" and its first example). */
function documentedNames(): string[] {
  const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
  const at = readme.indexOf("\n## API\n");
  assert.ok(at >= 0, "README has an API section");
  const end = readme.indexOf("```", at);
  const index = readme.slice(at, end);
  const names = [...index.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]);
  return names.filter((n) => n !== "bmt");
}

describe("public surface", () => {
  it("the root export lists exactly README's API index", async () => {
    const exported = Object.keys(await import("../../src/index.ts")).sort();
    const documented = [...new Set(documentedNames())].sort();
    assert.deepEqual(exported, documented);
  });

  it("bmt/verify exports a subset of the root export, with no engine internals", async () => {
    const root = new Set(Object.keys(await import("../../src/index.ts")));
    const verify = Object.keys(await import("../../src/verify.ts"));
    for (const name of verify) assert.ok(root.has(name), `bmt/verify exports ${name}, which the root export does not`);
    assert.ok(verify.includes("verifyKeyProof") && !verify.includes("open"));
  });

  it("the index parser sees a name that is missing", () => {
    // Guards the check above against an index that parses to nothing.
    assert.ok(documentedNames().length >= 40, `parsed ${documentedNames().length} names`);
  });
});
