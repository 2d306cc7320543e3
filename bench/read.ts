// Point reads through the public API on a warm database: `Snapshot.get` and `has` of existing
// keys, the same reads on the state view underneath (no argument check, counters or error
// boundary), and the error boundary's own cost: two copies of a reader with `get`'s shape
// (check the key, read the view, count, after-read hook) over the same view, one wrapped by
// `guardClass` (src/db/boundary.ts) as `Snapshot` is and one not, measured in the same process.
// `npm run bench:read` (N=1000000 keys with 32-byte values, ROUNDS=9 rounds of GETS=200000
// reads of keys drawn from a fixed sample of 100000). Medians over the rounds, ns per read.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guardClass } from "../src/db/boundary.ts";
import { open } from "../src/db/index.ts";
import { badArgument, checkKey } from "../src/db/keys.ts";
import type { StateView } from "../src/db/state.ts";
import { machine, median, table } from "./support.ts";

const N = Number(process.env.N ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const GETS = Number(process.env.GETS ?? 200_000);
const SAMPLE = Math.min(N, 100_000);

const keys = new Uint8Array(N * 31 + 1);
for (let i = 0; i < keys.length; i += 65536) crypto.getRandomValues(keys.subarray(i, Math.min(keys.length, i + 65536)));
const key = (i: number) => keys.subarray(i * 31, i * 31 + 31);

const dir = mkdtempSync(join(tmpdir(), "bmt-bench-read-"));
const db = open(dir, { rollbackWindow: 0 });
try {
  let t = performance.now();
  for (let done = 0; done < N; done += 50_000) {
    const w = db.beginWrite();
    for (let i = done; i < Math.min(N, done + 50_000); i++) w.set(key(i), keys.subarray(i * 31, i * 31 + 32));
    await (await w.finish()).commit();
  }
  const loadS = (performance.now() - t) / 1000;
  // Keys read: a fixed sample (so the pages they touch stay cached), in a fixed random order.
  const sample = Array.from({ length: SAMPLE }, () => key(Math.floor(Math.random() * N)));
  const order = Uint32Array.from({ length: GETS }, () => Math.floor(Math.random() * SAMPLE));
  const snap = db.beginRead();
  let sink = 0;
  // get's shape, with and without the boundary (one class body, two classes).
  const readerClass = () =>
    class {
      reads = 0;
      constructor(readonly v: StateView) {}
      get(key: Uint8Array): Uint8Array | undefined {
        checkKey(key, "key", badArgument);
        const value = this._view().value(key);
        this.reads++;
        this._afterRead();
        return value;
      }
      _view(): StateView {
        return this.v;
      }
      _afterRead(): void {}
    };
  const Guarded = readerClass();
  guardClass(Guarded);
  const Plain = readerClass();
  const guarded = new Guarded(snap.view());
  const plain = new Plain(snap.view());
  const cases: Record<string, () => void> = {
    "Snapshot.get": () => {
      for (let i = 0; i < GETS; i++) sink += (snap.get(sample[order[i]]) as Uint8Array).length;
    },
    "Snapshot.has": () => {
      for (let i = 0; i < GETS; i++) if (snap.has(sample[order[i]])) sink++;
    },
    "get's shape, guarded": () => {
      for (let i = 0; i < GETS; i++) sink += (guarded.get(sample[order[i]]) as Uint8Array).length;
    },
    "get's shape, unguarded": () => {
      for (let i = 0; i < GETS; i++) sink += (plain.get(sample[order[i]]) as Uint8Array).length;
    },
    "state view value()": () => {
      const view = snap.view();
      for (let i = 0; i < GETS; i++) sink += (view.value(sample[order[i]]) as Uint8Array).length;
    },
  };
  for (const run of Object.values(cases)) run(); // warm the caches and the code
  const ns: Record<string, number[]> = {};
  for (const name of Object.keys(cases)) ns[name] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of Object.entries(cases)) {
      t = performance.now();
      run();
      ns[name].push(((performance.now() - t) * 1e6) / GETS);
    }
  }
  snap.release();
  console.log(`# read: ${N} keys loaded in ${loadS.toFixed(1)} s; ${ROUNDS} rounds of ${GETS} reads of ${SAMPLE} sampled keys, interleaved by case`);
  console.log(
    `# ${machine()}; load average ${(await import("node:os"))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  );
  console.log(
    table(
      ["read", "ns / read (median)", "min", "max"],
      Object.entries(ns).map(([name, xs]) => [name, median(xs).toFixed(0), Math.min(...xs).toFixed(0), Math.max(...xs).toFixed(0)]),
    ),
  );
  // Rounds are interleaved by case, so a round's ratio compares reads made moments apart.
  const ratios = ns["get's shape, guarded"].map((g, r) => g / ns["get's shape, unguarded"][r]);
  const get = ns["Snapshot.get"].map((g, r) => g / ns["state view value()"][r]);
  console.log(
    `\nper-round ratios, median (min-max): guarded / unguarded ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); ` +
      `Snapshot.get / view value() ${median(get).toFixed(3)} (${Math.min(...get).toFixed(2)}-${Math.max(...get).toFixed(2)})`,
  );
  if (sink === -1) console.log(sink);
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
