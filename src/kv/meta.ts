// The tree-meta record: everything needed to reopen a tree, in 64 bytes with its own checksum.
// The kv publishes it in one of two meta pages when used alone; a store layer may instead keep
// the bytes in its own commit record and hand them back at open.
import { crc32 } from "node:zlib";
import { KvError } from "./errors.ts";
import type { KvFile } from "../io/file.ts";
import { KIND_META, newPage, PAGE_HEADER, PAGE_SIZE, pageIsSound, readU32, sealValuePage, writeU32 } from "./page.ts";

/** Size of an encoded tree-meta record. */
export const TREE_META_SIZE = 64;

const TREE_META_MAGIC = 0x4b544d42; // "BMTK"
const TREE_META_VERSION = 1;

/** State of a tree as of one commit. */
export interface TreeMeta {
  /** Commit sequence number; 0 for a freshly created, never committed tree. */
  readonly seq: number;
  /** Root page number; 0 for an empty tree. */
  readonly root: number;
  /** Levels of the tree: 0 when empty, 1 when the root is a leaf. */
  readonly height: number;
  /** Pages in use or ever used: every page number is below this. */
  readonly highWater: number;
  /** First page of the free-list chain; 0 when the free list is empty. */
  readonly freeHead: number;
  /** Number of free page numbers recorded in the chain. */
  readonly freeCount: number;
  /** Number of key-value entries in the tree. */
  readonly entries: number;
}

function u53(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 0x1_0000_0000)];
}

/** Encodes a tree-meta record into TREE_META_SIZE bytes. */
export function encodeTreeMeta(m: TreeMeta): Uint8Array {
  const b = new Uint8Array(TREE_META_SIZE);
  writeU32(b, 0, TREE_META_MAGIC);
  writeU32(b, 4, TREE_META_VERSION);
  const [sl, sh] = u53(m.seq);
  writeU32(b, 8, sl);
  writeU32(b, 12, sh);
  writeU32(b, 16, m.root);
  writeU32(b, 20, m.height);
  writeU32(b, 24, m.highWater);
  writeU32(b, 28, m.freeHead);
  writeU32(b, 32, m.freeCount);
  const [el, eh] = u53(m.entries);
  writeU32(b, 36, el);
  writeU32(b, 40, eh);
  writeU32(b, TREE_META_SIZE - 4, crc32(b.subarray(0, TREE_META_SIZE - 4)));
  return b;
}

/** Decodes a tree-meta record; throws `BAD_META` unless it is intact and of a known version. */
export function decodeTreeMeta(b: Uint8Array): TreeMeta {
  if (!(b instanceof Uint8Array) || b.length < TREE_META_SIZE) {
    throw new KvError("BAD_META", `tree meta: expected ${TREE_META_SIZE} bytes`);
  }
  if (readU32(b, TREE_META_SIZE - 4) !== crc32(b.subarray(0, TREE_META_SIZE - 4))) {
    throw new KvError("BAD_META", "tree meta: checksum mismatch");
  }
  if (readU32(b, 0) !== TREE_META_MAGIC || readU32(b, 4) !== TREE_META_VERSION) {
    throw new KvError("BAD_META", "tree meta: unknown magic or version");
  }
  return {
    seq: readU32(b, 8) + readU32(b, 12) * 0x1_0000_0000,
    root: readU32(b, 16),
    height: readU32(b, 20),
    highWater: readU32(b, 24),
    freeHead: readU32(b, 28),
    freeCount: readU32(b, 32),
    entries: readU32(b, 36) + readU32(b, 40) * 0x1_0000_0000,
  };
}

/** Publishes `meta` in the meta page of its seq's parity, and syncs (standalone trees). */
export function writeMetaPage(file: KvFile, meta: TreeMeta): void {
  const no = meta.seq % 2;
  const p = newPage(KIND_META);
  p.set(encodeTreeMeta(meta), PAGE_HEADER);
  sealValuePage(p, no);
  file.write(p, no * PAGE_SIZE);
  file.sync();
}

// The newer of the two meta pages that passes its checks, or null when neither does.
export function readMetaPages(file: KvFile): TreeMeta | null {
  let best: TreeMeta | null = null;
  for (let no = 0; no < 2; no++) {
    const p = new Uint8Array(PAGE_SIZE);
    if (file.read(p, no * PAGE_SIZE) !== PAGE_SIZE) continue;
    if (!pageIsSound(p, no) || p[4] !== KIND_META) continue;
    let m: TreeMeta;
    try {
      m = decodeTreeMeta(p.subarray(PAGE_HEADER, PAGE_HEADER + TREE_META_SIZE));
    } catch {
      continue;
    }
    if (m.seq % 2 !== no) continue;
    if (best === null || m.seq > best.seq) best = m;
  }
  return best;
}
