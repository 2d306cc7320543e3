// Table-driven bad input to every exported function, class and method of the store and database
// layers: each call must be refused with the family's typed error (`DbError` for the database,
// `StoreError` for the store) with code `BAD_ARGUMENT` and a message naming the argument, and
// must change nothing: after every refused call the database's root, seq, rollback depth and
// entries are what they were. The table is checked against the actual export lists, so a new
// export, or a new method of an exported class, without an entry fails the test. (The hash and
// trie layers and `bmt/verify` are covered by test/trie/bad-input.test.ts.)
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { DbError, FinishedSession, Overlay, Snapshot, type StateReadable, WriteSession } from "../../src/db/index.ts";
import { StateReadable as StateReadableClass } from "../../src/db/readers.ts";
import * as dbLayer from "../../src/db/index.ts";
import * as root from "../../src/index.ts";
import { Store, StoreError } from "../../src/store/index.ts";
import * as storeLayer from "../../src/store/index.ts";
import { toHex } from "../../src/trie/index.ts";
import {
  type Bad,
  memberNames,
  NOT_ARRAYS,
  NOT_BOOLEANS,
  NOT_BYTES,
  NOT_COUNTS,
  NOT_ITERABLES,
  NOT_KEYS,
  NOT_OBJECTS,
  NOT_POSITIVE,
  NOT_ROOTS,
  type Refusal,
  Tally,
} from "../support/bad-input.ts";
import { Rng } from "../support/random.ts";
import { tempDirs } from "./helpers.ts";

const dir = tempDirs("bmt-bad-input-");
const rng = new Rng(11);
const keys = Array.from({ length: 12 }, () => rng.bytes(31));
const key = keys[0];

const db_ = (names: string): Refusal => ({ family: DbError, codes: ["BAD_ARGUMENT"], names });
const store_ = (names: string): Refusal => ({ family: StoreError, codes: ["BAD_ARGUMENT"], names });

const NOT_STRINGS: readonly Bad[] = [
  ["undefined", undefined],
  ["null", null],
  ["number", 1],
  ["object", {}],
  ["empty", ""],
  ["bytes", new Uint8Array(3)],
];
const NOT_OPTIONS: readonly Bad[] = [...NOT_OBJECTS.filter(([l]) => l !== "undefined"), ["array", []]];
const BAD_RANGES: readonly Bad[] = [
  ...NOT_OPTIONS,
  ...NOT_KEYS.filter(([l]) => l !== "undefined").map(([l, v]): Bad => [`start ${l}`, { start: v }, "start"]),
  ...NOT_KEYS.filter(([l]) => l !== "undefined").map(([l, v]): Bad => [`end ${l}`, { end: v }, "end"]),
];
const BAD_KEY_LISTS: readonly Bad[] = [...NOT_ARRAYS, ...NOT_KEYS.map(([l, v]): Bad => [`[${l}]`, [v], "keys[0]"])];

/** Bad options of `open` (and `Store.open`): each names the option. */
function badOptions(known: Record<string, "boolean" | "bytes" | "count" | "buckets" | "fs">, unknown: Bad[] = []): Bad[] {
  const out: Bad[] = NOT_OPTIONS.map(([l, v]): Bad => [`options ${l}`, v, "options"]);
  for (const [name, kind] of Object.entries(known)) {
    const bads: readonly Bad[] =
      kind === "boolean"
        ? NOT_BOOLEANS.filter(([l]) => l !== "null" || true)
        : kind === "bytes"
          ? [...NOT_POSITIVE, ["2^51", 2 ** 51]]
          : kind === "count"
            ? [...NOT_COUNTS, ["1000001", 1_000_001]]
            : kind === "buckets"
              ? [...NOT_POSITIVE, ["3", 3], ["6 (not a power of two)", 6], ["2^32", 2 ** 32]]
              : [
                  ["null", null],
                  ["object", {}],
                  ["string", "fs"],
                  ["partial", { open() {} }],
                ];
    for (const [l, v] of bads) out.push([`options.${name} ${l}`, { [name]: v }, `options.${name}`]);
  }
  out.push(["misspelt option", { readonly: true }, "options.readonly"], ...unknown);
  return out;
}

/** Bad options of `WarpSync.open` (and `warpSync`, which takes `onProgress` too). */
function warpOptions(withProgress: boolean): Bad[] {
  const out: Bad[] = NOT_OPTIONS.map(([l, v]): Bad => [`options ${l}`, v, "options"]);
  for (const [l, v] of [...NOT_COUNTS, ["2^32", 2 ** 32]] as Bad[]) out.push([`maxSize ${l}`, { maxSize: v }, "options.maxSize"]);
  for (const [l, v] of NOT_POSITIVE) out.push([`commitEvery ${l}`, { commitEvery: v }, "options.commitEvery"]);
  for (const [l, v] of NOT_POSITIVE) out.push([`valueCacheBytes ${l}`, { valueCacheBytes: v }, "options.valueCacheBytes"]);
  if (withProgress) for (const [l, v] of NOT_OBJECTS.filter(([m]) => m !== "undefined")) out.push([`onProgress ${l}`, { onProgress: v }, "options.onProgress"]);
  out.push(["misspelt option", { maxsize: 10 }, "options.maxsize"]);
  return out;
}

