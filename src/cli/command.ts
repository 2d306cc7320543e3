// What every `bmt` command is: a name, its usage text, its options, and a run function. A new
// command is one file in commands/ plus one line in commands/index.ts.
import type { ParseArgsConfig } from "node:util";
import { DEFAULT_ROLLBACK_WINDOW } from "../db/index.ts";

/** Where a command writes and reads; the program passes the process's streams, tests their own. */
export interface Io {
  /** One line of output (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
  /** Writes raw text to stderr (progress bars); default: `err` without the newline handling. */
  errRaw?(text: string): void;
  /** True when stderr is a terminal (progress draws a bar there); default false. */
  errIsTTY?: boolean;
  /** Standard input, read whole (`-` as a FILE); default: fd 0. */
  stdin?(): Uint8Array;
}

/** Options as `parseArgs` takes them. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed option values (strings and booleans) and positionals. */
export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** One `bmt` command. */
export interface Command {
  readonly name: string;
  /** One line for `bmt --help`. */
  readonly summary: string;
  /** Its own usage: synopsis lines, then what it does, options and exit codes. */
  readonly usage: string;
  /** Its options (`--help` is added for every command). */
  readonly options: Options;
  run(args: Parsed, io: Io): number | Promise<number>;
}

/** A command-line mistake: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the command reports as one line on stderr, exit 1 (file not found, bad data...). */
export class CommandFailure extends Error {
  override name = "CommandFailure";
}

/** Exit codes, as README documents them. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Options shared by commands that print for scripts or run long. */
export const JSON_OPTION = { json: { type: "boolean", default: false } } as const;
export const PROGRESS_OPTIONS = {
  quiet: { type: "boolean", short: "q", default: false },
  progress: { type: "boolean", default: false },
} as const;

/**
 * `--window N`: the rollback window a command opens a writer with (default 100, the database's
 * default). A database kept with a longer window must be opened with it: a shorter one trims
 * the undo chain the command reads, and the log to it at its next snapshot.
 */
export const WINDOW_OPTION = { window: { type: "string" } } as const;

/** The `--window` value, or the default. */
export function rollbackWindow(args: Parsed): number {
  const text = str(args, "window");
  return text === undefined ? DEFAULT_ROLLBACK_WINDOW : positiveInt(text, "--window", 0);
}

/** The string value of option `name`, or undefined. */
export function str(args: Parsed, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** True when boolean option `name` was given. */
export function flag(args: Parsed, name: string): boolean {
  return args.values[name] === true;
}

/** `--db PATH`, required. */
export function dbPath(args: Parsed): string {
  const db = str(args, "db");
  if (db === undefined || db === "") throw new UsageError("--db PATH is required");
  return db;
}

/** Exactly `n` positionals (named for the message), else a usage error. */
export function positionals(args: Parsed, names: string[], min = names.length): string[] {
  const p = args.positionals;
  if (p.length < min || p.length > names.length) {
    const want = min === names.length ? names.join(" ") : `${names.slice(0, min).join(" ")} [${names.slice(min).join(" ")}]`.trim();
    throw new UsageError(p.length < min ? `missing ${names.slice(p.length, min).join(" ")} (usage: ${want})` : `unexpected argument '${p[names.length]}'`);
  }
  return p;
}

/** A positive integer option or argument. */
export function positiveInt(text: string, name: string, min = 1): number {
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new UsageError(`${name} must be an integer >= ${min}, got '${text}'`);
  }
  return Number(text);
}

/** Prints `value` as one line of JSON. */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value));
}
