// `bmt prove` and `bmt verify`: proofs of a database's keys, and checking any proof or witness.
//
// prove opens the database read-only (no lock; it works while a writer process holds the
// database). A read-only handle does not read merkle pages, so its proofs are built from the
// whole state's entries, read and hashed once per run: time and memory grow with the state.
//
// File formats `bmt verify` reads (told apart by their first bytes):
//   binary  one proof or witness in the binary encoding (starts with the magic "bm");
//   JSON    one proof or witness object, or an array of them (`bmt prove --json`);
//   hex     one 0x-hex binary encoding per line (`bmt prove --bin` on stdout).
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type DecodedProof,
  decodeProof,
  encodeKeyProof,
  encodeMultiProof,
  encodeRangeProof,
  fromHex,
  KEY_BYTES,
  type KeyProof,
  keyProofToJson,
  type MultiProof,
  multiProofToJson,
  multiProofValues,
  proofFromJson,
  type RangeProof,
  rangeProofToJson,
  toHex,
  TrieError,
  verifyKeyProof,
  verifyRangeProof,
  verifyWitness,
  type Witness,
} from "../index.ts";
import { readOnly } from "./db-commands.ts";
import type { Io } from "./root-command.ts";

/** Usage lines of the two commands, for `bmt --help`. */
export const PROOF_USAGE = `  prove --db PATH [--json|--bin] [--out FILE] KEY...
                                one proof per KEY (present or absent): --json (default) a JSON
                                array of single proofs, --bin one 0x-hex binary proof per line
                                (--out FILE: the raw bytes of one proof, or the JSON text)
  prove --db PATH --multi [--json|--bin] [--out FILE] KEY...
                                one multiproof of all KEYs
  prove --db PATH --range [--limit N] [--json|--bin] [--out FILE] START END
                                the entries with START <= key <= END (at most N, default 1000)
                                and the proof that none is left out
  verify [--root ROOT] FILE     check a proof or witness file (binary, JSON or hex lines; - for
                                stdin): print what it proves; exit 0 valid, 1 invalid`;

/** Default `--limit` of `prove --range`. */
export const DEFAULT_RANGE_LIMIT = 1000;

/** A command-line mistake: exit 2 with this message. */
class UsageError extends Error {}

const PROVE_OPTIONS = {
  db: { type: "string" },
  json: { type: "boolean", default: false },
  bin: { type: "boolean", default: false },
  out: { type: "string" },
  multi: { type: "boolean", default: false },
  range: { type: "boolean", default: false },
  limit: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A proof `prove` made, in its JSON and binary forms. */
interface Made {
  readonly json: unknown;
  readonly bytes: Uint8Array;
}

function parseKey(text: string, name: string): Uint8Array {
  try {
    return fromHex(text, name, KEY_BYTES);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RANGE_LIMIT;
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) throw new UsageError(`--limit must be an integer >= 1, got '${text}'`);
  return Number(text);
}

/**
 * `bmt prove`: proofs of keys (single, `--multi`) or of a key range (`--range`) of the database
 * at `--db`, printed as JSON or binary (see `PROOF_USAGE`). Returns the exit code.
 */
export function proveCommand(args: string[], io: Io): number {
  let parsed;
  try {
    parsed = parseArgs({ args, options: PROVE_OPTIONS, allowPositionals: true });
  } catch (e) {
    return usage(io, "prove", e);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`usage: bmt\n${PROOF_USAGE}`);
    return 0;
  }
  try {
    if (values.db === undefined) throw new UsageError("--db PATH is required");
    if (values.json && values.bin) throw new UsageError("give --json or --bin, not both");
    if (values.multi && values.range) throw new UsageError("give --multi or --range, not both");
    if (values.limit !== undefined && !values.range) throw new UsageError("--limit goes with --range");
    if (values.range && positionals.length !== 2) throw new UsageError("--range takes START and END (two 31-byte hex keys)");
    if (!values.range && positionals.length === 0) throw new UsageError("give at least one KEY (31-byte hex)");
    if (values.out !== undefined && values.bin && !values.range && !values.multi && positionals.length !== 1) {
      throw new UsageError("--bin --out FILE writes one proof: give one KEY, or --multi");
    }
  } catch (e) {
    return usage(io, "prove", e);
  }
  const db = values.db;
  let made: Made | Made[];
  try {
    if (values.range) {
      const start = parseKey(positionals[0], "START");
      const end = parseKey(positionals[1], "END");
      if (Buffer.compare(start, end) > 0) throw new UsageError("START must not be after END");
      const limit = parseLimit(values.limit);
      const proof = readOnly(db, (d) => {
        using snapshot = d.beginRead();
        return snapshot.proveRange(start, end, limit);
      });
      made = { json: rangeProofToJson(proof), bytes: encodeRangeProof(proof) };
    } else {
      const keys = positionals.map((k, i) => parseKey(k, `KEY ${i + 1}`));
      if (values.multi) {
        const proof = readOnly(db, (d) => {
          using snapshot = d.beginRead();
          return snapshot.proveMany(keys);
        });
        made = { json: multiProofToJson(proof), bytes: encodeMultiProof(proof) };
      } else {
        const proofs = readOnly(db, (d) => {
          using snapshot = d.beginRead();
          return keys.map((k) => snapshot.prove(k));
        });
        made = proofs.map((p) => ({ json: keyProofToJson(p), bytes: encodeKeyProof(p) }));
      }
    }
  } catch (e) {
    if (e instanceof UsageError) return usage(io, "prove", e);
    throw e;
  }
  const list = Array.isArray(made) ? made : [made];
  if (values.bin) {
    if (values.out !== undefined) writeFileSync(values.out, list[0].bytes);
    else for (const m of list) io.out(toHex(m.bytes));
    return 0;
  }
  // JSON: single proofs as an array, one proof per line; a multi or range proof as one object.
  const text = Array.isArray(made) ? `[\n${made.map((m) => JSON.stringify(m.json)).join(",\n")}\n]` : JSON.stringify(made.json);
  if (values.out !== undefined) writeFileSync(values.out, `${text}\n`);
  else io.out(text);
  return 0;
}

