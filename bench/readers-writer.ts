// The writer of bench/readers.ts: a database (public API, default rollback window) committing
// the crash tests' deterministic batches (batch s is a function of the seed and s alone) at a
// target rate, until its parent exits.
//
//   node --import tsx bench/readers-writer.ts DIR SEED RATE
//
// Prints `open <seq>` once open, then `ack <seq> <ms> <at>` after each durable commit: the
// session's time from beginWrite to durable, and when it became durable (ms since the epoch). Commits are started on a fixed schedule (one
// every 1000 / RATE ms); a commit that ends late starts the next one at once.
import { open } from "../src/db/index.ts";
import { batchFor, universe } from "../test/store/crash-batches.ts";

const [dir, seedText, rateText] = process.argv.slice(2);
const seed = Number(seedText);
const rate = Number(rateText);
if (!dir || !Number.isInteger(seed) || !(rate > 0)) {
  process.stderr.write("usage: readers-writer.ts DIR SEED RATE\n");
  process.exit(2);
}
const keys = universe(seed);
const db = open(dir);
process.stdout.write(`open ${db.seq}\n`);
const period = 1000 / rate;
const t0 = performance.now();
const ppid = process.ppid;
for (let n = 1; process.ppid === ppid; n++) {
  const t = performance.now();
  const w = db.beginWrite();
  for (const [k, v] of batchFor(seed, keys, db.seq + 1)) {
    if (v === null) w.delete(k);
    else w.set(k, v);
  }
  await (await w.finish()).commit();
  const end = performance.now();
  process.stdout.write(`ack ${db.seq} ${(end - t).toFixed(2)} ${(performance.timeOrigin + end).toFixed(1)}\n`);
  const wait = t0 + n * period - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
db.close();
