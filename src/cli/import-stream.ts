// Entry lines read as a stream (`0xKEY 0xVALUE` per line, blank lines and `#` comments
// skipped): a file of any size is read in pieces, never as one string.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { type Entry, type EntryBatch, KEY_BYTES } from "../index.ts";
import { decodeHexInto } from "./json-stream.ts";
import { StateFileError } from "./state-files.ts";

/** ASCII whitespace as `trim` and `split(/\s+/)` see it in a line. */
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * The entries of the line file `path`, in file order (`name` names it in errors, with the line),
 * as one batch per 1 MiB read: the bytes are scanned as read and the hex decoded straight into
 * the batch's buffers, with no string per line and no object per entry.
 */
export async function* streamEntryBatches(path: string, name: string): AsyncGenerator<EntryBatch> {
  const file = await open(path, "r");
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
      // Sized by the text read (BatchBuilder): it never grows.
      const batch = new BatchBuilder(have);
      let at = 0;
      for (;;) {
        let end = buf.indexOf(0x0a, at);
        if (end < 0 || end >= have) {
          if (!eof || at >= have) break;
          end = have;
        }
        lineNo++;
        parseLine(buf, at, end, lineNo, name, batch);
        at = end + 1;
      }
      if (batch.count > 0) yield batch.done();
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

/** The entries of the line file `path` one by one (views into `streamEntryBatches`' buffers). */
export async function* streamEntryLines(path: string, name: string): AsyncGenerator<Entry> {
  for await (const b of streamEntryBatches(path, name)) {
    const n = b.keys.length / KEY_BYTES;
    for (let i = 0; i < n; i++) yield { key: b.keys.subarray(KEY_BYTES * i, KEY_BYTES * (i + 1)), value: b.values.subarray(b.offsets[i], b.offsets[i + 1]) };
  }
}

/** The entries of one read, decoded into buffers sized by its text (a key takes at least 62 digits, a value at most half its digits). */
class BatchBuilder {
  count = 0;
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly offsets: Uint32Array;
  constructor(textBytes: number) {
    const lines = Math.floor(textBytes / (2 * KEY_BYTES)) + 1;
    this.keys = new Uint8Array(KEY_BYTES * lines);
    this.values = new Uint8Array(textBytes >> 1);
    this.offsets = new Uint32Array(lines + 1);
  }
  done(): EntryBatch {
    return {
      keys: this.keys.subarray(0, KEY_BYTES * this.count),
      values: this.values.subarray(0, this.offsets[this.count]),
      offsets: this.offsets.subarray(0, this.count + 1),
    };
  }
}

// Decodes one line into the batch (a blank line or a comment adds nothing).
function parseLine(buf: Uint8Array, from: number, to: number, lineNo: number, name: string, batch: BatchBuilder): void {
  let s = from;
  let e = to;
  while (s < e && isSpace(buf[s])) s++;
  while (e > s && isSpace(buf[e - 1])) e--;
  if (s === e || buf[s] === 0x23) return;
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
    const n = batch.count;
    decodeHexInto(buf, fields[0], fields[1], batch.keys, KEY_BYTES * n, KEY_BYTES);
    what = `line ${lineNo} value`;
    const at = batch.offsets[n];
    batch.offsets[n + 1] = at + decodeHexInto(buf, fields[2], fields[3], batch.values, at);
    batch.count = n + 1;
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
