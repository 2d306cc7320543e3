// The error boundary's cost per call (src/db/boundary.ts): a reader of Snapshot.get's shape
// (check the key, read the view, count, after-read hook; the view a constant, so only the
// wrapping is measured) unguarded, guarded by guardClass, and guarded by the wrapper as it was
// at commit 3c4c248 (rest arguments, apply, and Object.prototype.toString of every result),
// interleaved in one process over 101 rounds of 100000 calls. `node --import tsx bench/boundary.ts`.
import { guardClass, toDbError } from "../src/db/boundary.ts";
import { badArgument, checkKey } from "../src/db/keys.ts";
// The wrapper as it was at 3c4c248 (plain methods only: all this class has).
const tag = (v: unknown): string => Object.prototype.toString.call(v);
function oldResult(r: unknown): unknown {
  if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(toDbError(e)));
  const t = tag(r);
  if (t === "[object Generator]" || t === "[object AsyncGenerator]") throw new Error("not here");
  return r;
}
function oldGuard(cls: { prototype: object }) {
  for (const name of Reflect.ownKeys(cls.prototype)) {
    if (name === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(cls.prototype, name) as PropertyDescriptor;
    const f = d.value as (...a: unknown[]) => unknown;
    d.value = function (this: unknown, ...args: unknown[]) {
      let r: unknown;
      try {
        r = f.apply(this, args);
      } catch (e) {
        throw toDbError(e);
      }
      return oldResult(r);
    };
    Object.defineProperty(cls.prototype, name, d);
  }
}
const val = new Uint8Array(32);
const view = { value: (_k: Uint8Array) => val };
const mk = () =>
  class {
    reads = 0;
    get(k: Uint8Array) {
      checkKey(k, "key", badArgument);
      const v = this._view().value(k);
      this.reads++;
      this._afterRead();
      return v;
    }
    _view() {
      return view;
    }
    _afterRead(): void {}
  };
const O = mk();
oldGuard(O);
const G = mk();
guardClass(G);
const P = mk();
const objs = { old: new O(), new: new G(), none: new P() };
const keys = Array.from({ length: 1024 }, () => crypto.getRandomValues(new Uint8Array(31)));
const N = 100000;
let sink = 0;
const run = (o: { get(k: Uint8Array): Uint8Array }) => {
  const t = performance.now();
  for (let i = 0; i < N; i++) sink += o.get(keys[i & 1023]).length;
  return ((performance.now() - t) * 1e6) / N;
};
for (let i = 0; i < 5; i++) for (const o of Object.values(objs)) run(o);
const res: Record<string, number[]> = { old: [], new: [], none: [] };
for (let r = 0; r < 101; r++) for (const [k, o] of Object.entries(objs)) res[k].push(run(o));
const med = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
const ratio = (a: string) => med(res[a].map((x, i) => x / res.none[i]));
console.log(
  `ns/call median: old ${med(res.old).toFixed(0)}, new ${med(res.new).toFixed(0)}, unguarded ${med(res.none).toFixed(0)}; min: old ${Math.min(...res.old).toFixed(0)}, new ${Math.min(...res.new).toFixed(0)}, unguarded ${Math.min(...res.none).toFixed(0)}; per-round ratio to unguarded: old ${ratio("old").toFixed(2)}, new ${ratio("new").toFixed(2)} ${sink < 0 ? sink : ""}`,
);
