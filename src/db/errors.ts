// Typed errors of the database API.

/**
 * Why the database refused or failed an operation:
 * - `BAD_ARGUMENT`: an argument of the wrong type or out of its domain (the message names it);
 * - `CLOSED`: the database was closed;
 * - `RELEASED`: the snapshot or session was released;
 * - `FINISHED`: the write session was already finished;
 * - `STALE`: the database moved (another commit or a rollback) since the session's base;
 * - `SIBLING_COMMITTED`: another session on the same base (a fork) was committed;
 * - `PARENT_NOT_COMMITTED`: an overlay below the session is not committed yet;
 * - `ALREADY_COMMITTED`: the session was committed before;
 * - `ROOT_NOT_FOUND`: `beginReadAt` was given a root outside the rollback window;
 * - `EXPIRED`: a past state outside the rollback window that nothing pins any more;
 * - `READ_ONLY`: a write on a database opened read-only;
 * - `BUSY`: `commitSync` while other commits are queued; a write, `warmUp` or second finish while a
 *   session's `finish()` is in flight; a `ForkStates` call refused while its own work runs;
 * - `NO_WITNESS`: `witness()` of a session not opened with `{ witness: true }`;
 * - `LOCKED`, `NOT_FOUND`, `VERSION`: from opening the store (see `StoreError`);
 * - `CORRUPT`: stored bytes are damaged or disagree with each other; a `DbCorruptionError` with
 *   the `file` and `offset` when the layer that found the damage knows them;
 * - `NOT_EMPTY`: an import into a database that holds entries;
 * - `ROOT_MISMATCH`: imported or synced entries do not give the expected root (nothing kept);
 * - `BAD_RESPONSE`: a warp sync refused a peer's state response (it does not verify);
 * - `FAILED`: a failure while a commit, rollback or checkpoint was being written (an I/O error,
 *   also of the rollback log's rewrite, or damage met midway); the handle refuses all further
 *   use, and nothing is retried: reopen it (the disk is at the state before or after that
 *   commit). From `close`, a last checkpoint that failed (the files are released; the next open
 *   replays the redo log, so nothing acknowledged is lost). `cause` is the `IoError` when a file
 *   operation failed;
 * - `IO`: a file operation failed outside a commit (opening: `EACCES`, `EROFS`, `ENOSPC`,
 *   `EEXIST`, `EISDIR`...; a read; a file's close). `cause` is the `IoError`: `op` (`open`,
 *   `read`, `write`, `sync`, `truncate`, `size`, `close`, `remove`, `syncDir`, `mkdir`; `list`,
 *   `link` and `mkfifo` while taking the writer lock), `path`,
 *   and the system error's `code`, `errno` and `syscall`, with that error as its own `cause`.
 * - `INTERNAL`: a failure of a kind the database does not otherwise type (a bug); `cause`
 *   holds the original error.
 */
export type DbErrorCode =
  | "BAD_ARGUMENT"
  | "CLOSED"
  | "RELEASED"
  | "FINISHED"
  | "STALE"
  | "SIBLING_COMMITTED"
  | "PARENT_NOT_COMMITTED"
  | "ALREADY_COMMITTED"
  | "ROOT_NOT_FOUND"
  | "EXPIRED"
  | "READ_ONLY"
  | "BUSY"
  | "NO_WITNESS"
  | "LOCKED"
  | "NOT_FOUND"
  | "CORRUPT"
  | "VERSION"
  | "NOT_EMPTY"
  | "ROOT_MISMATCH"
  | "BAD_RESPONSE"
  | "FAILED"
  | "IO"
  | "INTERNAL";

/** Typed error of the database API; `code` says why, the message names the argument or path. */
export class DbError extends Error {
  readonly code: DbErrorCode;
  constructor(code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DbError";
    this.code = code;
  }
}

/**
 * `CORRUPT`: bytes on disk are damaged. `file` and `offset` locate them when the layer that
 * found the damage knows them (null otherwise); `cause` is that layer's error.
 */
export class DbCorruptionError extends DbError {
  /** Path of the damaged file, or null. */
  readonly file: string | null;
  /** Byte offset of the damaged unit (page, bucket, record) in `file`, or null. */
  readonly offset: number | null;
  constructor(message: string, file: string | null, offset: number | null, options?: { cause?: unknown }) {
    super("CORRUPT", message, options);
    this.name = "DbCorruptionError";
    this.file = file;
    this.offset = offset;
  }
}
