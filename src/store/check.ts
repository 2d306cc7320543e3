// A full check of a database's files: reads every page and record and checks it against the
// values. It opens the files itself, read-only and without the lock, and changes nothing:
//   meta     the commit point's record (checksummed; the newest valid slot is in force);
//   values   the value B+tree of the last checkpoint: every page's checksum and structure, key
//            order, overflow chains, the entry count and free pages (KvTree.check);
//   merkle   every page the checkpoint's values call for, computed afresh from the values (a
//            trie update over an empty state) and compared byte for byte with the stored page
//            (whose checksum the read verifies); a stored page too many; the recomputed root
//            against the record's; then the table file itself, every occupied bucket's page
//            checksum and the meta region's (a bucket torn by a crash while a checkpoint's WAL
//            was applied is reported too, though the next writer's open repairs it);
//   redo     every record logged since the checkpoint (checksums, sequence), and the root of the
//            values with those commits applied against the last record's root.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { nodeFileSystem } from "../io/index.ts";
import { encodeTreeMeta, KvCorruptionError, KvError, type KvTree, openKv } from "../kv/index.ts";
import { META_OCCUPIED } from "../merkle/bucket-table.ts";
import { type Change, EMPTY_TOP, updateTrie } from "../merkle/index.ts";
import { checkPage, MERKLE_PAGE_BYTES, sealMerklePage } from "../merkle/page.ts";
import { PageStoreCorruptionError, PageStoreError } from "../merkle/page-store-errors.ts";
import { PageStore } from "../merkle/page-store.ts";
import { TableFile, tableFileName } from "../merkle/table-file.ts";
import { toHex } from "../trie/hex.ts";
import { compareKeys } from "../trie/key.ts";
import { type Entry, trieRoot } from "../trie/index.ts";
import { StoreError } from "./errors.ts";
import { type MetaRecord, readMetaRecord } from "./meta-record.ts";
import { openRedoLog, REDO_FILE_NAMES, type RedoLog } from "./redo-log.ts";

/** One problem found: where (file, byte offset when known) and what. */
export interface Problem {
  file: string;
  offset: number | null;
  problem: string;
}

/** What a check found; `root` and `entries` are those after the redo log's commits. */
export interface StoreCheckReport {
  ok: boolean;
  root: string | null;
  entries: number;
  merklePages: number;
  redoRecords: number;
  problems: Problem[];
}

/** Progress of the long phases ("values": entries read, "merkle": pages compared). */
export interface CheckProgress {
  start(phase: "values" | "merkle", total: number, unit: string): { update(done: number): void; finish(): void };
}

const NO_PROGRESS: CheckProgress = { start: () => ({ update() {}, finish() {} }) };

/** A problem from an engine error: corruption errors carry file and offset. */
function problemOf(e: unknown, file: string): Problem {
  // Their messages repeat the file and offset: keep what follows.
  if (e instanceof KvCorruptionError || e instanceof PageStoreCorruptionError)
    return { file: e.file, offset: e.offset, problem: e.message.replace(/^.* at offset \d+: /, "") };
  if (e instanceof KvError || e instanceof PageStoreError || e instanceof StoreError) return { file, offset: null, problem: e.message };
  throw e;
}

/** A computed page as the store writes it: id stamped, checksum sealed. */
function sealed(page: Uint8Array, id: Uint8Array): Uint8Array {
  const copy = page.slice();
  sealMerklePage(copy, id);
  return copy;
}

const noPages = { get: () => undefined };
const noState = {
  leafKeyAt(): Uint8Array {
    throw new Error("an update over an empty state reads no leaves");
  },
  scanUnder() {},
};

/**
 * Checks the database at `path` (which must hold one); `onProblem` hears each problem as it is
 * found. Run it while no process writes the database.
 */
