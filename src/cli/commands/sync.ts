// `bmt sync`: warp sync of a new database from CE 129 answers, another database standing in
// for the peers.
import { DbError, fromHex, open, toHex, warpSync } from "../../index.ts";
import { type Command, CommandFailure, dbPath, flag, JSON_OPTION, PROGRESS_OPTIONS, positionals, positiveInt, printJson, str, UsageError } from "../command.ts";
import { requireDb } from "../db-access.ts";
import { progress } from "../progress.ts";

export const syncCommand: Command = {
  name: "sync",
  summary: "warp-sync a database from another's CE 129 state answers, verified against a root",
  usage: `usage: bmt sync --from SOURCE_DB --db NEW_DB [--max-size BYTES] [--root ROOT] [--json] [--quiet|--progress]

Fills NEW_DB (new, or a sync stopped midway: it resumes) with the state of SOURCE_DB through
JAMNP-S CE 129 state requests: SOURCE_DB, opened read-only, answers each request as a peer
would, and every answer is verified against the trusted ROOT before any of it is kept. Prints
the root at the end, which is ROOT.
  --max-size BYTES  the requests' maximum response size (default 1048576)
  --root ROOT       the trusted root (0x hex, 32 bytes); default SOURCE_DB's root
  --json        {"root","pairs","responses","resumedWith"}
  --quiet, -q   no progress      --progress   progress lines on stderr even when not a terminal
Exit: 0 synced, 1 a response refused (named), the source is not at ROOT, or no source database,
2 usage.`,
  options: { from: { type: "string" }, db: { type: "string" }, "max-size": { type: "string" }, root: { type: "string" }, ...JSON_OPTION, ...PROGRESS_OPTIONS },
  async run(args, io) {
    const target = dbPath(args);
    positionals(args, []);
    const from = str(args, "from");
    if (from === undefined || from === "") throw new UsageError("--from SOURCE_DB is required");
    const maxSizeText = str(args, "max-size");
    const maxSize = maxSizeText === undefined ? 1 << 20 : positiveInt(maxSizeText, "--max-size", 0);
    if (maxSize > 0xffffffff) throw new UsageError("--max-size must fit a u32");
    let trusted: Uint8Array | undefined;
    const rootText = str(args, "root");
    if (rootText !== undefined) {
      try {
        trusted = fromHex(rootText, "--root", 32);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    requireDb(from);
    const peer = open(from, { readOnly: true, create: false });
    try {
      const snapshot = peer.beginRead();
      const root = trusted ?? snapshot.root;
      const bar = progress(io, args, "bmt sync", null, "pairs");
      let out;
      try {
        out = await warpSync(target, root, (req) => snapshot.stateRequest(req.start, req.end, req.maxSize), {
          maxSize,
          onProgress: (p) => bar.update(p.resumedWith + p.pairs),
        });
      } catch (e) {
        if (e instanceof DbError && (e.code === "BAD_RESPONSE" || e.code === "ROOT_MISMATCH")) throw new CommandFailure(e.message);
        throw e;
      } finally {
        bar.finish();
        snapshot.release();
      }
      if (flag(args, "json")) printJson(io, { root: toHex(out.root), pairs: out.pairs, responses: out.responses, resumedWith: out.resumedWith });
      else io.out(toHex(out.root));
      return 0;
    } finally {
      peer.close();
    }
  },
};
