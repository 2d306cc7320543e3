// `bmt rollback`: undo the last N commits, durably.
import { toHex } from "../../index.ts";
import { type Command, CommandFailure, dbPath, flag, JSON_OPTION, positionals, positiveInt, printJson, rollbackWindow, WINDOW_OPTION } from "../command.ts";
import { writer } from "../db-access.ts";

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "undo the last N commits",
  usage: `usage: bmt rollback --db PATH N [--window N] [--json]

Undoes the last N commits (N >= 1, at most the rollback depth "bmt history" shows) as one
durable commit and prints the restored root. Opens the database as its writer (takes the lock).
  --window N    the rollback window to open it with (default 100): give the window the
                database is kept with, or a shorter one trims its undo chain
  --json        {"root","seq","rollbackDepth"} after the rollback
Exit: 0 rolled back, 1 N is beyond the rollback depth (nothing changes), no database, or it is
held by another process; 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...WINDOW_OPTION },
  async run(args, io) {
    const db = dbPath(args);
    const [nText] = positionals(args, ["N"]);
    const n = positiveInt(nText, "N");
    const r = await writer(db, rollbackWindow(args), async (d) => {
      if (n > d.rollbackDepth) throw new CommandFailure(`cannot roll back ${n} commits: the rollback depth is ${d.rollbackDepth}`);
      const root = toHex(await d.rollback(n));
      return { root, seq: d.seq, rollbackDepth: d.rollbackDepth };
    });
    if (flag(args, "json")) printJson(io, r);
    else io.out(r.root);
    return 0;
  },
};
