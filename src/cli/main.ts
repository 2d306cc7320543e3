#!/usr/bin/env node
// The `bmt` command.

import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Io, rootCommand } from "./root-command.ts";

const USAGE = `usage: bmt <command> [options]

commands:
  root [--check] FILE...   print the state root of each state in JAM vector files
                           (trace block files, genesis.json, trie.json); with --check,
                           compare with the roots the files give and print "N passed, N failed"

options:
  -h, --help               show this help`;

/** Runs `bmt` with `argv` (without node and script); returns the exit code. */
export function main(argv: string[], io: Io): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    switch (command) {
      case "root": {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { check: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
          allowPositionals: true,
        });
        if (values.help) {
          io.out(USAGE);
          return 0;
        }
        if (positionals.length === 0) {
          io.err("bmt root: give at least one FILE");
          return 2;
        }
        return rootCommand(positionals, values.check ?? false, io);
      }
      default:
        io.err(`bmt: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      io.err(`bmt ${command}: ${(e as Error).message}`);
      return 2;
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
