// Tests cache keys: bucket and key separation, S3 read parameters in a canonical order.

import assert from "node:assert/strict";
import fc from "fast-check";
import { buildCacheKey } from "./key.ts";

Deno.test("buildCacheKey() separates buckets and keys", () => {
  assert.notEqual(buildCacheKey("a", "b/c", undefined), buildCacheKey("a/b", "c", undefined));
  assert.equal(buildCacheKey("a", "k", []), buildCacheKey("a", "k", undefined));
});

Deno.test("buildCacheKey() includes versionId and response-* in any order", () => {
  const one = buildCacheKey("b", "k", [["versionId", "1"], ["response-content-type", "text/csv"]]);
  const two = buildCacheKey("b", "k", [["response-content-type", "text/csv"], ["versionId", "1"]]);
  assert.equal(one, two);
  assert.notEqual(one, buildCacheKey("b", "k", [["versionId", "2"]]));
  assert.notEqual(one, buildCacheKey("b", "k", undefined));
});

Deno.test("buildCacheKey() never collides for different (bucket, key) pairs (property)", () => {
  const name = fc.stringMatching(/^[a-z0-9-]{1,8}$/);
  fc.assert(fc.property(name, fc.string(), name, fc.string(), (b1, k1, b2, k2) => {
    fc.pre(b1 !== b2 || k1 !== k2);
    assert.notEqual(buildCacheKey(b1, k1, undefined), buildCacheKey(b2, k2, undefined));
  }));
});