/** Runs `f` on a fresh sync to the fixture's root, then closes it. */
function withSync(ctx: Ctx, f: (s: root.WarpSync) => unknown): unknown {
  const s = root.WarpSync.open(dir(), ctx.db.root);
  try {
    return f(s);
  } finally {
    s.close();
  }
}

const DB_OPTIONS = {
  rollbackWindow: "count",
  create: "boolean",
  readOnly: "boolean",
  valueCacheBytes: "bytes",
  merkleCacheBytes: "bytes",
  fs: "fs",
  lock: "boolean",
  merkleInitialBuckets: "buckets",
} as const;
const STORE_OPTIONS = {
  valueCacheBytes: "bytes",
  merkleCacheBytes: "bytes",
  fs: "fs",
  lock: "boolean",
  merkleInitialBuckets: "buckets",
  checkpointEvery: "bytes",
  checkpointBytes: "bytes",
  create: "boolean",
  writeBehind: "boolean",
} as const;

/** The database the method calls go to, with a few commits, and its fingerprint. */
async function fixture(): Promise<{ db: root.Db; fingerprint: () => string; witnessed: FinishedSession }> {
  const db = root.open(dir(), { rollbackWindow: 4, merkleInitialBuckets: 16 });
  for (let c = 0; c < 3; c++) {
    const s = db.beginWrite();
    for (let i = 0; i < 4; i++) s.set(keys[(c * 4 + i) % keys.length], rng.bytes(1 + rng.int(50)));
    await (await s.finish()).commit();
  }
  const w = db.beginWrite({ witness: true });
  w.get(keys[1]);
  w.set(keys[2], new Uint8Array([9]));
  const witnessed = await w.finish();
  const fingerprint = () => {
    const snap = db.beginRead();
    const rows = [...snap.entriesSync()].map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
    snap.release();
    return `${toHex(db.root)} ${db.seq} ${db.rollbackDepth} ${rows.join(",")}`;
  };
  return { db, fingerprint, witnessed };
}

type Run = (t: Tally, ctx: Ctx) => Promise<void>;
type TableEntry = "constant" | "error class" | Run | { construct: Run; methods: Record<string, Run> };

interface Ctx {
  db: root.Db;
  fingerprint: () => string;
  witnessed: FinishedSession;
  store: Store;
}

/** Replaces argument `i` of `valid` with each bad value; each call refused as `want`, nothing changed. */
async function each(
  t: Tally,
  ctx: Ctx | null,
  fname: string,
  f: (...args: never[]) => unknown,
  valid: readonly unknown[],
  i: number,
  bads: readonly Bad[],
  want: Refusal,
): Promise<void> {
  for (const [label, v, names] of bads) {
    const args = valid.slice();
    args[i] = v;
    const before = ctx?.fingerprint();
    await t.refuses(`${fname}(arg ${i}: ${label})`, () => (f as (...a: unknown[]) => unknown)(...args), names === undefined ? want : { ...want, names });
    if (ctx !== null && ctx.fingerprint() !== before) t.fail(`${fname}(arg ${i}: ${label})`, "the refused call changed the database");
  }
}

/** A method with no arguments: extra garbage arguments are ignored, and it does not throw. */
function noArgs(name: string, call: (ctx: Ctx) => unknown): Run {
  return async (t, ctx) => {
    t.calls++;
    try {
      const r = call(ctx);
      if (r instanceof Promise) await r;
    } catch (e) {
      t.fail(`${name}()`, `threw ${(e as Error).name}: ${(e as Error).message}`);
    }
  };
}

