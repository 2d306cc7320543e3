// JSON forms of proofs and witnesses, for tools and other implementations: bytes as 0x hex.
// Readers are strict (exact fields, exact lengths) and throw `TrieError` `BAD_ENCODING`.
//
// The single-key proof has exactly this shape, shared with other implementations:
//   {"root","key","value": hex|null,"siblings":[hex...],"terminal":
//     {"kind":"leaf","key","value"} | {"kind":"leaf","key","valueHash"} | {"kind":"empty"}}

import { type DecodedProof, encodeKeyProof, encodeMultiProof, encodeRangeProof, encodeWitness } from "./encoding.ts";
import { TrieError } from "./errors.ts";
import { fromHex, toHex } from "./hex.ts";
import { HASH_BYTES } from "./node.ts";
import { KEY_BYTES } from "./key.ts";
import type { MultiProof, MultiProofPath } from "./multiproof.ts";
import type { KeyProof, ProofTerminal } from "./proof.ts";
import type { BoundaryNode, RangeProof } from "./range-proof.ts";
import type { Change } from "./stateless.ts";
import type { Read, Witness } from "./witness.ts";

/** A JSON value as `JSON.parse` returns it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function bad(what: string): never {
  throw new TrieError("BAD_ENCODING", what);
}

function hex(value: unknown, what: string, length?: number): Uint8Array {
  if (typeof value !== "string" || !value.startsWith("0x")) bad(`${what} must be a 0x hex string`);
  try {
    return fromHex(value, what, length);
  } catch (e) {
    return bad(e instanceof Error ? e.message : what);
  }
}

function object(value: unknown, what: string, fields: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`${what} must be an object`);
  const o = value as Record<string, unknown>;
  for (const f of fields) if (!(f in o)) bad(`${what}.${f} is missing`);
  for (const f of Object.keys(o)) if (!fields.includes(f) && !optional.includes(f)) bad(`${what}.${f} is not a field`);
  return o;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) bad(`${what} must be an array`);
  return value;
}

function terminalToJson(t: ProofTerminal): Json {
  if (t.kind === "empty") return { kind: "empty" };
  if ("value" in t) return { kind: "leaf", key: toHex(t.key), value: toHex(t.value) };
  return { kind: "leaf", key: toHex(t.key), valueHash: toHex(t.valueHash) };
}

function terminalFromJson(value: unknown, what: string): ProofTerminal {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === "empty") {
    object(value, what, ["kind"]);
    return { kind: "empty" };
  }
  if (kind !== "leaf") bad(`${what}.kind must be "leaf" or "empty"`);
  const o = value as Record<string, unknown>;
  if ("value" in o) {
    object(value, what, ["kind", "key", "value"]);
    return { kind: "leaf", key: hex(o.key, `${what}.key`, KEY_BYTES), value: hex(o.value, `${what}.value`) };
  }
  object(value, what, ["kind", "key", "valueHash"]);
  return { kind: "leaf", key: hex(o.key, `${what}.key`, KEY_BYTES), valueHash: hex(o.valueHash, `${what}.valueHash`, HASH_BYTES) };
}

/** The JSON form of a single-key proof (the shared shape above). */
export function keyProofToJson(proof: KeyProof): Json {
  // The binary encoder checks every field (BAD_ARGUMENT naming it): one set of rules for both forms.
  encodeKeyProof(proof);
  return {
    root: toHex(proof.root),
    key: toHex(proof.key),
    value: proof.value === null ? null : toHex(proof.value),
    siblings: proof.siblings.map(toHex),
    terminal: terminalToJson(proof.terminal),
  };
}

/** A single-key proof from its JSON form (a parsed value or the JSON text). */
export function keyProofFromJson(json: unknown): KeyProof {
  const o = object(parsed(json), "proof", ["root", "key", "value", "siblings", "terminal"]);
  return {
    root: hex(o.root, "root", HASH_BYTES),
    key: hex(o.key, "key", KEY_BYTES),
    value: o.value === null ? null : hex(o.value, "value"),
    siblings: array(o.siblings, "siblings").map((s, i) => hex(s, `siblings[${i}]`, HASH_BYTES)),
    terminal: terminalFromJson(o.terminal, "terminal"),
  };
}

/** The JSON form of a multiproof: `{"root","paths":[{"depth","keys","terminal"}],"siblings"}`. */
export function multiProofToJson(proof: MultiProof): Json {
  // The binary encoder checks every field (BAD_ARGUMENT naming it): one set of rules for both forms.
  encodeMultiProof(proof);
  return {
    root: toHex(proof.root),
    paths: proof.paths.map((p) => ({ depth: p.depth, keys: p.keys.map(toHex), terminal: terminalToJson(p.terminal) })),
    siblings: proof.siblings.map(toHex),
  };
}

