// The database's error boundary: every error that leaves a public method of `Db`, `Snapshot`,
// `WriteSession`, `FinishedSession` or `Overlay` (or `open`) is a `DbError`. The layers below
// throw their own typed errors (`StoreError`, `KvError`, `PageStoreError`, `TrieError`); a user
// of the database should not have to know them, so they are converted here, once, with the
// original kept as `cause` and a damaged file's `file` and `offset` kept on `DbCorruptionError`.
//
// The conversion wraps the classes' methods and getters instead of catching inside each one:
// a method added later is covered without anyone remembering to, and the bad-input test checks
// that nothing else escapes. Argument checks stay in the methods (they name the argument).
import { ioErrorOf } from "../io/index.ts";
import { KvError } from "../kv/index.ts";
import { PageStoreError } from "../merkle/page-store-errors.ts";
import { StoreError } from "../store/index.ts";
import { TrieError } from "../trie/index.ts";
import { DbCorruptionError, DbError, type DbErrorCode } from "./errors.ts";

/** Codes the layers below share with `DbError` under the same name and meaning. */
const SAME: ReadonlySet<string> = new Set<DbErrorCode>([
  "BAD_ARGUMENT",
  "CLOSED",
  "STALE",
  "BUSY",
  "READ_ONLY",
  "LOCKED",
  "NOT_FOUND",
  "CORRUPT",
  "VERSION",
  "FAILED",
  "IO",
  "ROOT_MISMATCH",
]);

/** Lower-layer codes for bad input (the database checks its arguments first, so rare). */
const INPUT = new Set(["BAD_KEY", "BAD_VALUE", "VALUE_TOO_LARGE", "BAD_BATCH", "UNSORTED", "DUPLICATE_KEY", "NOT_EMPTY"]);
/** Lower-layer codes for stored bytes that are damaged or disagree. */
const DAMAGE = new Set(["BAD_META", "BAD_PAGE", "BAD_WAL", "BAD_PATH", "BAD_PROOF", "BAD_ENCODING"]);

function located(e: Error): { file: string | null; offset: number | null } {
  const f = (e as { file?: unknown }).file;
  const o = (e as { offset?: unknown }).offset;
  return { file: typeof f === "string" ? f : null, offset: typeof o === "number" ? o : null };
}

/** `e` as a `DbError`: itself when it is one, else converted with `e` as the cause. */
export function toDbError(e: unknown): DbError {
  if (e instanceof DbError) return e;
  // A failed file operation, typed at the file seam: FAILED keeps the IoError as cause (as the
  // commit path does), anything else outside a commit is IO.
  const io = ioErrorOf(e);
  if (e instanceof StoreError && e.code === "FAILED") return new DbError("FAILED", e.message, { cause: io ?? e });
  if (io !== undefined && !(e instanceof StoreError || e instanceof KvError || e instanceof PageStoreError))
    return new DbError("IO", io.message, { cause: io });
  if (e instanceof StoreError || e instanceof KvError || e instanceof PageStoreError || e instanceof TrieError) {
    const code: string = e.code;
    if (code === "CORRUPT" || DAMAGE.has(code)) {
      const at = located(e);
      // A StoreError wrapping a lower layer's damage report: take the location from there.
      if (at.file === null && e.cause instanceof Error) {
        const inner = located(e.cause);
        if (inner.file !== null) return new DbCorruptionError(e.message, inner.file, inner.offset, { cause: e });
      }
      return new DbCorruptionError(e.message, at.file, at.offset, { cause: e });
    }
    if (SAME.has(code)) return new DbError(code as DbErrorCode, e.message, { cause: e });
    if (INPUT.has(code)) return new DbError("BAD_ARGUMENT", e.message, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new DbError("INTERNAL", `unexpected failure: ${message}`, { cause: e });
}

function* syncScan<T>(it: Generator<T, void, undefined>): Generator<T, void, undefined> {
  try {
    yield* it;
  } catch (e) {
    throw toDbError(e);
  }
}

async function* asyncScan<T>(it: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  try {
    yield* it;
  } catch (e) {
    throw toDbError(e);
  }
}

/**
 * What a guarded method returns: promises and generators convert what they throw later. Every
 * read passes here (a `get` three times: itself and its two internal hooks), so values, bytes
 * and plain objects leave after a type test or one property read: no `toString` string built.
 */
function guardResult(r: unknown): unknown {
  if (typeof r !== "object" || r === null || r instanceof Uint8Array) return r;
  if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(toDbError(e)));
  // Generator objects carry their kind as the tag their prototype defines.
  const t = (r as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (t === "Generator") return syncScan(r as Generator<unknown, void, undefined>);
  if (t === "AsyncGenerator") return asyncScan(r as AsyncGenerator<unknown, void, undefined>);
  return r;
}

function guardFunction(f: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  // Generator methods would throw their argument errors at the first `next()`: they are wrapped
  // as generators. Everything else is called, and its result guarded.
  const kind = f.constructor.name;
  if (kind === "GeneratorFunction") {
    return function* (this: unknown, ...args: unknown[]) {
      try {
        return yield* f.apply(this, args) as Generator<unknown, unknown, unknown>;
      } catch (e) {
        throw toDbError(e);
      }
    };
  }
  if (kind === "AsyncGeneratorFunction") {
    return async function* (this: unknown, ...args: unknown[]) {
      try {
        return yield* f.apply(this, args) as AsyncGenerator<unknown, unknown, unknown>;
      } catch (e) {
        throw toDbError(e);
      }
    };
  }
  return function (this: unknown, ...args: unknown[]) {
    let r: unknown;
    try {
      r = f.apply(this, args);
    } catch (e) {
      throw toDbError(e);
    }
    return guardResult(r);
  };
}

function guardMembers(target: object, skip: ReadonlySet<PropertyKey>): void {
  for (const name of Reflect.ownKeys(target)) {
    if (skip.has(name)) continue;
    const d = Object.getOwnPropertyDescriptor(target, name) as PropertyDescriptor;
    if (typeof d.value === "function") d.value = guardFunction(d.value);
    else if (d.get !== undefined) d.get = guardFunction(d.get) as () => unknown;
    else continue;
    Object.defineProperty(target, name, d);
  }
}

const PROTO_SKIP: ReadonlySet<PropertyKey> = new Set(["constructor"]);
const STATIC_SKIP: ReadonlySet<PropertyKey> = new Set(["length", "name", "prototype"]);

/**
 * Makes every public method, getter and static method that `cls` itself defines throw only
 * `DbError`s (inherited ones are guarded where they are defined). Call once per class.
 */
export function guardClass(cls: { readonly prototype: object }): void {
  guardMembers(cls.prototype, PROTO_SKIP);
  guardMembers(cls, STATIC_SKIP);
}
