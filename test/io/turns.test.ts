// `nextTurn`: the drivers of work in slices (a finish, a checkpoint, the commits applied behind)
// get one slice per pass of the event loop between them, in the order they asked, so that two
// slices never run back to back before timers and I/O get their turn. A pass is counted here
// by an immediate that queues itself again: Node runs each pass's check phase over the
// immediates queued before it began, so the counter moves by exactly one per pass.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextTurn } from "../../src/io/index.ts";

function passCounter(): { now(): number; stop(): void } {
  let pass = 0;
  let on = true;
  const tick = () => {
    pass++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    now: () => pass,
    stop: () => {
      on = false;
    },
  };
}

describe("io: turns of the event loop", () => {
  it("lets one waiter go per pass, in the order they asked", async () => {
    const passes = passCounter();
    // Let the counter start.
    await new Promise((r) => setImmediate(r));
    const seen: { who: number; pass: number }[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (who) => {
        await nextTurn();
        seen.push({ who, pass: passes.now() });
      }),
    );
    passes.stop();
    assert.deepEqual(
      seen.map((s) => s.who),
      [0, 1, 2, 3],
    );
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].pass > seen[i - 1].pass, `waiters ${i - 1} and ${i} in the same pass: ${JSON.stringify(seen)}`);
  });

  it("a driver that waits again goes behind the others", async () => {
    const order: string[] = [];
    const driver = async (name: string, slices: number) => {
      for (let i = 0; i < slices; i++) {
        await nextTurn();
        order.push(`${name}${i}`);
      }
    };
    await Promise.all([driver("a", 3), driver("b", 3)]);
    assert.deepEqual(order, ["a0", "b0", "a1", "b1", "a2", "b2"]);
  });
});