/** The read methods of `StateReadable`, on a reader `of(ctx)`. */
function readerMethods(cls: string, of: (ctx: Ctx) => StateReadable): Record<string, Run> {
  return {
    get: (t, ctx) => each(t, ctx, `${cls}.get`, (k: Uint8Array) => of(ctx).get(k), [key], 0, NOT_KEYS, db_("key")),
    has: (t, ctx) => each(t, ctx, `${cls}.has`, (k: Uint8Array) => of(ctx).has(k), [key], 0, NOT_KEYS, db_("key")),
    entries: (t, ctx) => each(t, ctx, `${cls}.entries`, (r: object) => of(ctx).entries(r), [{}], 0, BAD_RANGES, db_("range")),
    entriesSync: (t, ctx) => each(t, ctx, `${cls}.entriesSync`, (r: object) => of(ctx).entriesSync(r), [{}], 0, BAD_RANGES, db_("range")),
    prove: (t, ctx) => each(t, ctx, `${cls}.prove`, (k: Uint8Array) => of(ctx).prove(k), [key], 0, NOT_KEYS, db_("key")),
    proveMany: (t, ctx) => each(t, ctx, `${cls}.proveMany`, (k: Uint8Array[]) => of(ctx).proveMany(k), [[key]], 0, BAD_KEY_LISTS, db_("keys")),
    proveRange: async (t, ctx) => {
      const f = (s: Uint8Array, e: Uint8Array, n: number) => of(ctx).proveRange(s, e, n);
      const lo = new Uint8Array(31);
      const mid = new Uint8Array(31).fill(0x80);
      const hi = new Uint8Array(31).fill(255);
      await each(t, ctx, `${cls}.proveRange`, f, [lo, mid, 3], 0, [...NOT_KEYS, ["after end", hi, "start must not be after end"]], db_("start"));
      await each(t, ctx, `${cls}.proveRange`, f, [mid, hi, 3], 1, [...NOT_KEYS, ["before start", lo, "start must not be after end"]], db_("end"));
      await each(t, ctx, `${cls}.proveRange`, f, [lo, hi, 3], 2, NOT_POSITIVE, db_("limit"));
    },
    stateRequest: async (t, ctx) => {
      const f = (s: Uint8Array, e: Uint8Array, n: number) => of(ctx).stateRequest(s, e, n);
      const lo = new Uint8Array(31);
      const mid = new Uint8Array(31).fill(0x80);
      const hi = new Uint8Array(31).fill(255);
      await each(t, ctx, `${cls}.stateRequest`, f, [lo, mid, 4096], 0, [...NOT_KEYS, ["after end", hi, "start must not be after end"]], db_("start"));
      await each(t, ctx, `${cls}.stateRequest`, f, [mid, hi, 4096], 1, [...NOT_KEYS, ["before start", lo, "start must not be after end"]], db_("end"));
      await each(t, ctx, `${cls}.stateRequest`, f, [lo, hi, 4096], 2, [...NOT_COUNTS, ["2^32", 2 ** 32], ["undefined", undefined]], db_("maxSize"));
    },
    view: noArgs(`${cls}.view`, (ctx) => of(ctx).view()),
    // @internal hooks, reachable from JavaScript: no arguments.
    _view: noArgs(`${cls}._view`, (ctx) => (of(ctx) as unknown as { _view(): unknown })._view()),
    _afterRead: noArgs(`${cls}._afterRead`, (ctx) => (of(ctx) as unknown as { _afterRead(): unknown })._afterRead()),
    _staleFirst: noArgs(`${cls}._staleFirst`, (ctx) => (of(ctx) as unknown as { _staleFirst(): unknown })._staleFirst()),
    root: noArgs(`${cls}.root`, (ctx) => of(ctx).root),
  };
}

const session = (ctx: Ctx): WriteSession => ctx.db.beginWrite();
const finished = (ctx: Ctx): FinishedSession => ctx.witnessed;

