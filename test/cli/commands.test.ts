// Every command and flag of `bmt`, through the built program: help and usage, --version, the
// one-line errors and exit codes, --json parsed back, `| head -1` without an EPIPE trace, stdin
// as FILE, export/import round trips, inspect, check against damaged files, scan, history,
// rollback, progress. Databases: the storage_light trace replayed, and seeded random entries.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { crc32 } from "node:zlib";
import { after, describe, it } from "node:test";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import { progress, statusText } from "../../src/cli/progress.ts";
import { VERSION } from "../../src/cli/version.ts";
import { open } from "../../src/db/index.ts";
import { type Entry, toHex, trieRootUnsorted } from "../../src/trie/index.ts";
import { bmt, bmtHead } from "../support/built-cli.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot, requireVectors } from "../support/vectors.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-all-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string) => join(tmp, name);
const light = join(requireVectors(), "traces", "storage_light");
const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string };

/** One line on stderr naming the command, and no stack trace. */
function oneLineError(err: string, command: string): void {
  const lines = err.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${err}`);
  assert.match(lines[0], new RegExp(`^bmt ${command}: `));
  assert.doesNotMatch(err, /\n\s+at |EPIPE|Error:/);
}

function randomEntries(rng: Rng, n: number): Entry[] {
  const map = new Map<string, Entry>();
  while (map.size < n) {
    const key = rng.bytes(31);
    map.set(toHex(key), { key, value: rng.bytes(rng.int(3) === 0 ? 0 : 1 + rng.int(80)) });
  }
  return [...map.values()];
}
const lines = (entries: Entry[]) => entries.map((e) => `${toHex(e.key)} ${toHex(e.value)}\n`).join("");
const sortedLines = (entries: Entry[]) => [...entries].sort((a, b) => Buffer.compare(a.key, b.key)).map((e) => `${toHex(e.key)} ${toHex(e.value)}`);

describe(`cli: every command through the built bmt (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const entries = randomEntries(rng, 3000);
  const root = toHex(trieRootUnsorted(entries));
  const linesFile = file("entries.txt");
  writeFileSync(linesFile, `# ${entries.length} entries\n\n${lines(entries)}`);
  const db = file("random-db");
  const traceDb = file("trace-db");

  it("--version, help, COMMAND --help and bmt help COMMAND print each command's own usage", () => {
    assert.equal(VERSION, pkg.version, "src/cli/version.ts follows package.json");
    for (const v of ["--version", "-V"]) assert.deepEqual(bmt([v]), { code: 0, out: `bmt ${pkg.version}\n`, err: "" });
    const help = bmt(["--help"]);
    assert.equal(help.code, 0);
    for (const c of COMMANDS) {
      assert.match(help.out, new RegExp(`^  ${c.name} +${c.summary.replace(/[()]/g, "\\$&")}$`, "m"));
      const own = bmt(["help", c.name]);
      assert.equal(own.code, 0);
      assert.match(own.out, new RegExp(`^usage: bmt ${c.name} `));
      assert.deepEqual(bmt([c.name, "--help"]), own, `${c.name} --help`);
      assert.deepEqual(bmt([c.name, "-h"]), own, `${c.name} -h`);
      // Every option the command takes is in its usage.
      for (const o of Object.keys(c.options)) assert.ok(own.out.includes(`--${o}`), `${c.name} usage names --${o}`);
    }
    assert.deepEqual(bmt(["help"]).out, help.out);
    const none = bmt([]);
    assert.equal(none.code, 2);
    assert.equal(none.err, "bmt: give a command; see 'bmt --help'\n");
    const unknown = bmt(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.err, "bmt: unknown command 'frobnicate'; see 'bmt --help'\n");
    const helpUnknown = bmt(["help", "frobnicate"]);
    assert.equal(helpUnknown.code, 2);
    oneLineError(helpUnknown.err, "help");
  });

  it("README's command-line section names every command and every option", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Command line"), readme.indexOf("## API"));
    for (const c of COMMANDS) {
      assert.ok(section.includes(`bmt ${c.name}`), `README names bmt ${c.name}`);
      for (const o of Object.keys(c.options)) assert.ok(section.includes(`--${o}`), `README names --${o} (${c.name})`);
    }
    for (const f of ["--version", "--help", "--quiet", "--progress", "--json", "| head"]) assert.ok(section.includes(f), `README names ${f}`);
    assert.match(section, /exit/i);
  });

  it("import: entry lines from a file and from stdin, --json, --progress lines, --quiet; a second import is refused", () => {
    const r = bmt(["import", linesFile, "--db", db, "--json", "--progress"]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { root, entries: entries.length, expected: null });
    const progressLines = r.err.trimEnd().split("\n");
    assert.match(progressLines.at(-1) as string, /^bmt import 100% 3\.00k\/3\.00k entries [\d.]+k? entries\/s ETA 0s$/);
    const again = bmt(["import", linesFile, "--db", db]);
    assert.equal(again.code, 1);
    oneLineError(again.err, "import");
    assert.match(again.err, /is not empty/);
    // stdin, and no progress when stderr is not a terminal (or with --quiet).
    const viaStdin = bmt(["import", "-", "--db", file("stdin-db")], { input: lines(entries) });
    assert.deepEqual(viaStdin, { code: 0, out: `${root}\n`, err: "" });
    const quiet = bmt(["import", linesFile, "--db", file("quiet-db"), "--quiet", "--progress"]);
    assert.deepEqual(quiet, { code: 0, out: `${root}\n`, err: "" });
  });

  it("import: bad input of each kind is one line on stderr, and nothing is created or changed", () => {
    const bad = [
      [["import", "--db", file("x")], 2, /missing FILE/],
      [["import", linesFile], 2, /--db PATH is required/],
      [["import", linesFile, "extra", "--db", file("x")], 2, /unexpected argument 'extra'/],
      [["import", linesFile, "--db", file("x"), "--bogus"], 2, /Unknown option '--bogus'/],
      [["import", file("missing.txt"), "--db", file("x")], 1, /missing\.txt: cannot read \(ENOENT\)/],
    ] as const;
    for (const [args, code, message] of bad) {
      const r = bmt([...args]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
      oneLineError(r.err, "import");
      assert.match(r.err, message);
    }
    const cases: [string, RegExp][] = [
      ["0x1234 0x00\n", /line 1 key must be 31 bytes/],
      [`${toHex(entries[0].key)} 0x00\n${toHex(entries[1].key)}\n`, /line 2: expected '0xKEY 0xVALUE', got 1 field/],
      [`${toHex(entries[0].key)} zz\n`, /line 1 value/],
      ["{ not json", /not valid JSON/],
      ['{"hello":1}', /not a trace/],
    ];
    for (const [text, message] of cases) {
      const target = file(`bad-${Math.random().toString(36).slice(2)}`);
      const r = bmt(["import", "-", "--db", target], { input: text });
      assert.equal(r.code, 1, r.err);
      oneLineError(r.err, "import");
      assert.match(r.err, /stdin/);
      assert.match(r.err, message);
      assert.equal(existsSync(target), false, "a refused import creates no database");
    }
  });

  it("export: lines and --json that import reads back to the same root; --out; | head -1 ends quietly", () => {
    const out = bmt(["export", "--db", db]);
    assert.equal(out.code, 0, out.err);
    assert.deepEqual(out.out.trimEnd().split("\n"), sortedLines(entries));
    const back = bmt(["import", "-", "--db", file("round-lines")], { input: out.out });
    assert.deepEqual(back, { code: 0, out: `${root}\n`, err: "" });
    const jsonFile = file("export.json");
    const j = bmt(["export", "--db", db, "--json", "--out", jsonFile, "--progress"]);
    assert.equal(j.code, 0, j.err);
    assert.equal(j.out, "");
    assert.match(j.err.trimEnd().split("\n").at(-1) as string, /^bmt export 3\.00k entries [\d.]+k? entries\/s$/);
    const genesis = JSON.parse(readFileSync(jsonFile, "utf8"));
    assert.equal(genesis.state.state_root, root);
    assert.deepEqual(
      genesis.state.keyvals.map((kv: { key: string; value: string }) => `${kv.key} ${kv.value}`),
      sortedLines(entries),
    );
    const back2 = bmt(["import", jsonFile, "--db", file("round-json"), "--json"]);
    assert.equal(back2.code, 0, back2.err);
    assert.deepEqual(JSON.parse(back2.out), { root, entries: entries.length, expected: root });
    const head = bmtHead(["export", "--db", db]);
    assert.deepEqual(head, { first: sortedLines(entries)[0], err: "", status: 0 });
    const missingDir = bmt(["export", "--db", db, "--out", join(tmp, "no", "such", "dir", "x.txt")]);
    assert.equal(missingDir.code, 1);
    oneLineError(missingDir.err, "export");
    assert.match(missingDir.err, /cannot write \(ENOENT\)/);
    const noDb = bmt(["export", "--db", file("no-db")]);
    assert.equal(noDb.code, 1);
    assert.equal(noDb.err, `bmt export: no database at ${file("no-db")}\n`);
    assert.equal(existsSync(file("no-db")), false);
  });

  it("get and root --db: text and --json; absent exits 1; bad keys exit 2; root --check --db is refused", () => {
    const e = entries[7];
    assert.deepEqual(bmt(["get", "--db", db, toHex(e.key)]), { code: 0, out: `${toHex(e.value)}\n`, err: "" });
    assert.deepEqual(JSON.parse(bmt(["get", "--db", db, toHex(e.key), "--json"]).out), { key: toHex(e.key), value: toHex(e.value) });
    const absentKey = toHex(new Uint8Array(31).fill(0xee));
    assert.deepEqual(bmt(["get", "--db", db, absentKey]), { code: 1, out: "", err: "" });
    const absentJson = bmt(["get", "--db", db, absentKey, "--json"]);
    assert.equal(absentJson.code, 1);
    assert.deepEqual(JSON.parse(absentJson.out), { key: absentKey, value: null });
    for (const args of [
      ["get", "--db", db, "0x12"],
      ["get", "--db", db],
      ["get", toHex(e.key)],
      ["get", "--db", db, "xyz"],
    ]) {
      const r = bmt(args);
      assert.equal(r.code, 2, args.join(" "));
      oneLineError(r.err, "get");
    }
    assert.deepEqual(bmt(["root", "--db", db]), { code: 0, out: `${root}\n`, err: "" });
    assert.deepEqual(JSON.parse(bmt(["root", "--db", db, "--json"]).out), { root, seq: 1 });
    const both = bmt(["root", "--check", "--db", db]);
    assert.equal(both.code, 2);
    oneLineError(both.err, "root");
    assert.match(both.err, /--check .* does not go with --db/);
  });

  it("root FILE: --json parsed back, - for stdin, | head -1 ends quietly", () => {
    const genesis = join(light, "genesis.json");
    const expected = JSON.parse(readFileSync(genesis, "utf8")).state.state_root;
    const r = bmt(["root", "--check", "--json", genesis, "-"], { input: readFileSync(join(light, "00000001.json")) });
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out);
    assert.equal(json.passed, 3);
    assert.equal(json.failed, 0);
    assert.deepEqual(json.states[0], { file: genesis, label: "state", root: expected, expected, ok: true });
    assert.deepEqual(
      json.states.slice(1).map((s: { file: string; label: string }) => `${s.file} ${s.label}`),
      ["- pre_state", "- post_state"],
    );
    const plain = JSON.parse(bmt(["root", "--json", genesis]).out);
    assert.deepEqual(plain, { states: [{ file: genesis, label: "state", root: expected }], failed: 0 });
    const traces = join(requireVectors(), "traces");
    const all = spawnSync("bash", ["-c", `ls ${traces}/*/*.json`], { encoding: "utf8" })
      .stdout.trim()
      .split("\n");
    const head = bmtHead(["root", "--check", ...all, ...all, ...all]);
    assert.equal(head.err, "");
    assert.equal(head.status, 0);
    assert.match(head.first, / ok /);
  });

  it("replay --json and --progress; history and rollback, text and --json", () => {
    const r = bmt(["replay", light, "--db", traceDb, "--json", "--progress"]);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out);
    assert.equal(json.passed, 100);
    assert.equal(json.failed, 0);
    assert.equal(json.genesis.ok, true);
    assert.equal(json.blocks.length, 100);
    const last = json.blocks.at(-1);
    const lastPost = JSON.parse(readFileSync(join(light, `${last.block}.json`), "utf8")).post_state.state_root;
    assert.equal(last.root, lastPost);
    assert.equal(last.expected, lastPost);
    assert.match(r.err.trimEnd().split("\n").at(-1) as string, /^bmt replay 100% 100\/100 blocks [\d.]+k? blocks\/s ETA 0s$/);

    const h = bmt(["history", "--db", traceDb, "--json"]);
    assert.equal(h.code, 0, h.err);
    const history = JSON.parse(h.out);
    assert.equal(history.roots.length, 101);
    assert.equal(history.rollbackDepth, 100);
    assert.equal(history.seq, 101);
    assert.equal(history.roots[0], lastPost);
    const text = bmt(["history", "--db", traceDb]).out.trimEnd().split("\n");
    assert.deepEqual(
      text,
      history.roots.map((root: string, i: number) => `${i} ${root}`),
    );

    const tooFar = bmt(["rollback", "--db", traceDb, "101"]);
    assert.equal(tooFar.code, 1);
    oneLineError(tooFar.err, "rollback");
    assert.match(tooFar.err, /rollback depth is 100/);
    assert.equal(bmt(["root", "--db", traceDb]).out.trim(), lastPost, "a refused rollback changes nothing");
    for (const bad of ["0", "-1", "x", "1.5"]) assert.equal(bmt(["rollback", "--db", traceDb, bad]).code, 2, bad);

    const rb = bmt(["rollback", "--db", traceDb, "3", "--json"]);
    assert.equal(rb.code, 0, rb.err);
    assert.deepEqual(JSON.parse(rb.out), { root: history.roots[3], seq: 102, rollbackDepth: 97 });
    assert.deepEqual(bmt(["rollback", "--db", traceDb, "1"]), { code: 0, out: `${history.roots[4]}\n`, err: "" });
    assert.equal(bmt(["root", "--db", traceDb]).out.trim(), history.roots[4]);
  });

  it("--window: a database kept with a longer rollback window is read and rolled back with it", () => {
    const wide = file("wide-db");
    const r = bmt(["replay", light, "--db", wide, "--window", "150", "--quiet"]);
    assert.equal(r.code, 0, r.err);
    const full = JSON.parse(bmt(["history", "--db", wide, "--window", "150", "--json"]).out);
    assert.equal(full.rollbackDepth, 101, "genesis and 100 blocks, all in a window of 150");
    assert.equal(full.roots.length, 102);
    const trimmed = JSON.parse(bmt(["history", "--db", wide, "--json"]).out);
    assert.equal(trimmed.rollbackDepth, 100, "the default window reads the last 100");
    assert.deepEqual(trimmed.roots, full.roots.slice(0, 101));
    const inspect = JSON.parse(bmt(["inspect", "--db", wide, "--window", "150", "--json"]).out);
    assert.equal(inspect.rollback.depth, 101);
    const rb = bmt(["rollback", "--db", wide, "101", "--window", "150", "--json"]);
    assert.equal(rb.code, 0, rb.err);
    assert.equal(JSON.parse(rb.out).root, full.roots[101], "back to the empty state before genesis");
    assert.equal(bmt(["history", "--db", wide, "--window", "x"]).code, 2);
  });

  it("scan: START and END as prefixes, --limit, --json with more; | head -1 ends quietly", () => {
    const sorted = [...entries].sort((a, b) => Buffer.compare(a.key, b.key));
    const all = bmt(["scan", "--db", db]);
    assert.equal(all.code, 0);
    assert.deepEqual(all.out.trimEnd().split("\n"), sortedLines(entries));
    const first = sorted[0].key[0];
    const under = sorted.filter((e) => e.key[0] === first);
    const prefix = `0x${first.toString(16).padStart(2, "0")}`;
    assert.deepEqual(bmt(["scan", "--db", db, prefix, prefix]).out.trimEnd().split("\n"), sortedLines(under));
    const from = sorted[10].key;
    const to = sorted[20].key;
    const j = bmt(["scan", "--db", db, toHex(from), toHex(to), "--json", "--limit", "5"]);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out), { entries: sorted.slice(10, 15).map((e) => ({ key: toHex(e.key), value: toHex(e.value) })), more: true });
    const exact = JSON.parse(bmt(["scan", "--db", db, toHex(from), toHex(to), "--json"]).out);
    assert.equal(exact.entries.length, 11);
    assert.equal(exact.more, false);
    assert.deepEqual(bmtHead(["scan", "--db", db]), { first: sortedLines(entries)[0], err: "", status: 0 });
    for (const args of [
      ["scan", "--db", db, "0x02", "0x01"],
      ["scan", "--db", db, `0x${"00".repeat(32)}`],
      ["scan", "--db", db, "--limit", "0"],
      ["scan", "--db", db, "a", "b", "c"],
    ]) {
      const r = bmt(args);
      assert.equal(r.code, 2, args.join(" "));
      oneLineError(r.err, "scan");
    }
  });

  it("verify: --json parsed back, - for stdin, | head -1 ends quietly", () => {
    const keys = entries.slice(0, 400).map((e) => toHex(e.key));
    const proofs = bmt(["prove", "--db", db, "--bin", ...keys]);
    assert.equal(proofs.code, 0, proofs.err);
    const v = bmt(["verify", "--json", "--root", root, "-"], { input: proofs.out });
    assert.equal(v.code, 0, v.err);
    const json = JSON.parse(v.out);
    assert.equal(json.valid, 400);
    assert.equal(json.invalid, 0);
    assert.deepEqual(json.items[0], { type: "key", root, valid: true, entries: [{ key: keys[0], value: toHex(entries[0].value) }] });
    const proofFile = file("proofs.hex");
    writeFileSync(proofFile, proofs.out);
    const head = bmtHead(["verify", proofFile]);
    assert.deepEqual(head, { first: `key proof, root ${root}: valid`, err: "", status: 0 });
    const wrong = JSON.parse(bmt(["verify", "--json", "--root", `0x${"00".repeat(32)}`, proofFile]).out);
    assert.equal(wrong.invalid, 400);
    assert.match(wrong.items[0].reason, /not the given root/);
    const outMissing = bmt(["prove", "--db", db, "--out", join(tmp, "no", "dir", "p.json"), keys[0]]);
    assert.equal(outMissing.code, 1);
    oneLineError(outMissing.err, "prove");
  });

  it("inspect: files, entries, pages, logs and format, text and --json", () => {
    const r = bmt(["inspect", "--db", db, "--json"]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assert.equal(info.root, root);
    assert.equal(info.entries, entries.length);
    assert.equal(info.formatVersion, 5);
    assert.equal(info.seq, 1);
    const names = info.files.map((f: { file: string }) => f.file);
    for (const f of ["meta", "values", "redo.0", "redo.1", join("merkle", "merkle-table.0")]) assert.ok(names.includes(f), `files list ${f}`);
    assert.equal(
      info.totalBytes,
      info.files.reduce((n: number, f: { bytes: number }) => n + f.bytes, 0),
    );
    assert.ok(info.merkle.pages > 0 && info.merkle.pages <= info.merkle.buckets);
    assert.equal(info.merkle.occupancy, Number((info.merkle.pages / info.merkle.buckets).toFixed(4)));
    assert.ok(info.values.height >= 2);
    // What rollback can undo, as history reports it (an import is a bulk load: nothing to undo).
    const history = JSON.parse(bmt(["history", "--db", db, "--json"]).out);
    assert.equal(info.rollback.depth, history.rollbackDepth);
    const text = bmt(["inspect", "--db", db]);
    assert.equal(text.code, 0);
    assert.match(text.out, new RegExp(`^entries +${entries.length} `, "m"));
    assert.match(text.out, new RegExp(`^merkle pages +${info.merkle.pages} in ${info.merkle.buckets} buckets`, "m"));
    assert.match(text.out, new RegExp(`^rollback log +${history.rollbackDepth} commits can be rolled back$`, "m"));
    const noDb = bmt(["inspect", "--db", file("nothing")]);
    assert.equal(noDb.code, 1);
    oneLineError(noDb.err, "inspect");
  });

  it("check: a sound database (also with commits only in the redo log) passes; damaged pages and records are found with file and offset", () => {
    const ok = bmt(["check", "--db", db, "--json"]);
    assert.equal(ok.code, 0, ok.out + ok.err);
    const report = JSON.parse(ok.out);
    assert.deepEqual({ ...report, merklePages: 0 }, { ok: true, root, entries: entries.length, merklePages: 0, redoRecords: 0, problems: [] });
    assert.ok(report.merklePages > 0);

    // A writer that commits and exits without closing leaves its commits in the redo log.
    const crashed = file("crashed-db");
    assert.equal(bmt(["import", linesFile, "--db", crashed, "--quiet"]).code, 0);
    const child = file("commit-and-exit.mts");
    writeFileSync(
      child,
      `import { open } from ${JSON.stringify(pathToFileURL(join(projectRoot, "src", "db", "index.ts")).href)};
const db = open(process.argv[2]);
for (let i = 0; i < 5; i++) {
  const s = db.beginWrite();
  s.set(new Uint8Array(31).fill(i + 1), new Uint8Array(40).fill(i));
  s.delete(Uint8Array.from(Buffer.from(${JSON.stringify(entries.slice(0, 5).map((e) => toHex(e.key).slice(2)))}[i], "hex")));
  s.finishSync().commitSync();
}
console.log(Buffer.from(db.root).toString("hex"));
process.exit(0);
`,
    );
    const c = spawnSync(process.execPath, ["--import", "tsx", child, crashed], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
    const after5 = `0x${c.stdout.trim()}`;
    const r = bmt(["check", "--db", crashed]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(r.out, `ok: ${entries.length} entries, ${report.merklePages} merkle pages, 5 redo records, root ${after5}\n`);

    // Damage: a value page, a merkle table page, a redo record followed by a whole one.
    const damaged = (name: string, flip: (bytes: Uint8Array) => number) => {
      const copy = file(`damaged-${name.replace(/\W/g, "-")}`);
      spawnSync("cp", ["-r", crashed, copy]);
      const path = join(copy, name);
      const bytes = readFileSync(path);
      const at = flip(bytes);
      writeFileSync(path, bytes);
      return { copy, path, at };
    };
    const valuePage = damaged("values", (b) => {
      // The last page of the file: a leaf of the tree (the import wrote it), not free space.
      const at = b.length - 4096 + 64;
      b[at] ^= 1;
      return at - 64;
    });
    const v = bmt(["check", "--db", valuePage.copy, "--json"]);
    assert.equal(v.code, 1, v.out);
    const vr = JSON.parse(v.out);
    assert.equal(vr.ok, false);
    assert.equal(vr.problems[0].file, valuePage.path);
    assert.equal(vr.problems[0].offset, valuePage.at);
    assert.equal(vr.problems[0].problem, "checksum mismatch");

    const tablePage = damaged(join("merkle", "merkle-table.0"), (b) => {
      // The first bucket holding a page (its checksum verifies): flip a node byte.
      for (let at = 4096; at + 4096 <= b.length; at += 4096) {
        const page = b.subarray(at, at + 4096);
        if (page.subarray(0, 64).some((x) => x !== 0) && crc32(page.subarray(0, 4092)) === Buffer.from(page).readUInt32LE(4092)) {
          page[100] ^= 1;
          return at;
        }
      }
      throw new Error("no page found");
    });
    const t = bmt(["check", "--db", tablePage.copy]);
    assert.equal(t.code, 1, t.out);
    assert.match(t.out, new RegExp(`^${tablePage.path.replace(/[.]/g, "\\.")} at offset ${tablePage.at}: bucket \\d+: page checksum mismatch$`, "m"));
    assert.match(t.out, /^1 problem$/m);

    // The file of the records after the checkpoint: the one whose header names the newer commit.
    const head = (name: string) => {
      const r = readFileSync(join(crashed, name));
      return Math.max(Number(r.readBigUInt64LE(8)), Number(r.readBigUInt64LE(8192 + 8)));
    };
    const live = head("redo.1") > head("redo.0") ? "redo.1" : "redo.0";
    const redo = damaged(live, (b) => {
      const at = 12288 + 100; // inside the first record (after the log's header); four whole records follow it
      b[at] ^= 1;
      return at;
    });
    const rr = bmt(["check", "--db", redo.copy]);
    assert.equal(rr.code, 1, rr.out);
    assert.match(rr.out, new RegExp(`${live.replace(".", "\\.")}: .*record at offset 12288 fails its checksum`));
  });

  it("bad input to inspect, check, history, rollback, scan, export: usage exit 2, no database exit 1, one line each", () => {
    for (const c of ["inspect", "check", "history", "export", "scan"]) {
      const noDbFlag = bmt([c]);
      assert.equal(noDbFlag.code, 2, c);
      oneLineError(noDbFlag.err, c);
      const none = bmt([c, "--db", file("absent")]);
      assert.equal(none.code, 1, c);
      assert.equal(none.err, `bmt ${c}: no database at ${file("absent")}\n`);
      const unknown = bmt([c, "--db", db, "--frob"]);
      assert.equal(unknown.code, 2, c);
      oneLineError(unknown.err, c);
    }
    for (const args of [
      ["rollback", "--db", db],
      ["rollback", "--db", db, "1", "2"],
      ["history", "--db", db, "x"],
    ]) {
      const r = bmt(args);
      assert.equal(r.code, 2, args.join(" "));
      oneLineError(r.err, args[0]);
    }
    assert.equal(existsSync(file("absent")), false);
  });

  it("a database held by a writer process: commands that need the lock say so in one line, exit 1", () => {
    const held = open(file("held-db"));
    try {
      for (const c of ["inspect", "history"]) {
        const r = bmt([c, "--db", file("held-db")]);
        assert.equal(r.code, 1, `${c}: ${r.out}`);
        oneLineError(r.err, c);
      }
    } finally {
      held.close();
    }
  });
});

describe("cli: progress", () => {
  it("a bar with rate and ETA redrawn in place on a terminal; lines with --progress; nothing with --quiet or when piped", () => {
    const capture = (errIsTTY: boolean, values: Record<string, boolean>) => {
      const raw: string[] = [];
      const lines: string[] = [];
      const p = progress({ out() {}, err: (l) => lines.push(l), errRaw: (t) => raw.push(t), errIsTTY }, { values, positionals: [] }, "bmt test", 200);
      p.update(0);
      p.update(200);
      p.finish();
      return { raw, lines };
    };
    const tty = capture(true, {});
    assert.equal(tty.lines.length, 0);
    assert.match(tty.raw.at(-1) as string, /^\r\x1b\[2K\[#{24}\] bmt test 100% 200\/200 entries \S+ entries\/s ETA 0s\n$/);
    assert.match(tty.raw[0], /^\r\x1b\[2K\[-{24}\] bmt test 0% 0\/200 entries/);
    const piped = capture(false, {});
    assert.deepEqual(piped, { raw: [], lines: [] });
    const lines = capture(false, { progress: true });
    assert.match(lines.lines.at(-1) as string, /^bmt test 100% 200\/200 entries/);
    assert.deepEqual(capture(true, { quiet: true }), { raw: [], lines: [] });
  });

  it("status text: percent, compact counts, rate and ETA; no total: count and rate", () => {
    assert.equal(statusText("x", 450_000, 1_000_000, 10_000, "entries"), "x 45% 450.0k/1.00M entries 45.0k entries/s ETA 13s");
    assert.equal(statusText("x", 100, 6100, 1000, "blocks"), "x 1% 100/6.10k blocks 100 blocks/s ETA 1m00s");
    assert.equal(statusText("x", 1500, null, 500, "entries"), "x 1.50k entries 3.00k entries/s");
  });
});
