#!/usr/bin/env node
// The `bmt` command: finds the command in the registry (commands/index.ts), parses its options,
// runs it, and turns every failure into one line on stderr and an exit code:
//   0 ok; 1 a failed check, a key or database not found, unreadable input, a database error;
//   2 a usage error (unknown command or option, missing or malformed argument).
// Output into a closed pipe (`bmt scan … | head -1`) ends the program quietly.
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DbError, IoError, TrieError } from "../index.ts";
import { StoreError } from "../store/errors.ts";
import { KvError } from "../kv/index.ts";
import { PageStoreError } from "../merkle/page-store-errors.ts";
import { type Command, CommandFailure, EXIT_FAILED, EXIT_USAGE, type Io, type Parsed, UsageError } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { StateFileError } from "./state-files.ts";
import { VERSION } from "./version.ts";

export type { Io } from "./command.ts";

/** `bmt --help`: every command's summary, then the common rules. */
export function globalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `usage: bmt <command> [options]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

bmt help COMMAND (or bmt COMMAND --help) shows a command's usage and options.
FILE arguments take - for standard input. --json (where offered) prints one JSON document.
Long work shows progress on a terminal (--quiet: none; --progress: lines, also when piped).
Exit codes: 0 ok, 1 a failed check or not found (or any other failure), 2 usage.
Errors are one line on stderr, "bmt COMMAND: what"; BMT_DEBUG=1 adds the stack of unexpected ones.
options: -h, --help  this help    -V, --version  the version`;
}

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Errors the engine and the commands raise on bad data or I/O: exit 1, message only. */
function isKnownFailure(e: unknown): e is Error {
  return (
    e instanceof CommandFailure ||
    e instanceof StateFileError ||
    e instanceof DbError ||
    e instanceof IoError ||
    e instanceof StoreError ||
    e instanceof KvError ||
    e instanceof PageStoreError ||
    e instanceof TrieError
  );
}

/** Runs `bmt` with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err("bmt: give a command; see 'bmt --help'");
    return EXIT_USAGE;
  }
  if (name === "-h" || name === "--help") {
    io.out(globalUsage());
    return 0;
  }
  if (name === "-V" || name === "--version" || name === "version") {
    io.out(`bmt ${VERSION}`);
    return 0;
  }
  if (name === "help") {
    if (rest.length === 0) {
      io.out(globalUsage());
      return 0;
    }
    const c = find(rest[0]);
    if (c === undefined || rest.length > 1) {
      io.err(rest.length > 1 ? "bmt help: give one command" : `bmt help: unknown command '${rest[0]}'; see 'bmt --help'`);
      return EXIT_USAGE;
    }
    io.out(c.usage);
    return 0;
  }
  const command = find(name);
  if (command === undefined) {
    io.err(`bmt: unknown command '${name}'; see 'bmt --help'`);
    return EXIT_USAGE;
  }
  try {
    const parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    const args = parsed as unknown as Parsed;
    if (args.values.help === true) {
      io.out(command.usage);
      return 0;
    }
    return await command.run(args, io);
  } catch (e) {
    if (e instanceof BrokenPipe) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.err(`bmt ${name}: ${oneLine((e as Error).message)}; see 'bmt help ${name}'`);
      return EXIT_USAGE;
    }
    if (isKnownFailure(e)) {
      io.err(`bmt ${name}: ${oneLine(e.message)}`);
      return EXIT_FAILED;
    }
    if (process.env.BMT_DEBUG === "1") io.err(e instanceof Error && e.stack ? e.stack : String(e));
    io.err(`bmt ${name}: unexpected error: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    return EXIT_FAILED;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}

/** Thrown by a write to a closed stdout: the reader went away, so the command stops quietly. */
export class BrokenPipe extends Error {
  override name = "BrokenPipe";
}

/** The process's streams as an Io. */
export function processIo(): Io {
  const broken = (e: unknown) => (e as NodeJS.ErrnoException).code === "EPIPE" || (e as NodeJS.ErrnoException).code === "ERR_STREAM_DESTROYED";
  // A reader that went away (EPIPE) ends the program quietly; the error reaches us as an event.
  process.stdout.on("error", (e) => {
    if (broken(e)) process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.stderr.on("error", () => {});
  return {
    out(line) {
      if (process.stdout.destroyed) throw new BrokenPipe("stdout closed");
      process.stdout.write(`${line}\n`);
    },
    err(line) {
      if (!process.stderr.destroyed) process.stderr.write(`${line}\n`);
    },
    errRaw(text) {
      if (!process.stderr.destroyed) process.stderr.write(text);
    },
    errIsTTY: process.stderr.isTTY === true,
  };
}

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

if (isEntryPoint()) {
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      if (e instanceof BrokenPipe) process.exit(process.exitCode ?? 0);
      throw e;
    },
  );
}
