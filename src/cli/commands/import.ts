// `bmt import`: a state (JSON state file or entry lines) into a new or empty database, by the
// bulk load (one durable commit, nothing kept when anything is wrong).
import { DbError, type Entry, fromHex, type ImportItem, importEntries, toHex } from "../../index.ts";
import { compareKeys, sortByKey } from "../../trie/key.ts";
import { type Command, CommandFailure, flag, JSON_OPTION, PROGRESS_OPTIONS, positionals, printJson, str, UsageError } from "../command.ts";
import { readImportSource } from "../import-source.ts";
import { firstChar, streamEntryBatches } from "../import-stream.ts";
import { streamStateFile } from "../json-stream.ts";
import { readInput, reason } from "../input.ts";
import { type Progress, progress } from "../progress.ts";

/**
 * Sorted by key in place, a repeated key's last entry kept (lines: the last line wins; the
 * sort is stable). The list is the caller's to give up: sorting a copy held both at 1M entries.
 */
function sortedLastWins(entries: Entry[]): Entry[] {
  const sorted = sortByKey(entries, (e) => e.key);
  let n = 0;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    // compareKeys, not Buffer.compare: a native call per entry cost ~1.5 s at 1M entries.
    if (n > 0 && compareKeys(sorted[n - 1].key, e.key) === 0) sorted[n - 1] = e;
    else sorted[n++] = e;
  }
  sorted.length = n;
  return sorted;
}

const UNSORTED = /is not after the previous key/;

export const importCommand: Command = {
  name: "import",
  summary: "load a state (genesis, a block's post_state, or export lines) into a new database",
  usage: `usage: bmt import FILE --db PATH [--expect-root ROOT] [--json] [--quiet|--progress]

Loads a state into a new or empty database as one commit and prints its root. FILE (- for
standard input) is a JSON state file (genesis.json's state, or a trace block file's
post_state) or entry lines "0xKEY 0xVALUE" as bmt export writes them (blank lines and #
comments skipped; a repeated key: the last line wins). Files are read as a stream (JSON
tokenized in pieces, never one string), whatever their size; lines in key order (as bmt export
writes them) are loaded as they come, other entries are sorted in memory first.
  --expect-root ROOT  refuse unless the state's root is ROOT (default: the JSON file's
                state_root, when it has one); on a mismatch nothing is imported
  --json        {"root","entries","expected"} (expected: null when none)
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0 imported, 1 the root differs from the expected one (the database stays empty), the
database is not empty or is held by another process, or FILE cannot be read or parsed; 2 usage.`,
  options: { db: { type: "string" }, "expect-root": { type: "string" }, ...JSON_OPTION, ...PROGRESS_OPTIONS },
  async run(args, io) {
    const [file] = positionals(args, ["FILE"]);
    const db = str(args, "db");
    if (db === undefined || db === "") throw new UsageError("--db PATH is required");
    const expectText = str(args, "expect-root");
    let expectArg: Uint8Array | undefined;
    if (expectText !== undefined) {
      try {
        expectArg = fromHex(expectText, "--expect-root", 32);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const name = file === "-" ? "stdin" : file;
    let bar: Progress | null = null;
    const run = async (entries: Iterable<ImportItem> | AsyncIterable<ImportItem>, total: number | null, expected: Uint8Array | undefined) => {
      bar = progress(io, args, "bmt import", total);
      const b = bar;
      try {
        return await importEntries(db, entries, { expectRoot: expected, onProgress: (n) => b.update(n) });
      } finally {
        b.finish();
      }
    };
    let result: { root: Uint8Array; count: number } | undefined;
    let expected: Uint8Array | undefined = expectArg;
    try {
      let streamed = false;
      let first: string | undefined;
      if (file !== "-") {
        try {
          first = await firstChar(file);
        } catch (e) {
          throw new CommandFailure(`${name}: cannot read (${reason(e)})`);
        }
      }
      if (file !== "-" && first !== "{" && first !== "[") {
        // Entry lines from a file: streamed while they come in key order, a batch per read.
        try {
          result = await run(streamEntryBatches(file, name), null, expected);
          streamed = true;
        } catch (e) {
          if (!(e instanceof DbError && e.code === "BAD_ARGUMENT" && UNSORTED.test(e.message))) throw e;
          result = undefined;
        }
      }
      if (!streamed && file !== "-" && first === "{") {
        // A JSON state file, tokenized as a stream; its entries sorted here.
        const state = await streamStateFile(file, name);
        expected ??= state.expectedRoot ?? undefined;
        const entries = sortedLastWins(state.entries);
        result = await run(entries, entries.length, expected);
        streamed = true;
      }
      if (!streamed) {
        // Standard input, or lines out of order: read whole, sorted here.
        const source = readImportSource(name, Buffer.from(readInput(file, io)).toString("utf8"));
        expected ??= source.expectedRoot ?? undefined;
        const entries = sortedLastWins(source.entries);
        result = await run(entries, entries.length, expected);
      }
    } catch (e) {
      if (e instanceof DbError && e.code === "ROOT_MISMATCH") throw new CommandFailure(`${name}: ${e.message}`);
      if (e instanceof DbError && e.code === "NOT_EMPTY") throw new CommandFailure(`${db} is not empty; import needs a new or empty database (${e.message})`);
      throw e;
    }
    if (result === undefined) throw new CommandFailure(`${name}: nothing read`);
    const root = toHex(result.root);
    const exp = expected === undefined ? null : toHex(expected);
    if (flag(args, "json")) printJson(io, { root, entries: result.count, expected: exp });
    else io.out(root);
    return 0;
  },
};
