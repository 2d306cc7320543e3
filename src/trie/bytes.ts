// Byte-level reading and writing for the proof encodings: fixed fields, canonical varints, and
// bounds checked on every read so that malformed input ends in a typed error, never a crash.

import { TrieError } from "./errors.ts";

/** Largest varint the encodings use (lengths and counts). */
export const VARINT_MAX = 0xffffffff;

/** Growable output buffer. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** Unsigned LEB128, shortest form. */
  varint(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > VARINT_MAX) throw new TrieError("BAD_ARGUMENT", `length ${n} cannot be encoded`);
    while (n >= 0x80) {
      this.byte((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    this.byte(n);
  }

  /** A varint length, then the bytes. */
  sized(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

/** Reader over an encoding; every failure is `TrieError` `BAD_ENCODING` naming the field. */
export class ByteReader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  fail(what: string): never {
    throw new TrieError("BAD_ENCODING", `${what} (at byte ${this.at})`);
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  byte(what: string): number {
    if (this.at >= this.buf.length) this.fail(`${what}: unexpected end`);
    return this.buf[this.at++];
  }

  /** `n` bytes as a copy. */
  bytes(n: number, what: string): Uint8Array {
    if (n > this.buf.length - this.at) this.fail(`${what}: unexpected end`);
    const out = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A canonical (shortest) unsigned LEB128 no larger than `max`. */
  varint(what: string, max = VARINT_MAX): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte(what);
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`${what}: varint not in shortest form`);
        if (n > max) this.fail(`${what}: ${n} exceeds ${max}`);
        return n;
      }
      scale *= 128;
    }
    return this.fail(`${what}: varint too long`);
  }

  /** A varint length (at most what is left), then that many bytes. */
  sized(what: string): Uint8Array {
    return this.bytes(this.varint(`${what} length`, this.remaining), what);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.at !== this.buf.length) this.fail(`${this.buf.length - this.at} trailing bytes`);
  }
}

/** True when `x` is a Uint8Array (of `length` bytes, when given). */
export function isBytes(x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length);
}

/** True when two byte arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
