// `bmt import` of a large entry-line file: peak memory against the caches, and the root checked
// against `bmt root` of the same file.
//
//   npm run bench:import-lines -- [--keys 8388608] [--json] [--pairs 1]
//
// Writes N sorted entry lines ("0xKEY 0xVALUE", 31-byte random keys, 32-byte random values;
// 132 bytes a line, 1.06 GB at 8M) to a temporary directory, runs `bmt import FILE --db DIR`
// and `bmt root FILE` each as a child under /usr/bin/time -v (max RSS, wall), compares the two
// roots, and deletes everything. The import runs with the default caches (value tree 256 MiB,
// merkle pages 128 MiB).
// With --json the file is a genesis-style state ({"header", "state": {"state_root",
// "keyvals": [{"key","value"}]}}, keyvals in random order, 140 bytes an entry), and `bmt root`
// and `bmt import` alternate --pairs times (root first), the import checking the file's root.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex, trieRootUnsorted } from "../src/trie/index.ts";
import { machine } from "./support.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const N = Number(arg("keys", String(1 << 23)));
const JSON_FILE = process.argv.includes("--json");
const PAIRS = Number(arg("pairs", "1"));
const root = join(import.meta.dirname, "..");

/** Writes `n` sorted lines: 48-bit sorted random prefixes (distinct), random rest of key, random value. */
function writeLines(path: string, n: number): void {
  const top = new Float64Array(n);
  for (let i = 0; i < n; i++) top[i] = Math.floor(Math.random() * 2 ** 48);
  top.sort();
  for (let i = 1; i < n; i++) if (top[i] <= top[i - 1]) top[i] = top[i - 1] + 1;
  const fd = openSync(path, "w");
  const LINE = 132;
  const PER = 8192;
  const buf = Buffer.alloc(LINE * PER);
  try {
    for (let at = 0; at < n; at += PER) {
      const k = Math.min(PER, n - at);
      const rest = randomBytes(57 * k);
      let o = 0;
      for (let j = 0; j < k; j++) {
        const t = top[at + j];
        o += buf.write("0x", o, "latin1");
        o += buf.write(t.toString(16).padStart(12, "0"), o, "latin1");
        o += buf.write(rest.toString("hex", 57 * j, 57 * j + 25), o, "latin1");
        o += buf.write(" 0x", o, "latin1");
        o += buf.write(rest.toString("hex", 57 * j + 25, 57 * j + 57), o, "latin1");
        o += buf.write("\n", o, "latin1");
      }
      writeSync(fd, buf, 0, o);
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a genesis-style JSON state of `n` random entries in random order, with its root. */
function writeGenesis(path: string, n: number): void {
  const keys = randomBytes(31 * n);
  const vals = randomBytes(32 * n);
  const entries = Array.from({ length: n }, (_, i) => ({ key: keys.subarray(31 * i, 31 * i + 31), value: vals.subarray(32 * i, 32 * i + 32) }));
  const stateRoot = toHex(trieRootUnsorted(entries));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, `{"header":{},"state":{"state_root":"${stateRoot}","keyvals":[\n`);
    const PER = 8192;
    for (let at = 0; at < n; at += PER) {
      let text = "";
      for (let i = at; i < Math.min(n, at + PER); i++) {
        text += `${i === 0 ? "" : ",\n"}{"key":"0x${keys.toString("hex", 31 * i, 31 * i + 31)}","value":"0x${vals.toString("hex", 32 * i, 32 * i + 32)}"}`;
      }
      writeSync(fd, text);
    }
    writeSync(fd, "\n]}}\n");
  } finally {
    closeSync(fd);
  }
}

/** Runs the CLI under /usr/bin/time -v: its stdout, max RSS (MB) and wall seconds. */
function timed(args: string[]): { out: string; rssMb: number; wallS: number } {
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, "--import", "tsx", join(root, "src", "cli", "main.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`bmt ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  if (rss === null || wall === null) throw new Error(`no /usr/bin/time figures in: ${r.stderr}`);
  const wallS = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { out: r.stdout.trim(), rssMb: Number(rss[1]) / 1024, wallS };
}

const load = () =>
  execFileSync("uptime", { encoding: "utf8" })
    .trim()
    .replace(/.*load average: /, "");
const dir = mkdtempSync(join(tmpdir(), "bmt-bench-lines-"));
try {
  console.log(`import-lines bench: ${N} entries; ${machine()}`);
  const file = join(dir, JSON_FILE ? "genesis.json" : "state.lines");
  const t = performance.now();
  if (JSON_FILE) writeGenesis(file, N);
  else writeLines(file, N);
  console.log(`wrote ${file}: ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s; load ${load()}`);
  if (JSON_FILE) {
    for (let p = 0; p < PAIRS; p++) {
      const rt = timed(["root", file]);
      console.log(`pair ${p + 1} bmt root:   ${rt.wallS.toFixed(1)} s wall, max RSS ${rt.rssMb.toFixed(0)} MB; load ${load()}`);
      const imp = timed(["import", file, "--db", join(dir, `db${p}`), "--quiet"]);
      console.log(`pair ${p + 1} bmt import: ${imp.wallS.toFixed(1)} s wall, max RSS ${imp.rssMb.toFixed(0)} MB; load ${load()}`);
      console.log(`pair ${p + 1} import / root: ${(imp.wallS / rt.wallS).toFixed(2)}x`);
      if (imp.out !== rt.out) throw new Error(`roots differ: import ${imp.out}, root ${rt.out}`);
      rmSync(join(dir, `db${p}`), { recursive: true, force: true });
    }
  } else {
    const imp = timed(["import", file, "--db", join(dir, "db"), "--quiet"]);
    console.log(`bmt import: ${imp.wallS.toFixed(1)} s wall, max RSS ${imp.rssMb.toFixed(0)} MB, root ${imp.out}; load ${load()}`);
    const rt = timed(["root", file]);
    console.log(`bmt root:   ${rt.wallS.toFixed(1)} s wall, max RSS ${rt.rssMb.toFixed(0)} MB, root ${rt.out}; load ${load()}`);
    if (imp.out !== rt.out) throw new Error(`roots differ: import ${imp.out}, root ${rt.out}`);
    console.log("roots agree");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
