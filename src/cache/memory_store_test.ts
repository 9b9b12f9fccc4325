// Tests the memory tier: expiry, size-weighted eviction, refusal of oversize entries, stats.

import assert from "node:assert/strict";
import type { CachedObject } from "./cached_object.ts";
import { MemoryStore } from "./memory_store.ts";

function entry(size: number, expiresAt = 10_000): CachedObject {
  return {
    headers: new Headers({ "content-type": "text/plain" }),
    body: new Uint8Array(size),
    etag: '"e"',
    lastModifiedMs: undefined,
    storedAt: 0,
    expiresAt,
  };
}

Deno.test("MemoryStore serves fresh entries and drops expired ones", () => {
  const store = new MemoryStore({
    maxItemBytes: 1000,
    maxCacheBytes: 100_000,
    defaultTtlSeconds: 60,
  });
  store.set("a", entry(10, 5000));
  assert.equal(store.get("a", 4999)?.body.byteLength, 10);
  assert.equal(store.get("a", 5000), undefined);
  assert.equal(store.peek("a")?.expiresAt, 5000, "an expired entry stays for revalidation");
  assert.deepEqual(
    { hits: store.stats().hits, misses: store.stats().misses },
    { hits: 1, misses: 1 },
  );
});

Deno.test("MemoryStore evicts the least recently used by size", () => {
  const store = new MemoryStore({
    maxItemBytes: 1000,
    maxCacheBytes: 2 * 2024 + 500,
    defaultTtlSeconds: 60,
  });
  store.set("a", entry(1000));
  store.set("b", entry(1000));
  store.get("a", 0); // a is now more recent than b
  store.set("c", entry(1000));
  assert.ok(store.get("a", 0));
  assert.equal(store.get("b", 0), undefined);
  assert.ok(store.get("c", 0));
  assert.equal(store.stats().evictions, 1);
  assert.ok(store.stats().bytes <= 2 * 2024 + 500);
});

Deno.test("MemoryStore refuses an entry larger than the whole tier", () => {
  const store = new MemoryStore({ maxItemBytes: 1000, maxCacheBytes: 1500, defaultTtlSeconds: 60 });
  store.set("small", entry(10));
  store.set("huge", entry(600)); // 600 + key + 1024 bookkeeping > 1500
  assert.equal(store.get("huge", 0), undefined);
  assert.ok(store.get("small", 0), "a refused entry evicts nothing");
});

Deno.test("MemoryStore delete and clear", () => {
  const store = new MemoryStore({
    maxItemBytes: 1000,
    maxCacheBytes: 10_000,
    defaultTtlSeconds: 60,
  });
  store.set("a", entry(1));
  store.set("b", entry(1));
  assert.equal(store.delete("a"), true);
  assert.equal(store.delete("a"), false);
  store.clear();
  assert.equal(store.stats().items, 0);
});
