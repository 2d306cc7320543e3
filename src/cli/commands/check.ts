// `bmt check`: reads every page and record of a database and checks it against the values
// (store/check.ts says what is checked); read-only, without the lock.
import { type CheckProgress, checkDatabase } from "../../store/check.ts";
import { type Command, dbPath, flag, JSON_OPTION, PROGRESS_OPTIONS, positionals, printJson } from "../command.ts";
import { requireDb } from "../db-access.ts";
import { progress } from "../progress.ts";

export const checkCommand: Command = {
  name: "check",
  summary: "read every page and record, verify checksums, recompute the root from the values",
  usage: `usage: bmt check --db PATH [--json] [--quiet|--progress]

Reads the whole database and verifies it: the meta record; every value page (checksum,
structure, key order, overflow chains, entry count, free pages); every merkle page, computed
afresh from the values and compared with the stored one (checksum and bytes), and none too
many; the root recomputed from the values against the stored root; every redo log record
(checksum, sequence) and the root after replaying them. Prints one line per problem,
"FILE at offset N: what" (offset when known), then "ok: N entries, N merkle pages, root ROOT"
or "N problems". Read-only and without the lock: run it while no process writes the database.
  --json        {"ok","root","entries","merklePages","redoRecords","problems":[{"file","offset",
                "problem"}]}
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0 no problem, 1 problems found or no database, 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...PROGRESS_OPTIONS },
  run(args, io) {
    const path = dbPath(args);
    positionals(args, []);
    requireDb(path);
    const json = flag(args, "json");
    const bars: CheckProgress = { start: (phase, total, unit) => progress(io, args, `bmt check: ${phase}`, total, unit) };
    const r = checkDatabase(path, bars, (p) => {
      if (!json) io.out(`${p.file}${p.offset === null ? "" : ` at offset ${p.offset}`}: ${p.problem}`);
    });
    if (json) printJson(io, r);
    else if (r.ok) io.out(`ok: ${r.entries} entries, ${r.merklePages} merkle pages, ${r.redoRecords} redo records, root ${r.root}`);
    else io.out(`${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}`);
    return r.ok ? 0 : 1;
  },
};
