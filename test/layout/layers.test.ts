// Layer order: a file in src/<layer>/ imports only from its own layer or the layers below
// (hash → trie → io → kv → merkle → store → db → the entry points src/index.ts and src/verify.ts →
// cli: the command line is a user of the public API).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../support/vectors.ts";

const ORDER = ["hash", "trie", "io", "kv", "merkle", "store", "db", "(entry points)", "cli"];
const SRC = join(projectRoot, "src");

/** Relative module specifiers a file imports or re-exports (static and dynamic), comments dropped. */
function relativeImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*["'](\.[^"']*)["']/g)) out.push(m[1]);
  for (const m of code.matchAll(/\bimport\s*\(?\s*["'](\.[^"']*)["']/g)) out.push(m[1]);
  for (const m of code.matchAll(/new\s+URL\(\s*["'](\.[^"']*)["']/g)) out.push(m[1]);
  return out;
}

/** Rank of the layer a path under src/ belongs to. */
function rank(file: string): number {
  const parts = relative(SRC, file).split(sep);
  if (parts.length === 1) return ORDER.indexOf("(entry points)");
  const r = ORDER.indexOf(parts[0]);
  assert.ok(r >= 0, `src/${parts[0]} is not a known layer; add it to ORDER`);
  return r;
}

function violations(files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) {
        out.push(`${relative(projectRoot, file)} imports ${spec}, outside src/`);
        continue;
      }
      if (rank(target) > rank(file)) out.push(`${relative(projectRoot, file)} imports ${relative(projectRoot, target)}, a layer above it`);
    }
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("layer order", () => {
  it("no file under src/ imports from a layer above its own", () => {
    const files = sources(SRC);
    assert.ok(files.length > 50, `found ${files.length} files`);
    for (const f of files) rank(f);
    assert.deepEqual(violations(files), []);
  });

  it("the check catches an upward import", () => {
    const kvFile = join(SRC, "kv", "tree.ts");
    const fake = `${kvFile}.probe.ts`;
    const code = 'import { open } from "../db/db.ts";\nexport const x = await import("../store/store.ts");\n';
    // Judge a made-up kv file without writing it: rank and resolve only look at its path.
    const found = relativeImports(code).map((spec) => rank(resolve(dirname(fake), spec)) > rank(fake));
    assert.deepEqual(found, [true, true]);
  });
});
