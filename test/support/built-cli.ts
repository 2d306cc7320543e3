// The `bmt` program as users run it: src/ compiled with the project's build config into a temp
// folder (package.json beside it, as in the package), run with node. Built once per test file.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "./vectors.ts";

let built: { dir: string; main: string } | null = null;

/** Compiles the package into a temp folder once; returns the path of its `bmt` entry point. */
export function builtBmt(): string {
  if (built) return built.main;
  const dir = mkdtempSync(join(tmpdir(), "bmt-built-"));
  const tsc = join(projectRoot, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(projectRoot, "tsconfig.build.json"), "--outDir", join(dir, "dist")], {
    cwd: projectRoot,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  copyFileSync(join(projectRoot, "package.json"), join(dir, "package.json"));
  built = { dir, main: join(dir, "dist", "cli", "main.js") };
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return built.main;
}

/** Runs the built `bmt` with `args` (and `input` on stdin); exit code, stdout, stderr. */
export function bmt(args: string[], options: { input?: string | Uint8Array; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [builtBmt(), ...args], {
    encoding: "utf8",
    input: options.input,
    env: { ...process.env, ...options.env },
    maxBuffer: 256 * 2 ** 20,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs `bmt args | head -1` through the shell; what head printed, bmt's stderr and exit code. */
export function bmtHead(args: string[]) {
  const quoted = [process.execPath, builtBmt(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${quoted} 2>"$ERRFILE" | head -1; echo "status:$?"`], {
    encoding: "utf8",
    env: { ...process.env, ERRFILE: join(tmpdir(), `bmt-head-${process.pid}.err`) },
  });
  const errFile = join(tmpdir(), `bmt-head-${process.pid}.err`);
  const err = spawnSync("cat", [errFile], { encoding: "utf8" }).stdout;
  rmSync(errFile, { force: true });
  const lines = r.stdout.split("\n");
  const status = Number(lines.find((l) => l.startsWith("status:"))?.slice(7));
  return { first: lines[0], err, status };
}
