import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../src/cli/main.ts";
import { trieRootUnsorted } from "../../src/trie/index.ts";
import { traceFiles, trieCases } from "../support/vector-states.ts";
import { projectRoot, requireVectors } from "../support/vectors.ts";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("cli: bmt root", () => {
  const trieJson = join(requireVectors(), "trie", "trie.json");
  const files = [trieJson, ...traceFiles()];
  const stateCount = 11 + traceFiles().reduce((n, f) => n + (f.endsWith("genesis.json") ? 1 : 2), 0);

  it("--check passes every vector file and ends with the summary line", async () => {
    const r = await run(["root", "--check", ...files]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(r.out.at(-1), `${stateCount} passed, 0 failed`);
    assert.equal(r.out.length, stateCount + 1);
  });

  it("reads entry lines as a stream: comments, blank lines, CRLF, no final newline, a line past the read size", async () => {
    const entries = Array.from({ length: 300 }, (_, i) => {
      const key = new Uint8Array(31);
      key[0] = (i * 97) & 0xff;
      key[1] = i >> 8;
      key[30] = i & 0xff;
      // One value of 1.5 MiB: its line (3 MiB of hex) is longer than a read.
      const value = new Uint8Array(i === 150 ? 3 << 19 : i % 40).fill(i & 0xff);
      return { key, value };
    });
    const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;
    const lines = entries.map((e, i) => (i % 3 === 0 ? `  ${hex(e.key)} \t${hex(e.value)}\r` : `${hex(e.key)} ${hex(e.value)}`));
    const file = join(tmp, "state.lines");
    writeFileSync(file, `# a comment\n\n${lines.join("\n")}`);
    const r = await run(["root", file]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.deepEqual(r.out, [hex(trieRootUnsorted(entries))]);
    writeFileSync(file, `${lines[0]}\n${lines[1]}\n${hex(entries[2].key)}\n`);
    const bad = await run(["root", file]);
    assert.equal(bad.code, 1);
    assert.match(bad.err.join("\n"), /line 3: expected '0xKEY 0xVALUE', got 1 field/);
  });

  it("prints one 0x line per state, in file order", async () => {
    const r = await run(["root", trieJson]);
    assert.equal(r.code, 0);
    assert.deepEqual(
      r.out,
      trieCases().map((c) => `0x${Buffer.from(c.expectedRoot).toString("hex")}`),
    );
  });

  it("reports a wrong expected root as failed and exits non-zero", async () => {
    const src = traceFiles().find((f) => !f.endsWith("genesis.json")) as string;
    const json = JSON.parse(readFileSync(src, "utf8"));
    json.post_state.state_root = `0x${"11".repeat(32)}`;
    const bad = join(tmp, "bad-root.json");
    writeFileSync(bad, JSON.stringify(json));
    const r = await run(["root", "--check", bad]);
    assert.equal(r.code, 1);
    assert.equal(r.out.at(-1), "1 passed, 1 failed");
    assert.match(r.out[1], /FAIL .*bad-root\.json post_state/);
  });

  it("names the file for unreadable and malformed input, and counts it as failed", async () => {
    const notJson = join(tmp, "broken.json");
    writeFileSync(notJson, "{ not json");
    const wrongShape = join(tmp, "shape.json");
    writeFileSync(wrongShape, JSON.stringify({ hello: 1 }));
    const badKey = join(tmp, "key.json");
    writeFileSync(badKey, JSON.stringify({ state: { state_root: `0x${"00".repeat(32)}`, keyvals: [{ key: "0x1234", value: "0x" }] } }));
    const missing = join(tmp, "missing.json");
    const r = await run(["root", "--check", notJson, wrongShape, badKey, missing, trieJson]);
    assert.equal(r.code, 1);
    assert.equal(r.out.at(-1), "11 passed, 4 failed");
    assert.match(r.err[0], /broken\.json: not valid JSON/);
    assert.match(r.err[1], /shape\.json: not a trace/);
    assert.match(r.err[2], /key\.json: state\.keyvals\[0\]\.key must be 31 bytes/);
    assert.match(r.err[3], /missing\.json: cannot read \(ENOENT\)/);
  });

  it("refuses a call without files or with unknown options (exit 2)", async () => {
    assert.equal((await run(["root"])).code, 2);
    assert.equal((await run(["root", "--bogus", trieJson])).code, 2);
    assert.equal((await run(["frobnicate"])).code, 2);
  });

  it("works as a program: stdout, exit status", async () => {
    const cli = join(projectRoot, "src", "cli", "main.ts");
    const out = execFileSync(process.execPath, ["--import", "tsx", cli, "root", "--check", trieJson], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(out.trim().split("\n").at(-1), "11 passed, 0 failed");
    const bad = spawnSync(process.execPath, ["--import", "tsx", cli, "root", join(tmp, "nope.json")], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /nope\.json/);
    assert.equal(bad.stdout, "");
  });
});
