// A database hosted the way a JAM node hosts it: on the event loop, next to timers.
//
//   npm run bench:node      (BMT_BENCH_KEYS=1000000 BMT_BENCH_SESSIONS=200 BMT_BENCH_UPDATES=1000)
//
// Opens (or first builds with `importEntries`, in a child process, and keeps under
// .bench-data/node-<keys>/) a database of KEYS keys, then runs SESSIONS `Db` write sessions of
// UPDATES random value updates back to back (beginWrite, set..., await finish(), await commit()),
// while a 10 ms setInterval ticks and `monitorEventLoopDelay` records the event loop's delay.
// Reports the delay, the timer's ticks against those expected, session latency (beginWrite to
// commit resolved), RSS against the configured caches, machine load, and where the slowest
// sessions spent their time (finish, rollback log, store phases, checkpoints, rollback-log
// snapshots). Prints a table and one `json {...}` line; flags the targets of a node-hostable
// engine as met or not met. The cached database moves with every run (values only; the key
// set stays), like a node's state.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type CommitMetrics, importEntries, open } from "../src/db/index.ts";
import type { Entry } from "../src/trie/index.ts";
import { sortByKey } from "../src/trie/key.ts";
import { machine, median, table } from "./support.ts";

const KEYS = Number(process.env.BMT_BENCH_KEYS ?? 1_000_000);
const SESSIONS = Number(process.env.BMT_BENCH_SESSIONS ?? 200);
const UPDATES = Number(process.env.BMT_BENCH_UPDATES ?? 1000);
const TICK_MS = 10;
// The database's defaults (DbOptions): value tree 256 MiB, merkle pages 128 MiB.
const VALUE_CACHE = 256 * 2 ** 20;
const MERKLE_CACHE = 128 * 2 ** 20;
const MiB = 2 ** 20;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, ".bench-data", `node-${KEYS}`);
const ready = join(dir, "ready");

/** murmur3's 32-bit finaliser: a bijection, so key i's first word differs from every other key's. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Key i, 31 bytes, derived from i alone: the measuring process holds no key list. */
function keyOf(i: number, out = new Uint8Array(31)): Uint8Array {
  let h = fmix(i ^ 0x9e3779b9);
  for (let b = 0; b < 31; b++) {
    if (b > 0 && b % 4 === 0) h = fmix(h + b);
    out[b] = h >>> ((b % 4) * 8);
  }
  return out;
}

