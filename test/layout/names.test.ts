// One name per concept: no two layers define a module-level name (exported or not) that is
// spelled the same, so a name read anywhere in src/ means one thing. Re-exports do not count:
// they pass on the definition of the layer below.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../support/vectors.ts";

const SRC = join(projectRoot, "src");

/** Names a source file defines at module level: declarations that start a line. */
export function definedNames(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "");
  const out: string[] = [];
  const decl =
    /^(?:export\s+)?(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(?:class|interface|type|function\*?|const|let|var|enum)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of code.matchAll(decl)) out.push(m[1]);
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [],
  );
}

/** name → the files (relative to src/) that define it, for names defined in more than one layer. */
function collisions(): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    for (const name of new Set(definedNames(readFileSync(file, "utf8")))) {
      const list = where.get(name) ?? [];
      list.push(relative(SRC, file));
      where.set(name, list);
    }
  }
  const out = new Map<string, string[]>();
  for (const [name, files] of where) {
    const layers = new Set(files.map((f) => (f.includes(sep) ? f.split(sep)[0] : "(entry)")));
    if (layers.size > 1) out.set(name, files);
  }
  return out;
}

describe("names across layers", () => {
  it("no module-level name is defined in two layers", () => {
    const found = [...collisions()].map(([name, files]) => `${name}: ${files.join(", ")}`);
    assert.deepEqual(found, []);
  });

  it("the scanner finds declarations of every kind", () => {
    const names = definedNames(
      "export class A {}\ninterface B {}\nexport type C = 1;\nfunction* d() {}\nexport async function e() {}\nconst F = 1;\nexport abstract class G {}\n  const inner = 2;\n",
    );
    assert.deepEqual(names, ["A", "B", "C", "d", "e", "F", "G"]);
  });
});
