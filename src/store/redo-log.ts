// The redo log: each commit's batch, appended and synced, is what makes the commit durable.
//
// Pages (values and merkle) are written only at checkpoints, every few commits, so the bytes a
// commit must put on disk before it is acknowledged are its batch (~70 bytes per change), not
// the ~4 KiB value page and merkle page each changed key dirties. Reopening replays the records
// after the checkpoint's sequence number through the same update, checking each root.
//
// Record (little-endian), appended back to back from offset 0 after every checkpoint:
//   0   u32 magic "BMTR"
//   4   u32 record length in bytes, all fields included
//   8   u64 sequence number
//   16  32  root after the commit
//   48  u8  root kind (0 empty, 1 leaf, 2 branch), 3 zero bytes
//   52  u32 number of changes
//   56  changes in key order: 31-byte key, u8 op (0 delete, 1 set), and for a set u32 value
//       length and the value
//   end u32 CRC-32 of every byte before it
// Replay accepts records with consecutive sequence numbers from the expected one and stops at
// the first that is torn, fails its checksum or carries another number: a record left from
// before the last checkpoint has a smaller one. A record that fails its checksum although the
// next record follows it whole was not torn by a crash (appends are synced one by one): it was
// damaged after it was acknowledged, and replay reports CORRUPT rather than drop the commits
// from there on. (Damage to the last record, or to the magic, length or number of one, still
// looks like a torn end.)
import { crc32 } from "node:zlib";
import type { KvFile } from "../io/index.ts";
import type { Change, MerkleTop } from "../merkle/index.ts";
import { type TrieNodeKind } from "../trie/index.ts";
import { StoreError } from "./errors.ts";

const REDO_MAGIC = 0x52544d42; // "BMTR"
const HEADER = 56;
const KEY = 31;

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

/** Appends commits to one file and replays them after a crash. */
export class RedoLog {
  #tail = 0;
  #records = 0;
  #fsyncs = 0;
  #bytesWritten = 0;
  #closed = false;

  constructor(private readonly file: KvFile) {}

  /** Bytes of records since the last reset. */
  get bytes(): number {
    return this.#tail;
  }

  /** Records appended since the last reset. */
  get records(): number {
    return this.#records;
  }

  /** Counters since open. */
  stats(): { fsyncs: number; bytesWritten: number } {
    return { fsyncs: this.#fsyncs, bytesWritten: this.#bytesWritten };
  }

  /**
   * The records after `afterSeq` (consecutive), read from the start; the next append goes
   * after the last of them.
   */
  replay(afterSeq: number): RedoRecord[] {
    const out: RedoRecord[] = [];
    const size = this.file.size();
    const head = new Uint8Array(HEADER);
    let pos = 0;
    for (;;) {
      if (pos + HEADER + 4 > size || this.file.read(head, pos) < HEADER) break;
      const dv = new DataView(head.buffer);
      if (dv.getUint32(0, true) !== REDO_MAGIC) break;
      const len = dv.getUint32(4, true);
      if (len < HEADER + 4 || pos + len > size) break;
      const seq = Number(dv.getBigUint64(8, true));
      if (seq !== afterSeq + out.length + 1) break;
      const rec = new Uint8Array(len);
      if (this.file.read(rec, pos) < len) break;
      const rdv = new DataView(rec.buffer);
      if (rdv.getUint32(len - 4, true) !== crc32(rec.subarray(0, len - 4))) {
        if (this.#seqOfWholeAt(pos + len, size) === seq + 1) {
          throw new StoreError("CORRUPT", `${this.file.path}: record ${seq} at ${pos} fails its checksum, yet record ${seq + 1} follows it whole: it was damaged after it was written`);
        }
        break;
      }
      const decoded = decodeRecord(rec, rdv, seq);
      if (decoded === null) {
        throw new StoreError("CORRUPT", `${this.file.path}: record ${seq} at ${pos} passes its checksum but does not parse`);
      }
      out.push(decoded);
      pos += len;
    }
    this.#tail = pos;
    this.#records = out.length;
    return out;
  }

  // The number of the whole record (checksum included) starting at byte `at`, or -1.
  #seqOfWholeAt(at: number, size: number): number {
    const head = new Uint8Array(16);
    if (at + HEADER + 4 > size || this.file.read(head, at) < 16) return -1;
    const dv = new DataView(head.buffer);
    const len = dv.getUint32(4, true);
    if (dv.getUint32(0, true) !== REDO_MAGIC || len < HEADER + 4 || at + len > size) return -1;
    const rec = new Uint8Array(len);
    if (this.file.read(rec, at) < len) return -1;
    if (new DataView(rec.buffer).getUint32(len - 4, true) !== crc32(rec.subarray(0, len - 4))) return -1;
    return Number(dv.getBigUint64(8, true));
  }

  /**
   * The number of the whole record at the start of the log, or -1. After a checkpoint at seq C
   * the log starts over with record C + 1 (or still holds the records up to C): a first record
   * numbered above `afterSeq + 1` means a newer commit point than `afterSeq` was made.
   */
  firstSeq(): number {
    return this.#seqOfWholeAt(0, this.file.size());
  }

  /**
   * True when a record numbered `seq` starts at byte `at` (whole or being written): how a
   * reader learns that a writer has committed after the records it replayed.
   */
  recordAt(at: number, seq: number): boolean {
    const head = new Uint8Array(16);
    if (this.file.read(head, at) < 16) return false;
    const dv = new DataView(head.buffer);
    return dv.getUint32(0, true) === REDO_MAGIC && Number(dv.getBigUint64(8, true)) === seq;
  }

  /** Appends one commit and syncs: when this returns, the commit is durable. */
  append(seq: number, top: MerkleTop, changes: readonly Change[]): void {
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
    this.file.write(rec, this.#tail);
    this.file.sync();
    this.#fsyncs++;
    this.#bytesWritten += len;
    this.#tail += len;
    this.#records++;
  }

  /**
   * Starts over at offset 0; call only once a checkpoint covering every record is durable.
   * The file keeps its length, so later appends overwrite in place (no size change to sync).
   */
  reset(): void {
    this.#tail = 0;
    this.#records = 0;
  }

  /** Closes the file; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }
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
