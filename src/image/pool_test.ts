// Owns the ImagePool tests: the concurrency bound, the bounded queue, 503 when full, aborts while waiting.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import { ImagePool } from "./pool.ts";

/** A task the test finishes by hand. */
function gate() {
  let open!: (value: string) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<string>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ImagePool runs at most `concurrency` tasks, queues up to `queueSize`, refuses the rest", async () => {
  const pool = new ImagePool(2, 1);
  const gates = [gate(), gate(), gate()];
  let started = 0;
  const runs = gates.map((g) =>
    pool.run(() => {
      started++;
      return g.promise;
    })
  );
  assert.equal(started, 2);
  assert.equal(pool.active, 2);
  assert.equal(pool.queued, 1);
  await assert.rejects(pool.run(() => Promise.resolve("never")), (error: unknown) => {
    assert.ok(error instanceof ProxyError);
    assert.equal(error.code, "image_overloaded");
    assert.equal(error.status, 503);
    assert.equal(error.headers?.["retry-after"], "1");
    assert.match(error.message, /concurrency, queue_size/);
    return true;
  });
  gates[0]!.open("a");
  assert.equal(await runs[0], "a");
  await tick();
  assert.equal(started, 3, "the queued task starts when a slot frees");
  assert.equal(pool.queued, 0);
  gates[1]!.fail(new Error("boom"));
  await assert.rejects(runs[1]!, /boom/);
  gates[2]!.open("c");
  assert.equal(await runs[2], "c");
  assert.equal(pool.active, 0);
});

Deno.test("ImagePool with queue_size 0 refuses as soon as every slot is busy", async () => {
  const pool = new ImagePool(1, 0);
  const g = gate();
  const first = pool.run(() => g.promise);
  await assert.rejects(pool.run(() => Promise.resolve("x")), /image workers are busy/);
  g.open("done");
  assert.equal(await first, "done");
  assert.equal(await pool.run(() => Promise.resolve("y")), "y");
});

Deno.test("ImagePool: a waiting task whose request aborts leaves the queue and never runs", async () => {
  const pool = new ImagePool(1, 2);
  const g = gate();
  const first = pool.run(() => g.promise);
  const controller = new AbortController();
  let ran = false;
  const waiting = pool.run(() => {
    ran = true;
    return Promise.resolve("late");
  }, controller.signal);
  assert.equal(pool.queued, 1);
  controller.abort(new Error("client left"));
  await assert.rejects(waiting, /client left/);
  assert.equal(pool.queued, 0);
  g.open("ok");
  await first;
  await tick();
  assert.equal(ran, false);
  assert.equal(pool.active, 0);
});

Deno.test("ImagePool: a task that throws synchronously frees its slot", async () => {
  const pool = new ImagePool(1, 0);
  await assert.rejects(
    pool.run(() => {
      throw new Error("sync");
    }),
    /sync/,
  );
  assert.equal(pool.active, 0);
});

Deno.test("ImagePool refuses nonsensical sizes", () => {
  assert.throws(() => new ImagePool(0, 1), RangeError);
  assert.throws(() => new ImagePool(1, -1), RangeError);
});
