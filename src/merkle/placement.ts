// Placement: which bucket of the live table each page of a checkpoint goes to. Pages already
// stored keep their bucket; new ones take the first free bucket of their probe sequence (linear
// probing from the id's hash); deleted ones leave a tombstone, or an empty bucket where no probe
// passes. The result is a WAL record; nothing is published until the page store's `apply`.
import { bucketHash, fingerprint, hashPageId } from "./bucket-hash.ts";
import { BucketTable, META_EMPTY, META_OCCUPIED, occupiedMeta } from "./bucket-table.ts";
import { STEP_PAGES, type Steps } from "../io/index.ts";
import type { PageTable } from "./page-table.ts";
import type { TableFile } from "./table-file.ts";
import type { WalRecord } from "./wal.ts";
import type { InPlace } from "./wal-apply.ts";

/** A table built by `prepare` for a growing commit, waiting for `apply` to go live. */
export interface NextTable {
  readonly table: TableFile;
  readonly meta: BucketTable;
  readonly cache: [bucket: number, page: Uint8Array][];
}

/** A prepared checkpoint of the page store: its WAL record, and the grown table if any. */
export interface PreparedPages {
  readonly rec: WalRecord;
  readonly next: NextTable | null;
  /** The WAL as written (shared memory): write-behind writes its page images from there. */
  wal?: Uint8Array;
  /** The WAL is being written and synced by the worker (see `PageStore.prepare`'s `walBehind`). */
  walBehind?: boolean;
  /** The in-place apply, built ahead of the publication (with `walBehind`). */
  inPlace?: InPlace;
  /** Spilled pages a rebuilt table holds (page-spill.ts): dropped from the spill once it is live. */
  spilled?: number;
}

/**
 * Places the changes in the live table's buckets, in steps (see io/steps.ts). The placing
 * works on a copy of the meta bytes (so later changes see earlier ones), so that reads between
 * steps see the live table unchanged: only `apply` publishes them. Returns null (nothing
 * staged) as soon as a new page would take the buckets that end no probe (occupied or
 * tombstone) past `limit`.
 */
export function* placeSteps(pt: PageTable, ids: Uint8Array[], pages: (Uint8Array | null)[], seq: number, limit: number): Steps<PreparedPages | null> {
  const live = pt.meta.meta;
  const t = new BucketTable(live.slice());
  const meta = t.meta;
  const before = new Map<number, number>();
  const note = (b: number, old: number) => {
    if (!before.has(b)) before.set(b, old);
  };
  const staged = new Map<number, Uint8Array>();
  for (let i = 0; i < ids.length; i++) {
    if (i % STEP_PAGES === STEP_PAGES - 1) yield;
    const id = ids[i];
    const page = pages[i];
    if (pt.find(id, staged, t) !== undefined) {
      const b = pt.lastBucket;
      if (page !== null) staged.set(b, page);
      else {
        staged.delete(b);
        t.vacate(b, note);
      }
      continue;
    }
    if (page === null) continue;
    const h = hashPageId(id);
    let b = bucketHash(h) & t.mask;
    while (meta[b] >= META_OCCUPIED) b = (b + 1) & t.mask;
    if (meta[b] === META_EMPTY && t.occupied + t.tombstones + 1 > limit) return null;
    note(b, meta[b]);
    t.set(b, occupiedMeta(fingerprint(h)));
    staged.set(b, page);
  }
  const metaBuckets: number[] = [];
  for (const b of before.keys()) if (meta[b] !== live[b]) metaBuckets.push(b);
  metaBuckets.sort((x, y) => x - y);
  const metaValues = new Uint8Array(metaBuckets.length);
  for (let i = 0; i < metaBuckets.length; i++) metaValues[i] = meta[metaBuckets[i]];
  const pageBuckets = Uint32Array.from(staged.keys()).sort();
  const images = Array.from(pageBuckets, (b) => staged.get(b) as Uint8Array);
  return {
    rec: {
      seq,
      gen: pt.table.gen,
      buckets: pt.table.buckets,
      rebuilt: false,
      pageBuckets,
      pages: images,
      metaBuckets: Uint32Array.from(metaBuckets),
      metaValues,
    },
    next: null,
  };
}
