#!/usr/bin/env node
// The `bmt` command.

import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DbError, TrieError } from "../index.ts";
import { StoreError } from "../store/errors.ts";
import { dbRootCommand, getCommand, importCommand, replayCommand } from "./db-commands.ts";
import { PROOF_USAGE, proveCommand, verifyCommand } from "./proof-commands.ts";
import { type Io, rootCommand } from "./root-command.ts";
import { StateFileError } from "./state-files.ts";

const USAGE = `usage: bmt <command> [options]

commands:
  root [--check] FILE...        print the state root of each state in JAM vector files
                                (trace block files, genesis.json, trie.json); with --check,
                                compare with the roots the files give; last line "N passed, N failed"
  root --db PATH                print the database's root
  import FILE --db PATH         load a genesis state or a block's post_state into a new database
  replay DIR --db PATH          import DIR/genesis.json, then apply each numbered block file as one
                                commit and check its roots; last line "N passed, N failed"
  get --db PATH KEY             print KEY's value (0x hex); exit 1 when absent
${PROOF_USAGE}

options:
  -h, --help                    show this help`;

const OPTIONS = {
  check: { type: "boolean", default: false },
  db: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `bmt` with `argv` (without node and script); returns the exit code. */
export function main(argv: string[], io: Io): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  const usage = (msg: string) => {
    io.err(`bmt ${command}: ${msg}`);
    return 2;
  };
  try {
    // prove and verify parse their own options.
    if (command === "prove") return proveCommand(rest, io);
    if (command === "verify") return verifyCommand(rest, io);
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const db = values.db;
    switch (command) {
      case "root":
        if (db !== undefined) return positionals.length === 0 ? dbRootCommand(db, io) : usage("give either --db PATH or FILEs, not both");
        if (positionals.length === 0) return usage("give at least one FILE (or --db PATH)");
        return rootCommand(positionals, values.check, io);
      case "import":
        if (db === undefined || positionals.length !== 1) return usage("usage: bmt import FILE --db PATH");
        return importCommand(positionals[0], db, io);
      case "replay":
        if (db === undefined || positionals.length !== 1) return usage("usage: bmt replay DIR --db PATH");
        return replayCommand(positionals[0], db, io);
      case "get":
        if (db === undefined || positionals.length !== 1) return usage("usage: bmt get --db PATH KEY");
        return getCommand(db, positionals[0], io);
      default:
        io.err(`bmt: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) return usage((e as Error).message);
    if (e instanceof TrieError) return usage(e.message);
    if (e instanceof DbError || e instanceof StoreError || e instanceof StateFileError) {
      io.err(`bmt ${command}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** True when this file is the program node was started with (also through a bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = main(process.argv.slice(2), stdio);
