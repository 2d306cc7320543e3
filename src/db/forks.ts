// Fork states: the unfinalized states of a node's block tree, each named by an id of the
// caller's choosing (a header hash), over the database's durable state, which is the finalized
// one.
//
// Every retained state is an overlay (a finished write session, uncommitted) on its parent's;
// the finalized state is the database itself. `finalize(id)` commits the overlays on the path
// from the finalized state to `id`, one durable commit per block in order, and drops every
// state that does not descend from `id` (their overlays are released, so their deltas and pins
// go). States below the new finalized one keep reading through their parent overlay, which
// once committed reads the database.
//
// Unfinalized states live in memory only: after a restart (or a crash) the database holds the
// last finalized state (or, after a crash during `finalize`, a state on the path being
// finalized: each block is its own commit, and `db.root` says which), and the caller imports
// the unfinalized blocks again on it.
import { BYTES_RULE, optionsProblem } from "../store/options.ts";
import { guardClass } from "./boundary.ts";
import { Db } from "./db.ts";
import { DbError } from "./errors.ts";
import type { StateReadable } from "./readers.ts";
import type { FinishedSession, WriteSession } from "./session.ts";

/** Limits of `ForkStates`: beyond them `import` refuses with `BUSY` and keeps nothing. */
export interface ForkLimits {
  /** Unfinalized states retained at most (default 4096). */
  maxStates?: number;
  /** Bytes of changes (31 per key plus the value) retained at most (default 256 MiB). */
  maxDeltaBytes?: number;
}

/** One retained state, as `list()` reports it. */
export interface ForkStateInfo {
  id: string;
  /** The parent's id; null for the finalized state. */
  parent: string | null;
  root: Uint8Array;
  /** Blocks above the finalized state (0 for it). */
  depth: number;
  /** Changes of its block, and their bytes (31 per key plus the value). */
  changes: number;
  deltaBytes: number;
}

/** What `stats()` reports. */
export interface ForkStats {
  /** The finalized state's id. */
  finalized: string;
  /** Unfinalized states retained. */
  states: number;
  /** Bytes of their changes. */
  deltaBytes: number;
  /** Blocks committed by `finalize` so far, and states dropped by it. */
  finalizedBlocks: number;
  dropped: number;
}

interface Node {
  readonly id: string;
  parent: Node | null;
  /** The block's result; null for the finalized state (the database). */
  session: FinishedSession | null;
  readonly children: Set<Node>;
  depth: number;
  readonly changes: number;
  readonly bytes: number;
}

/** An import checked and written, before its root is computed. */
interface Started {
  readonly id: string;
  readonly up: Node;
  readonly session: WriteSession;
  readonly n: number;
  readonly bytes: number;
}

const DEFAULT_MAX_STATES = 4096;
const DEFAULT_MAX_DELTA_BYTES = 256 * 1024 * 1024;

/** The block tree of unfinalized states over a database (see the module comment). */
export class ForkStates {
  readonly #db: Db;
  readonly #nodes = new Map<string, Node>();
  #root: Node;
  readonly #maxStates: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #finalizedBlocks = 0;
  #dropped = 0;
  /** A finalize in progress: imports and other finalizes wait for it. */
  #busy = false;
  /** Ids of `importAsync` calls in flight: taken, and a finalize waits for them. */
  readonly #importing = new Set<string>();
  /** Bytes of their changes, counted against maxDeltaBytes. */
  #importingBytes = 0;

