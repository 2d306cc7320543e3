/** Why the store refused or failed an operation. */
export type StoreErrorCode = "LOCKED" | "CLOSED" | "FAILED" | "BAD_ARGUMENT" | "CORRUPT" | "NOT_EMPTY" | "NOT_FOUND" | "VERSION";

/** Typed error of the store layer; the message names the path or the argument at fault. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}
