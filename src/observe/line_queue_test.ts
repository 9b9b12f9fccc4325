// Tests LineQueue: lines in order whatever their form, the memory bound, and a taken batch staying intact while new lines queue.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { LineQueue } from "./line_queue.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("take() returns text and byte lines in the order they were queued", () => {
  const queue = new LineQueue(1024, 4);
  queue.push("first é\n");
  queue.push(new TextEncoder().encode("second\n"));
  queue.push("third\n");
  assertEquals(queue.length, 22);
  assertEquals(text(queue.take()), "first é\nsecond\nthird\n");
  assertEquals(queue.length, 0);
});

Deno.test("a batch being written is not touched by lines queued meanwhile", () => {
  const queue = new LineQueue(1024, 8);
  queue.push("one\n");
  const writing = queue.take();
  // Grows past the initial capacity while the first batch is out.
  queue.push("two two two two\n");
  assertEquals(text(writing), "one\n");
  assertEquals(text(queue.take()), "two two two two\n");
  // The first buffer is reused for the third batch only after the second take().
  queue.push("three\n");
  assertEquals(text(queue.take()), "three\n");
});

Deno.test("lines that would pass the bound are refused whole, and later ones that fit are kept", () => {
  const queue = new LineQueue(10);
  assertEquals(queue.push("12345678\n"), true);
  assertEquals(queue.push("abc\n"), false);
  assertEquals(queue.push("x\n"), false);
  assertEquals(queue.length, 9);
  assertEquals(text(queue.take()), "12345678\n");
  assertEquals(queue.push("abc\n"), true);
  assertEquals(text(queue.take()), "abc\n");
});

Deno.test("clear() forgets what is queued", () => {
  const queue = new LineQueue(100);
  queue.push("gone\n");
  queue.clear();
  assertEquals(queue.length, 0);
  assertEquals(text(queue.take()), "");
});
