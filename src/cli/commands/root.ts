// `bmt root`: the state root of every state in JAM vector files, or of a database.
import { toHex, trieRootUnsorted } from "../../index.ts";
import { type Command, CommandFailure, flag, type Io, JSON_OPTION, printJson, str, UsageError } from "../command.ts";
import { readOnly } from "../db-access.ts";
import { firstChar, streamEntryLines } from "../import-stream.ts";
import { readInput, reason } from "../input.ts";
import { type NamedState, StateFileError, statesOfText } from "../state-files.ts";

interface StateRow {
  file: string;
  label?: string;
  root?: string;
  expected?: string;
  ok?: boolean;
  error?: string;
}

/** The state of an entry-line file, read as a stream (a file past 512 MiB is no one string); null for JSON. */
async function lineState(file: string): Promise<NamedState | null> {
  let first: string | undefined;
  try {
    first = await firstChar(file);
  } catch (e) {
    throw new CommandFailure(`${file}: cannot read (${reason(e)})`);
  }
  if (first === "{" || first === "[") return null;
  const entries = [];
  for await (const e of streamEntryLines(file, file)) entries.push(e);
  return { label: "lines", entries, expectedRoot: new Uint8Array(32), givesRoot: false };
}

async function filesRoot(files: string[], check: boolean, json: boolean, io: Io): Promise<number> {
  const rows: StateRow[] = [];
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    let states: NamedState[];
    try {
      const lines = file === "-" ? null : await lineState(file);
      if (lines !== null) states = [lines];
      else {
        const text = Buffer.from(readInput(file, io)).toString("utf8");
        states = statesOfText(file === "-" ? "stdin" : file, text);
      }
    } catch (e) {
      if (!(e instanceof StateFileError || e instanceof CommandFailure)) throw e;
      io.err(`bmt root: ${(e as Error).message}`);
      rows.push({ file, error: (e as Error).message });
      failed++;
      continue;
    }
    for (const state of states) {
      let root: string;
      try {
        root = toHex(trieRootUnsorted(state.entries));
      } catch (e) {
        io.err(`bmt root: ${file}: ${state.label}: ${(e as Error).message}`);
        rows.push({ file, label: state.label, error: (e as Error).message });
        failed++;
        continue;
      }
      if (state.givesRoot === false) {
        // Nothing to compare with: the root is printed; --check counts it as failed.
        if (check) failed++;
        rows.push(check ? { file, label: state.label, root, ok: false, error: "gives no state_root" } : { file, label: state.label, root });
        if (json) continue;
        if (!check) io.out(root);
        else io.out(`${root} FAIL ${file} ${state.label} (gives no state_root)`);
        continue;
      }
      const expected = toHex(state.expectedRoot);
      const ok = root === expected;
      if (check) {
        if (ok) passed++;
        else failed++;
      }
      rows.push(check ? { file, label: state.label, root, expected, ok } : { file, label: state.label, root });
      if (json) continue;
      if (!check) io.out(root);
      else if (ok) io.out(`${root} ok ${file} ${state.label}`);
      else io.out(`${root} FAIL ${file} ${state.label} (expected ${expected})`);
    }
  }
  if (json) printJson(io, check ? { states: rows, passed, failed } : { states: rows, failed });
  else if (check) io.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

export const rootCommand: Command = {
  name: "root",
  summary: "the state root of each state in JAM vector files, or of a database",
  usage: `usage: bmt root [--check] [--json] FILE...
       bmt root --db PATH [--json]

Prints the state root (0x hex) of each state in FILE (trace block files: pre_state and
post_state; genesis.json: state; trie.json: each case; entry lines "0xKEY 0xVALUE" as bmt
export writes them, read as a stream, in any order).
- reads standard input.
  --check       compare each root with the one the file gives: "ROOT ok FILE LABEL" or
                "ROOT FAIL FILE LABEL (expected ROOT)", then "N passed, N failed"
  --db PATH     print the database's root instead (read-only: no lock)
  --json        one JSON object: {"states":[{"file","label","root"[,"expected","ok"]}],
                ["passed",]"failed"}; with --db: {"root","seq"}
A file that cannot be read or parsed is reported on stderr and counts as failed.
Exit: 0 all ok, 1 a root differs or a file failed, 2 usage.`,
  options: { check: { type: "boolean", default: false }, db: { type: "string" }, ...JSON_OPTION },
  run(args, io) {
    const db = str(args, "db");
    const json = flag(args, "json");
    if (db !== undefined) {
      if (args.positionals.length > 0) throw new UsageError("give either --db PATH or FILEs, not both");
      if (flag(args, "check")) throw new UsageError("--check compares the roots files give; it does not go with --db");
      const { root, seq } = readOnly(db, (d) => ({ root: toHex(d.root), seq: d.seq }));
      if (json) printJson(io, { root, seq });
      else io.out(root);
      return 0;
    }
    if (args.positionals.length === 0) throw new UsageError("give at least one FILE (or --db PATH)");
    return filesRoot(args.positionals, flag(args, "check"), json, io);
  },
};
