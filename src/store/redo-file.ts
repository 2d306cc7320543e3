// One file of the redo log (redo-log.ts: two files take turns). Each commit's batch, appended
// and synced, is what makes the commit durable.
//
// Pages (values and merkle) are written only at checkpoints, every few commits, so the bytes a
// commit must put on disk before it is acknowledged are its batch (~70 bytes per change), not
// the ~4 KiB value page and merkle page each changed key dirties. Reopening replays the records
// after the checkpoint's sequence number through the same update, checking each root.
//
// File layout (little-endian):
//   0      header slot A (64 bytes)
//   8192   header slot B (64 bytes); 8 KiB apart, so no 4 KiB run of damage reaches both
//   12288  records, back to back, starting over here when a checkpoint switches to this file
// Header slot: u32 magic "BMTH", u32 version, u64 last appended seq, u64 its end offset, u64
// the seq of the last checkpoint durable when it was appended, 28 zero bytes, u32 CRC-32 of the
// 60 bytes before it. (Version 2: version 1, of format-4 databases, had no checkpoint seq.)
// Record:
//   0   u32 magic "BMTR"
//   4   u32 record length in bytes, all fields included
//   8   u64 sequence number
//   16  32  root after the commit
//   48  u8  root kind (0 empty, 1 leaf, 2 branch), 3 zero bytes
//   52  u32 number of changes
//   56  changes in key order: 31-byte key, u8 op (0 delete, 1 set), and for a set u32 value
//       length and the value
//   end u32 CRC-32 of every byte before it
//
// An append writes its record, then the header slot of its seq's parity naming it, and syncs
// once. So when record N is appended, record N - 1 and the slot naming it are durable, and that
// slot is not written again until record N + 1: after a crash at any instant the newest valid
// slot names N - 1 or N. Replay therefore knows where the acknowledged records end without
// trusting the records themselves: every record up to one before the newest slot's number must
// be whole. Only damage from that last record on can be a write torn by a crash (and costs at
// most that one commit, which a crash could not have acknowledged unless it was damage to the
// media); anything earlier, a log with no valid slot, or one shorter than its header, is CORRUPT
// with the file and offset. Records after the live ones are stale (a previous checkpoint
// interval's, with smaller numbers) and are never replayed.
import { crc32 } from "node:zlib";
import type { KvFile } from "../io/index.ts";
import type { Change, MerkleTop } from "../merkle/index.ts";
import type { TrieNodeKind } from "../trie/index.ts";
import { StoreError } from "./errors.ts";

const REDO_MAGIC = 0x52544d42; // "BMTR"
const REDO_HEAD_MAGIC = 0x48544d42; // "BMTH"
const REDO_HEAD_VERSION = 2;
const HEADER = 56;
const KEY = 31;
/** Where header slot `i` starts. */
const REDO_SLOT_AT = [0, 8192] as const;
const REDO_SLOT_BYTES = 64;
const REDO_SLOT_CRC_AT = 60;
/** Where records start: the log's header is this long. */
export const REDO_DATA_START = 12288;

/** One commit as the log holds it. */
export interface RedoRecord {
  readonly seq: number;
  readonly top: MerkleTop;
  readonly changes: Change[];
}

/** Bytes `changes` take in a record. */
function changesBytes(changes: readonly Change[]): number {
  let n = 0;
  for (const [, v] of changes) n += KEY + 1 + (v === null ? 0 : 4 + v.length);
  return n;
}

/** One file of the log: appends, and the replay of its records after a crash. */
export class RedoFile {
  #tail = REDO_DATA_START;
  /** The newest header slot's seq when `replay` began (-1: neither slot valid). */
  #head = -1;
  #headDurable = -1;
  #records = 0;
  #closed = false;

  constructor(readonly file: KvFile) {}

  /** Bytes of records since the file was started over. */
  get bytes(): number {
    return this.#tail - REDO_DATA_START;
  }

  /** Where the next record will start. */
  get tail(): number {
    return this.#tail;
  }

  /** Records appended since the file was started over. */
  get records(): number {
    return this.#records;
  }

  /** Makes the file an empty log whose commits so far end at `seq`, not synced. */
  create(seq: number): void {
    this.file.truncate(0);
    this.file.truncate(REDO_DATA_START);
    for (const i of [0, 1] as const) this.#writeSlot(i, seq, REDO_DATA_START, seq);
    this.startOver();
  }

