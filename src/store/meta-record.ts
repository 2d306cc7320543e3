// The commit point: one checksummed record naming the whole committed state (sequence number,
// trie root, the value tree's meta, the page table). Two 4 KiB slots alternate: a record goes to
// the slot not holding the newest valid one, so a write torn by a crash never damages the
// record in force; at open the newest valid slot wins. (Checkpoints fall on any sequence
// numbers, so the slot cannot follow the number's parity: every-32nd-commit checkpoints would
// all land in one slot and a torn write would leave no record at all.)
import { crc32 } from "node:zlib";
import { decodeTreeMeta, encodeTreeMeta, TREE_META_SIZE, type TreeMeta } from "../kv/index.ts";
import type { KvFile } from "../io/index.ts";
import { decodeTableInfo, encodeTableInfo, type MerkleTop, TABLE_INFO_BYTES, type TableInfo } from "../merkle/index.ts";
import type { TrieNodeKind } from "../trie/index.ts";
import { StoreError } from "./errors.ts";

const SLOT_BYTES = 4096;
export const META_MAGIC = 0x544d4231; // "1BMT" little-endian
// 2: merkle pages carry a leaf count and small subtries are elided (pages of 1 are not valid).
// 3: the redo log has a header naming its last appended record (see redo-log.ts).
// 4: subtries under 128 leaves are elided, not under 16 (page table format 3): the page set of
//    a format-2 or -3 database is not this build's, so it is refused before anything is opened.
// 5: the redo log is two files taking turns at checkpoints (`redo.0`, `redo.1`; see
//    redo-log.ts): a format-4 database's commits after its checkpoint are in `redo`, which
//    this build does not read, so it is refused.
export const META_VERSION = 5;
// magic u32, version u32, seq u64, root 32, kind u8, pad 3, kv meta, table info, crc u32
const ROOT_AT = 16;
const KIND_AT = 48;
const KV_AT = 52;
const TABLE_AT = KV_AT + TREE_META_SIZE;
const CRC_AT = TABLE_AT + TABLE_INFO_BYTES;
const RECORD_BYTES = CRC_AT + 4;

/** What one commit made durable. */
export interface MetaRecord {
  readonly seq: number;
  readonly top: MerkleTop;
  readonly kv: TreeMeta;
  readonly table: TableInfo;
}

function encode(rec: MetaRecord): Uint8Array {
  const slot = new Uint8Array(SLOT_BYTES);
  const dv = new DataView(slot.buffer);
  dv.setUint32(0, META_MAGIC, true);
  dv.setUint32(4, META_VERSION, true);
  dv.setBigUint64(8, BigInt(rec.seq), true);
  slot.set(rec.top.root, ROOT_AT);
  slot[KIND_AT] = rec.top.kind;
  slot.set(encodeTreeMeta(rec.kv), KV_AT);
  encodeTableInfo(rec.table, slot.subarray(TABLE_AT, TABLE_AT + TABLE_INFO_BYTES));
  dv.setUint32(CRC_AT, crc32(slot.subarray(0, CRC_AT)), true);
  return slot;
}

function decode(slot: Uint8Array): MetaRecord | null {
  const dv = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (dv.getUint32(0, true) !== META_MAGIC) return null;
  if (dv.getUint32(CRC_AT, true) !== crc32(slot.subarray(0, CRC_AT))) return null;
  const version = dv.getUint32(4, true);
  if (version !== META_VERSION) {
    // A whole record of another format: refuse rather than take the database for empty.
    const pages =
      version === 2 || version === 3
        ? ": its merkle pages elide subtries under 16 leaves, this build's under 128; export its entries with the build that wrote it (bmt export) and import them with this one"
        : version === 4
          ? ": its redo log is one file (redo), this build's two (redo.0, redo.1); export its entries with the build that wrote it (bmt export) and import them with this one"
          : "";
    throw new StoreError("VERSION", `database format ${version} is not supported (this build reads format ${META_VERSION})${pages}`);
  }
  const kind = slot[KIND_AT];
  if (kind > 2) return null;
  try {
    return {
      seq: Number(dv.getBigUint64(8, true)),
      top: { root: slot.slice(ROOT_AT, ROOT_AT + 32), kind: kind as TrieNodeKind },
      kv: decodeTreeMeta(slot.subarray(KV_AT, KV_AT + TREE_META_SIZE)),
      table: decodeTableInfo(slot.subarray(TABLE_AT, TABLE_AT + TABLE_INFO_BYTES)),
    };
  } catch {
    return null;
  }
}

/** Reads the newest valid record, or null for a file that never saw a commit point. */
export function readMetaRecord(file: KvFile): MetaRecord | null {
  return newest(file).rec;
}

// The newest valid record and its slot (-1 when neither slot holds one).
function newest(file: KvFile): { rec: MetaRecord | null; slot: number } {
  let best: MetaRecord | null = null;
  let at = -1;
  for (let i = 0; i < 2; i++) {
    const slot = new Uint8Array(SLOT_BYTES);
    if (file.read(slot, i * SLOT_BYTES) < RECORD_BYTES) continue;
    const rec = decode(slot);
    if (rec && (!best || rec.seq > best.seq)) {
      best = rec;
      at = i;
    }
  }
  return { rec: best, slot: at };
}

/**
 * Writes `rec` to the slot not holding the newest valid record, and syncs: once this returns,
 * the commit point is durable; if it is torn, the previous record stays in force.
 */
export function writeMetaRecord(file: KvFile, rec: MetaRecord): void {
  const { bytes, at } = metaRecordWrite(file, rec);
  file.write(bytes, at);
  file.sync();
}

/**
 * What `writeMetaRecord` writes, and where, for a caller that has the write and the sync done
 * elsewhere (the write-behind worker); the same rule applies: durable once synced.
 */
export function metaRecordWrite(file: KvFile, rec: MetaRecord): { bytes: Uint8Array; at: number } {
  const { slot } = newest(file);
  return { bytes: encode(rec), at: (slot === 0 ? 1 : 0) * SLOT_BYTES };
}
