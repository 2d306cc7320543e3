// `bmt verify`: checks any proof or witness file.
//
// File formats (told apart by their first bytes):
//   binary  one proof or witness in the binary encoding (starts with the magic "bm");
//   JSON    one proof or witness object, or an array of them (`bmt prove --json`);
//   hex     one 0x-hex binary encoding per line (`bmt prove --bin` on stdout).
import {
  type DecodedProof,
  decodeProof,
  fromHex,
  type KeyProof,
  type MultiProof,
  multiProofValues,
  proofFromJson,
  type RangeProof,
  toHex,
  TrieError,
  verifyKeyProof,
  verifyRangeProof,
  verifyWitness,
  type Witness,
} from "../../index.ts";
import { type Command, flag, JSON_OPTION, positionals, printJson, str, UsageError } from "../command.ts";
import { readInput } from "../input.ts";

/** One item of a proof file: a decoded proof, or why it could not be read. */
type Item = DecodedProof | { readonly type: "unreadable"; readonly reason: string };

const MAGIC_0 = 0x62;
const MAGIC_1 = 0x6d;

/** The proofs in a file's bytes (see the module comment for the formats). */
export function readProofFile(bytes: Uint8Array): Item[] {
  const unreadable = (e: unknown): Item => ({ type: "unreadable", reason: e instanceof Error ? e.message : String(e) });
  const one = (read: () => DecodedProof): Item => {
    try {
      return read();
    } catch (e) {
      return unreadable(e);
    }
  };
  if (bytes.length >= 2 && bytes[0] === MAGIC_0 && bytes[1] === MAGIC_1) return [one(() => decodeProof(bytes))];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8").trim();
  if (text.startsWith("{") || text.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return [unreadable(new Error(`not JSON (${(e as Error).message})`))];
    }
    const list = Array.isArray(json) ? json : [json];
    if (list.length === 0) return [unreadable(new Error("an empty JSON array holds no proof"))];
    return list.map((x) => one(() => proofFromJson(x)));
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return [unreadable(new Error("the file is empty"))];
  return lines.map((line, i) => one(() => decodeProof(fromHex(line.trim(), `line ${i + 1}`))));
}

const valueText = (v: Uint8Array | null | undefined): string => (v === null || v === undefined ? "absent" : toHex(v));
const valueJson = (v: Uint8Array | null | undefined): string | null => (v === null || v === undefined ? null : toHex(v));

/** What checking one item found: its lines, and the same as JSON. */
interface Verdict {
  ok: boolean;
  lines: string[];
  json: Record<string, unknown>;
}

