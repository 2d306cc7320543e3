// The thread side of an offloaded load build (load-offload.ts). Each load sends a port, a shared
// counter and the build so far; the thread goes on with it over the chunks sent on that port, in
// order, posts back each chunk's finished pages (their buffers moved, not copied), and counts
// every answer in shared memory so that a caller blocked in Atomics.wait sees it. A failure is
// answered, never thrown: the caller turns it into its own error.
import { type MessagePort, parentPort } from "node:worker_threads";
import { PackedEntries, type PackedParts } from "../kv/index.ts";
import { type LoadBuildState, TrieLoadBuilder } from "./load-build.ts";
import type { PageWrite } from "./types.ts";

/** What a load asks of the thread, in order on its port. */
export type BuildRequest = { readonly op: "add"; readonly parts: PackedParts } | { readonly op: "finish" };

/** The first message of a load, on the thread's parent port. */
export interface BuildBegin {
  readonly port: MessagePort;
  /** [0]: answers posted so far. */
  readonly state: Int32Array;
  /** For tests: the request (0-based) that fails instead of running; -1 for none. */
  readonly failAt: number;
  /** The build so far (begun on the caller's thread), or null for a new one. */
  readonly build: LoadBuildState | null;
}

// The page images' buffers, moved to the caller rather than copied (the builder made each one).
function buffers(writes: readonly PageWrite[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const w of writes) if (w.page !== null) out.push(w.page.buffer as ArrayBuffer);
  return out;
}

function begin({ port, state, failAt, build }: BuildBegin): void {
  const builder = build === null ? new TrieLoadBuilder() : TrieLoadBuilder.resume(build);
  const batch = new PackedEntries();
  let n = 0;
  let failed = false;
  port.on("message", (req: BuildRequest) => {
    if (failed) return;
    try {
      if (n++ === failAt) throw new Error(`failure injected at request ${failAt}`);
      if (req.op === "add") {
        const pages = builder.add(batch.adopt(req.parts));
        batch.reset();
        port.postMessage({ op: "pages", pages }, buffers(pages));
      } else {
        const { top, writes } = builder.finish();
        port.postMessage({ op: "top", top, writes }, buffers(writes));
      }
    } catch (e) {
      failed = true;
      port.postMessage({ op: "error", message: e instanceof Error ? e.message : String(e) });
    }
    Atomics.add(state, 0, 1);
    Atomics.notify(state, 0);
  });
}

parentPort?.on("message", begin);
