// Baseline for the commit benchmark: @ethereumjs/mpt (a Merkle Patricia trie, Ethereum's) on
// lmdb-js. Nodes are stored by hash in LMDB; each commit is one durable LMDB write transaction
// of the trie's new nodes, flushed from an mpt checkpoint.
import { createMPT, type MerklePatriciaTrie } from "@ethereumjs/mpt";
import { type BatchDBOp, type DB, ValueEncoding } from "@ethereumjs/util";
import { open as openLmdb, type RootDatabase } from "lmdb";

/** The mpt's node database over one LMDB environment (hex-string keys, byte values). */
class LmdbNodeDb implements DB<string, string | Uint8Array> {
  constructor(private readonly db: RootDatabase<Uint8Array, string>) {}
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.db.get(key);
  }
  async put(key: string, value: string | Uint8Array): Promise<void> {
    this.db.transactionSync(() => this.db.putSync(key, toBytes(value)));
  }
  async del(key: string): Promise<void> {
    this.db.transactionSync(() => this.db.removeSync(key));
  }
  async batch(ops: BatchDBOp<string, string | Uint8Array>[]): Promise<void> {
    this.db.transactionSync(() => {
      for (const op of ops) {
        if (op.type === "put") this.db.putSync(op.key, toBytes(op.value));
        else this.db.removeSync(op.key);
      }
    });
  }
  shallowCopy(): DB<string, string | Uint8Array> {
    return this;
  }
  async open(): Promise<void> {}
}

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? new TextEncoder().encode(v) : v;
}

/** An mpt on LMDB in `dir`: load, then durable batches. */
export class MptBaseline {
  private constructor(
    private readonly lmdb: RootDatabase<Uint8Array, string>,
    private readonly trie: MerklePatriciaTrie,
  ) {}

  static async open(dir: string): Promise<MptBaseline> {
    const lmdb = openLmdb<Uint8Array, string>({ path: dir, compression: false, encoding: "binary" });
    const trie = await createMPT({ db: new LmdbNodeDb(lmdb), valueEncoding: ValueEncoding.Bytes });
    return new MptBaseline(lmdb, trie);
  }

  /** Applies puts as one checkpoint flushed to LMDB in one durable transaction. */
  async commit(batch: readonly (readonly [Uint8Array, Uint8Array])[]): Promise<Uint8Array> {
    this.trie.checkpoint();
    await this.trie.batch(batch.map(([key, value]) => ({ type: "put", key, value })));
    await this.trie.commit();
    return this.trie.root();
  }

  async close(): Promise<void> {
    await this.lmdb.close();
  }
}
