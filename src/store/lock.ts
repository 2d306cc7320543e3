// One writer process per database: a LOCK file created exclusively, holding the owner's pid.
// Node has no flock, so a lock left by a killed process is recognised by its pid no longer
// running and taken over.
import * as fs from "node:fs";
import { StoreError } from "./errors.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** An acquired lock; `release` removes the file. */
export class DirLock {
  private constructor(readonly path: string) {}

  /** Takes the lock at `path` or throws `LOCKED` naming the process that holds it. */
  static acquire(path: string): DirLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(path, "wx", 0o644);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        return new DirLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(fs.readFileSync(path, "utf8"), 10);
      } catch {
        // Vanished or unreadable between our attempts: try again.
      }
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        const who = owner === process.pid ? "this process (already open)" : `process ${owner}`;
        throw new StoreError("LOCKED", `database lock ${path} is held by ${who}`);
      }
      // A stale lock (its owner is gone, or the file was never completed): take it over.
      fs.rmSync(path, { force: true });
    }
    throw new StoreError("LOCKED", `database lock ${path} could not be taken`);
  }

  release(): void {
    fs.rmSync(this.path, { force: true });
  }
}
