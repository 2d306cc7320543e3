// `WriteSession.finish()` in steps: the same result as `finishSync()`, the session's state rules
// while a finish is in flight, and commits, rollbacks and close landing between its steps.
// The turns of the event loop between steps are taken by hand (the session waits on
// `nextTurn`; the test holds those turns), so what lands between two steps is exact.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { after, before } from "node:test";
import { type Db, DbError, ForkStates, open } from "../../src/db/index.ts";
import { finishStepping } from "../../src/db/session.ts";
import { setTurnHook } from "../../src/io/index.ts";
import { toHex } from "../../src/trie/index.ts";
import { Rng, testSeed } from "../support/random.ts";
import { assertReads, type Change, h, Model, randomChanges, tempDirs, universe, write } from "./helpers.ts";

const seed = testSeed();
const newDir = tempDirs("bmt-db-finish-");

// A step per change: how many turns a finish takes does not depend on the machine's speed.
let stepMs = 0;
before(() => {
  stepMs = finishStepping.ms;
  finishStepping.ms = 0;
});
after(() => {
  finishStepping.ms = stepMs;
});

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof DbError, `expected DbError ${c}, got ${String(e)}`);
  assert.equal(e.code, c, (e as Error).message);
  return true;
};

/**
 * Starts `start()` (an async call that waits for a turn of the event loop between its steps:
 * `nextTurn`) and runs `between(i)` before each of its turns `i`, holding the turn until
 * `between` is done. Resolves to the call's result and the number of turns it took.
 */
