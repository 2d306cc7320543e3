// Argument checks of the trie layer's public functions: each throws a `TrieError` naming the
// argument. The engine's inner loops call unchecked code; these run once per public call.
import { TrieError } from "./errors.ts";

/** Throws `BAD_ARGUMENT` unless `v` is an array. */
export function checkArray(v: unknown, name: string): asserts v is readonly unknown[] {
  if (!Array.isArray(v)) throw new TrieError("BAD_ARGUMENT", `${name} must be an array`);
}

/** Throws `BAD_VALUE` unless `v` is a Uint8Array (of `length` bytes, or at least `min`). */
export function checkBytes(v: unknown, name: string, length?: number, min = 0): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TrieError("BAD_VALUE", `${name} must be a Uint8Array`);
  if (length !== undefined && v.length !== length) throw new TrieError("BAD_VALUE", `${name} must be ${length} bytes, got ${v.length}`);
  if (v.length < min) throw new TrieError("BAD_VALUE", `${name} must be at least ${min} bytes, got ${v.length}`);
}

/** Throws `BAD_ARGUMENT` unless `v` is an integer in min .. max. */
export function checkInteger(v: unknown, name: string, min: number, max: number): asserts v is number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new TrieError("BAD_ARGUMENT", `${name} must be an integer in ${min} .. ${max}, got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
  }
}

/** Throws `BAD_ARGUMENT` unless `v` is a node source: an object with `root`, `node` and `leaf`. */
export function checkSource(v: unknown, name: string): void {
  const s = v as { root?: unknown; node?: unknown; leaf?: unknown } | null;
  if (s === null || typeof s !== "object" || typeof s.root !== "function" || typeof s.node !== "function" || typeof s.leaf !== "function") {
    throw new TrieError("BAD_ARGUMENT", `${name} must be a node source (root, node, leaf)`);
  }
}