/** Checks one item against `trusted` (if given). */
function checkItem(item: Item, trusted: Uint8Array | undefined): Verdict {
  if (item.type === "unreadable")
    return { ok: false, lines: [`unreadable: INVALID (${item.reason})`], json: { type: "unreadable", valid: false, reason: item.reason } };
  const rootOf = (r: Uint8Array) => (trusted !== undefined && Buffer.compare(r, trusted) !== 0 ? `is against ${toHex(r)}, not the given root` : null);
  const invalid = (head: string, why: string, json: Record<string, unknown>): Verdict => ({
    ok: false,
    lines: [`${head}: INVALID (${why})`],
    json: { ...json, valid: false, reason: why },
  });
  switch (item.type) {
    case "key": {
      const p: KeyProof = item.proof;
      const head = `key proof, root ${toHex(p.root)}`;
      const base = { type: "key", root: toHex(p.root) };
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot, base);
      if (!verifyKeyProof(p, p.root)) return invalid(head, "the siblings and terminal do not give the root", base);
      return {
        ok: true,
        lines: [`${head}: valid`, `  ${toHex(p.key)} ${valueText(p.value)}`],
        json: { ...base, valid: true, entries: [{ key: toHex(p.key), value: valueJson(p.value) }] },
      };
    }
    case "multi": {
      const p: MultiProof = item.proof;
      const head = `multiproof, root ${toHex(p.root)}`;
      const base = { type: "multi", root: toHex(p.root) };
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot, base);
      try {
        const values = multiProofValues(p, p.root);
        const lines = [`${head}, ${values.size} keys: valid`];
        const entries: { key: string; value: string | null }[] = [];
        for (const [k, v] of values.entries()) {
          lines.push(`  ${toHex(k)} ${valueText(v)}`);
          entries.push({ key: toHex(k), value: valueJson(v) });
        }
        return { ok: true, lines, json: { ...base, valid: true, entries } };
      } catch (e) {
        if (!(e instanceof TrieError)) throw e;
        return invalid(head, e.message, base);
      }
    }
    case "range": {
      const p: RangeProof = item.proof;
      const head = `range proof, root ${toHex(p.root)}, ${toHex(p.start)} .. ${toHex(p.end)}`;
      const base = { type: "range", root: toHex(p.root), start: toHex(p.start), end: toHex(p.end) };
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot, base);
      if (!verifyRangeProof(p, p.root)) return invalid(head, "the entries and boundary do not give the root, or an entry is out of the range", base);
      const lines = [`${head}, ${p.entries.length} entries (complete): valid`];
      for (const e of p.entries) lines.push(`  ${toHex(e.key)} ${toHex(e.value)}`);
      return { ok: true, lines, json: { ...base, valid: true, entries: p.entries.map((e) => ({ key: toHex(e.key), value: toHex(e.value) })) } };
    }
    case "witness": {
      const w: Witness = item.witness;
      const head = `witness, prevRoot ${toHex(w.prevRoot)}`;
      const base = { type: "witness", root: toHex(w.prevRoot) };
      const wrongRoot = rootOf(w.prevRoot);
      if (wrongRoot) return invalid(head, wrongRoot, base);
      try {
        const verified = verifyWitness(w);
        const lines = [`${head}, new root ${toHex(verified.root)}, ${w.reads.length} reads, ${w.writes.length} writes: valid`];
        const reads: { key: string; value: string | null }[] = [];
        for (const [k, v] of verified.reads.entries()) {
          lines.push(`  read ${toHex(k)} ${valueText(v)}`);
          reads.push({ key: toHex(k), value: valueJson(v) });
        }
        for (const [k, v] of w.writes) lines.push(v === null ? `  delete ${toHex(k)}` : `  set ${toHex(k)} ${toHex(v)}`);
        const writes = w.writes.map(([k, v]) => ({ key: toHex(k), value: valueJson(v) }));
        return { ok: true, lines, json: { ...base, valid: true, newRoot: toHex(verified.root), reads, writes } };
      } catch (e) {
        if (!(e instanceof TrieError)) throw e;
        return invalid(head, e.message, base);
      }
    }
  }
}

export const verifyCommand: Command = {
  name: "verify",
  summary: "check a proof or witness file",
  usage: `usage: bmt verify [--root ROOT] [--json] FILE

Checks every proof or witness in FILE (- for standard input): a binary encoding (starts with
"bm"), JSON (one object or an array, as prove --json writes) or 0x hex lines (as prove --bin
prints). Prints one line per item, "what, root ROOT: valid" or ": INVALID (why)", then what it
proves ("KEY VALUE" or "KEY absent"; a range: its entries; a witness: new root, reads, writes);
with several items, a last line "N valid, N invalid".
  --root ROOT   each proof must be against ROOT (a witness: its prevRoot)
  --json        {"items":[{"type","root","valid",("reason"|"entries"|"newRoot","reads","writes")}],
                "valid","invalid"}
Exit: 0 all valid, 1 any invalid or unreadable, or FILE cannot be read; 2 usage.`,
  options: { root: { type: "string" }, ...JSON_OPTION },
  run(args, io) {
    const [file] = positionals(args, ["FILE"]);
    const rootText = str(args, "root");
    let trusted: Uint8Array | undefined;
    if (rootText !== undefined) {
      try {
        trusted = fromHex(rootText, "--root", 32);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const items = readProofFile(readInput(file, io));
    const json = flag(args, "json");
    let valid = 0;
    const verdicts: Record<string, unknown>[] = [];
    for (const item of items) {
      const v = checkItem(item, trusted);
      if (json) verdicts.push(v.json);
      else for (const line of v.lines) io.out(line);
      if (v.ok) valid++;
    }
    if (json) printJson(io, { items: verdicts, valid, invalid: items.length - valid });
    else if (items.length > 1) io.out(`${valid} valid, ${items.length - valid} invalid`);
    return valid === items.length ? 0 : 1;
  },
};
