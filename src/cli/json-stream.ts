// A streaming JSON tokenizer over bytes, and on it the reader of a JAM state file's state
// (genesis `state`, a trace's `post_state`): the file is read in pieces, never as one string,
// so files past V8's 512 MiB string limit read too. Only the state's keyvals and state_root are
// kept; everything else (headers, blocks, pre_state) is tokenized and dropped.
import { createReadStream } from "node:fs";
import { type Entry, fromHex, KEY_BYTES } from "../index.ts";
import { StateFileError } from "./state-files.ts";

/** Receives tokens: structure, object keys, and scalar values (strings decoded, others as text). */
export interface JsonSink {
  open(kind: "{" | "["): void;
  close(kind: "}" | "]"): void;
  key(name: string): void;
  value(v: string | number | boolean | null): void;
  /**
   * Optional: a string value without escapes, as its raw UTF-8 bytes `buf[start..end)` (valid
   * only during the call). When present it replaces `value` for such strings, so a sink that
   * wants bytes (hex keys and values) never makes a JS string of them.
   */
  rawString?(buf: Uint8Array, start: number, end: number): void;
}

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
const DELIM = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d, 0x2c, 0x7d, 0x5d, 0x3a]) DELIM[c] = 1;

/**
 * Tokenizes JSON fed in byte chunks. Structure is checked (a value where a value may stand,
 * keys in objects, matched brackets); a malformed document throws `Error` naming the byte offset.
 */
export class JsonTokenizer {
  private buf: Uint8Array = new Uint8Array(0);
  private at = 0;
  private offset = 0;
  // Per open container: 1 object, 2 array; and whether the next string in an object is a key.
  private readonly stack: number[] = [];
  private expectKey = false;
  private done = false;
  private readonly decoder = new TextDecoder();

  constructor(private readonly sink: JsonSink) {}

  private fail(what: string): never {
    throw new Error(`not valid JSON at byte ${this.offset + this.at}: ${what}`);
  }

  feed(chunk: Uint8Array): void {
    if (this.at < this.buf.length) {
      const rest = this.buf.subarray(this.at);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.offset += this.at;
      this.buf = joined;
    } else {
      this.offset += this.buf.length;
      this.buf = chunk;
    }
    this.at = 0;
    this.run(false);
  }

  end(): void {
    this.run(true);
    if (this.stack.length > 0 || !this.done) this.fail("the document ends early");
  }

  private run(last: boolean): void {
    const b = this.buf;
    const n = b.length;
    for (;;) {
      while (this.at < n && WS[b[this.at]]) this.at++;
      if (this.at >= n) return;
      if (this.done) this.fail("text after the document");
      const c = b[this.at];
      const top = this.stack.length > 0 ? this.stack[this.stack.length - 1] : 0;
      if (c === 0x7b || c === 0x5b) {
        if (this.expectKey) this.fail("a key must be a string");
        this.stack.push(c === 0x7b ? 1 : 2);
        this.expectKey = c === 0x7b;
        this.at++;
        this.sink.open(c === 0x7b ? "{" : "[");
        continue;
      }
      if (c === 0x7d || c === 0x5d) {
        if (top !== (c === 0x7d ? 1 : 2)) this.fail("unmatched bracket");
        this.stack.pop();
        this.at++;
        this.sink.close(c === 0x7d ? "}" : "]");
        this.afterValue();
        continue;
      }
      if (c === 0x2c) {
        if (top === 0) this.fail("a comma outside a container");
        this.expectKey = top === 1;
        this.at++;
        continue;
      }
      if (c === 0x3a) {
        if (top !== 1) this.fail("a colon outside an object");
        this.at++;
        continue;
      }
      if (c === 0x22) {
        // A string: find its closing quote (skipping escapes); wait for more bytes if cut.
        let j = this.at + 1;
        let escaped = false;
        while (j < n && b[j] !== 0x22) {
          if (b[j] === 0x5c) {
            escaped = true;
            j++;
          }
          j++;
        }
        if (j >= n) {
          if (last) this.fail("a string is not closed");
          return;
        }
        const start = this.at + 1;
        this.at = j + 1;
        if (!escaped && !this.expectKey && this.sink.rawString !== undefined) {
          this.sink.rawString(b, start, j);
          this.afterValue();
          continue;
        }
        const raw = this.decoder.decode(b.subarray(start, j));
        const text = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (this.expectKey) {
          this.expectKey = false;
          this.sink.key(text);
        } else {
          this.sink.value(text);
          this.afterValue();
        }
        continue;
      }
      // A number, true, false or null: up to the next delimiter.
      let j = this.at;
      while (j < n && !DELIM[b[j]]) j++;
      if (j >= n && !last) return;
      if (this.expectKey) this.fail("a key must be a string");
      const word = this.decoder.decode(b.subarray(this.at, j));
      let v: string | number | boolean | null;
      if (word === "true") v = true;
      else if (word === "false") v = false;
      else if (word === "null") v = null;
      else if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(word)) v = Number(word);
      else this.fail(`unexpected '${word.slice(0, 20)}'`);
      this.at = j;
      this.sink.value(v);
      this.afterValue();
    }
  }

  private afterValue(): void {
    if (this.stack.length === 0) this.done = true;
  }
}

