// The three engines of the kv benchmark behind one small interface.
import { ClassicLevel } from "classic-level";
import { open as openLmdb, type Database, type RootDatabase } from "lmdb";
import { type KvTree, openKv } from "../../src/kv/index.ts";

/** What the benchmark asks of an engine. Writes are durable when the call returns. */
export interface Engine {
  readonly name: string;
  /** Writes one batch (sorted keys) as one durable commit. */
  write(keys: Uint8Array[], vals: Uint8Array[]): Promise<void>;
  /** Looks every key up; returns how many were found. */
  getAll(keys: Uint8Array[]): Promise<number>;
  /** Reads `limit` entries in key order from `start`; returns how many were read. */
  scan(start: Uint8Array, limit: number): Promise<number>;
  /** Releases the engine. */
  close(): Promise<void>;
}

/** This project's kv tree: one apply + commit (fdatasync) per batch. */
export function bmtEngine(dir: string, cacheBytes: number, tag = ""): Engine {
  const tree: KvTree = openKv(`${dir}/kv.db`, { cacheBytes });
  return {
    name: tag === "" ? "bmt kv" : `bmt kv ${tag} MiB`,
    async write(keys, vals) {
      const batch = new Array<[Uint8Array, Uint8Array]>(keys.length);
      for (let i = 0; i < keys.length; i++) batch[i] = [keys[i], vals[i]];
      tree.apply(batch);
      tree.commit();
    },
    async getAll(keys) {
      let found = 0;
      for (let i = 0; i < keys.length; i++) if (tree.get(keys[i]) !== undefined) found++;
      return found;
    },
    async scan(start, limit) {
      let n = 0;
      for (const e of tree.entries({ start })) {
        if (e[1].length < 0) break;
        if (++n === limit) break;
      }
      return n;
    },
    async close() {
      tree.close();
    },
  };
}

/** lmdb-js: one synchronous, durable write transaction per batch. */
export function lmdbEngine(dir: string): Engine {
  const db: RootDatabase<Buffer, Buffer> = openLmdb<Buffer, Buffer>({
    path: `${dir}/lmdb`,
    compression: false,
    encoding: "binary",
    keyEncoding: "binary",
  });
  const store: Database<Buffer, Buffer> = db;
  return {
    name: "lmdb-js",
    async write(keys, vals) {
      db.transactionSync(() => {
        for (let i = 0; i < keys.length; i++) store.putSync(keys[i] as Buffer, vals[i] as Buffer);
      });
    },
    async getAll(keys) {
      let found = 0;
      for (let i = 0; i < keys.length; i++) if (store.get(keys[i] as Buffer) !== undefined) found++;
      return found;
    },
    async scan(start, limit) {
      let n = 0;
      for (const e of store.getRange({ start: start as Buffer, limit })) {
        if (e.value.length < 0) break;
        n++;
      }
      return n;
    },
    async close() {
      await db.close();
    },
  };
}

/** classic-level (LevelDB): one batch with `sync: true` per batch; reads through getMany. */
export async function levelEngine(dir: string): Promise<Engine> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(`${dir}/level`, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  return {
    name: "classic-level",
    async write(keys, vals) {
      const ops = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) ops[i] = { type: "put", key: keys[i], value: vals[i] };
      await db.batch(ops, { sync: true });
    },
    async getAll(keys) {
      let found = 0;
      for (let i = 0; i < keys.length; i += 1000) {
        const got = await db.getMany(keys.slice(i, i + 1000));
        for (const v of got) if (v !== undefined) found++;
      }
      return found;
    },
    async scan(start, limit) {
      const it = db.iterator({ gte: start, limit });
      let n = 0;
      for (;;) {
        const chunk = await it.nextv(1000);
        if (chunk.length === 0) break;
        n += chunk.length;
      }
      await it.close();
      return n;
    },
    async close() {
      await db.close();
    },
  };
}
