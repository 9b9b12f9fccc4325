// Tests the signature reuse window and its entry bound.

import assert from "node:assert/strict";
import { SignatureCache } from "./signature_cache.ts";

Deno.test("SignatureCache reuses headers inside the window only", () => {
  const cache = new SignatureCache(1000, 10);
  const headers = { authorization: "a" };
  cache.set("GET /b/k", headers, 5000);
  assert.equal(cache.get("GET /b/k", 5999), headers);
  assert.equal(cache.get("GET /b/k", 6000), undefined);
  assert.equal(cache.size, 0, "an expired entry is dropped when seen");
  assert.equal(cache.get("GET /b/other", 5000), undefined);
});

Deno.test("SignatureCache drops the oldest entry past its bound", () => {
  const cache = new SignatureCache(60_000, 3);
  for (const key of ["a", "b", "c", "d"]) cache.set(key, { authorization: key }, 0);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("a", 1), undefined);
  assert.deepEqual(cache.get("d", 1), { authorization: "d" });
});
