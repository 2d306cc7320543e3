// What `bmt import` reads, told apart by the first non-blank character:
//   `{` or `[`  a JSON state file (genesis `state`, a trace's `post_state`; see state-files.ts),
//              whose root the import checks;
//   otherwise   entry lines `0xKEY 0xVALUE` (31-byte key; value any length, `0x` for empty),
//              as `bmt export` writes them; blank lines and lines starting with `#` are skipped.
// Parsing is kept here, apart from the command, so that a streaming reader can replace it.
import { type Entry, fromHex, KEY_BYTES } from "../index.ts";
import { StateFileError, statesOfText } from "./state-files.ts";

/** A state to import: its entries and, from a JSON file, the root the file gives. */
export interface ImportSource {
  readonly entries: Entry[];
  readonly expectedRoot: Uint8Array | null;
  /** Where in the file: `state`, `post_state`, or `lines`. */
  readonly label: string;
}

/** Parses entry lines (`name` names the input in errors, with the line number). */
export function parseEntryLines(name: string, text: string): Entry[] {
  const entries: Entry[] = [];
  let lineNo = 0;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end).trim();
    at = end + 1;
    lineNo++;
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new StateFileError(name, `line ${lineNo}: expected '0xKEY 0xVALUE', got ${parts.length} field(s)`);
    try {
      entries.push({ key: fromHex(parts[0], `line ${lineNo} key`, KEY_BYTES), value: fromHex(parts[1], `line ${lineNo} value`) });
    } catch (e) {
      throw new StateFileError(name, (e as Error).message);
    }
  }
  return entries;
}

/** The state in an import input's text (see the module comment). */
export function readImportSource(name: string, text: string): ImportSource {
  const first = /\S/.exec(text)?.[0];
  if (first === "{" || first === "[") {
    const states = statesOfText(name, text);
    const state = states.find((s) => s.label === "state") ?? states.find((s) => s.label === "post_state");
    if (!state) throw new StateFileError(name, "has no state or post_state to import");
    return { entries: state.entries, expectedRoot: state.givesRoot === false ? null : state.expectedRoot, label: state.label };
  }
  return { entries: parseEntryLines(name, text), expectedRoot: null, label: "lines" };
}
