// Tests that the shared sweeper aborts on deadline and on client abort, and stops when idle.

import assert from "node:assert/strict";
import { DeadlineSweeper } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("DeadlineSweeper aborts a request past its deadline with the timeout reason", async () => {
  const sweeper = new DeadlineSweeper(5);
  const controller = new AbortController();
  const reason = new Error("timeout");
  sweeper.watch(controller, 20, new AbortController().signal, reason);
  await sleep(60);
  assert.equal(controller.signal.aborted, true);
  assert.equal(controller.signal.reason, reason);
  await sleep(20);
  assert.equal(sweeper.size, 0);
  sweeper.close();
});

Deno.test("DeadlineSweeper aborts when the client goes away", async () => {
  const sweeper = new DeadlineSweeper(5);
  const controller = new AbortController();
  const client = new AbortController();
  sweeper.watch(controller, 10_000, client.signal, new Error("timeout"));
  client.abort(new Error("client left"));
  await sleep(30);
  assert.equal(controller.signal.aborted, true);
  assert.equal((controller.signal.reason as Error).message, "client left");
  sweeper.close();
});

Deno.test("DeadlineSweeper leaves released requests alone and stops when idle", async () => {
  const sweeper = new DeadlineSweeper(5);
  const controller = new AbortController();
  const handle = sweeper.watch(controller, 10, new AbortController().signal, "t");
  sweeper.release(handle);
  await sleep(40);
  assert.equal(controller.signal.aborted, false);
  assert.equal(sweeper.size, 0);
  // The interval stopped by itself: the test sanitizer would flag a live timer otherwise.
});

Deno.test("DeadlineSweeper runs a check once at its time, never after release", async () => {
  const sweeper = new DeadlineSweeper(5);
  let ran = 0;
  sweeper.watch(new AbortController(), 10_000, new AbortController().signal, "t", {
    afterMs: 20,
    run: () => ran++,
  });
  const released = sweeper.watch(
    new AbortController(),
    10_000,
    new AbortController().signal,
    "t",
    { afterMs: 20, run: () => ran += 100 },
  );
  sweeper.release(released);
  await sleep(70);
  assert.equal(ran, 1);
  sweeper.close();
});

Deno.test("DeadlineSweeper arm/disarm: a deadline only while armed", async () => {
  const sweeper = new DeadlineSweeper(5);
  const controller = new AbortController();
  const handle = sweeper.watch(controller, 10, new AbortController().signal, "headers");
  sweeper.disarm(handle);
  await sleep(40);
  assert.equal(controller.signal.aborted, false);
  sweeper.arm(handle, 15, "idle");
  await sleep(50);
  assert.equal(controller.signal.reason, "idle");
  assert.equal(sweeper.size, 0);
});
