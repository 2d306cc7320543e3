// Shared benchmark plumbing: medians over interleaved runs, and the machine they ran on.
import { cpus, totalmem } from "node:os";

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
export async function interleaved<T extends string>(
  rounds: number,
  cases: Record<T, () => number | Promise<number>>,
): Promise<Record<T, number>> {
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
