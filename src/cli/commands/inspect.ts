// `bmt inspect`: what is in a database directory: files, entries, pages, caches, logs, format.
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { open, toHex } from "../../index.ts";
import { META_MAGIC } from "../../store/meta-record.ts";
import { Store } from "../../store/store.ts";
import { type Command, dbPath, flag, JSON_OPTION, positionals, printJson, rollbackWindow, WINDOW_OPTION } from "../command.ts";
import { requireDb } from "../db-access.ts";
import { compact } from "../progress.ts";

/** Every file under `dir` with its size, paths relative to `dir`. */
function files(dir: string): { file: string; bytes: number }[] {
  const out: { file: string; bytes: number }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ file: relative(dir, p), bytes: statSync(p).size });
    }
  };
  walk(dir);
  return out;
}

// The meta file: two 4 KiB slots, each starting with the magic and the format version (u32 LE).
const META_SLOT = 4096;

/** The format versions of the meta file's slots that carry the magic. */
function formatVersions(path: string): number[] {
  const fd = openSync(join(path, "meta"), "r");
  try {
    const versions: number[] = [];
    const head = Buffer.alloc(8);
    for (let slot = 0; slot < 2; slot++) {
      if (readSync(fd, head, 0, 8, slot * META_SLOT) < 8) break;
      if (head.readUInt32LE(0) === META_MAGIC) versions.push(head.readUInt32LE(4));
    }
    return [...new Set(versions)];
  } finally {
    closeSync(fd);
  }
}

/** What the store reports about itself, with the files and format read beside it. */
function figures(path: string, store: Store, versions: number[], fileList: { file: string; bytes: number }[]) {
  const s = store.stats();
  return {
    path,
    formatVersion: versions.length === 1 ? versions[0] : versions,
    root: toHex(store.root),
    seq: store.seq,
    entries: store.size,
    files: fileList,
    totalBytes: fileList.reduce((n, f) => n + f.bytes, 0),
    values: {
      height: s.values.height,
      pages: s.values.highWater,
      reusablePages: s.values.reusablePages,
      pendingPages: s.values.pendingPages,
      cachedPages: s.values.cachedPages,
      cacheCapacityPages: s.values.cacheCapacity,
    },
    merkle: {
      pages: s.merkle.pages,
      buckets: s.merkle.buckets,
      occupancy: s.merkle.buckets > 0 ? Number((s.merkle.pages / s.merkle.buckets).toFixed(4)) : 0,
      tombstones: s.merkle.tombstones,
      tableGeneration: s.merkle.gen,
      cachedPages: s.merkle.cachedPages + s.merkle.pinnedPages,
      replayedWals: s.merkle.replays,
    },
    redo: { records: s.redo.records, bytes: s.redo.bytes },
    rollback: { depth: 0, logSnapshots: 0 },
  };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export const inspectCommand: Command = {
  name: "inspect",
  summary: "what a database holds: files, entries, pages, caches, logs, format",
  usage: `usage: bmt inspect --db PATH [--window N] [--json]

Prints the database's files and sizes, format version, root and sequence number, entries,
the value tree (height, pages, free pages), the merkle page store (pages, buckets, occupancy,
tombstones, table generation), caches, the redo log (commits logged since the last checkpoint)
and the rollback log (commits rollback can undo). Opens the database as its writer (takes the
lock; closing checkpoints the commits the redo log holds, as every writer's close does).
  --window N    the rollback window to open it with (default 100; see bmt help history)
  --json        the same as one JSON object (fields as in the text, camelCase)
Exit: 0, 1 no database or it is held by another process, 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...WINDOW_OPTION },
  run(args, io) {
    const path = dbPath(args);
    positionals(args, []);
    requireDb(path);
    const versions = formatVersions(path);
    const fileList = files(path);
    const store = Store.open(path, { create: false });
    let info: ReturnType<typeof figures>;
    try {
      info = figures(path, store, versions, fileList);
    } finally {
      store.close();
    }
    {
      const db = open(path, { create: false, rollbackWindow: rollbackWindow(args) });
      try {
        const m = db.metrics();
        info.rollback = { depth: m.rollbackDepth, logSnapshots: m.rollbackLogSnapshots };
      } finally {
        db.close();
      }
    }
    if (flag(args, "json")) {
      printJson(io, info);
      return 0;
    }
    const i = info;
    io.out(`database       ${i.path}`);
    io.out(`format         ${Array.isArray(i.formatVersion) ? i.formatVersion.join(", ") : i.formatVersion}`);
    io.out(`root           ${i.root}`);
    io.out(`seq            ${i.seq} (commits and rollbacks)`);
    io.out(`entries        ${i.entries} (${compact(i.entries)})`);
    io.out(`files          ${mib(i.totalBytes)} in ${i.files.length} files`);
    for (const f of i.files) io.out(`  ${f.file.padEnd(24)} ${String(f.bytes).padStart(14)} bytes`);
    io.out(
      `values         B+tree height ${i.values.height}, ${i.values.pages} pages (4 KiB), ${i.values.reusablePages} free, ${i.values.pendingPages} pending reuse`,
    );
    io.out(
      `merkle pages   ${i.merkle.pages} in ${i.merkle.buckets} buckets (occupancy ${(i.merkle.occupancy * 100).toFixed(1)} %), ${i.merkle.tombstones} tombstones, table generation ${i.merkle.tableGeneration}`,
    );
    io.out(`caches         values ${i.values.cachedPages}/${i.values.cacheCapacityPages} pages, merkle ${i.merkle.cachedPages} pages`);
    io.out(`redo log       ${i.redo.records} commits since the last checkpoint (${i.redo.bytes} bytes)`);
    io.out(`rollback log   ${i.rollback.depth} commits can be rolled back`);
    return 0;
  },
};