export function checkDatabase(path: string, progress: CheckProgress = NO_PROGRESS, onProblem?: (p: Problem) => void): StoreCheckReport {
  const problems: Problem[] = [];
  const report = (p: Problem) => {
    problems.push(p);
    onProblem?.(p);
  };
  const metaPath = join(path, "meta");
  const metaFile = nodeFileSystem.open(metaPath);
  let root: string | null = null;
  let entriesCount = 0;
  let merklePages = 0;
  let redoRecords = 0;
  try {
    let rec: MetaRecord | null;
    try {
      rec = readMetaRecord(metaFile);
    } catch (e) {
      report(problemOf(e, metaPath));
      rec = null;
    }
    if (rec === null) {
      if (problems.length === 0) report({ file: metaPath, offset: null, problem: "no valid commit record" });
    } else {
      // Values: structure and checksums of every page, then the entries.
      let entries: Entry[] = [];
      let values: KvTree | null = null;
      try {
        values = openKv(join(path, "values"), { meta: encodeTreeMeta(rec.kv) });
        values.check();
        const bar = progress.start("values", rec.kv.entries, "entries");
        for (const [key, value] of values.entries()) {
          entries.push({ key, value });
          if ((entries.length & 4095) === 0) bar.update(entries.length);
        }
        bar.update(entries.length);
        bar.finish();
      } catch (e) {
        report(problemOf(e, join(path, "values")));
        entries = [];
      } finally {
        values?.close();
      }
      entriesCount = entries.length;
      // Merkle pages: recompute every page from the values, compare with the stored ones.
      if (problems.length === 0) {
        const changes: Change[] = entries.map((e) => [e.key, e.value]);
        const computed = updateTrie(EMPTY_TOP, changes, noPages, noState);
        if (toHex(computed.top.root) !== toHex(rec.top.root) || computed.top.kind !== rec.top.kind) {
          report({ file: metaPath, offset: null, problem: `the values give root ${toHex(computed.top.root)}, the record names ${toHex(rec.top.root)}` });
        }
        const merkleDir = join(path, "merkle");
        let pages: PageStore | null = null;
        try {
          pages = PageStore.open(merkleDir, { committedSeq: rec.seq, table: rec.table, readOnly: true });
          const bar = progress.start("merkle", computed.writes.length, "pages");
          let n = 0;
          for (const w of computed.writes) {
            if (w.page === null) continue;
            n++;
            if ((n & 255) === 0) bar.update(n);
            let stored: Uint8Array | undefined;
            try {
              stored = pages.get(w.id);
            } catch (e) {
              report(problemOf(e, merkleDir));
              continue;
            }
            if (stored === undefined) report({ file: merkleDir, offset: null, problem: `page ${toHex(w.id)} is missing` });
            else if (Buffer.compare(stored, sealed(w.page, w.id)) !== 0)
              report({ file: merkleDir, offset: null, problem: `page ${toHex(w.id)} differs from the page its values give` });
          }
          bar.update(n);
          bar.finish();
          merklePages = pages.size;
          if (pages.size > n) report({ file: merkleDir, offset: null, problem: `${pages.size} pages stored, the values call for ${n}` });
        } catch (e) {
          report(problemOf(e, merkleDir));
        } finally {
          pages?.close();
        }
        // The table file itself: every occupied bucket's page checksum, the meta region's.
        // (Served from the WAL above when a checkpoint's WAL is not yet applied; read here.)
        const tablePath = join(merkleDir, tableFileName(rec.table.gen));
        const file = nodeFileSystem.open(tablePath);
        try {
          const table = TableFile.open(file, rec.table.gen, rec.table.buckets);
          const meta = table.readMeta();
          table.checkMeta(meta);
          const page = new Uint8Array(MERKLE_PAGE_BYTES);
          for (let b = 0; b < meta.length; b++) {
            if (meta[b] < META_OCCUPIED) continue;
            const at = table.offsetOf(b);
            if (file.read(page, at) < MERKLE_PAGE_BYTES) report({ file: tablePath, offset: at, problem: `bucket ${b} truncated` });
            else if (!checkPage(page)) report({ file: tablePath, offset: at, problem: `bucket ${b}: page checksum mismatch` });
          }
        } catch (e) {
          report(problemOf(e, tablePath));
        } finally {
          file.close();
        }
        root = toHex(rec.top.root);
      }
      // Redo log: the records after the checkpoint, and the root they lead to.
      let redoPath = join(path, REDO_FILE_NAMES[0]);
      let log: RedoLog | null = null;
      try {
        // A commit point with no log beside it: the commits logged since it are gone.
        for (const n of REDO_FILE_NAMES) {
          redoPath = join(path, n);
          if (!existsSync(redoPath)) throw new StoreError("CORRUPT", `${redoPath} is missing: the commit point (seq ${rec.seq}) needs it`);
        }
        log = openRedoLog(nodeFileSystem, path);
        redoPath = join(path, "redo.*");
        const records = log.replay(rec.seq);
        redoPath = log.file.path;
        redoRecords = records.length;
        const last = records.at(-1);
        if (last !== undefined && problems.length === 0) {
          const state = new Map<string, Entry>();
          for (const e of entries) state.set(toHex(e.key), e);
          for (const r of records)
            for (const [k, v] of r.changes) {
              if (v === null) state.delete(toHex(k));
              else state.set(toHex(k), { key: k, value: v });
            }
          const now = [...state.values()].sort((a, b) => compareKeys(a.key, b.key));
          const got = toHex(trieRoot(now));
          if (got !== toHex(last.top.root))
            report({ file: redoPath, offset: null, problem: `record ${last.seq} names root ${toHex(last.top.root)}, its changes give ${got}` });
          entriesCount = now.length;
          root = toHex(last.top.root);
        }
      } catch (e) {
        // The replay's messages begin with the file they are about.
        const named = REDO_FILE_NAMES.map((n) => join(path, n)).find((f) => e instanceof Error && e.message.startsWith(`${f}:`));
        report(problemOf(e, named ?? redoPath));
      } finally {
        log?.close();
      }
    }
  } finally {
    metaFile.close();
  }
  return { ok: problems.length === 0, root, entries: entriesCount, merklePages, redoRecords, problems };
}
