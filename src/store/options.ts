// Strict checks of option objects (`Store.open`, and the database's `open` above it).
//
// Every option is checked for type and range, `undefined` meaning "the default". A name that is
// not an option is refused rather than ignored: a misspelt `readonly: true` would otherwise open
// a writer, and `valueCachebytes` would silently give the default cache.

/** What an option may hold. */
export type OptionRule =
  | { readonly kind: "boolean" }
  /** A safe integer in min .. max. */
  | { readonly kind: "integer"; readonly min: number; readonly max: number }
  /** A power of two in min .. max. */
  | { readonly kind: "power of two"; readonly min: number; readonly max: number }
  /** An object with these methods. */
  | { readonly kind: "object"; readonly methods: readonly string[] }
  /** A function. */
  | { readonly kind: "function" }
  /** A Uint8Array of this many bytes. */
  | { readonly kind: "bytes"; readonly length: number };

/** Largest byte budget an option takes: 2^50 (a petabyte; larger is surely a mistake). */
export const MAX_OPTION_BYTES = 2 ** 50;

/** Rules shared by the store's and the database's options. */
export const FS_RULE: OptionRule = { kind: "object", methods: ["open", "remove", "syncDir", "mkdir"] };
export const BYTES_RULE: OptionRule = { kind: "integer", min: 1, max: MAX_OPTION_BYTES };
export const BOOLEAN_RULE: OptionRule = { kind: "boolean" };
export const BUCKETS_RULE: OptionRule = { kind: "power of two", min: 4, max: 2 ** 31 };

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : "an object";
}

/** Why `value` breaks `rule`, or null when it does not. */
function problem(value: unknown, rule: OptionRule): string | null {
  switch (rule.kind) {
    case "boolean":
      return typeof value === "boolean" ? null : "must be a boolean";
    case "integer":
      if (typeof value === "number" && Number.isSafeInteger(value) && value >= rule.min && value <= rule.max) return null;
      return `must be an integer in ${rule.min} .. ${rule.max}`;
    case "power of two":
      if (typeof value === "number" && Number.isSafeInteger(value) && value >= rule.min && value <= rule.max && (value & (value - 1)) === 0) return null;
      return `must be a power of two in ${rule.min} .. ${rule.max}`;
    case "function":
      return typeof value === "function" ? null : "must be a function";
    case "bytes":
      return value instanceof Uint8Array && value.length === rule.length ? null : `must be a Uint8Array of ${rule.length} bytes`;
    case "object": {
      if (value === null || typeof value !== "object") return `must be an object with ${rule.methods.join(", ")}`;
      const missing = rule.methods.find((m) => typeof (value as Record<string, unknown>)[m] !== "function");
      return missing === undefined ? null : `must have a method ${missing}`;
    }
  }
}

/**
 * Checks `options` of `what` against `rules` (by option name); returns the message of the first
 * problem, naming the option, or null. `options` must be undefined or a plain object.
 */
export function optionsProblem(options: unknown, rules: Readonly<Record<string, OptionRule>>, what: string): string | null {
  if (options === undefined) return null;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return `${what}: options must be an object, got ${describe(options)}`;
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(rules, name)) return `${what}: options.${name} is not an option (known: ${Object.keys(rules).join(", ")})`;
  }
  for (const [name, rule] of Object.entries(rules)) {
    const v = (options as Record<string, unknown>)[name];
    if (v === undefined) continue;
    const p = problem(v, rule);
    if (p !== null) return `${what}: options.${name} ${p}, got ${describe(v)}`;
  }
  return null;
}

/** The rules of `StoreOptions`. */
export const STORE_OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  valueCacheBytes: BYTES_RULE,
  merkleCacheBytes: BYTES_RULE,
  fs: FS_RULE,
  lock: BOOLEAN_RULE,
  merkleInitialBuckets: BUCKETS_RULE,
  checkpointEvery: { kind: "integer", min: 1, max: 2 ** 32 },
  checkpointBytes: BYTES_RULE,
  create: BOOLEAN_RULE,
  writeBehind: BOOLEAN_RULE,
};
