// The streaming JSON tokenizer: any cut of the bytes gives the tokens JSON.parse implies; the
// state reader over it equals the whole-file reader on the vectors; malformed JSON is refused.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { JsonTokenizer, type JsonSink, streamStateFile } from "../../src/cli/json-stream.ts";
import { readStateFile, StateFileError, statesOfText } from "../../src/cli/state-files.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { traceFiles } from "../support/vector-states.ts";

const seed = testSeed();

/** Rebuilds the document from the tokens. */
function rebuild(bytes: Uint8Array, cuts: number[], raw = false): unknown {
  const stack: { c: unknown[] | Record<string, unknown>; key: string | null }[] = [];
  let out: unknown;
  let key: string | null = null;
  const put = (v: unknown) => {
    const top = stack.at(-1);
    if (!top) out = v;
    else if (Array.isArray(top.c)) top.c.push(v);
    else top.c[key as string] = v;
  };
  const sink: JsonSink = {
    open(kind) {
      stack.push({ c: kind === "[" ? [] : {}, key });
    },
    close() {
      const f = stack.pop() as { c: unknown; key: string | null };
      key = f.key;
      put(f.c);
    },
    key(k) {
      key = k;
    },
    value(v) {
      put(v);
    },
  };
  // Unescaped string values as raw bytes, as the state reader takes them.
  if (raw) sink.rawString = (buf, start, end) => put(new TextDecoder().decode(buf.slice(start, end)));
  const t = new JsonTokenizer(sink);
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    t.feed(bytes.slice(at, c));
    at = c;
  }
  t.end();
  return out;
}

describe(`cli: streaming JSON (seed ${seed})`, () => {
  it("gives the document JSON.parse gives, however the bytes are cut", () => {
    const rng = new Rng(seed);
    const doc = { a: [1, -2.5e3, true, false, null, 'x"y\\u00e9\u00e8'], b: { c: [], d: {}, "k\\n": "0x00ff" }, e: 0 };
    const text = JSON.stringify(doc, null, rng.int(2) ? 2 : 0);
    const bytes = new TextEncoder().encode(text);
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: rng.int(8) }, () => rng.int(bytes.length)).sort((x, y) => x - y);
      assert.deepEqual(rebuild(bytes, cuts), JSON.parse(text), `cuts ${cuts}`);
      assert.deepEqual(rebuild(bytes, cuts, true), JSON.parse(text), `raw strings, cuts ${cuts}`);
    }
    for (const bad of ['{"a":1', '{"a" 1}x', "[1,]]", "{1:2}", "tru", '"open']) {
      assert.throws(() => rebuild(new TextEncoder().encode(bad), []), /not valid JSON/, bad);
    }
  });

  it("reads every trace file's state as the whole-file reader does", async () => {
    const files = traceFiles();
    for (const f of files.filter((_, i) => i % 10 === 0)) {
      const streamed = await streamStateFile(f, f);
      const whole = readStateFile(f).find((s) => s.label === streamed.label);
      assert.ok(whole, f);
      assert.equal(toHex(streamed.expectedRoot as Uint8Array), toHex(whole.expectedRoot));
      assert.deepEqual(
        streamed.entries.map((e) => toHex(e.key) + toHex(e.value)),
        whole.entries.map((e) => toHex(e.key) + toHex(e.value)),
      );
    }
  });

  it("refuses a bad keyval's hex naming it, in the whole-file reader's words", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bmt-json-stream-"));
    try {
      const key = `0x${"ab".repeat(31)}`;
      const cases = [
        ["key", `0x${"ab".repeat(30)}`],
        ["key", `0x${"ab".repeat(30)}zz`],
        ["key", `0x${"ab".repeat(29)}zz`],
        ["key", `0x${"ab".repeat(30)}a`],
        ["value", "0x0g"],
        ["value", "0x123"],
        ["value", "12"],
      ];
      for (const [field, bad] of cases) {
        const kv = field === "key" ? { key: bad, value: "0x01" } : { key, value: bad };
        const text = JSON.stringify({ state: { keyvals: [{ key, value: "0x" }, kv] } });
        const file = join(dir, "state.json");
        writeFileSync(file, text);
        let whole: string | null = null;
        try {
          const s = statesOfText(file, text).find((x) => x.label === "state");
          assert.ok(s);
        } catch (e) {
          whole = (e as Error).message;
        }
        const streamed = await streamStateFile(file, file).then(
          (s) => ({ ok: s.entries.map((e) => toHex(e.value)) }),
          (e: unknown) => ({ err: e }),
        );
        if (whole === null) {
          assert.ok("ok" in streamed, `${field} ${bad}: the whole-file reader takes it`);
          continue;
        }
        assert.ok("err" in streamed && streamed.err instanceof StateFileError, `${field} ${bad}`);
        assert.equal((streamed.err as Error).message, whole, `${field} ${bad}`);
        assert.match(whole, new RegExp(`state\\.keyvals\\[1\\]\\.${field}`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
