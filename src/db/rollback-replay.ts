// Reading the rollback log at open: which of the two files is in force, the replay of a file
// (its snapshot, then its events up to the store's seq) and the undo chain it gives. The
// layout, and why each case below is damage or a crash, is in rollback-log.ts's comment.
import type { MerkleTop } from "../merkle/index.ts";
import { DbError } from "./errors.ts";
import { equalBytes } from "./keys.ts";
import { decodeEvent, decodeHeader, type Header, LOG_HEADER_BYTES, type LogEvent, type UndoRecord, wholeEventAfter } from "./rollback-codec.ts";

/** Why `RollbackLog.open` started a new chain instead of keeping the one on disk. */
export type LogResetReason = "new" | "behind-store" | "damaged" | "root-mismatch" | "missing";

/** What the log's files hold at open. */
export interface InForce {
  /** The file in force (-1: none). */
  cur: 0 | 1 | -1;
  /** The highest generation of a valid header. */
  maxGen: number;
  /** Set when the chain on disk is not kept, and why. */
  reason: LogResetReason | null;
  /** The undo chain, where the file in force ends, and its events after the snapshot. */
  chain: UndoRecord[];
  end: number;
  events: number;
}

/**
 * Chooses the file in force from the files' `images` (`present`: the file exists; `name`: its
 * path) for a store at `storeSeq` with root `storeTop`, and replays it; throws `CORRUPT` for
 * damage a crash cannot explain.
 */
export function inForce(
  images: readonly Uint8Array[],
  present: readonly boolean[],
  name: (i: number) => string,
  storeSeq: number,
  storeTop: MerkleTop,
  window: number,
): InForce {
  const headers = images.map((b) => decodeHeader(b));
  let cur: 0 | 1 | -1 = -1;
  for (const i of [0, 1] as const) {
    const h = headers[i];
    if (h && (cur === -1 || h.gen > (headers[cur] as Header).gen)) cur = i;
  }
  const corrupt = (i: number, what: string) => new DbError("CORRUPT", `${name(i)}: ${what}`);
  if (cur === -1 && images[0].length > 0 && images[1].length > 0) {
    // Each file is emptied, written and synced, and only then given its header: two files
    // that were both written once had a valid header, and a crash tears at most one.
    throw corrupt(0, `neither rollback.0 nor rollback.1 has a valid header (offset 0), though both were written`);
  }
  if (cur !== -1 && !present[1 - cur] && (headers[cur] as Header).gen > 1) {
    throw corrupt(1 - cur, `missing beside ${name(cur)} of generation ${(headers[cur] as Header).gen}`);
  }
  const maxGen = Math.max(headers[0]?.gen ?? 0, headers[1]?.gen ?? 0);
  let reason: LogResetReason | null = cur === -1 ? (storeSeq > 0 && !present[0] && !present[1] ? "missing" : "new") : null;
  let chain: UndoRecord[] = [];
  let end = 0;
  let events = 0;
  if (cur !== -1) {
    let r: ReturnType<typeof replay> | Error;
    try {
      r = replay(images[cur], headers[cur] as Header, storeSeq, window, name(cur));
    } catch (e) {
      r = e as Error;
    }
    const older = (1 - cur) as 0 | 1;
    if (typeof r !== "object" || r instanceof Error) {
      // A snapshot written in the background is in force only once the events committed
      // while it was written follow it durably in its file (carried over under one sync,
      // so a crash may leave any of them torn): until then the older file, which got each
      // of those events under its own commit's sync, reaches the store and is in force.
      let r2: ReturnType<typeof replay> | null = null;
      try {
        if (headers[older] !== null) r2 = replay(images[older], headers[older] as Header, storeSeq, window, name(older));
      } catch {
        r2 = null;
      }
      if (r2 !== null && typeof r2 !== "string") {
        r = r2;
        cur = older;
      }
    }
    if (r instanceof Error) throw r;
    if (typeof r === "string") {
      const other = 1 - cur;
      if (r === "behind-store" || r === "damaged") {
        // The other file, missing or with a header that fails, was the newer one.
        if (!present[other]) throw corrupt(other, `missing, and ${name(cur)} does not reach the store's commit ${storeSeq}`);
        if (headers[other] === null && images[other].length > 0) {
          throw corrupt(other, `the header (offset 0) fails its checksum, and ${name(cur)} does not reach the store's commit ${storeSeq}`);
        }
      }
      reason = r;
    } else {
      const last = r.chain.at(-1);
      if (last && (!equalBytes(last.top.root, storeTop.root) || last.top.kind !== storeTop.kind)) reason = "root-mismatch";
      else ({ chain, end, events } = r);
    }
  }
  return { cur, maxGen, reason, chain, end, events };
}

