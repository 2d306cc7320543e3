// `bmt root [--check] FILE...`: the state root of every state in JAM vector files.

import { toHex, trieRootUnsorted } from "../index.ts";
import { readStateFile, StateFileError } from "./state-files.ts";

/** Output sinks, so tests can run commands in-process. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Runs the command; returns the process exit code. */
export function rootCommand(files: string[], check: boolean, io: Io): number {
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    let states;
    try {
      states = readStateFile(file);
    } catch (e) {
      if (!(e instanceof StateFileError)) throw e;
      io.err(`bmt root: ${e.message}`);
      failed++;
      continue;
    }
    for (const state of states) {
      let root: string;
      try {
        root = toHex(trieRootUnsorted(state.entries));
      } catch (e) {
        io.err(`bmt root: ${file}: ${state.label}: ${(e as Error).message}`);
        failed++;
        continue;
      }
      if (!check) {
        io.out(root);
        continue;
      }
      const expected = toHex(state.expectedRoot);
      if (root === expected) {
        passed++;
        io.out(`${root} ok ${file} ${state.label}`);
      } else {
        failed++;
        io.out(`${root} FAIL ${file} ${state.label} (expected ${expected})`);
      }
    }
  }
  if (check) io.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