async function stepped<T>(start: () => Promise<T>, between: (turn: number) => void | Promise<void>): Promise<{ value: T; turns: number }> {
  const held: (() => void)[] = [];
  const hold = (resume: () => void) => {
    held.push(resume);
  };
  let settled = false;
  let p: Promise<T>;
  const before = setTurnHook(hold);
  try {
    p = start();
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The first step may await a promise (the read ahead's) before it waits for a turn.
    for (let i = 0; i < 50 && held.length === 0 && !settled; i++) await Promise.resolve();
  } finally {
    setTurnHook(before);
  }
  let turns = 0;
  while (held.length > 0) {
    await between(turns++);
    const resume = held.shift() as () => void;
    setTurnHook(hold);
    try {
      resume();
      // The step runs in the microtasks that follow (after the read ahead's promise chain, when
      // it awaited one); it ends by waiting for a turn again.
      for (let i = 0; i < 50 && held.length === 0 && !settled; i++) await Promise.resolve();
    } finally {
      setTurnHook(before);
    }
  }
  return { value: await p, turns };
}

async function filled(rng: Rng, keys: Uint8Array[], n: number): Promise<{ db: Db; model: Model }> {
  const db = open(newDir());
  const model = new Model();
  const changes = randomChanges(rng, keys, n, 0);
  await (await write(db.beginWrite(), changes).finish()).commit();
  model.apply(changes);
  return { db, model };
}

describe(`db: finish() in steps (seed ${seed})`, () => {
  it("gives what finishSync gives, in several turns of the event loop", async () => {
    const rng = new Rng(seed);
    const keys = universe(rng, 3000);
    const { db, model } = await filled(rng, keys, 2000);
    const changes = randomChanges(rng, keys, 700);
    const a = write(db.beginWrite(), changes);
    const b = write(db.beginWrite(), changes);
    const { value: fa, turns } = await stepped(
      () => a.finish(),
      () => {},
    );
    const fb = b.finishSync();
    // A turn before the first step, then one between two steps: the first step is 64 changes,
    // 700 take at least one more.
    assert.ok(turns >= 2, `${turns} turns`);
    assert.equal(fa.stats.finishSteps, turns);
    assert.ok(fa.stats.finishLongestStepMs <= fa.stats.finishMs);
    const after = Model.of(model).apply(changes);
    assert.equal(toHex(fa.root), after.root());
    assert.equal(toHex(fb.root), after.root());
    assert.deepEqual(fa.changes, fb.changes);
    assert.equal(fa.stats.changes, fb.stats.changes);
    await assertReads(fa, after, keys.slice(0, 50), "stepped finish");
    // The reverse delta (replaced values) is what a commit then a rollback needs.
    await fa.commit();
    assert.equal(toHex(db.root), after.root());
    await db.rollback(1);
    assert.equal(toHex(db.root), model.root());
    db.close();
  });

  it("while a finish is in flight: writes, warmUp and a second finish are BUSY, reads work; then FINISHED", async () => {
    const rng = new Rng(seed + 1);
    const keys = universe(rng, 800);
    const { db, model } = await filled(rng, keys, 500);
    const changes = randomChanges(rng, keys, 300, 0);
    const s = write(db.beginWrite(), changes);
    const written = Model.of(model).apply(changes);
    let checked = 0;
    const { value: f } = await stepped(
      () => s.finish(),
      async () => {
        for (const call of [() => s.set(keys[0], new Uint8Array(1)), () => s.delete(keys[0]), () => s.warmUp(keys[0]), () => s.finishSync()]) {
          assert.throws(call, code("BUSY"));
        }
        await assert.rejects(s.finish(), code("BUSY"));
        for (const k of keys.slice(0, 40)) assert.equal(h(s.get(k)), h(written.get(k)));
        checked++;
      },
    );
    assert.ok(checked >= 1);
    assert.equal(toHex(f.root), written.root());
    assert.throws(() => s.set(keys[0], new Uint8Array(1)), code("FINISHED"));
    await assert.rejects(s.finish(), code("FINISHED"));
    db.close();
  });

  it("a commit, another, and a rollback landing between steps leave the session's result intact", async () => {
    const rng = new Rng(seed + 2);
    const keys = universe(rng, 1500);
    const { db, model } = await filled(rng, keys, 1000);
    const mine = randomChanges(rng, keys, 600);
    const s = write(db.beginWrite(), mine);
    const expected = Model.of(model).apply(mine);
    let now = Model.of(model);
    const history: Model[] = [];
    const { value: f, turns } = await stepped(
      () => s.finish(),
      async (turn) => {
        // Turn 0: a sibling commits synchronously; 1: another commit, awaited; 2: a rollback.
        if (turn === 0) {
          const other = randomChanges(rng, keys, 200);
          write(db.beginWrite(), other).finishSync().commitSync();
          history.push(now);
          now = Model.of(now).apply(other);
        } else if (turn === 1) {
          const other = randomChanges(rng, keys, 50);
          await (await write(db.beginWrite(), other).finish()).commit();
          history.push(now);
          now = Model.of(now).apply(other);
        } else if (turn === 2) {
          await db.rollback(1);
          now = history.pop() as Model;
        }
      },
    );
    assert.ok(turns >= 3, `${turns} turns: the commits did not all land between steps`);
    assert.equal(toHex(db.root), now.root());
    assert.equal(toHex(f.prevRoot), model.root());
    assert.equal(toHex(f.root), expected.root());
    await assertReads(f, expected, keys.slice(0, 80), "finished over a moved base");
    // Its page writes are its own over its base: a session stacked on it gets the right root.
    const more = randomChanges(rng, keys, 100);
    const child = await write(db.beginWrite({ overlays: [f.toOverlay()] }), more).finish();
    assert.equal(toHex(child.root), Model.of(expected).apply(more).root());
    await assert.rejects(f.commit(), code("SIBLING_COMMITTED"));
    db.close();
  });

  it("an overlay committed between the steps of a session on it: the session then commits", async () => {
    const rng = new Rng(seed + 3);
    const keys = universe(rng, 1200);
    const { db, model } = await filled(rng, keys, 800);
    const first = randomChanges(rng, keys, 300);
    const parent = await write(db.beginWrite(), first).finish();
    const second = randomChanges(rng, keys, 400);
    const s = write(db.beginWrite({ overlays: [parent.toOverlay()] }), second);
    const { value: f } = await stepped(
      () => s.finish(),
      async (turn) => {
        if (turn === 0) await parent.commit();
      },
    );
    const expected = Model.of(model).apply(first).apply(second);
    assert.equal(toHex(f.root), expected.root());
    assert.equal(toHex(await f.commit()), expected.root());
    using snap = db.beginRead();
    await assertReads(snap, expected, keys.slice(0, 60), "after both commits");
    db.close();
  });

  it("close between steps: the finish rejects CLOSED", async () => {
    const rng = new Rng(seed + 4);
    const keys = universe(rng, 600);
    const { db } = await filled(rng, keys, 400);
    const s = write(db.beginWrite(), randomChanges(rng, keys, 300));
    await assert.rejects(
      stepped(
        () => s.finish(),
        (turn) => {
          if (turn === 0) db.close();
        },
      ),
      code("CLOSED"),
    );
  });

  it("ForkStates.importAsync: the root import gives; the id is taken and finalize BUSY while in flight; a dropped parent rejects", async () => {
    const rng = new Rng(seed + 5);
    const keys = universe(rng, 1000);
    const { db, model } = await filled(rng, keys, 600);
    const forks = new ForkStates(db, "g");
    const block: Change[] = randomChanges(rng, keys, 300);
    const syncRoot = toHex(forks.import("s", "g", block));
    const { value: root } = await stepped(
      () => forks.importAsync("a", "g", block),
      async (turn) => {
        if (turn !== 0) return;
        assert.throws(() => forks.import("a", "g", []), code("BAD_ARGUMENT"));
        await assert.rejects(forks.finalize("s"), code("BUSY"));
        assert.equal(forks.has("a"), false);
      },
    );
    assert.equal(toHex(root), syncRoot);
    assert.equal(toHex(root), Model.of(model).apply(block).root());
    assert.equal(toHex(forks.root("a")), syncRoot);
    // The parent dropped meanwhile: nothing kept.
    const child = randomChanges(rng, keys, 200);
    await assert.rejects(
      stepped(
        () => forks.importAsync("b", "a", child),
        (turn) => {
          if (turn === 0) forks.release();
        },
      ),
      code("RELEASED"),
    );
    assert.equal(forks.has("b"), false);
    assert.equal(forks.stats().states, 0);
    db.close();
  });
});
