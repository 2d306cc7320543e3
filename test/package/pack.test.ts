// The package as users get it: `npm pack`, the tarball unpacked into an empty project (bmt has no
// runtime dependencies, so no registry is needed), then: what it ships, README's links inside
// it, no @internal member in the types, the bin, import and require() on this Node (which must
// satisfy `engines`), and README's examples type-checked with `strict` under node16 and bundler
// resolution by the oldest TypeScript we state (tools/: 5.2), a current 5.x and the project's
// own, then compiled to JavaScript and run. Slow (a build and several compiles): runs when
// BMT_PACK=1 (.ci/run sets it, after `npm run tools:install`).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { projectRoot, requireVectors } from "../support/vectors.ts";

const enabled = process.env.BMT_PACK === "1";
const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string; engines: { node: string } };

/** TypeScript compilers the types are held to: the oldest stated (5.2), a current 5.x, the project's. */
const compilers = [
  ["5.2", join(projectRoot, "tools", "node_modules", "typescript-5.2", "bin", "tsc")],
  ["5.9", join(projectRoot, "tools", "node_modules", "typescript", "bin", "tsc")],
  ["project", join(projectRoot, "node_modules", "typescript", "bin", "tsc")],
] as const;

/** README's ts examples that import the package. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((code) => /from "bmt(\/verify)?"/.test(code));
}

function versionAtLeast(have: string, want: string): boolean {
  const a = have.split(".").map(Number);
  const b = want.split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

describe("package: npm pack, unpacked into an empty project", { skip: enabled ? false : "set BMT_PACK=1 to run (.ci/run does)" }, () => {
  let tmp = "";
  let app = "";
  let files: string[] = [];
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "bmt-pack-"));
    // npm pack runs `prepare` (the build) and prints what it packed.
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    );
    files = packed[0].files.map((f: { path: string }) => f.path);
    app = join(tmp, "app");
    const installed = join(app, "node_modules", "bmt");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", join(tmp, packed[0].filename), "-C", installed, "--strip-components=1"]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    // Node's types for the examples (console, TextEncoder), as a user's project has them.
    mkdirSync(join(app, "node_modules", "@types"));
    symlinkSync(join(projectRoot, "node_modules", "@types", "node"), join(app, "node_modules", "@types", "node"));
    symlinkSync(join(projectRoot, "node_modules", "undici-types"), join(app, "node_modules", "undici-types"));
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("ships the build, the sources, LICENSE and the docs README links to; no tests or benchmarks", () => {
    for (const f of [
      "LICENSE",
      "README.md",
      "package.json",
      "docs/design.md",
      "docs/proof-format.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/verify.js",
      "dist/cli/main.js",
    ]) {
      assert.ok(files.includes(f), `the tarball has ${f}`);
    }
    assert.deepEqual(
      files.filter((f) => /^(test|bench|tools|scripts|api-reference)\//.test(f)),
      [],
    );
    const readme = readFileSync(join(app, "node_modules", "bmt", "README.md"), "utf8");
    const links = [...readme.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    assert.ok(links.length >= 3, `links: ${links.join(", ")}`);
    for (const l of links) assert.ok(existsSync(join(app, "node_modules", "bmt", l)), `README links ${l}, which the package holds`);
    assert.match(readFileSync(join(app, "node_modules", "bmt", "LICENSE"), "utf8"), /^MIT License\n\nCopyright \(c\) \d{4} bmt authors/);
  });

  it("the declarations hold no @internal member", () => {
    const dts: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".d.ts")) dts.push(join(d, e.name));
      }
    };
    walk(join(app, "node_modules", "bmt", "dist"));
    assert.ok(dts.length > 10);
    const readers = readFileSync(join(app, "node_modules", "bmt", "dist", "db", "readers.d.ts"), "utf8");
    assert.doesNotMatch(readers, /_core|\bview\(\)|_view\(/);
    for (const f of dts) assert.doesNotMatch(readFileSync(f, "utf8"), /@internal/, f);
  });

  it(`runs on this Node, which satisfies engines ${pkg.engines.node}: the bin, import and require`, () => {
    assert.match(pkg.engines.node, /^>=\d+\.\d+$/);
    assert.ok(versionAtLeast(process.versions.node, pkg.engines.node.slice(2)), `Node ${process.versions.node} is below engines ${pkg.engines.node}`);
    const bin = spawnSync(process.execPath, [join(app, "node_modules", "bmt", "dist", "cli", "main.js"), "--version"], { cwd: app, encoding: "utf8" });
    assert.equal(bin.stdout, `bmt ${pkg.version}\n`, bin.stderr);
    const abc = "0xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
    writeFileSync(
      join(app, "esm.mjs"),
      `import { blake2b256, toHex } from "bmt";\nimport { verifyKeyProof } from "bmt/verify";\nconsole.log(toHex(blake2b256(new TextEncoder().encode("abc"))), typeof verifyKeyProof);\n`,
    );
    const esm = spawnSync(process.execPath, ["esm.mjs"], { cwd: app, encoding: "utf8" });
    assert.equal(esm.stdout, `${abc} function\n`, esm.stderr);
    writeFileSync(
      join(app, "cjs.cjs"),
      `const { blake2b256, toHex, open } = require("bmt");\nconsole.log(toHex(blake2b256(new TextEncoder().encode("abc"))), typeof open);\n`,
    );
    const cjs = spawnSync(process.execPath, ["cjs.cjs"], { cwd: app, encoding: "utf8" });
    assert.equal(cjs.stdout, `${abc} function\n`, cjs.stderr);
  });

  const examples = readmeExamples();
  it(`README's ${examples.length} examples type-check with strict, node16 and bundler resolution, under TypeScript 5.2, 5.9 and the project's`, () => {
    assert.ok(examples.length >= 4, `found ${examples.length} examples`);
    const dir = join(app, "examples");
    mkdirSync(dir, { recursive: true });
    const names = examples.map((code, i) => {
      writeFileSync(join(dir, `example${i + 1}.mts`), code.replaceAll('"/tmp/', `"${join(tmp, "data")}/`));
      return `examples/example${i + 1}.mts`;
    });
    const common = { strict: true, target: "ES2022", lib: ["ES2022", "ESNext.Disposable"], types: ["node"], skipLibCheck: false, noEmit: true };
    writeFileSync(
      join(app, "tsconfig.node16.json"),
      JSON.stringify({ compilerOptions: { ...common, module: "node16", moduleResolution: "node16" }, files: names }),
    );
    writeFileSync(
      join(app, "tsconfig.bundler.json"),
      JSON.stringify({ compilerOptions: { ...common, module: "esnext", moduleResolution: "bundler" }, files: names }),
    );
    for (const [version, tsc] of compilers) {
      assert.ok(existsSync(tsc), `TypeScript ${version} is missing: run npm run tools:install`);
      for (const config of ["tsconfig.node16.json", "tsconfig.bundler.json"]) {
        const r = spawnSync(process.execPath, [tsc, "-p", config], { cwd: app, encoding: "utf8" });
        assert.equal(r.status, 0, `TypeScript ${version}, ${config}:\n${r.stdout}${r.stderr}`);
      }
    }
  });

  it("README's examples, compiled to JavaScript (ES2022), run on this Node", () => {
    const tsc = compilers[1][1];
    writeFileSync(
      join(app, "tsconfig.emit.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          lib: ["ES2022", "ESNext.Disposable"],
          types: ["node"],
          module: "node16",
          moduleResolution: "node16",
          outDir: "out",
        },
        include: ["examples/*.mts"],
      }),
    );
    const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.emit.json"], { cwd: app, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    mkdirSync(join(tmp, "data"), { recursive: true });
    // The warp sync example reads the database README's command-line section makes, with the
    // package's own bmt.
    const bin = join(app, "node_modules", "bmt", "dist", "cli", "main.js");
    const replay = spawnSync(
      process.execPath,
      [bin, "replay", join(requireVectors(), "traces", "storage_light"), "--db", join(tmp, "data", "jam-db"), "--quiet"],
      {
        cwd: app,
        encoding: "utf8",
      },
    );
    assert.equal(replay.status, 0, replay.stderr);
    for (let i = 1; i <= examples.length; i++) {
      const run = spawnSync(process.execPath, [join("out", `example${i}.mjs`)], { cwd: app, encoding: "utf8" });
      assert.equal(run.status, 0, `example ${i}: ${run.stderr}`);
    }
  });
});