function usage(io: Io, command: string, e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
    io.err(`bmt ${command}: ${(e as Error).message}`);
    return 2;
  }
  throw e;
}

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

/** Checks one item against `trusted` (if given); returns its lines and whether it is valid. */
function checkItem(item: Item, trusted: Uint8Array | undefined): { ok: boolean; lines: string[] } {
  if (item.type === "unreadable") return { ok: false, lines: [`unreadable: INVALID (${item.reason})`] };
  const rootOf = (r: Uint8Array) => (trusted !== undefined && Buffer.compare(r, trusted) !== 0 ? `is against ${toHex(r)}, not the given root` : null);
  const invalid = (head: string, why: string) => ({ ok: false, lines: [`${head}: INVALID (${why})`] });
  switch (item.type) {
    case "key": {
      const p: KeyProof = item.proof;
      const head = `key proof, root ${toHex(p.root)}`;
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot);
      if (!verifyKeyProof(p, p.root)) return invalid(head, "the siblings and terminal do not give the root");
      return { ok: true, lines: [`${head}: valid`, `  ${toHex(p.key)} ${valueText(p.value)}`] };
    }
    case "multi": {
      const p: MultiProof = item.proof;
      const head = `multiproof, root ${toHex(p.root)}`;
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot);
      try {
        const values = multiProofValues(p, p.root);
        const lines = [`${head}, ${values.size} keys: valid`];
        for (const [k, v] of values.entries()) lines.push(`  ${toHex(k)} ${valueText(v)}`);
        return { ok: true, lines };
      } catch (e) {
        if (!(e instanceof TrieError)) throw e;
        return invalid(head, e.message);
      }
    }
    case "range": {
      const p: RangeProof = item.proof;
      const head = `range proof, root ${toHex(p.root)}, ${toHex(p.start)} .. ${toHex(p.end)}`;
      const wrongRoot = rootOf(p.root);
      if (wrongRoot) return invalid(head, wrongRoot);
      if (!verifyRangeProof(p, p.root)) return invalid(head, "the entries and boundary do not give the root, or an entry is out of the range");
      const lines = [`${head}, ${p.entries.length} entries (complete): valid`];
      for (const e of p.entries) lines.push(`  ${toHex(e.key)} ${toHex(e.value)}`);
      return { ok: true, lines };
    }
    case "witness": {
      const w: Witness = item.witness;
      const head = `witness, prevRoot ${toHex(w.prevRoot)}`;
      const wrongRoot = rootOf(w.prevRoot);
      if (wrongRoot) return invalid(head, wrongRoot);
      try {
        const verified = verifyWitness(w);
        const lines = [`${head}, new root ${toHex(verified.root)}, ${w.reads.length} reads, ${w.writes.length} writes: valid`];
        for (const [k, v] of verified.reads.entries()) lines.push(`  read ${toHex(k)} ${valueText(v)}`);
        for (const [k, v] of w.writes) lines.push(v === null ? `  delete ${toHex(k)}` : `  set ${toHex(k)} ${toHex(v)}`);
        return { ok: true, lines };
      } catch (e) {
        if (!(e instanceof TrieError)) throw e;
        return invalid(head, e.message);
      }
    }
  }
}

/**
 * `bmt verify [--root ROOT] FILE`: checks every proof or witness in FILE ("-": stdin) and prints
 * what each proves; with `--root`, each must be against ROOT (a witness: its prevRoot). Exit 0
 * when all are valid, 1 when any is not (or cannot be read), 2 on usage errors.
 */
export function verifyCommand(args: string[], io: Io): number {
  let file: string;
  let trusted: Uint8Array | undefined;
  try {
    const { values, positionals } = parseArgs({ args, options: { root: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true });
    if (values.help) {
      io.out(`usage: bmt\n${PROOF_USAGE}`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError("give one FILE (- for stdin)");
    file = positionals[0];
    if (values.root !== undefined) {
      try {
        trusted = fromHex(values.root, "--root", 32);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
  } catch (e) {
    return usage(io, "verify", e);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file === "-" ? 0 : file);
  } catch (e) {
    io.err(`bmt verify: ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 2;
  }
  const items = readProofFile(bytes);
  let valid = 0;
  for (const item of items) {
    const { ok, lines } = checkItem(item, trusted);
    for (const line of lines) io.out(line);
    if (ok) valid++;
  }
  if (items.length > 1) io.out(`${valid} valid, ${items.length - valid} invalid`);
  return valid === items.length ? 0 : 1;
}
