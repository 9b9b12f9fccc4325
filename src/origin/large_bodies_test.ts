// Tests LargeBodies: expiry, the bound on entries, and forgetting.

import assert from "node:assert/strict";
import { LargeBodies } from "./large_bodies.ts";

Deno.test("a remembered URL is large until its ttl has passed, then forgotten", () => {
  const large = new LargeBodies(1_000, 10);
  assert.equal(large.has("http://s3/a", 0), false);
  large.remember("http://s3/a", 5_000);
  assert.equal(large.has("http://s3/a", 5_999), true);
  assert.equal(large.has("http://s3/b", 5_999), false);
  assert.equal(large.has("http://s3/a", 6_000), false);
  assert.equal(large.size, 0);
});

Deno.test("forget() drops one URL; remembering again renews its ttl", () => {
  const large = new LargeBodies(1_000, 10);
  large.remember("http://s3/a", 0);
  large.remember("http://s3/b", 0);
  large.forget("http://s3/a");
  assert.equal(large.has("http://s3/a", 1), false);
  assert.equal(large.has("http://s3/b", 1), true);
  large.remember("http://s3/b", 900);
  assert.equal(large.has("http://s3/b", 1_500), true);
});

Deno.test("beyond maxEntries the oldest remembered URL goes first", () => {
  const large = new LargeBodies(60_000, 3);
  for (const key of ["a", "b", "c"]) large.remember(`http://s3/${key}`, 0);
  // Renewing a keeps it: b is now the oldest.
  large.remember("http://s3/a", 1);
  large.remember("http://s3/d", 2);
  assert.equal(large.size, 3);
  assert.equal(large.has("http://s3/b", 3), false);
  for (const key of ["a", "c", "d"]) assert.equal(large.has(`http://s3/${key}`, 3), true, key);
});
