// Reads of the store, with a failed file operation typed for `Db` users: every read a snapshot,
// session, overlay or proof makes goes through the `StoreSource` the database's state is built
// on, so wrapping that one object turns an `IoError` met by any read into a `DbError` `IO`
// (with the IoError as cause), wherever the read came from. A failed read changes nothing and
// leaves the handle usable: a page that could not be read is not cached, and the next read
// tries the disk again. (A read inside a commit's own write is not here: the store reads its
// pages itself, and a failure there fails the handle.)
import type { KvEntry } from "../kv/index.ts";
import { ioErrorOf } from "../io/index.ts";
import type { EntryVisitor } from "../merkle/index.ts";
import { DbError } from "./errors.ts";
import type { StoreSource } from "./state.ts";

/** `src` with every read's I/O failure raised as a `DbError` `IO`. */
export function typedReads(path: string, src: StoreSource): StoreSource {
  const typed = (e: unknown): unknown => {
    if (e instanceof DbError) return e;
    // The failed operation itself only: a layer's own error that merely has one in its cause
    // chain (a store failed by an earlier commit) keeps its meaning.
    const io = ioErrorOf(e);
    if (io === undefined || (io !== e && io.cause !== e)) return e;
    return new DbError("IO", `database ${path}: ${io.message}`, { cause: io });
  };
  const out: StoreSource = {
    get top() {
      return src.top;
    },
    get(key) {
      try {
        return src.get(key);
      } catch (e) {
        throw typed(e);
      }
    },
    entries(range) {
      let it: Iterator<KvEntry>;
      try {
        it = src.entries(range)[Symbol.iterator]();
      } catch (e) {
        throw typed(e);
      }
      // An iterator object rather than a generator: one call per entry, no extra frame to resume.
      const typedIt: IterableIterator<KvEntry> = {
        [Symbol.iterator]: () => typedIt,
        next() {
          try {
            return it.next();
          } catch (e) {
            throw typed(e);
          }
        },
        return(value?: unknown) {
          return it.return?.(value) ?? { done: true, value: undefined };
        },
      };
      return typedIt;
    },
    seekPrefixKey(path, depth) {
      try {
        return src.seekPrefixKey(path, depth);
      } catch (e) {
        throw typed(e);
      }
    },
    page(id) {
      try {
        return src.page(id);
      } catch (e) {
        throw typed(e);
      }
    },
  };
  const scan = src.scanPrefix;
  if (scan !== undefined) {
    out.scanPrefix = (path: Uint8Array, depth: number, visit: EntryVisitor, limit?: number) => {
      try {
        scan.call(src, path, depth, visit, limit);
      } catch (e) {
        throw typed(e);
      }
    };
  }
  return out;
}
