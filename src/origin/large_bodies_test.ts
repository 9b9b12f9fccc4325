// Tests LargeBodies: expiry, the bound on entries, and forgetting.

import assert from "node:assert/strict";
import { LargeBodies } from "./large_bodies.ts";

/** A clock the test sets: `at.ms` is now. */
function clock(): { ms: number; now: () => number } {
  const at = { ms: 0, now: () => at.ms };
  return at;
}

Deno.test("a remembered URL is large until its ttl has passed, then forgotten", () => {
  const at = clock();
  const large = new LargeBodies(1_000, 10, at.now);
  assert.equal(large.has("http://s3/a"), false);
  at.ms = 5_000;
  large.remember("http://s3/a");
  at.ms = 5_999;
  assert.equal(large.has("http://s3/a"), true);
  assert.equal(large.has("http://s3/b"), false);
  at.ms = 6_000;
  assert.equal(large.has("http://s3/a"), false);
  assert.equal(large.size, 0);
});

Deno.test("forget() drops one URL; remembering again renews its ttl", () => {
  const at = clock();
  const large = new LargeBodies(1_000, 10, at.now);
  large.remember("http://s3/a");
  large.remember("http://s3/b");
  large.forget("http://s3/a");
  at.ms = 1;
  assert.equal(large.has("http://s3/a"), false);
  assert.equal(large.has("http://s3/b"), true);
  at.ms = 900;
  large.remember("http://s3/b");
  at.ms = 1_500;
  assert.equal(large.has("http://s3/b"), true);
});

Deno.test("beyond maxEntries the oldest remembered URL goes first", () => {
  const at = clock();
  const large = new LargeBodies(60_000, 3, at.now);
  for (const key of ["a", "b", "c"]) large.remember(`http://s3/${key}`);
  // Renewing a keeps it: b is now the oldest.
  at.ms = 1;
  large.remember("http://s3/a");
  at.ms = 2;
  large.remember("http://s3/d");
  assert.equal(large.size, 3);
  at.ms = 3;
  assert.equal(large.has("http://s3/b"), false);
  for (const key of ["a", "c", "d"]) assert.equal(large.has(`http://s3/${key}`), true, key);
});
