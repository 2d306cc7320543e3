// Reading the JAM vector formats into named states:
//   trace block file  { pre_state: {state_root, keyvals}, block, post_state: {...} }
//   genesis.json      { header, state: {state_root, keyvals} }
//   trie.json         [ { input: { "0x<32-byte key>": "0x<value>" }, output: "0x<root>" } ]
// trie.json predates 31-byte keys; only its first 31 key bytes enter the trie, as the GP says.

import { readFileSync } from "node:fs";
import { type Entry, fromHex, KEY_BYTES, toHex } from "../index.ts";

/** One state found in a file, with the root the file claims for it. */
export interface NamedState {
  /** Where in the file: `pre_state`, `post_state`, `state`, or `case N`. */
  readonly label: string;
  readonly entries: Entry[];
  readonly expectedRoot: Uint8Array;
  /** False for a state that gives no `state_root` (then `expectedRoot` is 32 zero bytes). */
  readonly givesRoot?: boolean;
}

/** A file that cannot be read or is not one of the known formats. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = "StateFileError";
  }
}

type JsonValue = unknown;

function isObject(x: JsonValue): x is Record<string, JsonValue> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function traceState(file: string, label: string, state: JsonValue): NamedState {
  if (!isObject(state) || !Array.isArray(state.keyvals)) {
    throw new StateFileError(file, `${label} has no keyvals array`);
  }
  const entries = state.keyvals.map((kv: JsonValue, i: number): Entry => {
    if (!isObject(kv)) throw new StateFileError(file, `${label}.keyvals[${i}] is not an object`);
    return {
      key: field(file, () => fromHex(kv.key, `${label}.keyvals[${i}].key`, KEY_BYTES)),
      value: field(file, () => fromHex(kv.value, `${label}.keyvals[${i}].value`)),
    };
  });
  if (state.state_root === undefined) return { label, entries, expectedRoot: new Uint8Array(32), givesRoot: false };
  const expectedRoot = field(file, () => fromHex(state.state_root, `${label}.state_root`, 32));
  return { label, entries, expectedRoot };
}

function trieCase(file: string, index: number, c: JsonValue): NamedState {
  const label = `case ${index}`;
  if (!isObject(c) || !isObject(c.input)) throw new StateFileError(file, `${label} has no input object`);
  const entries = Object.entries(c.input).map(([k, v]): Entry => {
    const key32 = field(file, () => fromHex(k, `${label} key ${k}`, 32));
    return { key: key32.subarray(0, KEY_BYTES), value: field(file, () => fromHex(v, `${label} value of ${k}`)) };
  });
  const expectedRoot = field(file, () => fromHex(c.output, `${label}.output`, 32));
  return { label, entries, expectedRoot };
}

function field<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new StateFileError(file, (e as Error).message);
  }
}

/** Parses already-loaded JSON from `file` (the name is only used in errors). */
export function statesOfJson(file: string, json: JsonValue): NamedState[] {
  if (Array.isArray(json)) return json.map((c, i) => trieCase(file, i, c));
  if (isObject(json)) {
    if ("state" in json) return [traceState(file, "state", json.state)];
    if ("pre_state" in json || "post_state" in json) {
      return [traceState(file, "pre_state", json.pre_state), traceState(file, "post_state", json.post_state)];
    }
  }
  throw new StateFileError(file, "not a trace (pre_state/post_state), genesis (state) or trie.json (array) file");
}

/** Parses the text of a state file (`file` names it in errors). */
export function statesOfText(file: string, text: string): NamedState[] {
  let json: JsonValue;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(file, `not valid JSON (${(e as Error).message})`);
  }
  return statesOfJson(file, json);
}

/** Reads and parses a state file. */
export function readStateFile(file: string): NamedState[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new StateFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return statesOfText(file, text);
}

/** A state as key hex -> value, for differences between states. */
export function stateMap(entries: Iterable<Entry>): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const e of entries) m.set(toHex(e.key), e.value);
  return m;
}

/** The changes (value null: delete) that turn state `from` into state `to`. */
export function stateDiff(from: Map<string, Uint8Array>, to: Map<string, Uint8Array>): [Uint8Array, Uint8Array | null][] {
  const batch: [Uint8Array, Uint8Array | null][] = [];
  for (const [k, v] of to) {
    const old = from.get(k);
    if (!old || !Buffer.from(old).equals(Buffer.from(v))) batch.push([fromHex(k), v]);
  }
  for (const k of from.keys()) if (!to.has(k)) batch.push([fromHex(k), null]);
  return batch;
}
