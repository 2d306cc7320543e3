// Progress of long work on stderr: a bar with rate and ETA redrawn in place on a terminal; when
// stderr is not a terminal nothing, unless `--progress` asks for plain lines (one a second and a
// last one at the end). `--quiet` turns both off. Small enough that a library would not earn its
// place (the package has no runtime dependencies).
import type { Io, Parsed } from "./command.ts";

/** Progress of one piece of work. */
export interface Progress {
  /** `done` units finished so far (absolute). */
  update(done: number): void;
  /** The work ended: the last line, and the terminal's line cleared of the bar. */
  finish(): void;
}

const NONE: Progress = { update() {}, finish() {} };
const BAR_WIDTH = 24;
const REDRAW_MS = 100;
const LINE_MS = 1000;

/** A compact count: 950, 12.3k, 4.56M. */
export function compact(n: number): string {
  if (n < 1000) return `${Math.round(n)}`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`;
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`;
}

/** The status text: `label 45% 450k/1.00M 12.3k/s ETA 44s` (no total: no percent or ETA). */
export function statusText(label: string, done: number, total: number | null, elapsedMs: number, unit: string): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const rateText = `${compact(rate)} ${unit}/s`;
  if (total === null || total <= 0) return `${label} ${compact(done)} ${unit} ${rateText}`;
  const pct = Math.min(100, Math.floor((done * 100) / total));
  const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
  return `${label} ${pct}% ${compact(done)}/${compact(total)} ${unit} ${rateText} ETA ${done >= total ? "0s" : seconds(eta)}`;
}

/**
 * Progress for `label` (e.g. "bmt import") over `total` units (null when unknown), as the
 * command's `--quiet` / `--progress` and the terminal decide.
 */
export function progress(io: Io, args: Parsed, label: string, total: number | null, unit = "entries"): Progress {
  if (args.values.quiet === true) return NONE;
  const tty = io.errIsTTY === true && args.values.progress !== true;
  if (!tty && args.values.progress !== true) return NONE;
  const t0 = performance.now();
  let last = -Infinity;
  let done = 0;
  const raw = io.errRaw ?? ((text: string) => io.err(text));
  const draw = (final: boolean) => {
    const now = performance.now();
    const text = statusText(label, done, total, now - t0, unit);
    if (tty) {
      const filled = total ? Math.min(BAR_WIDTH, Math.floor((done * BAR_WIDTH) / total)) : 0;
      const bar = total ? `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ` : "";
      raw(`\r\x1b[2K${bar}${text}${final ? "\n" : ""}`);
    } else {
      io.err(text);
    }
    last = now;
  };
  return {
    update(n: number) {
      done = n;
      if (performance.now() - last >= (tty ? REDRAW_MS : LINE_MS)) draw(false);
    },
    finish() {
      draw(true);
    },
  };
}