  /** Tracks states over `db`, whose current state is the finalized one, named `finalizedId`. */
  constructor(db: Db, finalizedId: string, limits: ForkLimits = {}) {
    if (!(db instanceof Db)) throw new DbError("BAD_ARGUMENT", "db must be a database (open(path))");
    checkId(finalizedId, "finalizedId");
    const bad = optionsProblem(limits, { maxStates: { kind: "integer", min: 1, max: 2 ** 52 }, maxDeltaBytes: BYTES_RULE }, "new ForkStates");
    if (bad !== null) throw new DbError("BAD_ARGUMENT", bad.replace(/options\b/g, "limits"));
    if (db.readOnly) throw new DbError("READ_ONLY", "fork states need a writable database");
    const maxStates = limits.maxStates ?? DEFAULT_MAX_STATES;
    const maxBytes = limits.maxDeltaBytes ?? DEFAULT_MAX_DELTA_BYTES;
    if (!Number.isSafeInteger(maxStates) || maxStates < 1)
      throw new DbError("BAD_ARGUMENT", `limits.maxStates must be a positive integer, got ${String(limits.maxStates)}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new DbError("BAD_ARGUMENT", `limits.maxDeltaBytes must be a positive integer, got ${String(limits.maxDeltaBytes)}`);
    this.#db = db;
    this.#maxStates = maxStates;
    this.#maxBytes = maxBytes;
    this.#root = { id: finalizedId, parent: null, session: null, children: new Set(), depth: 0, changes: 0, bytes: 0 };
    this.#nodes.set(finalizedId, this.#root);
  }

  /** The finalized state's id. */
  get finalized(): string {
    return this.#root.id;
  }

  /** True when `id` names a retained state (the finalized one included). */
  has(id: string): boolean {
    return this.#nodes.has(id);
  }

  /**
   * Imports a block: its `changes` (`[key, value | null]`, null deletes) over the state `parent`
   * (any retained one, the finalized included) make the state `id`. Returns its root. Refused,
   * with nothing kept: an `id` already retained or being imported, or a `parent` that is not
   * retained (`BAD_ARGUMENT`), bad changes (`BAD_ARGUMENT` naming the entry), a finalize in
   * progress or the limits reached (`BUSY`). Blocks the event loop while it computes the root
   * (as `WriteSession.finishSync`); a server awaits `importAsync`.
   */
  import(id: string, parent: string, changes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Uint8Array {
    const started = this.#begin(id, parent, changes);
    return this.#add(started, started.session.finishSync());
  }

  /**
   * `import` with the root computed in steps between turns of the event loop
   * (`WriteSession.finish`). Until it settles, `finalize` refuses (`BUSY`) and `id` counts as
   * taken; if `release()` drops `parent` meanwhile, it rejects with `RELEASED` and keeps nothing.
   */
  async importAsync(id: string, parent: string, changes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Promise<Uint8Array> {
    const started = this.#begin(id, parent, changes);
    this.#importing.add(id);
    this.#importingBytes += started.bytes;
    let finished: FinishedSession;
    try {
      finished = await started.session.finish();
    } finally {
      this.#importing.delete(id);
      this.#importingBytes -= started.bytes;
    }
    if (this.#nodes.get(parent) !== started.up) {
      finished.release();
      throw new DbError("RELEASED", `importAsync: the parent ${parent} was dropped while the block was being imported`);
    }
    return this.#add(started, finished);
  }

  /** Checks an import and fills its write session; nothing is kept on failure. */
  #begin(id: string, parent: string, changes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Started {
    checkId(id, "id");
    checkId(parent, "parent");
    if (this.#busy) throw new DbError("BUSY", "a finalize is in progress; import after it resolves");
    if (this.#nodes.has(id) || this.#importing.has(id)) throw new DbError("BAD_ARGUMENT", `id ${id} names a retained state already`);
    const up = this.#nodes.get(parent);
    if (up === undefined) throw new DbError("BAD_ARGUMENT", `parent ${parent} is not a retained state (finalized: ${this.#root.id})`);
    if (
      changes === null ||
      changes === undefined ||
      typeof (changes as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function" ||
      typeof changes === "string"
    ) {
      throw new DbError("BAD_ARGUMENT", "changes must be an iterable of [key, value | null] pairs");
    }
    if (this.#nodes.size - 1 + this.#importing.size >= this.#maxStates)
      throw new DbError("BUSY", `${this.#nodes.size - 1} unfinalized states retained, the limit (maxStates); finalize first`);
    const session = this.#db.beginWrite(up.session === null ? {} : { overlays: [up.session] });
    let n = 0;
    let bytes = 0;
    try {
      for (const entry of changes) {
        if (!Array.isArray(entry) || entry.length !== 2) throw new DbError("BAD_ARGUMENT", `changes[${n}] must be a [key, value | null] pair`);
        const [k, v] = entry;
        if (v === null) session.delete(k);
        else session.set(k, v);
        bytes += 31 + (v === null ? 0 : v.length);
        n++;
      }
      if (this.#bytes + this.#importingBytes + bytes > this.#maxBytes)
        throw new DbError("BUSY", `the changes retained would pass ${this.#maxBytes} bytes (maxDeltaBytes); finalize first`);
    } catch (e) {
      // Nothing kept: the session's pin goes now rather than at garbage collection.
      discard(session);
      if (e instanceof DbError && e.code === "BAD_ARGUMENT" && !e.message.startsWith("changes["))
        throw new DbError("BAD_ARGUMENT", `changes[${n}]: ${e.message}`, { cause: e });
      throw e;
    }
    return { id, up, session, n, bytes };
  }

  #add(started: Started, finished: FinishedSession): Uint8Array {
    const { id, up, n, bytes } = started;
    const node: Node = { id, parent: up, session: finished, children: new Set(), depth: up.depth + 1, changes: n, bytes };
    up.children.add(node);
    this.#nodes.set(id, node);
    this.#bytes += bytes;
    return finished.root;
  }

  /**
   * The state `id` for reads and proofs (`get`, `has`, `entries`, `prove`, `proveMany`,
   * `proveRange`): a finished session for an unfinalized state, a snapshot of the database for
   * the finalized one (release that when done). Valid until `id` is dropped by a finalize.
   */
  reader(id: string): StateReadable {
    const node = this.#node(id);
    return node.session ?? this.#db.beginRead();
  }

  /** The root of state `id`. */
  root(id: string): Uint8Array {
    const node = this.#node(id);
    return node.session !== null ? node.session.root : this.#db.root;
  }

  /**
   * Makes `id` the finalized state: commits the blocks from the finalized state to it, one
   * durable commit each, in order, then drops every state that does not descend from it. Resolves
   * to the number of blocks committed. A failed commit leaves the database at the last block
   * committed (which becomes the finalized state) and throws.
   */
  async finalize(id: string): Promise<number> {
    const target = this.#node(id);
    if (this.#busy) throw new DbError("BUSY", "a finalize is in progress");
    if (this.#importing.size > 0) throw new DbError("BUSY", `${this.#importing.size} importAsync call(s) in flight; finalize after they resolve`);
    if (target === this.#root) return 0;
    const path: Node[] = [];
    for (let n: Node | null = target; n !== null && n !== this.#root; n = n.parent) path.push(n);
    path.reverse();
    this.#busy = true;
    let done = 0;
    try {
      for (const node of path) {
        await (node.session as FinishedSession).commit();
        done++;
        this.#advance(node);
      }
    } finally {
      this.#busy = false;
      this.#finalizedBlocks += done;
    }
    return done;
  }

  // `node` (a child of the finalized state) is committed: it becomes the finalized state, and
  // its siblings' subtrees go.
  #advance(node: Node): void {
    const old = this.#root;
    for (const sibling of old.children) if (sibling !== node) this.#drop(sibling);
    this.#nodes.delete(old.id);
    old.children.clear();
    node.parent = null;
    this.#bytes -= node.bytes;
    node.session?.release();
    node.session = null;
    this.#root = node;
    // Depths count from the finalized state.
    const stack = [...node.children];
    node.depth = 0;
    while (stack.length > 0) {
      const n = stack.pop() as Node;
      n.depth = (n.parent as Node).depth + 1;
      for (const c of n.children) stack.push(c);
    }
  }

  // Drops `node` and everything above it.
  #drop(node: Node): void {
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop() as Node;
      for (const c of n.children) stack.push(c);
      n.children.clear();
      n.session?.release();
      n.session = null;
      n.parent = null;
      this.#nodes.delete(n.id);
      this.#bytes -= n.bytes;
      this.#dropped++;
    }
  }

  /** Every retained state, the finalized one first, then by depth. */
  list(): ForkStateInfo[] {
    const out: ForkStateInfo[] = [];
    for (const n of this.#nodes.values()) {
      out.push({ id: n.id, parent: n.parent?.id ?? null, root: this.root(n.id), depth: n.depth, changes: n.changes, deltaBytes: n.bytes });
    }
    return out.sort((a, b) => a.depth - b.depth);
  }

  /** Counts and bytes retained (see `ForkStats`). */
  stats(): ForkStats {
    return { finalized: this.#root.id, states: this.#nodes.size - 1, deltaBytes: this.#bytes, finalizedBlocks: this.#finalizedBlocks, dropped: this.#dropped };
  }

  /** Drops every unfinalized state (the database keeps the finalized one). */
  release(): void {
    for (const c of [...this.#root.children]) this.#drop(c);
    this.#root.children.clear();
  }

  #node(id: string): Node {
    checkId(id, "id");
    const node = this.#nodes.get(id);
    if (node === undefined) throw new DbError("BAD_ARGUMENT", `id ${id} is not a retained state (finalized: ${this.#root.id}; dropped or never imported)`);
    return node;
  }
}

function checkId(id: unknown, name: string): asserts id is string {
  if (typeof id !== "string" || id.length === 0)
    throw new DbError("BAD_ARGUMENT", `${name} must be a non-empty string, got ${typeof id === "string" ? "an empty string" : String(id)}`);
}

function discard(session: WriteSession): void {
  try {
    session.finishSync().release();
  } catch {
    // Its pin goes at garbage collection instead.
  }
}

guardClass(ForkStates);