/** A multiproof from its JSON form. */
export function multiProofFromJson(json: unknown): MultiProof {
  const o = object(parsed(json), "proof", ["root", "paths", "siblings"]);
  const paths: MultiProofPath[] = array(o.paths, "paths").map((p, i) => {
    const q = object(p, `paths[${i}]`, ["depth", "keys", "terminal"]);
    if (!Number.isInteger(q.depth)) bad(`paths[${i}].depth must be an integer`);
    return {
      depth: q.depth as number,
      keys: array(q.keys, `paths[${i}].keys`).map((k, j) => hex(k, `paths[${i}].keys[${j}]`, KEY_BYTES)),
      terminal: terminalFromJson(q.terminal, `paths[${i}].terminal`),
    };
  });
  return {
    root: hex(o.root, "root", HASH_BYTES),
    paths,
    siblings: array(o.siblings, "siblings").map((s, i) => hex(s, `siblings[${i}]`, HASH_BYTES)),
  };
}

function boundaryToJson(b: BoundaryNode): Json {
  if (b.kind === "name") return { kind: "name", name: toHex(b.name) };
  if (b.kind === "leaf") return terminalToJson(b);
  return { kind: b.kind };
}

/** The JSON form of a range proof: `{"root","start","end","entries":[{"key","value"}],"boundary"}`. */
export function rangeProofToJson(proof: RangeProof): Json {
  // The binary encoder checks every field (BAD_ARGUMENT naming it): one set of rules for both forms.
  encodeRangeProof(proof);
  return {
    root: toHex(proof.root),
    start: toHex(proof.start),
    end: toHex(proof.end),
    entries: proof.entries.map((e) => ({ key: toHex(e.key), value: toHex(e.value) })),
    boundary: proof.boundary.map(boundaryToJson),
  };
}

/** A range proof from its JSON form. */
export function rangeProofFromJson(json: unknown): RangeProof {
  const o = object(parsed(json), "proof", ["root", "start", "end", "entries", "boundary"]);
  return {
    root: hex(o.root, "root", HASH_BYTES),
    start: hex(o.start, "start", KEY_BYTES),
    end: hex(o.end, "end", KEY_BYTES),
    entries: array(o.entries, "entries").map((e, i) => {
      const q = object(e, `entries[${i}]`, ["key", "value"]);
      return { key: hex(q.key, `entries[${i}].key`, KEY_BYTES), value: hex(q.value, `entries[${i}].value`) };
    }),
    boundary: array(o.boundary, "boundary").map((b, i): BoundaryNode => {
      const kind = (b as { kind?: unknown } | null)?.kind;
      const what = `boundary[${i}]`;
      if (kind === "empty" || kind === "branch" || kind === "entry") {
        object(b, what, ["kind"]);
        return { kind };
      }
      if (kind === "name") return { kind, name: hex(object(b, what, ["kind", "name"]).name, `${what}.name`, HASH_BYTES) };
      const t = terminalFromJson(b, what);
      if (t.kind !== "leaf") bad(`${what}.kind is not a boundary kind`);
      return t;
    }),
  };
}

function pairsToJson(list: readonly (Read | Change)[]): Json {
  return list.map(([k, v]) => [toHex(k), v === null ? null : toHex(v)]);
}

function pairsFromJson(value: unknown, what: string): [Uint8Array, Uint8Array | null][] {
  return array(value, what).map((p, i) => {
    const pair = array(p, `${what}[${i}]`);
    if (pair.length !== 2) bad(`${what}[${i}] must be [key, value | null]`);
    return [hex(pair[0], `${what}[${i}][0]`, KEY_BYTES), pair[1] === null ? null : hex(pair[1], `${what}[${i}][1]`)];
  });
}

/** The JSON form of a witness: `{"prevRoot","proof": multiproof,"reads":[[k,v]],"writes":[[k,v]]}`. */
export function witnessToJson(w: Witness): Json {
  // The binary encoder checks every field (BAD_ARGUMENT naming it): one set of rules for both forms.
  encodeWitness(w);
  return { prevRoot: toHex(w.prevRoot), proof: multiProofToJson(w.proof), reads: pairsToJson(w.reads), writes: pairsToJson(w.writes) };
}

/** A witness from its JSON form. */
export function witnessFromJson(json: unknown): Witness {
  const o = object(parsed(json), "witness", ["prevRoot", "proof", "reads", "writes"]);
  return {
    prevRoot: hex(o.prevRoot, "prevRoot", HASH_BYTES),
    proof: multiProofFromJson(o.proof),
    reads: pairsFromJson(o.reads, "reads"),
    writes: pairsFromJson(o.writes, "writes"),
  };
}

function parsed(json: unknown): unknown {
  if (typeof json !== "string") return json;
  try {
    return JSON.parse(json);
  } catch {
    return bad("not JSON");
  }
}

/** Any proof or witness from its JSON form, told apart by its fields: the same tagged union as `decodeProof`'s. */
export type ParsedJsonProof = DecodedProof;

/** Reads any proof or witness JSON (value or text): witness, multi, range or single by shape. */
export function proofFromJson(json: unknown): ParsedJsonProof {
  const value = parsed(json);
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad("proof must be an object");
  if ("prevRoot" in value) return { type: "witness", witness: witnessFromJson(value) };
  if ("paths" in value) return { type: "multi", proof: multiProofFromJson(value) };
  if ("boundary" in value) return { type: "range", proof: rangeProofFromJson(value) };
  return { type: "key", proof: keyProofFromJson(value) };
}