/** A state found in a streamed file. */
export interface StreamedState {
  readonly label: string;
  readonly entries: Entry[];
  readonly expectedRoot: Uint8Array | null;
}

// Hex digit values by byte, -1 for anything else.
const NIBBLE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) NIBBLE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  NIBBLE[0x61 + c] = 10 + c;
  NIBBLE[0x41 + c] = 10 + c;
}

// Decoded keys and values are cut from shared slabs: one allocation per MiB instead of two
// per entry (the entries live until the import ends anyway).
const SLAB_BYTES = 1 << 20;

/** Hex bytes of raw text (JSON strings, entry lines), decoded without making JS strings, into slabs. */
export class HexSlab {
  private slab = new Uint8Array(SLAB_BYTES);
  private used = 0;

  /**
   * The bytes of the hex text `buf[start..end)` (`0x` optional). Throws an `Error` whose
   * message is `fromHex`'s wording without the name (the caller prefixes it).
   */
  decode(buf: Uint8Array, start: number, end: number, length?: number): Uint8Array {
    const from = hexDigitsFrom(buf, start, end, length);
    const n = (end - from) >> 1;
    let out: Uint8Array;
    if (n > SLAB_BYTES >> 4) out = new Uint8Array(n);
    else {
      if (this.used + n > SLAB_BYTES) {
        this.slab = new Uint8Array(SLAB_BYTES);
        this.used = 0;
      }
      out = this.slab.subarray(this.used, this.used + n);
      this.used += n;
    }
    decodeDigits(buf, from, n, out, 0);
    return out;
  }
}

/** The bytes of the hex text `buf[start..end)` (`0x` optional) written at `out[at..)`, which has room; returns their count. Throws as `HexSlab.decode`. */
export function decodeHexInto(buf: Uint8Array, start: number, end: number, out: Uint8Array, at: number, length?: number): number {
  const from = hexDigitsFrom(buf, start, end, length);
  const n = (end - from) >> 1;
  decodeDigits(buf, from, n, out, at);
  return n;
}

/** The hex text's first digit after an optional `0x`; throws unless the digits are even (and `length` bytes). */
function hexDigitsFrom(buf: Uint8Array, start: number, end: number, length?: number): number {
  let from = start;
  if (end - start >= 2 && buf[start] === 0x30 && (buf[start + 1] === 0x78 || buf[start + 1] === 0x58)) from += 2;
  const digits = end - from;
  if (digits % 2 !== 0) throw new Error("has an odd number of hex digits");
  const n = digits >> 1;
  if (length !== undefined && n !== length) {
    // fromHex's order: a bad digit is reported before a wrong length.
    for (let i = 0; i < digits; i++) if (NIBBLE[buf[from + i]] < 0) throw new Error(`is not hex (at digit ${i - (i % 2)})`);
    throw new Error(`must be ${length} bytes, got ${n}`);
  }
  return from;
}

function decodeDigits(buf: Uint8Array, from: number, n: number, out: Uint8Array, at: number): void {
  for (let i = 0; i < n; i++) {
    const hi = NIBBLE[buf[from + 2 * i]];
    const lo = NIBBLE[buf[from + 2 * i + 1]];
    if (hi < 0 || lo < 0) throw new Error(`is not hex (at digit ${2 * i})`);
    out[at + i] = (hi << 4) | lo;
  }
}

