// A bulk import run as a child process for the kill test: imports `n` entries made from `seed`
// into argv[2] in chunks of `chunk`, with a one-byte merkle budget (finished pages spill after
// every chunk), printing the count after each chunk and "done" after the commit.
import { importEntries } from "../../src/db/index.ts";
import { sortEntries } from "../../src/trie/index.ts";
import { randomEntries } from "../support/keysets.ts";
import { Rng } from "../support/random.ts";

const [dir, seed, n, chunk] = process.argv.slice(2);
const entries = sortEntries(randomEntries(new Rng(Number(seed)), Number(n), false));
await importEntries(dir, entries, { chunk: Number(chunk), merkleCacheBytes: 1, onProgress: (c) => process.stdout.write(`${c}\n`) });
process.stdout.write("done\n");
