// `bmt prove`: proofs of a database's keys (single, multi) or of a key range.
//
// prove opens the database read-only (no lock; it works while a writer process holds it).
import { encodeKeyProof, encodeMultiProof, encodeRangeProof, keyProofToJson, multiProofToJson, rangeProofToJson, toHex } from "../../index.ts";
import { type Command, dbPath, flag, positiveInt, str, UsageError } from "../command.ts";
import { readOnly } from "../db-access.ts";
import { writeOutput } from "../input.ts";
import { keyArg } from "./get.ts";

/** Default `--limit` of `prove --range`. */
export const DEFAULT_RANGE_LIMIT = 1000;

/** A proof `prove` made, in its JSON and binary forms. */
interface Made {
  readonly json: unknown;
  readonly bytes: Uint8Array;
}

export const proveCommand: Command = {
  name: "prove",
  summary: "proofs of keys (present or absent), a multiproof, or a range proof",
  usage: `usage: bmt prove --db PATH [--json|--bin] [--out FILE] KEY...
       bmt prove --db PATH --multi [--json|--bin] [--out FILE] KEY...
       bmt prove --db PATH --range [--limit N] [--json|--bin] [--out FILE] START END

Proves each 31-byte hex KEY present (with its value) or absent against the database's root
(read-only: no lock).
  --json        (default) a JSON array of single proofs, one per line; a multi or range proof
                as one JSON object
  --bin         each proof's binary encoding as one 0x hex line
  --multi       one multiproof of all KEYs
  --range       the entries with START <= key <= END, at most N (--limit, default 1000), and the
                proof that none is left out
  --out FILE    write the JSON text, or with --bin the raw bytes of one proof (one KEY, --multi
                or --range), to FILE instead of stdout
Exit: 0 proofs written, 1 no database or FILE cannot be written, 2 usage.`,
  options: {
    db: { type: "string" },
    json: { type: "boolean", default: false },
    bin: { type: "boolean", default: false },
    out: { type: "string" },
    multi: { type: "boolean", default: false },
    range: { type: "boolean", default: false },
    limit: { type: "string" },
  },
  run(args, io) {
    const db = dbPath(args);
    const positionals = args.positionals;
    const out = str(args, "out");
    const [bin, multi, range] = [flag(args, "bin"), flag(args, "multi"), flag(args, "range")];
    if (flag(args, "json") && bin) throw new UsageError("give --json or --bin, not both");
    if (multi && range) throw new UsageError("give --multi or --range, not both");
    if (str(args, "limit") !== undefined && !range) throw new UsageError("--limit goes with --range");
    if (range && positionals.length !== 2) throw new UsageError("--range takes START and END (two 31-byte hex keys)");
    if (!range && positionals.length === 0) throw new UsageError("give at least one KEY (31-byte hex)");
    if (out !== undefined && bin && !range && !multi && positionals.length !== 1) {
      throw new UsageError("--bin --out FILE writes one proof: give one KEY, or --multi");
    }
    let made: Made | Made[];
    if (range) {
      const start = keyArg(positionals[0], "START");
      const end = keyArg(positionals[1], "END");
      if (Buffer.compare(start, end) > 0) throw new UsageError("START must not be after END");
      const limitText = str(args, "limit");
      const limit = limitText === undefined ? DEFAULT_RANGE_LIMIT : positiveInt(limitText, "--limit");
      const proof = readOnly(db, (d) => {
        using snapshot = d.beginRead();
        return snapshot.proveRange(start, end, limit);
      });
      made = { json: rangeProofToJson(proof), bytes: encodeRangeProof(proof) };
    } else {
      const keys = positionals.map((k, i) => keyArg(k, `KEY ${i + 1}`));
      if (multi) {
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
    const list = Array.isArray(made) ? made : [made];
    if (bin) {
      if (out !== undefined) writeOutput(out, list[0].bytes);
      else for (const m of list) io.out(toHex(m.bytes));
      return 0;
    }
    // JSON: single proofs as an array, one proof per line; a multi or range proof as one object.
    const text = Array.isArray(made) ? `[\n${made.map((m) => JSON.stringify(m.json)).join(",\n")}\n]` : JSON.stringify(made.json);
    if (out !== undefined) writeOutput(out, `${text}\n`);
    else io.out(text);
    return 0;
  },
};
