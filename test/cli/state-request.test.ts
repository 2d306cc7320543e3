// `bmt state-request` and `bmt sync` through the built program: the framed answer verifies
// against the database's root; a sync ends at the source root and resumes; bad arguments are
// one-line usage errors.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { importEntries, open } from "../../src/db/index.ts";
import { sortEntries, toHex, trieRoot as trieRootOf, unframeStateResponse, verifyStateResponse } from "../../src/trie/index.ts";
import { bmt } from "../support/built-cli.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";

const seed = testSeed();
const tmp = mkdtempSync(join(tmpdir(), "bmt-cli-ce129-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string) => join(tmp, name);
const ZERO = `0x${"00".repeat(31)}`;
const MAX = `0x${"ff".repeat(31)}`;

describe(`cli: state-request and sync (seed ${seed})`, () => {
  it("state-request writes framed messages that verify; sync ends at the source root", async () => {
    const rng = new Rng(seed);
    const entries = sortEntries(randomEntries(rng, 4000, false));
    const src = file("src");
    const { root } = await importEntries(src, entries);
    const r = bmt(["state-request", "--db", src, ZERO, MAX, "50000", "--out", file("answer.bin")]);
    assert.equal(r.code, 0, r.err);
    const response = unframeStateResponse(new Uint8Array(readFileSync(file("answer.bin"))));
    const v = verifyStateResponse(root, new Uint8Array(31), new Uint8Array(31).fill(0xff), response, 50000);
    assert.ok(v.entries.length > 10 && !v.complete);
    assert.equal(toHex(v.entries[0].key), toHex(entries[0].key));
    const s = bmt(["sync", "--from", src, "--db", file("dst"), "--max-size", "20000", "--json"]);
    assert.equal(s.code, 0, s.err);
    const out = JSON.parse(s.out);
    assert.equal(out.root, toHex(root));
    assert.equal(out.pairs, 4000);
    const db = open(file("dst"));
    assert.equal(toHex(db.root), toHex(root));
    db.close();
    // Synced already: a rerun resumes with everything and asks for nothing more than the end.
    const again = bmt(["sync", "--from", src, "--db", file("dst"), "--json"]);
    assert.equal(again.code, 0, again.err);
    assert.equal(JSON.parse(again.out).resumedWith, 4000);
    // Another trusted root: the first answer is refused, by name.
    const wrong = bmt(["sync", "--from", src, "--db", file("dst2"), "--root", `0x${"11".repeat(32)}`]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /^bmt sync: response 1 \(start 0x0+\) refused: /);
  });

  it("import: sorted lines streamed by the bulk load, --expect-root refusing a mismatch with the database left empty, export round trip", async () => {
    const rng = new Rng(seed + 1);
    const entries = sortEntries(randomEntries(rng, 3000, false));
    const root = toHex(trieRootOf(entries));
    writeFileSync(file("sorted.txt"), entries.map((e) => `${toHex(e.key)} ${toHex(e.value)}`).join("\n") + "\n");
    const wrongRoot = `0x${"22".repeat(32)}`;
    const bad = bmt(["import", file("sorted.txt"), "--db", file("imp"), "--expect-root", wrongRoot]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /nothing was imported/);
    let db = open(file("imp"));
    assert.equal(toHex(db.root), toHex(new Uint8Array(32)));
    db.close();
    const ok = bmt(["import", file("sorted.txt"), "--db", file("imp"), "--expect-root", root, "--json"]);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(JSON.parse(ok.out), { root, entries: 3000, expected: root });
    db = open(file("imp"));
    assert.equal(toHex(db.root), root);
    db.close();
    const exp = bmt(["export", "--db", file("imp"), "--out", file("again.txt")]);
    assert.equal(exp.code, 0, exp.err);
    assert.equal(readFileSync(file("again.txt"), "utf8"), readFileSync(file("sorted.txt"), "utf8"));
  });

  it("a state file with no state_root: root prints its root (--check fails it), import takes it", () => {
    const rng = new Rng(seed + 2);
    const entries = randomEntries(rng, 50, false);
    const root = toHex(trieRootOf(sortEntries(entries)));
    const json = JSON.stringify({ state: { keyvals: entries.map((e) => ({ key: toHex(e.key), value: toHex(e.value) })) } });
    writeFileSync(file("noroot.json"), json);
    assert.deepEqual(bmt(["root", file("noroot.json")]), { code: 0, out: `${root}\n`, err: "" });
    const check = bmt(["root", "--check", file("noroot.json")]);
    assert.equal(check.code, 1);
    assert.match(check.out, /gives no state_root/);
    const imp = bmt(["import", file("noroot.json"), "--db", file("noroot-db"), "--json"]);
    assert.equal(imp.code, 0, imp.err);
    assert.deepEqual(JSON.parse(imp.out), { root, entries: 50, expected: null });
  });

  it("bad arguments are usage errors", () => {
    for (const args of [
      ["state-request", "--db", file("src"), ZERO, MAX],
      ["state-request", "--db", file("src"), MAX, ZERO, "10"],
      ["state-request", "--db", file("src"), ZERO, MAX, "-1"],
      ["sync", "--db", file("x")],
      ["sync", "--from", file("src"), "--db", file("x"), "--root", "0x12"],
    ]) {
      const r = bmt(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.equal(r.err.trimEnd().split("\n").length, 1);
    }
  });
});
