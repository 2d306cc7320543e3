// Every state of the JAM vectors, read in place through the CLI's own file reader.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type NamedState, readStateFile } from "../../src/cli/state-files.ts";
import { requireVectors } from "./vectors.ts";

export interface VectorState extends NamedState {
  file: string;
}

/** All trace files (genesis and blocks) under traces/, sorted by path. */
export function traceFiles(): string[] {
  const root = join(requireVectors(), "traces");
  const files: string[] = [];
  for (const dir of readdirSync(root, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(root, dir.name)).sort()) if (f.endsWith(".json")) files.push(join(root, dir.name, f));
  }
  return files.sort();
}

export function traceStates(): VectorState[] {
  return traceFiles().flatMap((file) => readStateFile(file).map((s) => ({ ...s, file })));
}

export function trieCases(): VectorState[] {
  const file = join(requireVectors(), "trie", "trie.json");
  return readStateFile(file).map((s) => ({ ...s, file }));
}
