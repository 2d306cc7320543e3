// `bmt export`: a database's state as entry lines or a genesis-style JSON file, which
// `bmt import` reads back to the same root.
import { closeSync, openSync, writeSync } from "node:fs";
import { DbError, toHex } from "../../index.ts";
import { type Command, CommandFailure, dbPath, flag, type Io, PROGRESS_OPTIONS, positionals, str } from "../command.ts";
import { readOnly } from "../db-access.ts";
import { reason } from "../input.ts";
import { progress } from "../progress.ts";

/** Entries of `it`; a STALE read after output began is a CommandFailure instead of a retry. */
function* failIfStaleMidway<T>(it: Iterable<T>, started: () => boolean): Generator<T> {
  try {
    yield* it;
  } catch (e) {
    if (e instanceof DbError && e.code === "STALE" && started())
      throw new CommandFailure("another process committed to the database during the export; run it again");
    throw e;
  }
}

/** Lines per write. */
const LINES_PER_WRITE = 1024;

/** Text sink: stdout through `io`, or a file. */
function sink(io: Io, out: string | undefined): { write(text: string): void; close(): void } {
  if (out === undefined) return { write: (text) => io.out(text), close() {} };
  let fd: number;
  try {
    fd = openSync(out, "w");
  } catch (e) {
    throw new CommandFailure(`${out}: cannot write (${reason(e)})`);
  }
  return {
    write(text) {
      try {
        writeSync(fd, `${text}\n`);
      } catch (e) {
        throw new CommandFailure(`${out}: cannot write (${reason(e)})`);
      }
    },
    close: () => closeSync(fd),
  };
}

export const exportCommand: Command = {
  name: "export",
  summary: "write the state as entry lines or a genesis-style JSON file",
  usage: `usage: bmt export --db PATH [--json] [--out FILE] [--quiet|--progress]

Writes every entry in key order as "0xKEY 0xVALUE" lines (read-only: no lock); bmt import
reads them back to the same root.
  --json        a genesis-style JSON file instead: {"state":{"state_root","keyvals":[{"key",
                "value"}, …]}}, one keyval per line (bmt import checks its root)
  --out FILE    write to FILE instead of stdout
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0, 1 no database or FILE cannot be written, 2 usage.`,
  options: { db: { type: "string" }, json: { type: "boolean", default: false }, out: { type: "string" }, ...PROGRESS_OPTIONS },
  run(args, io) {
    const db = dbPath(args);
    positionals(args, []);
    const json = flag(args, "json");
    const to = sink(io, str(args, "out"));
    try {
      readOnly(db, (d) => {
        using snapshot = d.beginRead();
        const bar = progress(io, args, "bmt export", null);
        if (json) to.write(`{"state":{"state_root":"${toHex(snapshot.root)}","keyvals":[`);
        let lines: string[] = [];
        let n = 0;
        // A writer process committing meanwhile fails the read (STALE); once output is written
        // it cannot be retried.
        for (const [k, v] of failIfStaleMidway(snapshot.entriesSync(), () => n > 0)) {
          lines.push(json ? `${n === 0 ? "" : ","}{"key":"${toHex(k)}","value":"${toHex(v)}"}` : `${toHex(k)} ${toHex(v)}`);
          n++;
          if (lines.length === LINES_PER_WRITE) {
            to.write(lines.join("\n"));
            lines = [];
            bar.update(n);
          }
        }
        if (lines.length > 0) to.write(lines.join("\n"));
        if (json) to.write("]}}");
        bar.update(n);
        bar.finish();
      });
    } finally {
      to.close();
    }
    return 0;
  },
};
