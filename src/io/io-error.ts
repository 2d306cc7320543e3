// The one place where a failed file operation becomes a typed error. Every file the engine opens
// goes through `guardFileSystem`, which wraps each call of the file system and of its files: a
// failure of the operating system (ENOSPC, EIO, EROFS, EACCES...) leaves as an `IoError` naming
// the operation and the path, with the system error as `cause`, whatever file system (the host,
// or a test's) raised it. Layers above decide what the failure means (the store fails its handle
// when a commit was in flight); none of them has to recognise raw Node errors.
import type { KvFile, KvFileSystem } from "./file.ts";

/** The file operation that failed. */
export type IoOp = "open" | "read" | "write" | "sync" | "truncate" | "size" | "close" | "remove" | "syncDir" | "mkdir" | "list" | "link" | "mkfifo";

/** A failed file operation: `op` on `path`, with the system error as `cause`. */
export class IoError extends Error {
  /** What was being done. */
  readonly op: IoOp;
  /** The file (or directory) it was done to. */
  readonly path: string;
  /** The system error code (`ENOSPC`, `EIO`, ...), or `EUNKNOWN` when the cause has none. */
  readonly code: string;
  /** The system error number when known (negative on Linux, as Node reports it). */
  readonly errno: number | undefined;
  /** The system call that failed, when known (`write`, `fdatasync`, `open`, ...). */
  readonly syscall: string | undefined;

  constructor(op: IoOp, path: string, cause: unknown) {
    const c = (cause ?? {}) as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
    const code = typeof c.code === "string" ? c.code : "EUNKNOWN";
    super(`${op} ${path} failed: ${typeof c.message === "string" ? c.message : String(cause)}`, { cause });
    this.name = "IoError";
    this.op = op;
    this.path = path;
    this.code = code;
    this.errno = typeof c.errno === "number" ? c.errno : undefined;
    this.syscall = typeof c.syscall === "string" ? c.syscall : undefined;
  }
}

/** The first `IoError` in `e`'s cause chain, or undefined. */
export function findIoError(e: unknown): IoError | undefined {
  for (let x = e, depth = 0; x instanceof Error && depth < 16; x = x.cause, depth++) {
    if (x instanceof IoError) return x;
  }
  return undefined;
}

const OP_OF_SYSCALL: Record<string, IoOp> = {
  open: "open",
  read: "read",
  write: "write",
  fsync: "sync",
  fdatasync: "sync",
  ftruncate: "truncate",
  fstat: "size",
  close: "close",
  unlink: "remove",
  rm: "remove",
  rmdir: "remove",
  mkdir: "mkdir",
};

/**
 * The `IoError` in `e`'s cause chain, or, for a raw system error of Node (a `code` like
 * `EACCES` and a `syscall`) from code outside the guarded seam, one made from it; else undefined.
 */
export function ioErrorOf(e: unknown): IoError | undefined {
  const found = findIoError(e);
  if (found !== undefined) return found;
  const c = e as { code?: unknown; syscall?: unknown; path?: unknown };
  if (e instanceof Error && typeof c.code === "string" && /^E[A-Z0-9]+$/.test(c.code) && typeof c.syscall === "string") {
    return new IoError(OP_OF_SYSCALL[c.syscall] ?? "open", typeof c.path === "string" ? c.path : "", e);
  }
  return undefined;
}

function wrap<T>(op: IoOp, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw typed(op, path, e);
  }
}

function typed(op: IoOp, path: string, e: unknown): IoError {
  return e instanceof IoError ? e : new IoError(op, path, e);
}

/** `file` with every call's failure raised as an `IoError` (`syncAsync`, `writeAsync` and `readAsync` included). */
export function guardFile<F extends KvFile>(file: F): F {
  if (seamWrapped.has(file)) return file;
  const path = file.path;
  // Plain try/catch per method: reads and writes are on the hot path.
  const out: KvFile = {
    path,
    read(buf, position) {
      try {
        return file.read(buf, position);
      } catch (e) {
        throw typed("read", path, e);
      }
    },
    write(buf, position) {
      try {
        file.write(buf, position);
      } catch (e) {
        throw typed("write", path, e);
      }
    },
    sync: () => wrap("sync", path, () => file.sync()),
    truncate: (size) => wrap("truncate", path, () => file.truncate(size)),
    size: () => wrap("size", path, () => file.size()),
    close: () => wrap("close", path, () => file.close()),
  };
  // The descriptor stays visible to the write-behind worker (whose failures are typed there).
  if (file.fd !== undefined) Object.defineProperty(out, "fd", { get: () => file.fd, enumerable: true });
  const syncAsync = guardAsync(file, file.syncAsync, "sync", path);
  if (syncAsync !== undefined) out.syncAsync = syncAsync;
  const writeAsync = guardAsync(file, file.writeAsync, "write", path);
  if (writeAsync !== undefined) out.writeAsync = writeAsync;
  const readAsync = guardAsync(file, file.readAsync, "read", path);
  if (readAsync !== undefined) out.readAsync = readAsync;
  seamWrapped.add(out);
  return out as F;
}

// An optional async call of `file`, its failure (thrown or rejected) raised as an `IoError`.
function guardAsync<A extends unknown[], R>(
  file: KvFile,
  call: ((...args: A) => Promise<R>) | undefined,
  op: IoOp,
  path: string,
): ((...args: A) => Promise<R>) | undefined {
  if (call === undefined) return undefined;
  return (...args: A) => {
    try {
      return call.apply(file, args).catch((e: unknown) => {
        throw typed(op, path, e);
      });
    } catch (e) {
      return Promise.reject(typed(op, path, e));
    }
  };
}

// What the seam already wraps (guarding twice returns the object itself).
const seamWrapped = new WeakSet<object>();

/**
 * `fs` with every call's failure raised as an `IoError`: `open`, the files it opens, and the
 * directory operations of the page store's file system (`remove`, `syncDir`, `mkdir`, `list`,
 * `removeTree`), when it has them. Guarding twice returns the same object.
 */
export function guardFileSystem<S extends KvFileSystem>(fs: S): S {
  if (seamWrapped.has(fs)) return fs;
  const out: Record<string, unknown> = { open: (path: string) => guardFile(wrap("open", path, () => fs.open(path))) };
  const dirOps = fs as unknown as Record<string, ((path: string) => unknown) | undefined>;
  for (const op of ["remove", "syncDir", "mkdir", "list", "removeTree"] as const) {
    const f = dirOps[op];
    if (typeof f === "function") out[op] = (path: string) => wrap(op === "removeTree" ? "remove" : op, path, () => f.call(fs, path));
  }
  seamWrapped.add(out);
  return out as unknown as S;
}

/** Closes every one of `files`, whatever fails; then throws the first failure. */
export function closeAll(files: Iterable<{ close(): void }>): void {
  let failure: unknown = null;
  for (const f of files) {
    try {
      f.close();
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure !== null) throw failure;
}

/**
 * Closes `file` on an error path, where the error already on its way is the one to report (a
 * second failure, of the close, must not replace it).
 */
export function closeQuietly(file: { close(): void } | null | undefined): void {
  try {
    file?.close();
  } catch {
    // Secondary to the failure being thrown.
  }
}
