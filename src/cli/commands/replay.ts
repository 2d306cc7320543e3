// `bmt replay`: a trace directory's genesis, then each numbered block file as one commit.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ForkStates, open, toHex } from "../../index.ts";
import {
  type Command,
  CommandFailure,
  flag,
  JSON_OPTION,
  PROGRESS_OPTIONS,
  positionals,
  printJson,
  rollbackWindow,
  str,
  UsageError,
  WINDOW_OPTION,
} from "../command.ts";
import { commitChanges, dbMap } from "../db-access.ts";
import { reason } from "../input.ts";
import { progress } from "../progress.ts";
import { type NamedState, readStateFile, StateFileError, stateDiff, stateMap } from "../state-files.ts";

function pick(file: string, label: string): NamedState {
  const s = readStateFile(file).find((x) => x.label === label);
  if (!s) throw new StateFileError(file, `has no ${label}`);
  return s;
}

interface BlockRow {
  block: string;
  ok: boolean;
  root?: string;
  expected?: string;
  changes?: number;
  ms?: number;
  synced?: boolean;
  error?: string;
}

/** Blocks between the newest imported and the finalized state (the conformance fuzzer's ancestry). */
const FINALITY_LAG = 24;

export const replayCommand: Command = {
  name: "replay",
  summary: "replay a trace directory on a database, checking every root",
  usage: `usage: bmt replay DIR --db PATH [--window N] [--json] [--quiet|--progress]

Commits DIR/genesis.json's state, then imports each numbered block file (00000001.json, ...)
in order on the state its pre_state names, and checks post_state.state_root. A block may build
on any state still retained (a sibling of an earlier block: a fork); states are finalized as
it goes, each a commit, ${FINALITY_LAG} blocks behind the newest, and the last block imported is
finalized at the end. When no retained state is a block's pre_state (a gap in the numbering)
it first commits the difference to it and checks that root.
Prints "genesis ok|FAIL ROOT (MS ms)", one line per block
"BLOCK ok|FAIL ROOT N changes (MS ms)[ (synced to pre_state)][ expected ROOT]",
then "N passed, N failed".
  --json        one JSON object {"genesis":{"ok","root","expected","ms"},"blocks":[{"block","ok",
                "root","expected","changes","ms","synced"} or {"block","ok":false,"error"}],
                "passed","failed"} instead of the lines
  --window N    the rollback window to open it with (default 100; see bmt help history)
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0 every root matched, 1 any did not or DIR cannot be read, 2 usage.`,
  options: { db: { type: "string" }, ...JSON_OPTION, ...WINDOW_OPTION, ...PROGRESS_OPTIONS },
  async run(args, io) {
    const [dir] = positionals(args, ["DIR"]);
    const db = str(args, "db");
    if (db === undefined || db === "") throw new UsageError("--db PATH is required");
    const json = flag(args, "json");
    let files: string[];
    try {
      files = readdirSync(dir)
        .filter((f) => /^\d+\.json$/.test(f))
        .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    } catch (e) {
      throw new CommandFailure(`${dir}: cannot read (${reason(e)})`);
    }
    const genesis = pick(join(dir, "genesis.json"), "state");
    const handle = open(db, { rollbackWindow: rollbackWindow(args) });
    const rows: BlockRow[] = [];
    let passed = 0;
    let failed = 0;
    const bar = progress(io, args, "bmt replay", files.length, "blocks");
    try {
      const t = performance.now();
      const groot = await commitChanges(handle, stateDiff(dbMap(handle), stateMap(genesis.entries)));
      const gexpected = toHex(genesis.expectedRoot);
      const gok = groot === gexpected;
      const gms = Number((performance.now() - t).toFixed(1));
      if (!json) io.out(`genesis ${gok ? "ok" : "FAIL"} ${groot} (${gms.toFixed(1)} ms)`);
      if (!gok) failed++;
      // States by block name ("genesis" for the first); a block builds on the state its
      // pre_state root names.
      let forks = new ForkStates(handle, "genesis");
      const byRoot = new Map<string, string>([[groot, "genesis"]]);
      const parents = new Map<string, string>();
      let newest = "genesis";
      for (const [i, name] of files.entries()) {
        bar.update(i);
        const file = join(dir, name);
        const block = name.replace(/\.json$/, "");
        let pre: NamedState;
        let post: NamedState;
        try {
          pre = pick(file, "pre_state");
          post = pick(file, "post_state");
        } catch (e) {
          if (!(e instanceof StateFileError)) throw e;
          if (!json) io.out(`${block} FAIL ${e.message}`);
          rows.push({ block, ok: false, error: e.message });
          failed++;
          continue;
        }
        const t0 = performance.now();
        let note = "";
        let ok = true;
        const preRoot = toHex(pre.expectedRoot);
        let parent = byRoot.get(preRoot);
        const synced = parent === undefined || !forks.has(parent);
        if (synced) {
          // A gap in the numbering: finalize the newest state, then bring the database to this
          // block's pre-state.
          await forks.finalize(newest);
          forks.release();
          parents.clear();
          byRoot.clear();
          const root = await commitChanges(handle, stateDiff(dbMap(handle), stateMap(pre.entries)));
          const preOk = root === preRoot;
          ok &&= preOk;
          note = preOk ? " (synced to pre_state)" : ` (pre_state root ${root} != ${preRoot})`;
          parent = `${block} pre_state`;
          forks = new ForkStates(handle, parent);
          byRoot.set(root, parent);
        }
        const changes = stateDiff(stateMap(pre.entries), stateMap(post.entries));
        const root = toHex(await forks.importAsync(block, parent as string, changes));
        byRoot.set(root, block);
        parents.set(block, parent as string);
        newest = block;
        // Finalize the ancestor FINALITY_LAG blocks behind this one, if still retained.
        let back = block;
        for (let d = 0; d < FINALITY_LAG && parents.has(back); d++) back = parents.get(back) as string;
        if (back !== forks.finalized && forks.has(back)) await forks.finalize(back);
        const expected = toHex(post.expectedRoot);
        const postOk = root === expected;
        ok &&= postOk;
        if (ok) passed++;
        else failed++;
        const ms = performance.now() - t0;
        rows.push({ block, ok, root, expected, changes: changes.length, ms: Number(ms.toFixed(1)), synced });
        if (!json)
          io.out(`${block} ${ok ? "ok" : "FAIL"} ${root} ${changes.length} changes (${ms.toFixed(1)} ms)${note}${postOk ? "" : ` expected ${expected}`}`);
      }
      await forks.finalize(newest);
      bar.update(files.length);
      bar.finish();
      if (json) printJson(io, { genesis: { ok: gok, root: groot, expected: gexpected, ms: gms }, blocks: rows, passed, failed });
    } finally {
      handle.close();
    }
    if (!json) io.out(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
  },
};
