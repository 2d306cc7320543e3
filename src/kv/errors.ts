// Typed errors of the kv layer. Every failure a caller can act on carries a stable `code`.

/** Stable identifiers of kv failures. */
export type KvErrorCode =
  | "BAD_KEY" // a key is not a Uint8Array of KEY_BYTES bytes
  | "BAD_VALUE" // a value is not a Uint8Array (or null for a delete)
  | "VALUE_TOO_LARGE" // a value is longer than MAX_VALUE_SIZE
  | "BAD_BATCH" // a batch is malformed (duplicate keys, wrong shape)
  | "BAD_ARGUMENT" // any other argument out of its domain
  | "BAD_META" // a tree-meta record does not decode
  | "CORRUPT" // a page failed its checksum or structural checks
  | "CLOSED" // the tree was closed
  | "FAILED" // an I/O or corruption error interrupted a write; reopen to continue
  | "BUSY" // a commit was prepared and not yet marked durable
  | "STALE"; // a snapshot or iterator outlived the pages it reads

/** Error thrown by the kv layer; `code` says what went wrong. */
export class KvError extends Error {
  /** What went wrong, stable across releases. */
  readonly code: KvErrorCode;

  /** Creates an error with a stable code and a human-readable message. */
  constructor(code: KvErrorCode, message: string) {
    super(message);
    this.name = "KvError";
    this.code = code;
  }
}

/** A page on disk is damaged; `file` and `offset` locate it. The page is never used. */
export class KvCorruptionError extends KvError {
  /** Path of the damaged file. */
  readonly file: string;
  /** Byte offset of the damaged page in that file. */
  readonly offset: number;

  /** Creates a corruption error for the page at `offset` of `file`. */
  constructor(file: string, offset: number, detail: string) {
    super("CORRUPT", `corrupt page in ${file} at offset ${offset}: ${detail}`);
    this.name = "KvCorruptionError";
    this.file = file;
    this.offset = offset;
  }
}
