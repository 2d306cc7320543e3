// The rollback log's bytes: events (a commit's undo record, or a rollback) and the files'
// header, encoded and decoded with their checksums; the scan for a whole event past a damaged
// one. The log itself (files, snapshots) is rollback-log.ts, whose comment gives the layout;
// its replay at open, rollback-replay.ts.
import { crc32 } from "node:zlib";
import type { Change, MerkleTop } from "../merkle/index.ts";
import { KEY_BYTES, type TrieNodeKind } from "../trie/index.ts";

/** One commit in the undo chain. */
export interface UndoRecord {
  /** Store sequence number the commit produced. */
  readonly seq: number;
  /** Root before the commit. */
  readonly prevTop: MerkleTop;
  /** Root after the commit. */
  readonly top: MerkleTop;
  /** Per changed key (sorted), its value before the commit; null when it was absent. */
  readonly reverse: readonly Change[];
}

/**
 * A log event: a commit's undo record, or a rollback of the newest `n` records that left
 * `remaining` records in the chain (so a replay trims exactly as the live chain was trimmed).
 */
export type LogEvent = { kind: "forward"; record: UndoRecord } | { kind: "rollback"; seq: number; n: number; remaining: number };

export const LOG_MAGIC = 0x474c5242; // "BRLG"
const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 64;
const HEADER_CRC_AT = 60;
const FORWARD = 1;
const ROLLBACK = 2;
const ABSENT = 0xffffffff;

function u64(dv: DataView, at: number, v: number): void {
  dv.setBigUint64(at, BigInt(v), true);
}
function r64(dv: DataView, at: number): number {
  return Number(dv.getBigUint64(at, true));
}

/** Bytes of one event, with its length and checksum in front. */
export function encodeEvent(e: LogEvent): Uint8Array {
  let body: Uint8Array;
  if (e.kind === "rollback") {
    body = new Uint8Array(20);
    const dv = new DataView(body.buffer);
    body[0] = ROLLBACK;
    u64(dv, 4, e.seq);
    dv.setUint32(12, e.n, true);
    dv.setUint32(16, e.remaining, true);
  } else {
    const r = e.record;
    let size = 80;
    for (const [, v] of r.reverse) size += KEY_BYTES + 4 + (v === null ? 0 : v.length);
    body = new Uint8Array(size);
    const dv = new DataView(body.buffer);
    body[0] = FORWARD;
    body[1] = r.prevTop.kind;
    body[2] = r.top.kind;
    u64(dv, 4, r.seq);
    body.set(r.prevTop.root, 12);
    body.set(r.top.root, 44);
    dv.setUint32(76, r.reverse.length, true);
    let at = 80;
    for (const [k, v] of r.reverse) {
      body.set(k, at);
      at += KEY_BYTES;
      dv.setUint32(at, v === null ? ABSENT : v.length, true);
      at += 4;
      if (v !== null) {
        body.set(v, at);
        at += v.length;
      }
    }
  }
  const out = new Uint8Array(8 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length, true);
  dv.setUint32(4, crc32(body), true);
  out.set(body, 8);
  return out;
}

/** The event at `at` in `bytes` and its total length, or null when absent, torn or damaged. */
export function decodeEvent(bytes: Uint8Array, at: number): { event: LogEvent; length: number } | null {
  if (at + 8 > bytes.length) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(at, true);
  if (len < 16 || at + 8 + len > bytes.length) return null;
  const body = bytes.subarray(at + 8, at + 8 + len);
  if (crc32(body) !== dv.getUint32(at + 4, true)) return null;
  const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const seq = r64(bv, 4);
  if (body[0] === ROLLBACK) {
    if (len !== 20) return null;
    return { event: { kind: "rollback", seq, n: bv.getUint32(12, true), remaining: bv.getUint32(16, true) }, length: 8 + len };
  }
  if (body[0] !== FORWARD || len < 80 || body[1] > 2 || body[2] > 2) return null;
  const count = bv.getUint32(76, true);
  const reverse: Change[] = [];
  let p = 80;
  for (let i = 0; i < count; i++) {
    if (p + KEY_BYTES + 4 > len) return null;
    const key = body.slice(p, p + KEY_BYTES);
    p += KEY_BYTES;
    const vl = bv.getUint32(p, true);
    p += 4;
    if (vl === ABSENT) reverse.push([key, null]);
    else {
      if (p + vl > len) return null;
      reverse.push([key, body.slice(p, p + vl)]);
      p += vl;
    }
  }
  if (p !== len) return null;
  const record: UndoRecord = {
    seq,
    prevTop: { root: body.slice(12, 44), kind: body[1] as TrieNodeKind },
    top: { root: body.slice(44, 76), kind: body[2] as TrieNodeKind },
    reverse,
  };
  return { event: { kind: "forward", record }, length: 8 + len };
}

export interface Header {
  gen: number;
  snapSeq: number;
  snapCount: number;
  snapBytes: number;
}

export function encodeHeader(h: Header): Uint8Array {
  const out = new Uint8Array(LOG_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, LOG_MAGIC, true);
  dv.setUint32(4, LOG_VERSION, true);
  dv.setUint32(8, h.gen, true);
  u64(dv, 16, h.snapSeq);
  dv.setUint32(24, h.snapCount, true);
  u64(dv, 32, h.snapBytes);
  dv.setUint32(HEADER_CRC_AT, crc32(out.subarray(0, HEADER_CRC_AT)), true);
  return out;
}

export function decodeHeader(bytes: Uint8Array): Header | null {
  if (bytes.length < LOG_HEADER_BYTES) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, LOG_HEADER_BYTES);
  if (dv.getUint32(0, true) !== LOG_MAGIC || dv.getUint32(4, true) !== LOG_VERSION) return null;
  if (dv.getUint32(HEADER_CRC_AT, true) !== crc32(bytes.subarray(0, HEADER_CRC_AT))) return null;
  return { gen: dv.getUint32(8, true), snapSeq: r64(dv, 16), snapCount: dv.getUint32(24, true), snapBytes: r64(dv, 32) };
}

/**
 * The first whole event at or after byte `from` numbered above `seq` (any byte position: the
 * damaged event's length cannot be trusted), or null. Cheap tests (length, kind, number) come
 * before the checksum, so few positions cost one.
 */
export function wholeEventAfter(image: Uint8Array, from: number, seq: number): { at: number; seq: number } | null {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let at = from; at + 8 + 20 <= image.length; at++) {
    const len = dv.getUint32(at, true);
    if (len < 20 || at + 8 + len > image.length) continue;
    const kind = image[at + 8];
    if (kind !== FORWARD && kind !== ROLLBACK) continue;
    const s = r64(dv, at + 12);
    if (s <= seq || s > seq + 1_000_000) continue;
    const d = decodeEvent(image, at);
    if (d !== null) return { at, seq: s };
  }
  return null;
}
