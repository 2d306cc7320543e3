// `bmt import`: a state (JSON state file or entry lines) into a new or empty database.
import { open, toHex } from "../../index.ts";
import { type Command, flag, JSON_OPTION, PROGRESS_OPTIONS, positionals, printJson, str, UsageError } from "../command.ts";
import { commitChanges, EMPTY_ROOT } from "../db-access.ts";
import { readImportSource } from "../import-source.ts";
import { readInput } from "../input.ts";
import { progress } from "../progress.ts";

export const importCommand: Command = {
  name: "import",
  summary: "load a state (genesis, a block's post_state, or export lines) into a new database",
  usage: `usage: bmt import FILE --db PATH [--json] [--quiet|--progress]

Loads a state into a new or empty database as one commit and prints its root. FILE (- for
standard input) is a JSON state file (genesis.json's state, or a trace block file's
post_state; its state_root is checked) or entry lines "0xKEY 0xVALUE" as bmt export writes
them (blank lines and # comments skipped; a repeated key: the last line wins).
  --json        {"root","entries","expected"} (expected: null for entry lines)
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0 imported, 1 the root differs from the file's, the database is not empty or is held by
another process, or FILE cannot be read or parsed; 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...PROGRESS_OPTIONS },
  run(args, io) {
    const [file] = positionals(args, ["FILE"]);
    const db = str(args, "db");
    if (db === undefined || db === "") throw new UsageError("--db PATH is required");
    const name = file === "-" ? "stdin" : file;
    const source = readImportSource(name, Buffer.from(readInput(file, io)).toString("utf8"));
    const handle = open(db);
    try {
      if (toHex(handle.root) !== EMPTY_ROOT) {
        io.err(`bmt import: ${db} is not empty (root ${toHex(handle.root)}); import needs a new or empty database`);
        return 1;
      }
      const bar = progress(io, args, "bmt import", source.entries.length);
      const root = commitChanges(
        handle,
        source.entries.map((e) => [e.key, e.value] as const),
        bar,
      );
      bar.finish();
      const expected = source.expectedRoot === null ? null : toHex(source.expectedRoot);
      if (flag(args, "json")) printJson(io, { root, entries: source.entries.length, expected });
      else io.out(root);
      if (expected !== null && root !== expected) {
        io.err(`bmt import: ${name}: root ${root} differs from the file's ${source.label}.state_root ${expected}`);
        return 1;
      }
      return 0;
    } finally {
      handle.close();
    }
  },
};
