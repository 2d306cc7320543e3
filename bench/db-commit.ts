// Durable commits through the public API: a database of N random keys (32-byte values), then
// ROUNDS write sessions of BATCH random updates each (beginWrite, set, finish, commit), with the
// default rollback window (100: every commit also syncs an undo record) and with none.
// `npm run bench:db` (N=1000000 BATCH=1000 ROUNDS=64 by default). Medians per commit: the whole
// session, its finish (the trie update), the rollback-log write + sync and the store's commit.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../src/db/index.ts";
import { machine, median, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 64);

const keys = new Uint8Array(N * 31 + 1);
for (let i = 0; i < keys.length; i += 65536) crypto.getRandomValues(keys.subarray(i, Math.min(keys.length, i + 65536)));
const key = (i: number) => keys.subarray(i * 31, i * 31 + 31);

async function run(window: number): Promise<(string | number)[]> {
  const dir = mkdtempSync(join(tmpdir(), "bmt-bench-db-"));
  const db = open(dir, { rollbackWindow: window });
  try {
    for (let done = 0; done < N; done += 50_000) {
      const w = db.beginWrite();
      for (let i = done; i < Math.min(N, done + 50_000); i++) w.set(key(i), keys.subarray(i * 31, i * 31 + 32));
      await (await w.finish()).commit();
    }
    const total: number[] = [];
    const finish: number[] = [];
    const log: number[] = [];
    const store: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const picked = new Set<number>();
      while (picked.size < BATCH) picked.add(Math.floor(Math.random() * N));
      const values = [...picked].map(() => crypto.getRandomValues(new Uint8Array(32)));
      const t = performance.now();
      const w = db.beginWrite();
      let v = 0;
      for (const i of picked) w.set(key(i), values[v++]);
      const f = await w.finish();
      await f.commit();
      total.push(performance.now() - t);
      finish.push(f.stats.finishMs);
      const m = db.metrics().lastCommit;
      if (m) {
        log.push(m.logMs);
        store.push(m.storeMs);
      }
    }
    return [window, median(total).toFixed(1), median(finish).toFixed(1), median(log).toFixed(2), median(store).toFixed(1)];
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [await run(100), await run(0)];
console.log(`# db commits: ${N} keys, ${ROUNDS} sessions of ${BATCH} random updates each, medians`);
console.log(`# ${machine()}\n`);
console.log(table(["rollback window", "ms / commit (session to durable)", "finish (trie update)", "rollback log write + sync", "store commit"], rows));
