// Where the JAM vectors live: $BMT_VECTORS, else ../shared/vectors beside the project.
// Tests read them in place and never copy them into the project.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const vectorsDir: string = process.env.BMT_VECTORS ? resolve(process.env.BMT_VECTORS) : join(projectRoot, "..", "shared", "vectors");

/** Fails loudly instead of skipping: the vectors are the judge of correctness. */
export function requireVectors(): string {
  if (!existsSync(join(vectorsDir, "trie", "trie.json"))) {
    throw new Error(`JAM vectors not found at ${vectorsDir} (set BMT_VECTORS to their folder)`);
  }
  return vectorsDir;
}

export { projectRoot };
