// bmt/verify in a real browser: src/verify.ts bundled by esbuild for the browser platform (which
// refuses any Node built-in), inlined into a page with proofs made here, and run in headless
// Chromium. The page writes its verdicts into the DOM; --dump-dom hands the DOM back.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "esbuild";
import {
  buildWitness,
  compareKeys,
  decodeProof,
  encodeKeyProof,
  encodeMultiProof,
  encodeRangeProof,
  encodeWitness,
  entriesNodeSource,
  fromHex,
  isValidWitness,
  keyProofToJson,
  proveKey,
  proveMany,
  proveRange,
  sortEntries,
  toHex,
  trieRoot,
  verifyKeyProof,
  verifyMultiProof,
  verifyRangeProof,
  witnessToJson,
} from "../../src/trie/index.ts";
import { randomEntries, randomValue } from "../support/keysets.ts";
import { Rng, testSeed } from "../support/random.ts";
import { projectRoot } from "../support/vectors.ts";

const seed = testSeed();

/** The Chromium binary: $CHROMIUM_BIN, else the first of the usual names on PATH; null when none runs. */
function findChromium(): string | null {
  const candidates = process.env.CHROMIUM_BIN ? [process.env.CHROMIUM_BIN] : ["chromium", "chromium-browser", "google-chrome"];
  for (const c of candidates) {
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  return null;
}

const MISSING_CHROMIUM =
  "Chromium is not installed, so bmt/verify was not tested in a browser. Install it with " +
  "`apt-get install -y chromium` (Debian/Ubuntu, as root; .ci/run does this) or set CHROMIUM_BIN to a Chromium binary.";

/** CI sets BMT_REQUIRE_BROWSER=1: there a missing Chromium fails the test instead of skipping it. */
const requireBrowser = process.env.BMT_REQUIRE_BROWSER === "1";

interface Case {
  name: string;
  kind: "bin" | "json" | "witness-json";
  data: string;
  valid: boolean;
  /** For witnesses: the new root the session led to; a witness is valid only if it leads there. */
  root?: string;
}

/** What the page decides, decided here in Node: the browser must agree. */
function nodeVerdict(bytes: Uint8Array, root: Uint8Array, postRoot?: string): boolean {
  try {
    const d = decodeProof(bytes);
    if (d.type === "key") return verifyKeyProof(d.proof, root);
    if (d.type === "multi") return verifyMultiProof(d.proof, root);
    if (d.type === "range") return verifyRangeProof(d.proof, root);
    return toHex(d.witness.prevRoot) === toHex(root) && isValidWitness(d.witness, fromHex(postRoot));
  } catch {
    return false;
  }
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const b = bytes.slice();
  b[at] ^= 0x01;
  return b;
}

function makeCases(): { root: string; cases: Case[] } {
  const rng = new Rng(seed);
  const entries = sortEntries(randomEntries(rng, 300, true));
  const source = entriesNodeSource(entries);
  const root = trieRoot(entries);
  const present = entries[17].key;
  const absent = rng.bytes(31);
  const cases: Case[] = [];
  const add = (name: string, bytes: Uint8Array, extra: Partial<Case> = {}) => {
    assert.ok(nodeVerdict(bytes, root, extra.root), name);
    cases.push({ name, kind: "bin", data: toHex(bytes), valid: true, ...extra });
    // A byte from the middle on changed, the first change Node refuses (a change to an absent
    // key's free bits, say, proves another true fact and is not what this case is about).
    let at = 40 + ((bytes.length - 40) >> 1);
    while (nodeVerdict(flipped(bytes, at), root, extra.root)) at++;
    cases.push({ name: `${name} (tampered)`, kind: "bin", data: toHex(flipped(bytes, at)), valid: false, root: extra.root });
  };
  add("single, present", encodeKeyProof(proveKey(source, present)));
  add("single, absent", encodeKeyProof(proveKey(source, absent)));
  add("multi", encodeMultiProof(proveMany(source, [present, absent, entries[200].key, entries[201].key])));
  add("range", encodeRangeProof(proveRange(source, entries[50].key, entries[90].key, 25)));
  const writes = [
    [entries[3].key, null],
    [entries[4].key, randomValue(rng)],
    [rng.bytes(31), new Uint8Array(100)],
  ] as const;
  const witness = buildWitness(source, [present, absent], writes);
  const post = new Map(entries.map((e) => [toHex(e.key), e]));
  for (const [k, v] of writes) v === null ? post.delete(toHex(k)) : post.set(toHex(k), { key: k, value: v });
  const postRoot = toHex(trieRoot([...post.values()].sort((a, b) => compareKeys(a.key, b.key))));
  add("witness", encodeWitness(witness), { root: postRoot });
  const witnessJson = JSON.stringify(witnessToJson(witness));
  cases.push({ name: "witness, JSON", kind: "witness-json", data: witnessJson, valid: true, root: postRoot });
  const otherRoot = `0x${"00".repeat(31)}01`;
  cases.push({ name: "witness, JSON (another new root)", kind: "witness-json", data: witnessJson, valid: false, root: otherRoot });
  const json = keyProofToJson(proveKey(source, present)) as { value: string };
  cases.push({ name: "single, JSON", kind: "json", data: JSON.stringify(json), valid: true });
  cases.push({ name: "single, JSON (other value)", kind: "json", data: JSON.stringify({ ...json, value: "0x00" }), valid: false });
  return { root: toHex(root), cases };
}

/** The page: awaits ready(), checks every case with bmt/verify, writes the verdicts as JSON. */
function page(bundle: string, root: string, cases: Case[]): string {
  const script = `
(async () => {
  const out = document.getElementById("result");
  try {
    const v = bmtVerify;
    await v.ready();
    const root = v.fromHex(${JSON.stringify(root)});
    const cases = ${JSON.stringify(cases)};
    const results = cases.map((c) => {
      try {
        if (c.kind === "json") return { name: c.name, valid: v.verifyKeyProof(v.keyProofFromJson(c.data), root) };
        if (c.kind === "witness-json") {
          const w = v.witnessFromJson(c.data);
          const ok = v.isValidWitness(w, v.fromHex(c.root));
          return { name: c.name, valid: ok, root: ok ? v.toHex(v.verifyWitness(w).root) : undefined };
        }
        const d = v.decodeProof(v.fromHex(c.data));
        if (d.type === "key") return { name: c.name, valid: v.verifyKeyProof(d.proof, root) };
        if (d.type === "multi") return { name: c.name, valid: v.verifyMultiProof(d.proof, root) };
        if (d.type === "range") return { name: c.name, valid: v.verifyRangeProof(d.proof, root) };
        const ok = v.toHex(d.witness.prevRoot) === v.toHex(root) && v.isValidWitness(d.witness, v.fromHex(c.root));
        return { name: c.name, valid: ok, root: ok ? v.toHex(v.verifyWitness(d.witness).root) : undefined };
      } catch (e) {
        return { name: c.name, valid: false, error: e instanceof v.TrieError ? e.code : "untyped: " + e };
      }
    });
    out.textContent = JSON.stringify({ userAgent: navigator.userAgent, results });
  } catch (e) {
    out.textContent = JSON.stringify({ failed: String(e && e.stack || e) });
  }
})();`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>bmt/verify</title></head><body><pre id="result">pending</pre>
<script>${bundle.replace(/<\/script/gi, "<\\/script")}</script><script>${script}</script></body></html>`;
}

describe(`bmt/verify in headless Chromium (seed ${seed})`, () => {
  it("verifies valid proofs and a witness, and refuses tampered ones, as Node does", async (t) => {
    const chromium = findChromium();
    if (chromium === null) {
      if (requireBrowser) throw new Error(`${MISSING_CHROMIUM} (BMT_REQUIRE_BROWSER=1 makes this a failure)`);
      process.stderr.write(`SKIPPED: ${MISSING_CHROMIUM}\n`);
      t.skip(MISSING_CHROMIUM);
      return;
    }
    const bundled = await build({
      entryPoints: [join(projectRoot, "src", "verify.ts")],
      bundle: true,
      format: "iife",
      globalName: "bmtVerify",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const bundle = bundled.outputFiles[0].text;
    const { root, cases } = makeCases();
    const dir = mkdtempSync(join(tmpdir(), "bmt-browser-"));
    try {
      const file = join(dir, "index.html");
      writeFileSync(file, page(bundle, root, cases));
      const run = spawnSync(
        chromium,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-default-apps",
          "--disable-extensions",
          "--no-first-run",
          "--no-default-browser-check",
          `--user-data-dir=${join(dir, "profile")}`,
          "--virtual-time-budget=30000",
          "--dump-dom",
          `file://${file}`,
        ],
        { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 },
      );
      assert.equal(run.error, undefined, `Chromium did not run: ${run.error}`);
      const match = /<pre id="result">([\s\S]*?)<\/pre>/.exec(run.stdout);
      assert.ok(match, `no result in the page (exit ${run.status}): ${run.stderr.slice(-2000)}`);
      const text = match[1]
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&");
      assert.notEqual(text, "pending", "the page did not finish within the virtual time budget");
      const report = JSON.parse(text) as { failed?: string; userAgent: string; results: { name: string; valid: boolean; root?: string; error?: string }[] };
      assert.equal(report.failed, undefined, report.failed);
      assert.match(report.userAgent, /Chrome/);
      assert.equal(report.results.length, cases.length);
      report.results.forEach((r, i) => {
        assert.equal(r.name, cases[i].name);
        assert.ok(!r.error?.startsWith("untyped"), `${r.name}: ${r.error}`);
        assert.equal(r.valid, cases[i].valid, `${r.name} in the browser`);
        if (cases[i].root !== undefined && cases[i].valid) assert.equal(r.root, cases[i].root, `${r.name}: new root`);
      });
      console.log(`# ${cases.length} cases checked in ${report.userAgent.match(/Chrome\/[\d.]+/)?.[0]} (bundle ${bundle.length} bytes)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
