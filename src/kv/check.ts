// The value tree's full structural check (`KvTree.check`, `bmt check`): every page reached from
// the root, and every page below the high-water mark accounted for exactly once.
import { branchChild, branchCount, branchSep, branchUsed, compareKeySep } from "./branch.ts";
import { KvCorruptionError } from "./errors.ts";
import { KEY_BYTES, compareKeysAt } from "./key.ts";
import { leafEntryCount, leafIsOverflow, leafUsed, leafValueStart } from "./leaf.ts";
import { overflowRefLength, overflowRefPage, walkOverflow } from "./overflow.ts";
import { FIRST_DATA_PAGE, KIND_BRANCH, KIND_LEAF, PAGE_HEADER, PAGE_SIZE } from "./page.ts";
import type { Pager } from "./pager.ts";

/** Shape and fill of one level, as found by `KvTree.check`. */
export interface LevelReport {
  /** Nodes at this level. */
  nodes: number;
  /** Least used bytes among non-root nodes (PAGE_SIZE when there are none). */
  minFill: number;
  /** Mean used bytes. */
  avgFill: number;
}

/** Result of a full structural check. */
export interface CheckReport {
  /** Entries counted in the leaves. */
  entries: number;
  /** Per level, index 0 = leaves. */
  levels: LevelReport[];
  /** Overflow pages in use. */
  overflowPages: number;
  /** Pages below the high-water mark, in use or free. */
  totalPages: number;
}

/**
 * Walks the tree under `root` and verifies it: page kinds and checksums, key order, separator
 * bounds, uniform depth, overflow chains, the entry count (`count`), and, with `withFree`, that
 * every page below the high-water mark is either in the tree or free exactly once. Throws
 * KvCorruptionError (naming `path` and the page's offset) on the first violation.
 */
export function checkTree(pager: Pager, root: number, height: number, path: string, count: number, withFree: boolean): CheckReport {
  const levels: LevelReport[] = [];
  for (let l = 0; l < height; l++) levels.push({ nodes: 0, minFill: PAGE_SIZE, avgFill: 0 });
  const owner = new Uint8Array(pager.highWater);
  const fail = (no: number, why: string): never => {
    throw new KvCorruptionError(path, no * PAGE_SIZE, why);
  };
  const claim = (no: number): void => {
    if (no < FIRST_DATA_PAGE || no >= pager.highWater) fail(no, "page number out of range");
    if (owner[no]++ !== 0) fail(no, "page referenced twice");
  };
  let entries = 0;
  let overflow = 0;
  let prevKey: Uint8Array | null = null;
  const walk = (no: number, level: number, lo: Uint8Array | null, hi: Uint8Array | null, isRoot: boolean): void => {
    claim(no);
    const rep = levels[level];
    if (level === 0) {
      const p = pager.readOnce(no, KIND_LEAF);
      const n = leafEntryCount(p);
      if (n === 0) fail(no, "empty leaf");
      const used = leafUsed(p);
      if (used > PAGE_SIZE) fail(no, "leaf overflows its page");
      rep.nodes++;
      rep.avgFill += used;
      if (!isRoot) rep.minFill = Math.min(rep.minFill, used);
      for (let i = 0; i < n; i++) {
        const ko = PAGE_HEADER + KEY_BYTES * i;
        const key = p.subarray(ko, ko + KEY_BYTES);
        if (prevKey !== null && compareKeysAt(prevKey, 0, p, ko) >= 0) fail(no, `key ${i} out of order`);
        if (lo !== null && compareKeySep(key, lo) < 0) fail(no, `key ${i} below its separator`);
        if (hi !== null && compareKeySep(key, hi) >= 0) fail(no, `key ${i} above its separator`);
        prevKey = key;
        if (leafIsOverflow(p, n, i)) {
          const s = leafValueStart(p, n, i);
          const len = overflowRefLength(p, s);
          walkOverflow(pager, overflowRefPage(p, s), len, (q) => {
            claim(q);
            overflow++;
          });
        }
      }
      entries += n;
      return;
    }
    const p = pager.readOnce(no, KIND_BRANCH);
    const n = branchCount(p);
    if (n === 0) fail(no, "empty branch");
    const used = branchUsed(p);
    rep.nodes++;
    rep.avgFill += used;
    if (!isRoot) rep.minFill = Math.min(rep.minFill, used);
    for (let i = 0; i < n; i++) {
      const clo = i === 0 ? lo : branchSep(p, i);
      const chi = i === n - 1 ? hi : branchSep(p, i + 1);
      if (i > 0 && lo !== null && compareSeps(clo!, lo) <= 0) fail(no, `separator ${i} not above its bound`);
      if (i > 0 && i < n - 1 && compareSeps(clo!, chi!) >= 0) fail(no, `separators ${i}, ${i + 1} out of order`);
      walk(branchChild(p, i), level - 1, clo, chi, false);
    }
  };
  if (root !== 0) walk(root, height - 1, null, null, true);
  for (const rep of levels) rep.avgFill = rep.nodes > 0 ? rep.avgFill / rep.nodes : 0;
  if (entries !== count) fail(root, `tree holds ${entries} entries, count says ${count}`);
  if (withFree) {
    for (const no of pager.freePages()) claim(no);
    for (let no = FIRST_DATA_PAGE; no < pager.highWater; no++) {
      if (owner[no] === 0) fail(no, "page neither in the tree nor free (leaked)");
    }
  }
  return { entries, levels, overflowPages: overflow, totalPages: pager.highWater };
}

function compareSeps(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