const TABLE: Record<string, TableEntry> = {
  // warp sync: the answers come from the fixture database
  warpSync: async (t, ctx) => {
    const request = (r: { start: Uint8Array; end: Uint8Array; maxSize: number }) => {
      const snap = ctx.db.beginRead();
      try {
        return snap.stateRequest(r.start, r.end, r.maxSize);
      } finally {
        snap.release();
      }
    };
    const f = (p: string, r: Uint8Array, q: unknown, o: unknown) => root.warpSync(p, r, q as typeof request, o as root.WarpSyncOptions);
    await each(t, null, "warpSync", f, [dir(), ctx.db.root, request, {}], 0, NOT_STRINGS, db_("path"));
    await each(t, null, "warpSync", f, [dir(), ctx.db.root, request, {}], 1, NOT_ROOTS, db_("root"));
    await each(t, null, "warpSync", f, [dir(), ctx.db.root, request, {}], 2, [...NOT_OBJECTS, ["object", {}]], db_("request"));
    await each(t, null, "warpSync", f, [dir(), ctx.db.root, request, {}], 3, warpOptions(true), db_("options"));
    await t.refuses("warpSync(request answering garbage)", () => f(dir(), ctx.db.root, () => ({ boundary: 1, pairs: null }), {}), {
      family: DbError,
      codes: ["BAD_RESPONSE"],
      names: "response",
    });
  },
  WarpSync: {
    construct: async (t) => {
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new WarpSync(${l})`, () => new (root.WarpSync as unknown as new (x: unknown) => unknown)(v), db_("not from new"));
    },
    methods: {
      open: async (t, ctx) => {
        const f = (p: string, r: Uint8Array, o: unknown) => root.WarpSync.open(p, r, o as root.WarpSyncOptions);
        await each(t, null, "WarpSync.open", f, [dir(), ctx.db.root, {}], 0, NOT_STRINGS, db_("path"));
        await each(t, null, "WarpSync.open", f, [dir(), ctx.db.root, {}], 1, NOT_ROOTS, db_("root"));
        await each(t, null, "WarpSync.open", f, [dir(), ctx.db.root, {}], 2, warpOptions(false), db_("options"));
      },
      receive: async (t, ctx) => {
        const sync = root.WarpSync.open(dir(), ctx.db.root);
        try {
          const bads: Bad[] = [
            ...NOT_OBJECTS,
            ["object", {}],
            ["boundary 30 bytes", { boundary: new Uint8Array(30), pairs: new Uint8Array(0) }],
            ["pairs string", { boundary: new Uint8Array(0), pairs: "x" }],
          ];
          for (const [l, v] of bads) {
            await t.refuses(`WarpSync.receive(${l})`, () => sync.receive(v as never), { family: DbError, codes: ["BAD_RESPONSE"], names: "response" });
            if (sync.progress.responses !== 0) t.fail(`WarpSync.receive(${l})`, "a refused response was kept");
          }
        } finally {
          sync.close();
        }
      },
      next: noArgs("WarpSync.next", (ctx) => withSync(ctx, (s) => s.next())),
      progress: noArgs("WarpSync.progress", (ctx) => withSync(ctx, (s) => s.progress)),
      close: noArgs("WarpSync.close", (ctx) => withSync(ctx, () => {})),
      finish: async () => {}, // no arguments; an unfinished sync's refusal is the warp-sync tests' business
    },
  },
  ForkStates: {
    construct: async (t, ctx) => {
      const f = (d: unknown, id: unknown, l: unknown) => new root.ForkStates(d as root.Db, id as string, l as root.ForkLimits);
      await each(t, ctx, "new ForkStates", f, [ctx.db, "f", {}], 0, [...NOT_OBJECTS, ["object", {}]], db_("db"));
      await each(t, ctx, "new ForkStates", f, [ctx.db, "f", {}], 1, NOT_STRINGS, db_("finalizedId"));
      const limits: Bad[] = [
        ...NOT_OPTIONS.map(([l, v]): Bad => [`limits ${l}`, v, "limits"]),
        ...NOT_POSITIVE.map(([l, v]): Bad => [`maxStates ${l}`, { maxStates: v }, "limits.maxStates"]),
        ...NOT_POSITIVE.map(([l, v]): Bad => [`maxDeltaBytes ${l}`, { maxDeltaBytes: v }, "limits.maxDeltaBytes"]),
        ["misspelt limit", { maxstates: 3 }, "limits.maxstates"],
      ];
      await each(t, ctx, "new ForkStates", f, [ctx.db, "f", {}], 2, limits, db_("limits"));
    },
    methods: {
      finalized: noArgs("ForkStates.finalized", (ctx) => new root.ForkStates(ctx.db, "f").finalized),
      has: async (t, ctx) => {
        const forks = new root.ForkStates(ctx.db, "f");
        for (const [l, v] of NOT_STRINGS) t.returns(`ForkStates.has(${l})`, () => forks.has(v as string), false);
      },
      import: async (t, ctx) => {
        const forks = new root.ForkStates(ctx.db, "f");
        const f = (id: unknown, parent: unknown, changes: unknown) => forks.import(id as string, parent as string, changes as []);
        await each(t, ctx, "ForkStates.import", f, ["b", "f", []], 0, [...NOT_STRINGS, ["the finalized id", "f"]], db_("id"));
        await each(t, ctx, "ForkStates.import", f, ["b", "f", []], 1, [...NOT_STRINGS, ["unknown", "nope"]], db_("parent"));
        const changes: Bad[] = [
          ...NOT_ITERABLES,
          ["string", "ab"],
          ["[garbage]", [1]],
          ["[[30 bytes, null]]", [[new Uint8Array(30), null]]],
          ["[[key, string]]", [[key, "v"]]],
        ];
        await each(t, ctx, "ForkStates.import", f, ["b", "f", []], 2, changes, db_("changes"));
        if (forks.stats().states !== 0) t.fail("ForkStates.import", "a refused import was kept");
      },
      importAsync: async (t, ctx) => {
        const forks = new root.ForkStates(ctx.db, "f");
        const f = (id: unknown, parent: unknown, changes: unknown) => forks.importAsync(id as string, parent as string, changes as []);
        await each(t, ctx, "ForkStates.importAsync", f, ["b", "f", []], 0, [...NOT_STRINGS, ["the finalized id", "f"]], db_("id"));
        await each(t, ctx, "ForkStates.importAsync", f, ["b", "f", []], 1, [...NOT_STRINGS, ["unknown", "nope"]], db_("parent"));
        const changes: Bad[] = [
          ...NOT_ITERABLES,
          ["string", "ab"],
          ["[garbage]", [1]],
          ["[[30 bytes, null]]", [[new Uint8Array(30), null]]],
          ["[[key, string]]", [[key, "v"]]],
        ];
        await each(t, ctx, "ForkStates.importAsync", f, ["b", "f", []], 2, changes, db_("changes"));
        if (forks.stats().states !== 0) t.fail("ForkStates.importAsync", "a refused import was kept");
      },
      reader: (t, ctx) =>
        each(
          t,
          ctx,
          "ForkStates.reader",
          (id: string) => new root.ForkStates(ctx.db, "f").reader(id),
          ["f"],
          0,
          [...NOT_STRINGS, ["unknown", "nope"]],
          db_("id"),
        ),
      root: (t, ctx) =>
        each(t, ctx, "ForkStates.root", (id: string) => new root.ForkStates(ctx.db, "f").root(id), ["f"], 0, [...NOT_STRINGS, ["unknown", "nope"]], db_("id")),
      finalize: (t, ctx) =>
        each(
          t,
          ctx,
          "ForkStates.finalize",
          (id: string) => new root.ForkStates(ctx.db, "f").finalize(id),
          ["f"],
          0,
          [...NOT_STRINGS, ["unknown", "nope"]],
          db_("id"),
        ),
      list: noArgs("ForkStates.list", (ctx) => new root.ForkStates(ctx.db, "f").list()),
      stats: noArgs("ForkStates.stats", (ctx) => new root.ForkStates(ctx.db, "f").stats()),
      release: noArgs("ForkStates.release", (ctx) => new root.ForkStates(ctx.db, "f").release()),
    },
  },
  // errors
  DbError: "error class",
  DbCorruptionError: "error class",
  IoError: "error class",
  importEntries: async (t) => {
    const entries = [{ key, value: new Uint8Array(1) }];
    await each(t, null, "importEntries", root.importEntries, [dir(), entries, {}], 0, NOT_STRINGS, db_("path"));
    await each(
      t,
      null,
      "importEntries",
      (e: unknown) => root.importEntries(dir(), e as []),
      [entries],
      0,
      [
        ...NOT_ITERABLES,
        ["[garbage]", [1], "entry 0"],
        ["[30-byte key]", [{ key: new Uint8Array(30), value: new Uint8Array(1) }], "entry 0 key"],
        ["[string value]", [[key, "v"]], "entry 0 value"],
        [
          "unsorted",
          [
            { key: keys[2], value: new Uint8Array(1) },
            { key: new Uint8Array(31), value: new Uint8Array(1) },
          ],
          "entry 1",
        ],
      ],
      db_("entries"),
    );
    const opts: Bad[] = [
      ...NOT_OPTIONS.map(([l, v]): Bad => [`options ${l}`, v, "options"]),
      ...NOT_ROOTS.filter(([l]) => l !== "undefined").map(([l, v]): Bad => [`expectRoot ${l}`, { expectRoot: v }, "options.expectRoot"]),
      ...NOT_POSITIVE.map(([l, v]): Bad => [`chunk ${l}`, { chunk: v }, "options.chunk"]),
      ...NOT_OBJECTS.filter(([l]) => l !== "undefined").map(([l, v]): Bad => [`onProgress ${l}`, { onProgress: v }, "options.onProgress"]),
      ...NOT_POSITIVE.map(([l, v]): Bad => [`valueCacheBytes ${l}`, { valueCacheBytes: v }, "options.valueCacheBytes"]),
      ["misspelt option", { expectroot: new Uint8Array(32) }, "options.expectroot"],
    ];
    for (const [label, v, names] of opts) {
      const path = dir();
      await t.refuses(`importEntries(options: ${label})`, () => root.importEntries(path, entries, v as root.ImportOptions), db_(names as string));
      if (existsSync(path)) t.fail(`importEntries(options: ${label})`, `left ${readdirSync(path).join(", ") || "an empty directory"} behind`);
    }
  },
  open: async (t) => {
    await each(t, null, "open", root.open, [dir(), {}], 0, NOT_STRINGS, db_("path"));
    for (const [label, v, names] of badOptions(DB_OPTIONS, [["store-only option", { checkpointEvery: 4, writeBehind: false }, "options.checkpointEvery"]])) {
      const path = dir();
      await t.refuses(`open(options: ${label})`, () => root.open(path, v as root.DbOptions), db_(names as string));
      // A refused open creates nothing.
      if (existsSync(path)) t.fail(`open(options: ${label})`, `left ${readdirSync(path).join(", ") || "an empty directory"} behind`);
    }
  },
  Db: {
    construct: async (t) => {
      for (const [l, v] of [...NOT_OBJECTS, ["object", {}]] as Bad[])
        await t.refuses(`new Db(${l})`, () => new (root.Db as unknown as new (x: unknown) => unknown)(v), db_("open(path, options)"));
    },
    methods: {
      open: async (t) => {
        await each(t, null, "Db.open", root.Db.open, [dir(), {}], 0, NOT_STRINGS, db_("path"));
        for (const [label, v, names] of badOptions({ readOnly: "boolean", create: "boolean" })) {
          await t.refuses(`Db.open(options: ${label})`, () => root.Db.open(dir(), v as root.DbOptions), db_(names as string));
        }
      },
      path: noArgs("Db.path", (ctx) => ctx.db.path),
      readOnly: noArgs("Db.readOnly", (ctx) => ctx.db.readOnly),
      root: noArgs("Db.root", (ctx) => ctx.db.root),
      seq: noArgs("Db.seq", (ctx) => ctx.db.seq),
      rollbackDepth: noArgs("Db.rollbackDepth", (ctx) => ctx.db.rollbackDepth),
      history: noArgs("Db.history", (ctx) => ctx.db.history()),
      metrics: noArgs("Db.metrics", (ctx) => ctx.db.metrics()),
      flush: noArgs("Db.flush", (ctx) => ctx.db.flush()),
      beginRead: noArgs("Db.beginRead", (ctx) => ctx.db.beginRead().release()),
      beginReadAt: (t, ctx) => each(t, ctx, "Db.beginReadAt", (r: Uint8Array) => ctx.db.beginReadAt(r), [ctx.db.root], 0, NOT_ROOTS, db_("root")),
      beginWrite: async (t, ctx) => {
        const bads: Bad[] = [
          ...NOT_OPTIONS.map(([l, v]): Bad => [l, v, "options"]),
          ...NOT_BOOLEANS.map(([l, v]): Bad => [`witness ${l}`, { witness: v }, "options.witness"]),
          ...[...NOT_ARRAYS.filter(([l]) => l !== "undefined"), ["[garbage]", [{}]], ["[null]", [null]]].map(
            ([l, v]): Bad => [`overlays ${l}`, { overlays: v }, "options.overlays"],
          ),
          ["misspelt option", { witnes: true }, "options.witnes"],
        ];
        await each(t, ctx, "Db.beginWrite", (o: object) => ctx.db.beginWrite(o), [{}], 0, bads, db_("options"));
      },
      rollback: (t, ctx) =>
        each(t, ctx, "Db.rollback", (n: number) => ctx.db.rollback(n), [0], 0, [...NOT_COUNTS, ["undefined", undefined], ["more than the depth", 5]], db_("n")),
      close: async () => {}, // run last, below
      "Symbol.dispose": async () => {},
      "Symbol.asyncDispose": async () => {},
    },
  },
  Snapshot: {
    construct: async (t) => {
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new Snapshot(${l})`, () => new (Snapshot as unknown as new (x: unknown, y: unknown) => unknown)(v, v), db_("not from new"));
      // The abstract base of all readers, reachable from JavaScript through any reader's prototype.
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new StateReadable(${l})`, () => new (StateReadableClass as unknown as new (x: unknown) => unknown)(v), db_("not from new"));
    },
    methods: {
      ...readerMethods("Snapshot", (ctx) => ctx.db.beginRead()),
      released: noArgs("Snapshot.released", (ctx) => ctx.db.beginRead().released),
      release: noArgs("Snapshot.release", (ctx) => ctx.db.beginRead().release()),
      "Symbol.dispose": noArgs("Snapshot[Symbol.dispose]", (ctx) => ctx.db.beginRead()[Symbol.dispose]()),
      "Symbol.asyncDispose": noArgs("Snapshot[Symbol.asyncDispose]", (ctx) => ctx.db.beginRead()[Symbol.asyncDispose]()),
    },
  },
  Overlay: {
    construct: async (t) => {
      for (const [l, v] of [...NOT_OBJECTS, ["object", { core: {} }]] as Bad[])
        await t.refuses(`new Overlay(${l})`, () => new (Overlay as unknown as new (x: unknown) => unknown)(v), db_("not from new"));
    },
    methods: {
      ...readerMethods("Overlay", (ctx) => ctx.witnessed.toOverlay()),
      prevRoot: noArgs("Overlay.prevRoot", (ctx) => ctx.witnessed.toOverlay().prevRoot),
      committed: noArgs("Overlay.committed", (ctx) => ctx.witnessed.toOverlay().committed),
      commit: async () => {}, // no arguments; commits are covered by the session tests
    },
  },
  FinishedSession: {
    construct: async (t) => {
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new FinishedSession(${l})`, () => new (FinishedSession as unknown as new (x: unknown) => unknown)(v), db_("not from new"));
    },
    methods: {
      ...readerMethods("FinishedSession", finished),
      prevRoot: noArgs("FinishedSession.prevRoot", (ctx) => finished(ctx).prevRoot),
      committed: noArgs("FinishedSession.committed", (ctx) => finished(ctx).committed),
      witness: noArgs("FinishedSession.witness", (ctx) => finished(ctx).witness()),
      changes: noArgs("FinishedSession.changes", (ctx) => finished(ctx).changes),
      toOverlay: noArgs("FinishedSession.toOverlay", (ctx) => finished(ctx).toOverlay()),
      commit: async () => {},
      commitSync: async () => {},
      release: async () => {},
    },
  },
  WriteSession: {
    construct: async (t) => {
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new WriteSession(${l})`, () => new (WriteSession as unknown as new (x: unknown) => unknown)(v), db_("not from new"));
    },
    methods: {
      prevRoot: noArgs("WriteSession.prevRoot", (ctx) => session(ctx).prevRoot),
      get: (t, ctx) => each(t, ctx, "WriteSession.get", (k: Uint8Array) => session(ctx).get(k), [key], 0, NOT_KEYS, db_("key")),
      has: (t, ctx) => each(t, ctx, "WriteSession.has", (k: Uint8Array) => session(ctx).has(k), [key], 0, NOT_KEYS, db_("key")),
      delete: (t, ctx) => each(t, ctx, "WriteSession.delete", (k: Uint8Array) => session(ctx).delete(k), [key], 0, NOT_KEYS, db_("key")),
      warmUp: (t, ctx) => each(t, ctx, "WriteSession.warmUp", (k: Uint8Array) => session(ctx).warmUp(k), [key], 0, NOT_KEYS, db_("key")),
      set: async (t, ctx) => {
        // The refused set leaves the session as it was: finishing it gives the base's root.
        const checkedSet = (k: Uint8Array, v: Uint8Array) => {
          const s = session(ctx);
          try {
            s.set(k, v);
          } finally {
            if (!Buffer.from(s.finishSync().root).equals(Buffer.from(ctx.db.root))) t.fail("WriteSession.set", "a refused set changed the session");
          }
        };
        await each(t, ctx, "WriteSession.set", checkedSet, [key, new Uint8Array(1)], 0, NOT_KEYS, db_("key"));
        await each(t, ctx, "WriteSession.set", checkedSet, [key, new Uint8Array(1)], 1, [...NOT_BYTES, ["null", null]], db_("value"));
      },
      finish: noArgs("WriteSession.finish", (ctx) => session(ctx).finish()),
      finishSync: noArgs("WriteSession.finishSync", (ctx) => session(ctx).finishSync()),
    },
  },
};

/** The store layer: internal, but its public methods check their arguments the same way. */
const STORE_TABLE: Record<string, TableEntry> = {
  StoreError: "error class",
  checkBatch: (t) => {
    const good = { keys: new Uint8Array(62), values: new Uint8Array(3), offsets: Uint32Array.of(0, 1, 3) };
    return each(
      t,
      null,
      "checkBatch",
      storeLayer.checkBatch,
      [good],
      0,
      [
        ["undefined", undefined],
        ["null", null],
        ["number", 1],
        ["keys of 61 bytes", { ...good, keys: new Uint8Array(61) }, "batch.keys"],
        ["keys a string", { ...good, keys: "ab" }, "batch.keys"],
        ["values an array", { ...good, values: [1, 2, 3] }, "batch.values"],
        ["offsets one short", { ...good, offsets: Uint32Array.of(0, 1) }, "batch.offsets"],
        ["offsets an array", { ...good, offsets: [0, 1, 3] }, "batch.offsets"],
      ],
      store_("batch"),
    );
  },
  sortBatch: (t) =>
    each(
      t,
      null,
      "sortBatch",
      storeLayer.sortBatch,
      [[]],
      0,
      [
        ...NOT_ITERABLES,
        ["string", "ab"],
        ["[garbage]", [1]],
        ["[[30 bytes, null]]", [[new Uint8Array(30), null]]],
        ["[[key, string]]", [[key, "v"]]],
        [
          "repeated",
          [
            [key, null],
            [key, null],
          ],
        ],
      ],
      store_("batch"),
    ),
  Store: {
    construct: async (t) => {
      for (const [l, v] of NOT_OBJECTS)
        await t.refuses(`new Store(${l})`, () => new (Store as unknown as new (x: unknown) => unknown)(v), store_("Store.open"));
    },
    methods: {
      open: async (t) => {
        await each(t, null, "Store.open", Store.open, [dir(), {}], 0, NOT_STRINGS, store_("path"));
        for (const [label, v, names] of badOptions(STORE_OPTIONS)) {
          const path = dir();
          await t.refuses(`Store.open(options: ${label})`, () => Store.open(path, v as storeLayer.StoreOptions), store_(names as string));
          if (existsSync(path)) t.fail(`Store.open(options: ${label})`, `left ${readdirSync(path).join(", ") || "an empty directory"} behind`);
        }
      },
      get: (t, ctx) => each(t, null, "Store.get", (k: Uint8Array) => ctx.store.get(k), [key], 0, NOT_KEYS, store_("key")),
      entries: (t, ctx) =>
        each(
          t,
          null,
          "Store.entries",
          (r: object) => ctx.store.entries(r),
          [{}],
          0,
          [...BAD_RANGES, ["reverse 1", { reverse: 1 }, "reverse"], ["extra field", { limit: 3 }, "range.limit"]],
          store_("range"),
        ),
      seekPrefixKey: async (t, ctx) => {
        const f = (k: Uint8Array, b: number) => ctx.store.seekPrefixKey(k, b);
        await each(t, null, "Store.seekPrefixKey", f, [key, 8], 0, NOT_KEYS, store_("key"));
        await each(t, null, "Store.seekPrefixKey", f, [key, 8], 1, [...NOT_COUNTS, ["249", 249], ["undefined", undefined]], store_("bits"));
      },
      scanPrefix: async (t, ctx) => {
        const f = (k: Uint8Array, b: number, v: unknown, n?: number) => ctx.store.scanPrefix(k, b, v as () => void, n);
        const valid = [key, 8, () => {}, 10];
        await each(t, null, "Store.scanPrefix", f, valid, 0, NOT_KEYS, store_("key"));
        await each(t, null, "Store.scanPrefix", f, valid, 1, [...NOT_COUNTS, ["249", 249]], store_("bits"));
        await each(t, null, "Store.scanPrefix", f, valid, 2, [...NOT_OBJECTS, ["object", {}]], store_("visit"));
        await each(
          t,
          null,
          "Store.scanPrefix",
          f,
          valid,
          3,
          [...NOT_POSITIVE.filter(([l]) => l !== "Infinity"), ["-Infinity", Number.NEGATIVE_INFINITY]],
          store_("limit"),
        );
      },
      page: (t, ctx) => each(t, null, "Store.page", (id: Uint8Array) => ctx.store.page(id), [new Uint8Array(32)], 0, [...NOT_ROOTS], store_("id")),
      commit: async (t, ctx) => {
        const before = `${toHex(ctx.store.root)} ${ctx.store.seq}`;
        await each(
          t,
          null,
          "Store.commit",
          (b: unknown) => ctx.store.commit(b as []),
          [[]],
          0,
          [
            ...NOT_ITERABLES,
            ["string", "ab"],
            ["[garbage]", [1]],
            ["[[30 bytes, null]]", [[new Uint8Array(30), null]], "batch[0] key"],
            ["[[key, string]]", [[key, "v"]], "batch[0] value"],
            [
              "repeated",
              [
                [key, null],
                [key, null],
              ],
              "repeats",
            ],
          ],
          store_("batch"),
        );
        if (`${toHex(ctx.store.root)} ${ctx.store.seq}` !== before) t.fail("Store.commit", "a refused commit changed the store");
      },
      prepare: (t, ctx) =>
        each(t, null, "Store.prepare", (b: unknown) => ctx.store.prepare(b as []), [[]], 0, [...NOT_ITERABLES, ["[garbage]", [1]]], store_("batch")),
      commitPrepared: (t, ctx) =>
        each(
          t,
          null,
          "Store.commitPrepared",
          (p: unknown) => ctx.store.commitPrepared(p as never),
          [null],
          0,
          [...NOT_OBJECTS, ["object", {}], ["half", { base: ctx.store.top, changes: [] }]],
          store_("prepared"),
        ),
      commitPreparedAsync: (t, ctx) =>
        each(
          t,
          null,
          "Store.commitPreparedAsync",
          (p: unknown) => ctx.store.commitPreparedAsync(p as never),
          [null],
          0,
          [...NOT_OBJECTS, ["object", {}], ["half", { base: ctx.store.top, changes: [] }]],
          store_("prepared"),
        ),
      checkpoint: noArgs("Store.checkpoint", (ctx) => ctx.store.checkpoint()),
      stats: noArgs("Store.stats", (ctx) => ctx.store.stats()),
      root: noArgs("Store.root", (ctx) => ctx.store.root),
      top: noArgs("Store.top", (ctx) => ctx.store.top),
      seq: noArgs("Store.seq", (ctx) => ctx.store.seq),
      size: noArgs("Store.size", (ctx) => ctx.store.size),
      empty: noArgs("Store.empty", (ctx) => ctx.store.empty),
      lastCommit: noArgs("Store.lastCommit", (ctx) => ctx.store.lastCommit),
      lastCheckpoint: noArgs("Store.lastCheckpoint", (ctx) => ctx.store.lastCheckpoint),
      checkpointPending: noArgs("Store.checkpointPending", (ctx) => ctx.store.checkpointPending),
      checkpointRunning: noArgs("Store.checkpointRunning", (ctx) => ctx.store.checkpointRunning),
      commitsAhead: noArgs("Store.commitsAhead", (ctx) => ctx.store.commitsAhead),
      loggedSeq: noArgs("Store.loggedSeq", (ctx) => ctx.store.loggedSeq),
      failure: noArgs("Store.failure", (ctx) => ctx.store.failure),
      fail: async () => {}, // fails the store; any value is a cause
      idle: noArgs("Store.idle", (ctx) => ctx.store.idle()),
      lastKey: noArgs("Store.lastKey", (ctx) => ctx.store.lastKey()),
      readAhead: (t, ctx) => each(t, null, "Store.readAhead", (k: Uint8Array[]) => ctx.store.readAhead(k), [[key]], 0, BAD_KEY_LISTS, store_("keys")),
      // No arguments; the one a non-empty store refuses, typed.
      beginLoad: async (t, ctx) =>
        t.refuses("Store.beginLoad() of a non-empty store", () => ctx.store.beginLoad(), { family: StoreError, codes: ["NOT_EMPTY"], names: "not empty" }),
      close: async () => {},
      abandon: async () => {}, // closes the store; no arguments
      abandonOpen: async () => {}, // closes the store (and removes a database its open created); no arguments
    },
  },
};

/** The tables and the export lists they are held to: the root's names from the database layer, and the store layer's own. */
function tables(): [string, Record<string, TableEntry>, Record<string, unknown>, string[]][] {
  return [
    [
      "root",
      TABLE,
      root as Record<string, unknown>,
      Object.keys(root)
        .filter((n) => n in dbLayer)
        .sort(),
    ],
    ["store layer", STORE_TABLE, storeLayer as Record<string, unknown>, Object.keys(storeLayer).sort()],
  ];
}

describe("db: bad input to every exported function, class and method of the database layer (and the store below it)", () => {
  it("the tables have an entry for every export, method and getter, and none for a name no longer exported", () => {
    for (const [what, table, module, exported] of tables()) {
      assert.deepEqual(
        exported.filter((n) => !(n in table)),
        [],
        `${what}: exports without an entry in the bad-input table`,
      );
      assert.deepEqual(
        Object.keys(table)
          .filter((n) => !exported.includes(n))
          .sort(),
        [],
        `${what}: table entries for names not exported`,
      );
      for (const name of exported) {
        const e = table[name];
        const v = module[name];
        if (typeof e === "object") {
          const statics = Object.getOwnPropertyNames(v).filter((m) => !["length", "name", "prototype"].includes(m));
          const members = [...memberNames(v as { prototype: object }), ...statics];
          assert.deepEqual(
            members.filter((m) => !(m in e.methods)),
            [],
            `${name}: methods without an entry`,
          );
        }
      }
    }
  });

  it("every bad input is refused with a typed error naming the argument, and changes nothing", async (ctx) => {
    const { db, fingerprint, witnessed } = await fixture();
    const storePath = dir();
    const store = Store.open(storePath, { merkleInitialBuckets: 16 });
    store.commit(keys.slice(0, 5).map((k) => [k, new Uint8Array([1])]));
    const c: Ctx = { db, fingerprint, witnessed, store };
    const t = new Tally();
    const start = fingerprint();
    for (const [, table, , exported] of tables()) {
      for (const name of exported) {
        const e = table[name];
        if (e === "constant" || e === "error class") continue;
        if (typeof e === "function") await e(t, c);
        else {
          await e.construct(t, c);
          for (const m of Object.values(e.methods)) await m(t, c);
        }
      }
    }
    assert.equal(fingerprint(), start);
    await db.flush();
    db.close();
    store.close();
    ctx.diagnostic(t.summary());
    console.log(`db bad input: ${t.summary()}`);
    if (process.env.BAD_DUMP) console.log(t.failures.map((f) => `FAIL ${f}`).join("\n"));
    assert.deepEqual(t.failures, [], `${t.failures.length} of ${t.calls} calls not refused as they should be`);
  });
});
