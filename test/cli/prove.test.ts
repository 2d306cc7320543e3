// `bmt prove` and `bmt verify`: round trips in JSON, binary and hex lines, multi and range
// proofs, witnesses, tampered files, absent keys, usage errors; spawned like a user runs them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { main } from "../../src/cli/main.ts";
import { readStateFile } from "../../src/cli/state-files.ts";
import { open } from "../../src/db/index.ts";
import { encodeWitness, type Entry, keyProofToJson, proveKey, toHex, trieRoot, witnessToJson } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot, requireVectors } from "../support/vectors.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-prove-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cli = join(projectRoot, "src", "cli", "main.ts");

/** Runs the CLI as a process. */
function bmt(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", cli, ...args], { cwd: projectRoot, encoding: "utf8", input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs the CLI in this process (for many quick runs). */
async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const file = (name: string) => join(tmp, name);
const hexKey = (b: number) => `0x${b.toString(16).padStart(2, "0").repeat(31)}`;

describe(`cli: bmt prove / verify (seed ${seed})`, () => {
  // A database at the storage trace's genesis state plus 2000 random entries.
  const rng = new Rng(seed);
  const db = file("db");
  const genesis = readStateFile(join(requireVectors(), "traces", "storage", "genesis.json"))[0];
  const extra: Entry[] = Array.from({ length: 2000 }, () => ({ key: rng.bytes(31), value: rng.bytes(rng.int(2) ? 20 : 70) }));
  const entries = [...genesis.entries, ...extra].sort((a, b) => Buffer.compare(a.key, b.key));
  const root = toHex(trieRoot(entries));
  {
    const handle = open(db);
    const s = handle.beginWrite();
    for (const e of entries) s.set(e.key, e.value);
    s.finishSync().commitSync();
    handle.close();
  }
  const present = [genesis.entries[0], extra[0], extra[1]];
  const absent = [hexKey(0xab), toHex(rng.bytes(31))];

  it("--json: a JSON array of single proofs in the shared shape; verify prints values and absence, exit 0", async () => {
    const keys = [...present.map((e) => toHex(e.key)), ...absent];
    const r = bmt(["prove", "--db", db, "--json", ...keys]);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out) as Record<string, unknown>[];
    assert.equal(json.length, keys.length);
    json.forEach((p, i) => {
      assert.deepEqual(Object.keys(p), ["root", "key", "value", "siblings", "terminal"]);
      assert.equal(p.root, root);
      assert.equal(p.key, keys[i]);
      assert.equal(p.value, i < present.length ? toHex(present[i].value) : null);
      // Exactly the proof the trie layer builds from the same entries.
      assert.deepEqual(p, keyProofToJson(proveKey(entries, new Uint8Array(Buffer.from(keys[i].slice(2), "hex")))));
    });
    // One proof per line between the brackets; the default format is the same.
    assert.equal(r.out.trim().split("\n").length, keys.length + 2);
    assert.equal(bmt(["prove", "--db", db, ...keys]).out, r.out);
    writeFileSync(file("single.json"), r.out);
    const v = bmt(["verify", file("single.json")]);
    assert.equal(v.code, 0, v.err + v.out);
    const lines = v.out.trim().split("\n");
    assert.equal(lines.at(-1), `${keys.length} valid, 0 invalid`);
    for (let i = 0; i < keys.length; i++) {
      assert.equal(lines[2 * i], `key proof, root ${root}: valid`);
      assert.equal(lines[2 * i + 1], `  ${keys[i]} ${i < present.length ? toHex(present[i].value) : "absent"}`);
    }
    // Against a trusted root: the right one passes, another fails.
    assert.equal(bmt(["verify", "--root", root, file("single.json")]).code, 0);
    const other = bmt(["verify", "--root", `0x${"11".repeat(32)}`, file("single.json")]);
    assert.equal(other.code, 1);
    assert.match(other.out, /INVALID \(is against 0x[0-9a-f]{64}, not the given root\)/);
  });

  it("--bin: hex lines on stdout, raw bytes with --out; verify reads both (and stdin)", async () => {
    const keys = [toHex(present[1].key), absent[0]];
    const r = bmt(["prove", "--db", db, "--bin", ...keys]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split("\n");
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l, /^0x626d0101[0-9a-f]+$/, "magic 'bm', version 1, type 1");
    writeFileSync(file("single.hex"), r.out);
    const v = bmt(["verify", file("single.hex")]);
    assert.equal(v.code, 0, v.err + v.out);
    assert.ok(v.out.includes(`  ${keys[0]} ${toHex(present[1].value)}\n`));
    assert.ok(v.out.includes(`  ${keys[1]} absent\n`));
    const stdin = bmt(["verify", "-"], r.out);
    assert.equal(stdin.code, 0, stdin.err);
    assert.equal(stdin.out, v.out);
    const out = bmt(["prove", "--db", db, "--bin", "--out", file("single.bin"), keys[0]]);
    assert.deepEqual([out.code, out.out], [0, ""], out.err);
    const raw = readFileSync(file("single.bin"));
    assert.equal(`0x${raw.toString("hex")}`, lines[0]);
    const vb = bmt(["verify", file("single.bin")]);
    assert.equal(vb.code, 0, vb.err);
    assert.equal(vb.out, `key proof, root ${root}: valid\n  ${keys[0]} ${toHex(present[1].value)}\n`);
  });

  it("--multi and --range: one proof each, JSON and binary, verified", async () => {
    const keys = [...present.map((e) => toHex(e.key)), ...absent];
    for (const format of ["--json", "--bin"]) {
      const out = file(`multi${format}`);
      const r = bmt(["prove", "--db", db, "--multi", format, "--out", out, ...keys]);
      assert.equal(r.code, 0, r.err);
      const v = bmt(["verify", out]);
      assert.equal(v.code, 0, v.err + v.out);
      const lines = v.out.trim().split("\n");
      assert.equal(lines[0], `multiproof, root ${root}, ${keys.length} keys: valid`);
      const sorted = [...keys].sort();
      assert.deepEqual(
        lines.slice(1),
        sorted.map((k) => `  ${k} ${present.find((e) => toHex(e.key) === k) ? toHex((present.find((e) => toHex(e.key) === k) as Entry).value) : "absent"}`),
      );
    }
    const start = toHex(entries[10].key);
    const end = toHex(entries[40].key);
    for (const format of ["--json", "--bin"]) {
      const out = file(`range${format}`);
      const r = bmt(["prove", "--db", db, "--range", "--limit", "20", format, "--out", out, start, end]);
      assert.equal(r.code, 0, r.err);
      const v = bmt(["verify", out]);
      assert.equal(v.code, 0, v.err + v.out);
      const lines = v.out.trim().split("\n");
      // Cut by the limit: the proof covers start .. the 20th entry, all of them.
      assert.equal(lines[0], `range proof, root ${root}, ${start} .. ${toHex(entries[29].key)}, 20 entries (complete): valid`);
      assert.deepEqual(
        lines.slice(1),
        entries.slice(10, 30).map((e) => `  ${toHex(e.key)} ${toHex(e.value)}`),
      );
    }
  });

  it("verify checks witnesses (binary and JSON): the new root, reads and writes", async () => {
    const handle = open(db);
    const s = handle.beginWrite({ witness: true });
    s.get(present[0].key);
    s.get(Buffer.from(absent[0].slice(2), "hex"));
    s.set(present[1].key, Uint8Array.of(1, 2, 3));
    s.delete(present[2].key);
    const f = await s.finish();
    const w = f.witness();
    f.release();
    handle.close();
    writeFileSync(file("witness.bin"), encodeWitness(w));
    writeFileSync(file("witness.json"), JSON.stringify(witnessToJson(w)));
    for (const name of ["witness.bin", "witness.json"]) {
      const v = bmt(["verify", "--root", root, file(name)]);
      assert.equal(v.code, 0, v.err + v.out);
      const want = [
        `witness, prevRoot ${root}, new root ${toHex(f.root)}, 2 reads, 2 writes: valid`,
        ...[`  read ${toHex(present[0].key)} ${toHex(present[0].value)}`, `  read ${absent[0]} absent`].sort(),
        ...[`  set ${toHex(present[1].key)} 0x010203`, `  delete ${toHex(present[2].key)}`].sort((a, b) =>
          a.slice(a.indexOf("0x")).localeCompare(b.slice(b.indexOf("0x"))),
        ),
      ];
      assert.deepEqual(v.out.trim().split("\n"), want);
    }
    // A read claiming a value the proof does not give: invalid.
    const json = JSON.parse(readFileSync(file("witness.json"), "utf8"));
    json.reads[0][1] = "0x00";
    writeFileSync(file("witness-bad.json"), JSON.stringify(json));
    const bad = bmt(["verify", file("witness-bad.json")]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^witness, prevRoot 0x[0-9a-f]{64}: INVALID \(.+\)\n$/);
  });

  it("tampered files exit 1: every changed byte of a binary proof of a present key, a changed JSON sibling or root, garbage", async () => {
    const r = await run(["prove", "--db", db, "--bin", toHex(present[0].key)]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const bytes = Buffer.from(r.out[0].slice(2), "hex");
    const path = file("tampered.bin");
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] ^= 1 + rng.int(255);
      writeFileSync(path, bad);
      const v = await run(["verify", path]);
      assert.equal(v.code, 1, `byte ${i} of ${bytes.length} changed: ${v.out.join("\n")}`);
      assert.match(v.out.join("\n"), /INVALID/);
      refused++;
    }
    assert.equal(refused, bytes.length);
    // Spawned, once: JSON with a sibling changed, and with the root changed.
    const proof = JSON.parse(bmt(["prove", "--db", db, "--json", toHex(present[0].key)]).out)[0];
    const siblings = [...proof.siblings];
    const last = siblings[siblings.length - 1];
    siblings[siblings.length - 1] = last.slice(0, -1) + (last.endsWith("0") ? "1" : "0");
    writeFileSync(path, JSON.stringify({ ...proof, siblings }));
    const v1 = bmt(["verify", path]);
    assert.equal(v1.code, 1, v1.out);
    assert.match(v1.out, /^key proof, root 0x[0-9a-f]{64}: INVALID \(/);
    writeFileSync(path, JSON.stringify({ ...proof, root: `0x${"22".repeat(32)}` }));
    assert.equal(bmt(["verify", path]).code, 1);
    for (const garbage of ["not a proof", "{}", "[]", '{"root": 1', "0x626d01", ""]) {
      writeFileSync(path, garbage);
      const v = await run(["verify", path]);
      assert.equal(v.code, 1, `${JSON.stringify(garbage)}: ${v.out.join("\n")}`);
      assert.match(v.out.join("\n"), /^unreadable: INVALID \(.+\)$/);
    }
  });

  it("absent keys: non-inclusion proofs that verify (and say so); works while a writer holds the database", async () => {
    const holder = open(db); // the writer lock, held by this process
    try {
      const keys = Array.from({ length: 5 }, () => toHex(rng.bytes(31)));
      const r = bmt(["prove", "--db", db, ...keys]);
      assert.equal(r.code, 0, r.err);
      for (const p of JSON.parse(r.out)) assert.equal(p.value, null);
      writeFileSync(file("absent.json"), r.out);
      const v = bmt(["verify", file("absent.json")]);
      assert.equal(v.code, 0, v.out);
      for (const k of keys) assert.ok(v.out.includes(`  ${k} absent\n`));
    } finally {
      holder.close();
    }
  });

  it("usage errors exit 2", async () => {
    const k = hexKey(1);
    for (const args of [
      ["prove", k],
      ["prove", "--db", db],
      ["prove", "--db", db, "0x1234"],
      ["prove", "--db", db, "--json", "--bin", k],
      ["prove", "--db", db, "--multi", "--range", k, k],
      ["prove", "--db", db, "--range", k],
      ["prove", "--db", db, "--range", hexKey(2), hexKey(1)],
      ["prove", "--db", db, "--range", "--limit", "0", k, k],
      ["prove", "--db", db, "--limit", "5", k],
      ["prove", "--db", db, "--bin", "--out", file("x"), k, hexKey(2)],
      ["prove", "--db", db, "--bogus", k],
      ["verify"],
      ["verify", "a", "b"],
      ["verify", "--root", "0x12", file("single.json")],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.out.join("\n")}`);
      assert.match(r.err.join("\n"), /^bmt (prove|verify): /);
    }
    assert.equal((await run(["prove", "--db", file("no-db"), k])).code, 1, "no database: exit 1");
    const missing = await run(["verify", file("no-such-file")]);
    assert.equal(missing.code, 1, "a missing FILE is exit 1, as in every command");
    assert.match(missing.err.join("\n"), /^bmt verify: .*no-such-file: cannot read \(ENOENT\)$/);
    assert.equal((await run(["prove", "--help"])).code, 0);
    assert.ok((await run(["help", "verify"])).out.join("\n").includes("bmt verify [--root ROOT] [--json] FILE"));
  });
});
