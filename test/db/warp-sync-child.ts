// A warp sync run as a child process for the kill tests: syncs argv[3] from the database at
// argv[2] (opened read-only, standing in for the peers), printing one line per response taken.
import { open, warpSync } from "../../src/db/index.ts";

const [source, target, maxSize, commitEvery] = process.argv.slice(2);
const peer = open(source, { readOnly: true });
const snap = peer.beginRead();
await warpSync(target, snap.root, (req) => snap.stateRequest(req.start, req.end, req.maxSize), {
  maxSize: Number(maxSize),
  commitEvery: Number(commitEvery),
  onProgress: (p) => process.stdout.write(`${p.responses} ${p.pairs}\n`),
});
process.stdout.write("done\n");
snap.release();
peer.close();