/** Each undo record's event bytes as first encoded or read, so snapshots do not encode again. */
export const encoded: WeakMap<UndoRecord, Uint8Array> = new WeakMap();

/** Applies one event to a chain kept at most `window` long (Infinity: untrimmed). */
export function applyEvent(chain: UndoRecord[], e: LogEvent, window: number): void {
  if (e.kind === "forward") {
    chain.push(e.record);
    if (chain.length > window) chain.splice(0, chain.length - window);
  } else {
    chain.splice(Math.max(0, chain.length - e.n));
    if (chain.length > e.remaining) chain.splice(0, chain.length - e.remaining);
  }
}

/**
 * Replays a file: its snapshot, then its consecutive events up to the store's seq. Forward
 * events are not trimmed to `window` on the way (rollback events trim to what they left), only
 * the result is, so that a rollback pops what it popped when it was written even when the
 * window is smaller now.
 */
function replay(
  image: Uint8Array,
  h: Header,
  storeSeq: number,
  window: number,
  file: string,
): { chain: UndoRecord[]; end: number; events: number } | LogResetReason {
  if (h.snapSeq > storeSeq) return "damaged";
  const chain: UndoRecord[] = [];
  let at = LOG_HEADER_BYTES;
  for (let i = 0; i < h.snapCount; i++) {
    const d = decodeEvent(image, at);
    // The snapshot was synced before its header was written: it cannot be torn.
    if (d === null || d.event.kind !== "forward") throw new DbError("CORRUPT", `${file}: snapshot record ${i} of ${h.snapCount} at offset ${at} is damaged`);
    encoded.set(d.event.record, image.slice(at, at + d.length));
    applyEvent(chain, d.event, Infinity);
    at += d.length;
  }
  if (at !== LOG_HEADER_BYTES + h.snapBytes)
    throw new DbError("CORRUPT", `${file}: the snapshot ends at offset ${at}, its header says ${LOG_HEADER_BYTES + h.snapBytes}`);
  let seq = h.snapSeq;
  let events = 0;
  while (seq < storeSeq) {
    const d = decodeEvent(image, at);
    const s = d === null ? -1 : d.event.kind === "forward" ? d.event.record.seq : d.event.seq;
    if (d === null || s !== seq + 1) {
      const later = wholeEventAfter(image, at + 1, seq);
      if (later !== null) {
        throw new DbError(
          "CORRUPT",
          `${file}: the event at offset ${at} (commit ${seq + 1}) is damaged, yet event ${later.seq} follows it whole at offset ${later.at}`,
        );
      }
      // Bytes that do not decode where the store's next commit should be: damage, or a
      // torn event of a commit that never reached its commit point before commits without
      // the log. Nothing tells them apart; the caller is told.
      if (d === null && at < image.length) return "damaged";
      break;
    }
    if (d.event.kind === "forward") encoded.set(d.event.record, image.slice(at, at + d.length));
    applyEvent(chain, d.event, Infinity);
    at += d.length;
    seq = s;
    events++;
  }
  if (seq !== storeSeq) return "behind-store";
  if (chain.length > window) chain.splice(0, chain.length - window);
  return { chain, end: at, events };
}
