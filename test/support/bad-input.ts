// Bad inputs of each kind, and a tally of calls that must be refused with a typed error naming
// the argument. Used by the table-driven bad-input tests (test/trie, test/db), which go over
// every exported function, class and method.

/** A bad value with a label for messages, and optionally the name its refusal must mention. */
export type Bad = readonly [label: string, value: unknown, names?: string];

const u8 = (n: number): Uint8Array => new Uint8Array(n);

/** Not a 31-byte key. */
export const NOT_KEYS: readonly Bad[] = [
  ["undefined", undefined],
  ["null", null],
  ["hex string", `0x${"00".repeat(31)}`],
  ["number", 7],
  ["NaN", Number.NaN],
  ["boolean", true],
  ["object", {}],
  ["array of 31 numbers", new Array(31).fill(1)],
  ["30 bytes", u8(30)],
  ["32 bytes", u8(32)],
  ["0 bytes", u8(0)],
  ["Uint16Array(31)", new Uint16Array(31)],
];

/** Not a 32-byte root or name. */
export const NOT_ROOTS: readonly Bad[] = [
  ["undefined", undefined],
  ["null", null],
  ["hex string", `0x${"00".repeat(32)}`],
  ["number", 1],
  ["object", {}],
  ["31 bytes", u8(31)],
  ["33 bytes", u8(33)],
  ["Int8Array(32)", new Int8Array(32)],
];

/** Not a byte string (a value); null is left out (it means "absent" or "delete" in places). */
export const NOT_BYTES: readonly Bad[] = [
  ["undefined", undefined],
  ["string", "abc"],
  ["number", 5],
  ["object", {}],
  ["array", [1, 2, 3]],
  ["Uint16Array", new Uint16Array(2)],
  ["ArrayBuffer", new ArrayBuffer(4)],
];

/** Not a non-negative safe integer (counts, offsets, n of rollback). */
export const NOT_COUNTS: readonly Bad[] = [
  ["null", null],
  ["string", "1"],
  ["NaN", Number.NaN],
  ["-1", -1],
  ["1.5", 1.5],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["2^60", 2 ** 60],
  ["boolean", true],
  ["object", {}],
  ["bigint", 1n],
];

/** Not a positive safe integer (limits, byte sizes): the counts above and 0. */
export const NOT_POSITIVE: readonly Bad[] = [...NOT_COUNTS, ["0", 0]];

/** Not a boolean. */
export const NOT_BOOLEANS: readonly Bad[] = [
  ["1", 1],
  ["0", 0],
  ['"yes"', "yes"],
  ['"false"', "false"],
  ["null", null],
  ["object", {}],
  ["NaN", Number.NaN],
];

/** Not iterable. */
export const NOT_ITERABLES: readonly Bad[] = [
  ["undefined", undefined],
  ["null", null],
  ["number", 1],
  ["boolean", true],
  ["object", {}],
  ["NaN", Number.NaN],
];

/** Not an array. */
export const NOT_ARRAYS: readonly Bad[] = [...NOT_ITERABLES, ["string", "abc"], ["Uint8Array", u8(31)], ["Set", new Set()]];

/** Not an object. */
export const NOT_OBJECTS: readonly Bad[] = [
  ["undefined", undefined],
  ["null", null],
  ["number", 1],
  ["string", "x"],
  ["boolean", true],
  ["NaN", Number.NaN],
];

/** Anything at all that is not a well-formed structure. */
export const GARBAGE: readonly Bad[] = [
  ...NOT_OBJECTS,
  ["empty object", {}],
  ["empty array", []],
  ["function", () => 1],
  ["bytes", u8(40)],
  ["object of nulls", { root: null, key: null, value: null, siblings: null, terminal: null, paths: null, entries: null }],
];

/** What a refused call must throw. */
export interface Refusal {
  /** The family's error class. */
  readonly family: abstract new (
    ...args: never[]
  ) => Error;
  /** Acceptable codes (`code` property), or null when the family has none. */
  readonly codes: readonly string[] | null;
  /** Text the message must contain: the argument's name. */
  readonly names: string;
}

/** Counts calls and collects what went wrong, to report all failures at once. */
export class Tally {
  calls = 0;
  readonly failures: string[] = [];
  readonly byFamily = new Map<string, number>();

  /** Calls `call` (awaiting a promise) and checks it is refused as `want`. */
  async refuses(label: string, call: () => unknown, want: Refusal): Promise<void> {
    this.calls++;
    if (process.env.BAD_TRACE) process.stderr.write(`${label}\n`);
    let result: unknown;
    try {
      result = call();
      if (result instanceof Promise) result = await result;
    } catch (e) {
      this.#check(label, e, want);
      return;
    }
    this.failures.push(`${label}: accepted (returned ${describe(result)})`);
  }

  /** Calls `call` and checks it returns `expected` without throwing. */
  returns(label: string, call: () => unknown, expected: unknown): void {
    this.calls++;
    try {
      const r = call();
      if (r !== expected) this.failures.push(`${label}: returned ${describe(r)}, not ${describe(expected)}`);
    } catch (e) {
      this.failures.push(`${label}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }

  /** Records a failure found by the caller. */
  fail(label: string, what: string): void {
    this.failures.push(`${label}: ${what}`);
  }

  #check(label: string, e: unknown, want: Refusal): void {
    const err = e as { name?: unknown; code?: unknown; message?: unknown };
    const name = String(err?.name);
    this.byFamily.set(name, (this.byFamily.get(name) ?? 0) + 1);
    if (!(e instanceof want.family)) {
      this.failures.push(`${label}: threw ${name} (${String(err?.message)}), not ${want.family.name}`);
      return;
    }
    if (want.codes !== null && !want.codes.includes(String(err.code))) {
      this.failures.push(`${label}: code ${String(err.code)}, not ${want.codes.join("|")} (${String(err.message)})`);
      return;
    }
    if (!String(err.message).includes(want.names)) this.failures.push(`${label}: message "${String(err.message)}" does not name ${want.names}`);
  }

  /** A summary line for the test's diagnostics. */
  summary(): string {
    const fam = [...this.byFamily].map(([k, v]) => `${k} ${v}`).join(", ");
    return `${this.calls} bad-input calls; errors by class: ${fam}; failures ${this.failures.length}`;
  }
}

export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.slice(0, 40));
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (v === null || typeof v !== "object") return String(v);
  return v.constructor?.name ?? "object";
}

/** Every method and getter name of a class's prototype chain (below Object), sorted. */
export function memberNames(cls: { prototype: object }): string[] {
  const names = new Set<string>();
  for (let p: object | null = cls.prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Reflect.ownKeys(p)) {
      if (k === "constructor") continue;
      names.add(k === Symbol.dispose ? "Symbol.dispose" : k === Symbol.asyncDispose ? "Symbol.asyncDispose" : typeof k === "symbol" ? String(k) : k);
    }
  }
  return [...names].sort();
}
