// `bmt history`: the roots the rollback window holds.
import { toHex } from "../../index.ts";
import { type Command, dbPath, flag, JSON_OPTION, positionals, printJson, rollbackWindow, WINDOW_OPTION } from "../command.ts";
import { writer } from "../db-access.ts";

export const historyCommand: Command = {
  name: "history",
  summary: "the roots of the rollback window, newest first",
  usage: `usage: bmt history --db PATH [--window N] [--json]

Prints "N 0xROOT" per state of the rollback window, newest first: N commits ago (0 is the
current state); "bmt rollback --db PATH N" returns to line N. Opens the database as its writer
(it takes the lock: not while another process writes it).
  --window N    the rollback window to open it with (default 100): give the window the
                database is kept with, or a shorter one trims its undo chain
  --json        {"seq","rollbackDepth","roots":["0x…", …]} (roots[i]: i commits ago)
Exit: 0, 1 no database or it is held by another process, 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...WINDOW_OPTION },
  async run(args, io) {
    const db = dbPath(args);
    positionals(args, []);
    const { roots, seq, depth } = await writer(db, rollbackWindow(args), (d) => ({ roots: d.history().map(toHex), seq: d.seq, depth: d.rollbackDepth }));
    if (flag(args, "json")) printJson(io, { seq, rollbackDepth: depth, roots });
    else for (const [i, r] of roots.entries()) io.out(`${i} ${r}`);
    return 0;
  },
};
