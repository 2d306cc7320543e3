// Entry lines read as a stream (`0xKEY 0xVALUE` per line, blank lines and `#` comments
// skipped): a file of any size is read in pieces, never as one string.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { type Entry, fromHex, KEY_BYTES } from "../index.ts";
import { StateFileError } from "./state-files.ts";

/** The entries of the line file `path`, in file order (`name` names it in errors, with the line). */
export async function* streamEntryLines(path: string, name: string): AsyncGenerator<Entry> {
  const lines = createInterface({ input: createReadStream(path, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new StateFileError(name, `line ${lineNo}: expected '0xKEY 0xVALUE', got ${parts.length} field(s)`);
    try {
      yield { key: fromHex(parts[0], `line ${lineNo} key`, KEY_BYTES), value: fromHex(parts[1], `line ${lineNo} value`) };
    } catch (e) {
      throw new StateFileError(name, (e as Error).message);
    }
  }
}

/** The first non-blank character of the file at `path` (undefined for an empty file). */
export async function firstChar(path: string): Promise<string | undefined> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16, encoding: "utf8" })) {
    const m = /\S/.exec(chunk as string);
    if (m) return m[0];
  }
  return undefined;
}