  #writeSlot(i: 0 | 1, seq: number, end: number, durable: number): void {
    const slot = new Uint8Array(REDO_SLOT_BYTES);
    const dv = new DataView(slot.buffer);
    dv.setUint32(0, REDO_HEAD_MAGIC, true);
    dv.setUint32(4, REDO_HEAD_VERSION, true);
    dv.setBigUint64(8, BigInt(seq), true);
    dv.setBigUint64(16, BigInt(end), true);
    dv.setBigUint64(24, BigInt(durable), true);
    dv.setUint32(REDO_SLOT_CRC_AT, crc32(slot.subarray(0, REDO_SLOT_CRC_AT)), true);
    this.file.write(slot, REDO_SLOT_AT[i]);
  }

  /** The newest valid header slot's seq, or -1 when neither is valid. */
  newestSlot(): number {
    return this.#slots().seq;
  }

  // The newest valid slot's seq (-1: none), and the newest checkpoint any valid slot names.
  #slots(): { seq: number; durable: number } {
    let best = -1;
    let durable = -1;
    const slot = new Uint8Array(REDO_SLOT_BYTES);
    for (const at of REDO_SLOT_AT) {
      if (this.file.read(slot, at) < REDO_SLOT_BYTES) continue;
      const dv = new DataView(slot.buffer);
      if (dv.getUint32(0, true) !== REDO_HEAD_MAGIC || dv.getUint32(REDO_SLOT_CRC_AT, true) !== crc32(slot.subarray(0, REDO_SLOT_CRC_AT))) continue;
      if (dv.getUint32(4, true) !== REDO_HEAD_VERSION) {
        throw new StoreError(
          "VERSION",
          `${this.file.path}: redo log format ${dv.getUint32(4, true)} is not supported (this build reads format ${REDO_HEAD_VERSION})`,
        );
      }
      best = Math.max(best, Number(dv.getBigUint64(8, true)));
      durable = Math.max(durable, Number(dv.getBigUint64(24, true)));
    }
    return { seq: best, durable };
  }

  /** Reads the newest slot's seq for `replay`, and returns it. */
  readHead(): number {
    const { seq, durable } = this.#slots();
    this.#head = seq;
    this.#headDurable = durable;
    return seq;
  }

  /** The newest checkpoint the header named as durable when `readHead` read it. */
  get headDurable(): number {
    return this.#headDurable;
  }

  /** True when the header names another last commit than when `replay` began. */
  headMoved(): boolean {
    return this.newestSlot() !== this.#head;
  }

  /**
   * The records after `afterSeq` (consecutive), read from the start; the next append goes
   * after the last of them. Throws `CORRUPT` (file and offset) for damage a crash cannot
   * explain: see the module comment. `after` says what `afterSeq` is, for the message of a file
   * whose records start later (default: the commit point's seq).
   */
  replay(afterSeq: number, after: string | null = null): RedoRecord[] {
    const path = this.file.path;
    const newest = this.#head;
    const size = this.file.size();
    if (size < REDO_DATA_START) {
      throw new StoreError("CORRUPT", `${path}: the redo log is ${size} bytes, shorter than its ${REDO_DATA_START}-byte header`);
    }
    if (newest < 0) throw new StoreError("CORRUPT", `${path}: neither header slot of the redo log (at offsets 0 and ${REDO_SLOT_AT[1]}) is valid`);
    const out: RedoRecord[] = [];
    let pos = REDO_DATA_START;
    // Records the checkpoint already covers may open the log (none appended since it).
    let covered = -1;
    for (;;) {
      const at = this.#wholeAt(pos, size);
      if (at === null) {
        // Not a whole record. If it has a valid magic and length and the next record follows
        // it whole, it was not torn by a crash: appends are synced one by one.
        const next = this.#nextAfterDamaged(pos, size);
        if (next !== -1 && next > afterSeq + out.length) {
          throw new StoreError(
            "CORRUPT",
            `${path}: the record at offset ${pos} fails its checksum, yet record ${next} follows it whole: it was damaged after it was written`,
          );
        }
        break;
      }
      const { rec, seq } = at;
      if (out.length === 0 && seq <= afterSeq && (covered === -1 || seq === covered + 1)) {
        covered = seq;
        pos += rec.length;
        continue;
      }
      if (seq !== afterSeq + out.length + 1) {
        if (out.length === 0 && seq > afterSeq + 1) {
          // A log that starts after the record in force belongs to a newer commit point, which
          // the meta file no longer holds (damaged after it was written): refuse rather than go
          // back. After the other file's records: the ones between were lost.
          throw new StoreError(
            "CORRUPT",
            after === null
              ? `${path}: the redo log starts at commit ${seq} (offset ${pos}), after the last commit point the meta file holds (seq ${afterSeq}); the newer one is damaged`
              : `${path}: the redo log continues at commit ${seq} (offset ${pos}), after ${after}: the records between are damaged or missing`,
          );
        }
        break;
      }
      const decoded = decodeRecord(rec, new DataView(rec.buffer), seq);
      if (decoded === null) throw new StoreError("CORRUPT", `${path}: record ${seq} at offset ${pos} passes its checksum but does not parse`);
      out.push(decoded);
      pos += rec.length;
    }
    const last = afterSeq + out.length;
    if (last < newest - 1) {
      throw new StoreError(
        "CORRUPT",
        `${path}: record ${last + 1} at offset ${out.length === 0 ? REDO_DATA_START : pos} is damaged or missing, yet the log's header names commit ${newest} as appended after it`,
      );
    }
    this.#tail = out.length === 0 ? REDO_DATA_START : pos;
    this.#records = out.length;
    return out;
  }

  // The whole record (checksum checked) at byte `at` and its number, or null.
  #wholeAt(at: number, size: number): { rec: Uint8Array; seq: number } | null {
    const head = new Uint8Array(16);
    if (at + HEADER + 4 > size || this.file.read(head, at) < 16) return null;
    const dv = new DataView(head.buffer);
    const len = dv.getUint32(4, true);
    if (dv.getUint32(0, true) !== REDO_MAGIC || len < HEADER + 4 || at + len > size) return null;
    const rec = new Uint8Array(len);
    if (this.file.read(rec, at) < len) return null;
    if (new DataView(rec.buffer).getUint32(len - 4, true) !== crc32(rec.subarray(0, len - 4))) return null;
    return { rec, seq: Number(dv.getBigUint64(8, true)) };
  }

  // The number of the whole record right after a record at `at` whose magic and length are
  // intact but whose checksum fails; -1 when there is none.
  #nextAfterDamaged(at: number, size: number): number {
    const head = new Uint8Array(8);
    if (at + 8 > size || this.file.read(head, at) < 8) return -1;
    const dv = new DataView(head.buffer);
    const len = dv.getUint32(4, true);
    if (dv.getUint32(0, true) !== REDO_MAGIC || len < HEADER + 4 || at + len > size) return -1;
    return this.#wholeAt(at + len, size)?.seq ?? -1;
  }

  /** The number of the whole record at the start of the records, or Infinity. */
  leadSeq(): number {
    return this.#wholeAt(REDO_DATA_START, this.file.size())?.seq ?? Number.POSITIVE_INFINITY;
  }

  /** True when a whole record numbered `seq` starts at the tail. */
  appendedAtTail(seq: number): boolean {
    return this.#wholeAt(this.#tail, this.file.size())?.seq === seq;
  }

  /** Writes one commit's record and the header slot naming it at the tail, not synced. */
  write(seq: number, top: MerkleTop, changes: readonly Change[], durable: number): number {
    const rec = encodeRecord(seq, top, changes);
    this.file.write(rec, this.#tail);
    // The slot after the record: a reader that sees the slot finds the record whole.
    this.#writeSlot((seq & 1) as 0 | 1, seq, this.#tail + rec.length, durable);
    return rec.length;
  }

  /** The record `write` wrote (`length` bytes) was synced. */
  synced(length: number): void {
    this.#tail += length;
    this.#records++;
  }

  /**
   * The next append goes to the start: call only when every record here is covered by the
   * durable commit point. Nothing is written: the records left are numbered at most the
   * checkpoint's, which replay skips, and the header slots name at most that number. The file
   * keeps its length, so later appends overwrite in place (no size change to sync).
   */
  startOver(): void {
    this.#tail = REDO_DATA_START;
    this.#records = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }
}

/** One commit's record, checksummed. */
function encodeRecord(seq: number, top: MerkleTop, changes: readonly Change[]): Uint8Array {
  const len = HEADER + changesBytes(changes) + 4;
  const rec = new Uint8Array(len);
  const dv = new DataView(rec.buffer);
  dv.setUint32(0, REDO_MAGIC, true);
  dv.setUint32(4, len, true);
  dv.setBigUint64(8, BigInt(seq), true);
  rec.set(top.root, 16);
  rec[48] = top.kind;
  dv.setUint32(52, changes.length, true);
  let at = HEADER;
  for (const [key, value] of changes) {
    rec.set(key, at);
    at += KEY;
    if (value === null) {
      rec[at++] = 0;
    } else {
      rec[at++] = 1;
      dv.setUint32(at, value.length, true);
      at += 4;
      rec.set(value, at);
      at += value.length;
    }
  }
  dv.setUint32(at, crc32(rec.subarray(0, at)), true);
  return rec;
}

function decodeRecord(rec: Uint8Array, dv: DataView, seq: number): RedoRecord | null {
  const kind = rec[48];
  if (kind > 2) return null;
  const count = dv.getUint32(52, true);
  const end = rec.length - 4;
  const changes: Change[] = [];
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + KEY + 1 > end) return null;
    const key = rec.slice(at, at + KEY);
    at += KEY;
    const op = rec[at++];
    if (op === 0) {
      changes.push([key, null]);
    } else if (op === 1) {
      if (at + 4 > end) return null;
      const n = dv.getUint32(at, true);
      at += 4;
      if (at + n > end) return null;
      changes.push([key, rec.slice(at, at + n)]);
      at += n;
    } else {
      return null;
    }
  }
  if (at !== end) return null;
  return { seq, top: { root: rec.slice(16, 48), kind: kind as TrieNodeKind }, changes };
}
