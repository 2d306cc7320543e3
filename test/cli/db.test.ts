// The database commands against the JAM traces: replay, root --db, get, import.
// Expected roots and values are read straight from the JSON files, not through the CLI's reader.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../src/cli/main.ts";
import { open } from "../../src/db/index.ts";
import { projectRoot, requireVectors } from "../support/vectors.ts";

interface JsonState {
  state_root: string;
  keyvals: { key: string; value: string }[];
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const traces = join(requireVectors(), "traces");
const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-db-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dbs = 0;
const newDb = () => join(tmp, `db${++dbs}`);

const blockFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^\d+\.json$/.test(f))
    .sort();
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const postState = (file: string): JsonState => readJson(file).post_state;

const LINE = /^(\d{8}) (ok|FAIL) (0x[0-9a-f]{64}) (\d+) changes \(\d+\.\d ms\)(.*)$/;

describe("cli: bmt replay / root --db / get / import", () => {
  const light = join(traces, "storage_light");
  const lightDb = newDb();
  const lastPost = postState(join(light, blockFiles(light).at(-1) as string));

  it("replays storage_light: genesis, 100 blocks, summary", async () => {
    const r = await run(["replay", light, "--db", lightDb]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(r.out.length, 1 + 100 + 1);
    assert.equal(r.out.at(-1), "100 passed, 0 failed");
    const genesisRoot = readJson(join(light, "genesis.json")).state.state_root;
    assert.match(r.out[0], new RegExp(`^genesis ok ${genesisRoot} \\(\\d+\\.\\d ms\\)$`));
    const names = blockFiles(light);
    for (let i = 0; i < 100; i++) {
      const m = LINE.exec(r.out[i + 1]);
      assert.ok(m, `line ${i + 1}: ${r.out[i + 1]}`);
      assert.equal(`${m[1]}.json`, names[i]);
      assert.equal(m[2], "ok");
      assert.equal(m[3], postState(join(light, names[i])).state_root);
      assert.equal(m[5], "", "consecutive blocks need no sync");
    }
    assert.deepEqual(r.err, []);
  });

  it("root --db prints the last post_state root", async () => {
    const r = await run(["root", "--db", lightDb]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.deepEqual(r.out, [lastPost.state_root]);
  });

  it("get prints values of the last post_state; absent key: exit 1, no output; malformed key: exit 2", async () => {
    const kvs = lastPost.keyvals;
    for (const kv of [kvs[0], kvs[kvs.length >> 1], kvs.at(-1) as JsonState["keyvals"][0]]) {
      const r = await run(["get", "--db", lightDb, kv.key]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.deepEqual(r.out, [kv.value.toLowerCase()]);
    }
    // Without the 0x prefix and in upper case too.
    const up = await run(["get", "--db", lightDb, kvs[0].key.slice(2).toUpperCase()]);
    assert.deepEqual([up.code, up.out], [0, [kvs[0].value.toLowerCase()]]);
    // A key one bit away from a present one.
    const present = new Set(kvs.map((kv) => kv.key));
    const absentKey = `${kvs[0].key.slice(0, -1)}${(Number.parseInt(kvs[0].key.at(-1) as string, 16) ^ 1).toString(16)}`;
    assert.ok(!present.has(absentKey));
    const absent = await run(["get", "--db", lightDb, absentKey]);
    assert.equal(absent.code, 1);
    assert.deepEqual(absent.out, []);
    for (const bad of ["0x1234", `0x${"zz".repeat(31)}`, `${kvs[0].key}00`, `${kvs[0].key.slice(0, -1)}`]) {
      const r = await run(["get", "--db", lightDb, bad]);
      assert.equal(r.code, 2, `key ${bad}`);
      assert.deepEqual(r.out, []);
      assert.match(r.err.join("\n"), /KEY/);
    }
  });

  it("root --db and get read without the writer lock, while a writer holds the database", async () => {
    const writer = open(lightDb);
    try {
      assert.deepEqual((await run(["root", "--db", lightDb])).out, [lastPost.state_root]);
      const kv = lastPost.keyvals[0];
      assert.deepEqual((await run(["get", "--db", lightDb, kv.key])).out, [kv.value.toLowerCase()]);
      // A write command is refused: the lock names this process.
      const r = await run(["replay", light, "--db", lightDb]);
      assert.equal(r.code, 1);
      assert.match(r.err.join("\n"), /held by this process/);
    } finally {
      writer.close();
    }
  });

  for (const name of ["fallback", "safrole", "storage"]) {
    it(`replays the sampled ${name} trace, syncing over its gaps`, async () => {
      const dir = join(traces, name);
      const names = blockFiles(dir);
      const db = newDb();
      const r = await run(["replay", dir, "--db", db]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.equal(r.out.length, names.length + 2);
      assert.equal(r.out.at(-1), `${names.length} passed, 0 failed`);
      let synced = 0;
      for (let i = 0; i < names.length; i++) {
        const m = LINE.exec(r.out[i + 1]);
        assert.ok(m, r.out[i + 1]);
        assert.equal(m[2], "ok");
        assert.equal(m[3], postState(join(dir, names[i])).state_root);
        // Block n follows block n - 1 exactly when the numbers are consecutive.
        const gap = i > 0 && Number.parseInt(names[i], 10) !== Number.parseInt(names[i - 1], 10) + 1;
        if (gap) {
          assert.equal(m[5], " (synced to pre_state)", r.out[i + 1]);
          synced++;
        }
      }
      assert.ok(synced > 0, "the sampled traces have gaps");
      const root = await run(["root", "--db", db]);
      assert.deepEqual(root.out, [postState(join(dir, names.at(-1) as string)).state_root]);
      // Replaying again into the same database starts over from genesis and passes again.
      const again = await run(["replay", dir, "--db", db]);
      assert.equal(again.code, 0, again.err.join("\n"));
      assert.equal(again.out.at(-1), `${names.length} passed, 0 failed`);
    });
  }

  it("import: genesis into a new database prints its root; a non-empty database is refused", async () => {
    const genesis = join(traces, "storage", "genesis.json");
    const db = newDb();
    const r = await run(["import", genesis, "--db", db]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.deepEqual(r.out, [readJson(genesis).state.state_root]);
    assert.deepEqual((await run(["root", "--db", db])).out, r.out);
    const again = await run(["import", genesis, "--db", db]);
    assert.equal(again.code, 1);
    assert.deepEqual(again.out, []);
    assert.match(again.err.join("\n"), /is not empty/);
    assert.deepEqual((await run(["root", "--db", db])).out, r.out, "a refused import changes nothing");
    // A block file: its post_state.
    const block = join(traces, "storage", "00000051.json");
    const b = await run(["import", block, "--db", newDb()]);
    assert.equal(b.code, 0, b.err.join("\n"));
    assert.deepEqual(b.out, [postState(block).state_root]);
  });

  it("replay reports a tampered post_state root as FAIL and exits 1", async () => {
    const dir = join(tmp, "tampered");
    cpSync(join(traces, "storage"), dir, { recursive: true });
    const names = blockFiles(dir);
    const victim = names[1];
    const json = readJson(join(dir, victim));
    const bogus = `0x${"11".repeat(32)}`;
    json.post_state.state_root = bogus;
    writeFileSync(join(dir, victim), JSON.stringify(json));
    const r = await run(["replay", dir, "--db", newDb()]);
    assert.equal(r.code, 1);
    assert.equal(r.out.at(-1), `${names.length - 1} passed, 1 failed`);
    const fails = r.out.filter((l) => / FAIL /.test(l));
    assert.equal(fails.length, 1, r.out.join("\n"));
    const m = LINE.exec(fails[0]);
    assert.ok(m, fails[0]);
    assert.equal(`${m[1]}.json`, victim);
    assert.equal(m[3], postState(join(traces, "storage", victim)).state_root, "the computed root is the true one");
    assert.match(fails[0], new RegExp(` expected ${bogus}$`));
  });

  it("replay of a directory that cannot be read exits 1 naming it", async () => {
    const r = await run(["replay", join(tmp, "no-such-dir"), "--db", newDb()]);
    assert.equal(r.code, 1);
    assert.match(r.err.join("\n"), /no-such-dir: cannot read \(ENOENT\)/);
  });

  it("root --db and get on a path that holds no database refuse it without creating one", async () => {
    for (const args of [
      ["root", "--db"],
      ["get", "--db"],
    ]) {
      const db = join(tmp, "never-created");
      const r = await run([...args, db, ...(args[0] === "get" ? [`0x${"00".repeat(31)}`] : [])]);
      assert.equal(r.code, 1, `${args[0]}: exit ${r.code}, out ${r.out.join(" ")}`);
      assert.deepEqual(r.out, []);
      assert.equal(existsSync(db), false, `${args[0]} created ${db}`);
    }
  });

  it("works as a program: replay's last line and exit status, get's exit status", async () => {
    const cli = join(projectRoot, "src", "cli", "main.ts");
    const db = newDb();
    const ok = spawnSync(process.execPath, ["--import", "tsx", cli, "replay", join(traces, "fallback"), "--db", db], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    const lines = ok.stdout.trim().split("\n");
    assert.equal(lines.at(-1), "6 passed, 0 failed");
    assert.equal(lines.length, 8);
    const key = `0x${"ab".repeat(31)}`;
    const absent = spawnSync(process.execPath, ["--import", "tsx", cli, "get", "--db", db, key], { cwd: projectRoot, encoding: "utf8" });
    assert.equal(absent.status, 1, absent.stderr);
    assert.equal(absent.stdout, "");
  });
});
