// Typed errors of the page store. Every failure a caller can act on carries a stable `code`.

/** Stable identifiers of page-store failures. */
export type PageStoreErrorCode =
  | "BAD_ARGUMENT" // an argument is out of its domain
  | "BAD_PAGE" // a page handed to `prepare` is not a 4 KiB image carrying its id
  | "CORRUPT" // a bucket, the meta-byte region or a table file is damaged
  | "BAD_WAL" // a valid WAL disagrees with the committed table description
  | "STATE" // a call out of protocol order (e.g. `prepare` while a commit awaits `apply`)
  | "READ_ONLY" // a write to a store opened with `readOnly`
  | "FAILED" // an in-place write behind the caller failed: reopen (the WAL repairs the table)
  | "VERSION" // the table was written by a build of another format or elision threshold
  | "CLOSED"; // the store was closed

/** Error thrown by the page store; `code` says what went wrong. */
export class PageStoreError extends Error {
  /** What went wrong, stable across releases. */
  readonly code: PageStoreErrorCode;

  /** Creates an error with a stable code and a human-readable message. */
  constructor(code: PageStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PageStoreError";
    this.code = code;
  }
}

/** Bytes on disk are damaged; `file` and `offset` locate them. Such a page is never returned. */
export class PageStoreCorruptionError extends PageStoreError {
  /** Path of the damaged file. */
  readonly file: string;
  /** Byte offset of the damaged unit (bucket or region) in that file. */
  readonly offset: number;

  /** Creates a corruption error for the unit at `offset` of `file`. */
  constructor(file: string, offset: number, detail: string) {
    super("CORRUPT", `corrupt page store data in ${file} at offset ${offset}: ${detail}`);
    this.name = "PageStoreCorruptionError";
    this.file = file;
    this.offset = offset;
  }
}
