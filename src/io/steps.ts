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