async function build(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t = performance.now();
  const entries: Entry[] = new Array(KEYS);
  const values = new Uint8Array(KEYS * 32).fill(0x5a);
  for (let i = 0; i < KEYS; i++) entries[i] = { key: keyOf(i), value: values.subarray(i * 32, i * 32 + 32) };
  const res = await importEntries(
    join(dir, "db"),
    sortByKey(entries, (e) => e.key),
  );
  writeFileSync(ready, `${res.count}\n`);
  console.log(`# built ${res.count} keys with importEntries in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  if (process.env.BMT_BENCH_BUILD === "1") return build();
  if (!existsSync(ready)) {
    // A separate process, so that what the build allocated is not in the RSS measured here.
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      stdio: "inherit",
      env: { ...process.env, BMT_BENCH_BUILD: "1" },
    });
    if (r.status !== 0 || !existsSync(ready)) throw new Error(`building the ${KEYS}-key database failed`);
  }
  const db = open(join(dir, "db"), { valueCacheBytes: VALUE_CACHE, merkleCacheBytes: MERKLE_CACHE });
  const loadStart = loadavg();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    const rss = process.memoryUsage().rss;
    if (rss > rssPeak) rssPeak = rss;
  }, TICK_MS);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const session: number[] = [];
  const finish: number[] = [];
  const commit: number[] = [];
  // finish(): its work (the sum of its steps) and its longest step, the event loop's stall.
  const finishWork: number[] = [];
  const finishBlock: number[] = [];
  const detail: { i: number; ms: number; finishMs: number; snapshot: boolean; m: CommitMetrics | null }[] = [];
  const values = new Uint8Array(UPDATES * 32);
  // Let the timer start before the first session, as on a node that is already running.
  await new Promise((r) => setTimeout(r, 50));
  // Garbage collection pauses on this thread during the sessions, by kind.
  const gc = { minor: { n: 0, ms: 0, max: 0 }, major: { n: 0, ms: 0, max: 0 } };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR ? gc.minor : gc.major;
      kind.n++;
      kind.ms += e.duration;
      if (e.duration > kind.max) kind.max = e.duration;
    }
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  delay.enable();
  const t0 = performance.now();
  const ticks0 = ticks;
  const checkpoints0 = db.metrics().checkpoints ?? 0;
  for (let s = 0; s < SESSIONS; s++) {
    const snapsBefore = db.metrics().rollbackLogSnapshots;
    const picked = new Set<number>();
    while (picked.size < UPDATES) picked.add(Math.floor(Math.random() * KEYS));
    // The workload (keys and random values) is made before the clock starts: the session's
    // latency is the database's (a getRandomValues per value cost ~7 us, 7 ms a session).
    const keys = [...picked].map((i) => keyOf(i));
    for (let at = 0; at < values.length; at += 65536) crypto.getRandomValues(values.subarray(at, at + 65536));
    const tBegin = performance.now();
    const w = db.beginWrite();
    for (let u = 0; u < keys.length; u++) w.set(keys[u], values.subarray(u * 32, u * 32 + 32));
    const tFinish = performance.now();
    const f = await w.finish();
    const tCommit = performance.now();
    await f.commit();
    const tEnd = performance.now();
    session.push(tEnd - tBegin);
    finish.push(tCommit - tFinish);
    commit.push(tEnd - tCommit);
    finishWork.push(f.stats.finishMs);
    finishBlock.push(f.stats.finishLongestStepMs);
    const m = db.metrics();
    detail.push({ i: s, ms: tEnd - tBegin, finishMs: tCommit - tFinish, snapshot: m.rollbackLogSnapshots > snapsBefore, m: m.lastCommit });
  }
  const elapsed = performance.now() - t0;
  const fired = ticks - ticks0;
  // Published during the sessions (an older build's metrics lack the count: its commits' flags).
  const checkpointsPublished = (db.metrics().checkpoints ?? Number.NaN) - checkpoints0;
  delay.disable();
  clearInterval(timer);
  // Entries are delivered on a later turn.
  await new Promise((r) => setTimeout(r, 0));
  gcObserver.disconnect();
  const rssAfter = process.memoryUsage().rss;
  const loadEnd = loadavg();
  db.close();

  const ms = (ns: number) => ns / 1e6;
  const s = [...session].sort((a, b) => a - b);
  const caches = VALUE_CACHE + MERKLE_CACHE;
  const r = {
    keys: KEYS,
    sessions: SESSIONS,
    updates: UPDATES,
    elapsedMs: Math.round(elapsed),
    loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    timer: { fired, expected: Math.floor(elapsed / TICK_MS) },
    sessionMs: { p50: median(session), p99: pct(s, 99), max: s[s.length - 1], p99OverMedian: pct(s, 99) / median(session) },
    finishMsMedian: median(finish),
    finishMsMax: Math.max(...finish),
    finishWorkMsMedian: median(finishWork),
    finishLongestStepMs: { p50: median(finishBlock), max: Math.max(...finishBlock) },
    commitMsMedian: median(commit),
    rssMiB: { before: rssBefore / MiB, after: rssAfter / MiB, peak: rssPeak / MiB, cachesMiB: caches / MiB },
    loadavg: { start: loadStart.map((x) => +x.toFixed(2)), end: loadEnd.map((x) => +x.toFixed(2)) },
    gcMs: {
      minor: { count: gc.minor.n, total: +gc.minor.ms.toFixed(1), max: +gc.minor.max.toFixed(1) },
      major: { count: gc.major.n, total: +gc.major.ms.toFixed(1), max: +gc.major.max.toFixed(1) },
    },
    checkpoints: Number.isNaN(checkpointsPublished) ? detail.filter((d) => d.m?.store.checkpoint).length : checkpointsPublished,
    rollbackLogSnapshots: detail.filter((d) => d.snapshot).length,
  };
  const targets = {
    loopDelayP99: r.loopDelayMs.p99 <= 10,
    loopDelayMax: r.loopDelayMs.max <= 50,
    sessionP99Over3xMedian: r.sessionMs.p99OverMedian <= 3,
    rssWithinCachesPlus300MB: r.rssMiB.peak <= r.rssMiB.cachesMiB + 300e6 / MiB,
    sessionMedian10ms: r.sessionMs.p50 <= 10,
  };
  const f1 = (x: number) => x.toFixed(1);
  const flag = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(`# bench:node: ${KEYS} keys, ${SESSIONS} sessions x ${UPDATES} random updates back to back, ${TICK_MS} ms timer`);
  console.log(`# ${machine()}; loadavg start ${r.loadavg.start.join(" ")}, end ${r.loadavg.end.join(" ")}\n`);
  console.log(
    table(
      ["measure", "value", "target", ""],
      [
        [
          "event-loop delay p50 / p99 / max (ms)",
          `${f1(r.loopDelayMs.p50)} / ${f1(r.loopDelayMs.p99)} / ${f1(r.loopDelayMs.max)}`,
          "p99 ≤ 10, max ≤ 50",
          `${flag(targets.loopDelayP99)} / ${flag(targets.loopDelayMax)}`,
        ],
        ["10 ms timer fired / expected", `${fired} / ${r.timer.expected} in ${(elapsed / 1000).toFixed(1)} s`, "", ""],
        [
          "session p50 / p99 / max (ms)",
          `${f1(r.sessionMs.p50)} / ${f1(r.sessionMs.p99)} / ${f1(r.sessionMs.max)}`,
          "median ≤ 10",
          flag(targets.sessionMedian10ms),
        ],
        ["session p99 / median", `${r.sessionMs.p99OverMedian.toFixed(2)}x`, "≤ 3x", flag(targets.sessionP99Over3xMedian)],
        ["finish() / commit() median (ms)", `${f1(r.finishMsMedian)} / ${f1(r.commitMsMedian)}`, "", ""],
        [
          "finish() work median; longest step p50 / max (ms)",
          `${f1(r.finishWorkMsMedian)}; ${f1(r.finishLongestStepMs.p50)} / ${f1(r.finishLongestStepMs.max)}`,
          "",
          "",
        ],
        [
          "RSS before / after / peak (MiB)",
          `${r.rssMiB.before.toFixed(0)} / ${r.rssMiB.after.toFixed(0)} / ${r.rssMiB.peak.toFixed(0)}`,
          `≤ caches ${caches / MiB} MiB + 300 MB`,
          flag(targets.rssWithinCachesPlus300MB),
        ],
        [
          "GC pauses: scavenges n / total / max; mark-compacts n / total / max (ms)",
          `${gc.minor.n} / ${f1(gc.minor.ms)} / ${f1(gc.minor.max)}; ${gc.major.n} / ${f1(gc.major.ms)} / ${f1(gc.major.max)}`,
          "",
          "",
        ],
        ["checkpoints / rollback-log snapshots", `${r.checkpoints} / ${r.rollbackLogSnapshots}`, "", ""],
      ],
    ),
  );
  // Where the slowest sessions went: the stall suspects are the rollback log's whole-chain
  // snapshot (logMs) and checkpoints on the caller's thread (store.checkpointMs).
  const slow = [...detail].sort((a, b) => b.ms - a.ms).slice(0, 8);
  console.log("\nslowest sessions (ms):");
  console.log(
    table(
      [
        "session",
        "total",
        "finish",
        "queued",
        "log write+sync",
        "store",
        "checkpoint",
        "ckpt: values / page WAL / meta / apply",
        "settle prev",
        "ckpt wait",
        "log snapshot",
      ],
      slow.map((d) => {
        const m = d.m;
        const st = m?.store;
        return [
          d.i,
          f1(d.ms),
          f1(d.finishMs),
          f1(m?.queuedMs ?? 0),
          f1(m?.logMs ?? 0),
          f1(m?.storeMs ?? 0),
          st?.checkpoint ? (st.checkpointBehind === true ? "behind" : f1(st.checkpointMs)) : "-",
          st?.checkpoint ? `${f1(st.valuesWriteMs)} / ${f1(st.merkleWalMs)} / ${f1(st.metaMs)} / ${f1(st.applyMs)}` : "-",
          f1(st?.settleMs ?? 0),
          f1(m?.checkpointWaitMs ?? 0),
          d.snapshot ? "yes" : "",
        ];
      }),
    ),
  );
  // Summed over all sessions: how much of the run each part took.
  const sum = (f: (d: (typeof detail)[number]) => number) => detail.reduce((a, d) => a + f(d), 0);
  const parts = {
    sessionsMs: sum((d) => d.ms),
    finishMs: sum((d) => d.finishMs),
    logMs: sum((d) => d.m?.logMs ?? 0),
    logSnapshotSessionsLogMs: sum((d) => (d.snapshot ? (d.m?.logMs ?? 0) : 0)),
    storeMs: sum((d) => d.m?.storeMs ?? 0),
    checkpointMs: sum((d) => (d.m?.store.checkpoint ? d.m.store.checkpointMs : 0)),
    settleMs: sum((d) => d.m?.store.settleMs ?? 0),
    checkpointWaitMs: sum((d) => d.m?.checkpointWaitMs ?? 0),
    checkpointWaitMsMax: Math.max(0, ...detail.map((d) => d.m?.checkpointWaitMs ?? 0)),
    // Commits logged while a checkpoint ran (applied to the store's memory at its publication).
    commitsDuringCheckpoints: detail.filter((d) => d.m?.store.duringCheckpoint === true).length,
  };
  // Checkpoints run in the background (in slices on the event loop): their slices and wall time.
  const behind = detail.flatMap((d) => (d.m?.checkpointBehind ? [d.m.checkpointBehind] : []));
  // The publication's block (an older build's metrics name it applyMs).
  const publishMs = (c: (typeof behind)[number]) => c.publishMs ?? (c as { applyMs?: number }).applyMs ?? 0;
  // The longest single step of a checkpoint's slices (an older build's metrics lack it: -1).
  const stepMs = (c: (typeof behind)[number]) => (c as { longestStepMs?: number }).longestStepMs ?? -1;
  if (behind.length > 0) {
    console.log(
      `\nbackground checkpoints: ${behind.length}; slices median ${median(behind.map((c) => c.slices))}, longest slice max ${f1(Math.max(...behind.map((c) => c.longestSliceMs)))} ms, longest step max ${f1(Math.max(...behind.map(stepMs)))} ms, caller's-thread values / page WAL median ${f1(median(behind.map((c) => c.valuesWriteMs)))} / ${f1(median(behind.map((c) => c.merkleWalMs)))} ms, begin to durable median ${f1(median(behind.map((c) => c.wallMs)))} ms, publication max ${f1(Math.max(...behind.map(publishMs)))} ms`,
    );
  }
  console.log(
    `\nsums over all sessions (ms): sessions ${parts.sessionsMs.toFixed(0)}, finish ${parts.finishMs.toFixed(0)}, rollback log ${parts.logMs.toFixed(0)} (of which snapshot sessions ${parts.logSnapshotSessionsLogMs.toFixed(0)}), store ${parts.storeMs.toFixed(0)} (checkpoints ${parts.checkpointMs.toFixed(0)}, settling previous checkpoints ${parts.settleMs.toFixed(0)}), waiting for background checkpoints ${parts.checkpointWaitMs.toFixed(0)} (longest wait ${parts.checkpointWaitMsMax.toFixed(0)}); ${parts.commitsDuringCheckpoints} commits made while a checkpoint ran`,
  );
  const backgroundCheckpoints = behind.map((c) => ({
    slices: c.slices,
    longestSliceMs: +c.longestSliceMs.toFixed(1),
    longestStepMs: +stepMs(c).toFixed(1),
    wallMs: +c.wallMs.toFixed(0),
    publishMs: +publishMs(c).toFixed(1),
  }));
  console.log(`json ${JSON.stringify({ ...r, targets, parts, backgroundCheckpoints })}`);
}

await main();
