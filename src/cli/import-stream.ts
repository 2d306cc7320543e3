// Entry lines read as a stream (`0xKEY 0xVALUE` per line, blank lines and `#` comments
// skipped): a file of any size is read in pieces, never as one string.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { type Entry, KEY_BYTES } from "../index.ts";
import { HexSlab } from "./json-stream.ts";
import { StateFileError } from "./state-files.ts";

/** ASCII whitespace as `trim` and `split(/\s+/)` see it in a line. */
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * The entries of the line file `path`, in file order (`name` names it in errors, with the line).
 * The bytes are scanned as read, 1 MiB at a time, and the hex decoded into slabs: no string per
 * line and no buffer per entry (8M entries held at once fit in memory, as `bmt root` needs).
 */
export async function* streamEntryLines(path: string, name: string): AsyncGenerator<Entry> {
  const file = await open(path, "r");
  const slab = new HexSlab();
  let buf = new Uint8Array(1 << 20);
  let have = 0;
  let eof = false;
  let lineNo = 0;
  try {
    for (;;) {
      if (!eof && have < buf.length) {
        const { bytesRead } = await file.read(buf, have, buf.length - have, null);
        if (bytesRead === 0) eof = true;
        have += bytesRead;
      }
      let at = 0;
      for (;;) {
        let end = buf.indexOf(0x0a, at);
        if (end < 0 || end >= have) {
          if (!eof || at >= have) break;
          end = have;
        }
        lineNo++;
        const entry = parseLine(buf, at, end, lineNo, name, slab);
        at = end + 1;
        if (entry !== null) yield entry;
      }
      if (eof && at >= have) return;
      // The unfinished line moves to the front; a line longer than the buffer grows it.
      if (at === 0 && have === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      } else {
        buf.copyWithin(0, at, have);
        have -= at;
      }
    }
  } finally {
    await file.close();
  }
}

// One line's entry, or null for a blank line or a comment.
function parseLine(buf: Uint8Array, from: number, to: number, lineNo: number, name: string, slab: HexSlab): Entry | null {
  let s = from;
  let e = to;
  while (s < e && isSpace(buf[s])) s++;
  while (e > s && isSpace(buf[e - 1])) e--;
  if (s === e || buf[s] === 0x23) return null;
  const fields: number[] = [];
  let i = s;
  while (i < e) {
    const f = i;
    while (i < e && !isSpace(buf[i])) i++;
    fields.push(f, i);
    while (i < e && isSpace(buf[i])) i++;
  }
  if (fields.length !== 4) throw new StateFileError(name, `line ${lineNo}: expected '0xKEY 0xVALUE', got ${fields.length / 2} field(s)`);
  let what = `line ${lineNo} key`;
  try {
    const key = slab.decode(buf, fields[0], fields[1], KEY_BYTES);
    what = `line ${lineNo} value`;
    return { key, value: slab.decode(buf, fields[2], fields[3]) };
  } catch (err) {
    throw new StateFileError(name, `${what} ${(err as Error).message}`);
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