/**
 * The state of a JAM state file read as a stream: genesis `state` or a trace's `post_state`
 * (keyvals `[{key, value}]`, `state_root` when present). `name` names the file in errors.
 */
export async function streamStateFile(path: string, name: string): Promise<StreamedState> {
  const found = new Map<string, { entries: Entry[]; root: Uint8Array | null }>();
  // Open containers, each with the key it sits under in its parent (null: an array element or
  // the document itself).
  const frames: { array: boolean; name: string | null }[] = [];
  let pendingKey: string | null = null;
  let kv: { key?: Uint8Array; value?: Uint8Array } | null = null;
  const wanted = (label: unknown): label is string => label === "state" || label === "post_state";
  const stateOf = (label: string) => {
    let s = found.get(label);
    if (!s) found.set(label, (s = { entries: [], root: null }));
    return s;
  };
  const hex = (text: unknown, what: string, bytes?: number): Uint8Array => {
    try {
      return fromHex(text, what, bytes);
    } catch (e) {
      throw new StateFileError(name, (e as Error).message);
    }
  };
  const slab = new HexSlab();
  const utf8 = new TextDecoder();
  // The keyvals array of a wanted state, as the container stack stands: [document, state, keyvals].
  const inKeyvals = (): boolean => frames.length === 3 && wanted(frames[1].name) && !frames[1].array && frames[2].name === "keyvals" && frames[2].array;
  const sink: JsonSink = {
    open(kind) {
      if (kind === "{" && inKeyvals()) kv = {};
      frames.push({ array: kind === "[", name: pendingKey });
      pendingKey = null;
    },
    close() {
      frames.pop();
      pendingKey = null;
      if (kv !== null && inKeyvals()) {
        const label = frames[1].name as string;
        const list = stateOf(label).entries;
        if (kv.key === undefined || kv.value === undefined) throw new StateFileError(name, `${label}.keyvals[${list.length}] needs a key and a value`);
        list.push({ key: kv.key, value: kv.value });
        kv = null;
      }
    },
    key(k) {
      pendingKey = k;
    },
    value(v) {
      const at = pendingKey;
      pendingKey = null;
      if (frames.length === 2 && at === "state_root" && wanted(frames[1].name) && !frames[1].array) {
        stateOf(frames[1].name).root = hex(v, `${frames[1].name}.state_root`, 32);
      } else if (kv !== null && frames.length === 4) {
        const label = frames[1].name as string;
        const i = stateOf(label).entries.length;
        if (at === "key") kv.key = hex(v, `${label}.keyvals[${i}].key`, KEY_BYTES);
        else if (at === "value") kv.value = hex(v, `${label}.keyvals[${i}].value`);
      }
    },
    rawString(buf, start, end) {
      // A keyval's key or value: decoded from the bytes (the names are made only for an error).
      const at = pendingKey;
      if (kv !== null && frames.length === 4 && (at === "key" || at === "value")) {
        pendingKey = null;
        try {
          if (at === "key") kv.key = slab.decode(buf, start, end, KEY_BYTES);
          else kv.value = slab.decode(buf, start, end);
        } catch (e) {
          const label = frames[1].name as string;
          throw new StateFileError(name, `${label}.keyvals[${stateOf(label).entries.length}].${at} ${(e as Error).message}`);
        }
        return;
      }
      // Anything else (state_root, or strings the import drops) as text.
      sink.value(utf8.decode(buf.subarray(start, end)));
    },
  };
  const tokenizer = new JsonTokenizer(sink);
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) tokenizer.feed(chunk as Uint8Array);
    tokenizer.end();
  } catch (e) {
    if (e instanceof StateFileError) throw e;
    throw new StateFileError(name, (e as Error).message);
  }
  const label = found.has("state") ? "state" : found.has("post_state") ? "post_state" : null;
  if (label === null) throw new StateFileError(name, "has no state or post_state to import");
  const s = found.get(label) as { entries: Entry[]; root: Uint8Array | null };
  return { label, entries: s.entries, expectedRoot: s.root };
}
