// Work in steps: a long task written as a generator that yields between pieces of a few
// hundred pages each, so that a caller on the event loop can run it in slices (yielding to
// other callbacks between them) while a synchronous caller runs it to the end in one go.
// One code path serves both; between two steps nothing the task reads may change.

/** Pages a step handles (copies, placements): 64 pages is ~256 KiB, well under a millisecond. */
export const STEP_PAGES = 64;

/** A task in steps, returning `T` at its end (what a step yields is for its driver; `runSteps` ignores it). */
export type Steps<T> = Generator<unknown, T, void>;

/** Runs `steps` to the end and returns its result. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

// Turns of the event loop, one slice each. Every driver of work in slices (a session's finish, a
// checkpoint, the commits applied behind, async scans) waits for its next slice here instead of
// on its own `setImmediate`: callbacks queued by `setImmediate` all run in the same pass of the
// loop, so two drivers each within their slice time still stalled timers and I/O for the sum
// of both (a step of a finish and a checkpoint slice of 4 ms each: 8 ms and more). Here one waiter
// is let go per pass, in the order they asked.
const waiting: (() => void)[] = [];
let granting = false;

function grant(): void {
  const next = waiting.shift() as () => void;
  // Queued from within the check phase, the next grant runs in the loop's next pass.
  if (waiting.length > 0) setImmediate(grant);
  else granting = false;
  next();
}

let hook: ((resume: () => void) => void) | null = null;

/**
 * Tests: each `nextTurn` hands its resumption to `h` instead of the event loop (null: none), so
 * that a test decides what lands between two slices; returns the previous hook.
 */
export function setTurnHook(h: ((resume: () => void) => void) | null): ((resume: () => void) => void) | null {
  const old = hook;
  hook = h;
  return old;
}

/** Resolves after the current callback, once the waiters before it have had theirs: one per pass of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (hook !== null) return hook(resolve);
    waiting.push(resolve);
    if (!granting) {
      granting = true;
      setImmediate(grant);
    }
  });
}
