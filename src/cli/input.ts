// Reading a FILE argument: a path, or `-` for standard input, wherever a command reads one.
import { readFileSync, writeFileSync } from "node:fs";
import { CommandFailure, type Io } from "./command.ts";

/** Why a file operation failed, short: the errno code when there is one. */
export function reason(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
}

/** The bytes of `file` (`-`: standard input); a missing or unreadable file is a CommandFailure. */
export function readInput(file: string, io: Io): Uint8Array {
  try {
    if (file === "-") return io.stdin ? io.stdin() : readFileSync(0);
    return readFileSync(file);
  } catch (e) {
    throw new CommandFailure(`${file === "-" ? "stdin" : file}: cannot read (${reason(e)})`);
  }
}

/** Writes `data` to `file`; a missing directory or other failure is a CommandFailure. */
export function writeOutput(file: string, data: string | Uint8Array): void {
  try {
    writeFileSync(file, data);
  } catch (e) {
    throw new CommandFailure(`${file}: cannot write (${reason(e)})`);
  }
}
