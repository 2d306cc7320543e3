// Shared benchmark plumbing: medians over interleaved runs, and the machine they ran on.
import { cpus, totalmem } from "node:os";
import type { Entry } from "../src/trie/index.ts";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One line naming the machine, for BENCHMARKS.md. */
export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? "unknown CPU"}, ${c.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * Runs each case `rounds` times, interleaved (a, b, c, a, b, c, ...) so that noise from a
 * shared machine falls on all of them alike; returns the median of each case's results.
 */
export async function interleaved<T extends string>(rounds: number, cases: Record<T, () => number | Promise<number>>): Promise<Record<T, number>> {
  const results = {} as Record<T, number[]>;
  for (const name of Object.keys(cases) as T[]) results[name] = [];
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(cases) as T[]) results[name].push(await cases[name]());
  }
  const out = {} as Record<T, number>;
  for (const name of Object.keys(cases) as T[]) out[name] = median(results[name]);
  return out;
}

export function table(header: string[], rows: (string | number)[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/**
 * n random entries in key order, laid out contiguously. Sorting 1M byte-string keys with a
 * comparator takes seconds; instead sort random 48-bit prefixes as doubles (native typed
 * array sort), drop repeats, and fill the other 25 key bytes at random.
 */
export function randomSortedEntries(n: number): Entry[] {
  const prefixes = new Float64Array(n);
  const rnd = new Uint32Array(2 * n);
  for (let i = 0; i < rnd.length; i += 16384) crypto.getRandomValues(rnd.subarray(i, Math.min(rnd.length, i + 16384)));
  for (let i = 0; i < n; i++) prefixes[i] = rnd[2 * i] * 65536 + (rnd[2 * i + 1] & 0xffff);
  prefixes.sort();
  const keys = new Uint8Array(n * 31);
  for (let i = 0; i < keys.length; i += 65536) crypto.getRandomValues(keys.subarray(i, Math.min(keys.length, i + 65536)));
  const values = new Uint8Array(n * 32).fill(0x5a);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && prefixes[i] === prefixes[i - 1]) continue;
    const key = keys.subarray(i * 31, i * 31 + 31);
    let p = prefixes[i];
    for (let b = 5; b >= 0; b--) {
      key[b] = p % 256;
      p = Math.floor(p / 256);
    }
    entries.push({ key, value: values.subarray(i * 32, i * 32 + 32) });
  }
  return entries;
}
