import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../support/vectors.ts";

const builtins = new Set(builtinModules);

/** Module specifiers a TypeScript file imports or re-exports (static and dynamic). */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/g)) out.push(m[1]);
  for (const m of code.matchAll(/\bimport\s*(?:\(\s*)?["']([^"']+)["']/g)) out.push(m[1]);
  return out;
}

/** Node-only globals a browser does not have. */
function nodeGlobals(source: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1")
    .replace(/(["'`])(?:\\.|(?!\1).)*\1/g, '""');
  return [...code.matchAll(/\b(Buffer|process|require|__dirname|__filename)\b/g)].map((m) => m[1]);
}

/** Every file reachable from `entry` by relative imports, with what each imports. */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (graph.has(file)) continue;
    const specs = specifiers(readFileSync(file, "utf8"));
    graph.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(resolve(dirname(file), s));
  }
  return graph;
}

describe("bmt/verify: no Node built-ins in its import graph", () => {
  it("src/verify.ts reaches only relative TypeScript modules, none importing node: or a built-in", () => {
    const graph = importGraph(join(projectRoot, "src", "verify.ts"));
    assert.ok(graph.size >= 10, `walked ${graph.size} files`);
    for (const [file, specs] of graph) {
      for (const s of specs) {
        assert.ok(!s.startsWith("node:") && !builtins.has(s), `${file} imports the Node built-in ${s}`);
        assert.ok(s.startsWith("."), `${file} imports the package ${s}; bmt/verify must stand alone`);
      }
      assert.deepEqual(nodeGlobals(readFileSync(file, "utf8")), [], `${file} uses Node-only globals`);
    }
  });

  it("the whole hash and trie layers are pure too", () => {
    for (const layer of ["hash", "trie"]) {
      const dir = join(projectRoot, "src", layer);
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
        const source = readFileSync(join(dir, name), "utf8");
        for (const s of specifiers(source)) assert.ok(!s.startsWith("node:") && !builtins.has(s), `src/${layer}/${name} imports ${s}`);
        assert.deepEqual(nodeGlobals(source), [], `src/${layer}/${name} uses Node-only globals`);
      }
    }
  });

  it("the walker sees node: imports when they are there", () => {
    assert.deepEqual(specifiers('import { x } from "node:fs";\nexport * from "./a.ts";\nconst m = await import("node:os");'), ["node:fs", "./a.ts", "node:os"]);
    assert.deepEqual(nodeGlobals("const b = Buffer.from('x'); // process"), ["Buffer"]);
  });
});
