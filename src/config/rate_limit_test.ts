// Owns the unit tests of the rate-limit keys: server.rate_limit and buckets[].s3.rate_limit.

import assert from "node:assert/strict";
import { assertOneError, ok, parseRaw, setPath, twoRawBuckets } from "./_test_support.ts";

function raw(): Record<string, unknown> {
  return { buckets: twoRawBuckets() };
}

Deno.test("rate limits: absent by default; burst defaults to requests_per_second; 0 = none", () => {
  const plain = ok(parseRaw(raw()));
  assert.equal(plain.server.rateLimit, undefined);
  assert.equal(plain.buckets[0]!.s3.rateLimit, undefined);
  const config = ok(parseRaw(setPath(
    setPath(raw(), "server.rate_limit", {
      enabled: true,
      global: { requests_per_second: 100, burst: 300 },
      per_ip: { requests_per_second: 10 },
      per_user: { requests_per_second: 0 },
    }),
    "buckets[1].s3.rate_limit",
    { requests_per_second: 5 },
  )));
  assert.deepEqual(config.server.rateLimit, {
    enabled: true,
    store: "memory",
    global: { requestsPerSecond: 100, burst: 300 },
    perIp: { requestsPerSecond: 10, burst: 10 },
    perUser: undefined,
  });
  assert.deepEqual(config.buckets[1]!.s3.rateLimit, { requestsPerSecond: 5, burst: 5 });
  assert.equal(config.buckets[0]!.s3.rateLimit, undefined);
});

Deno.test("rate limits: enabled: false turns the server scopes off", () => {
  const config = ok(parseRaw(setPath(raw(), "server.rate_limit", {
    global: { requests_per_second: 100 },
  })));
  assert.equal(config.server.rateLimit?.global, undefined);
});

Deno.test("rate limits: rules name what is wrong and how to fix it", () => {
  assertOneError(
    parseRaw(setPath(raw(), "server.rate_limit", {
      enabled: true,
      per_ip: { requests_per_second: 10, burst: 5 },
    })),
    "server.rate_limit.per_ip.burst",
    /burst \(5\) is smaller than requests_per_second \(10\).*at least 10/,
  );
  assertOneError(
    parseRaw(setPath(raw(), "buckets[0].s3.rate_limit", { requests_per_second: -1 })),
    "buckets[0].s3.rate_limit.requests_per_second",
    /expected a whole number of requests per second from 0 \(no limit\) to 1000000, got -1/,
  );
  assertOneError(
    parseRaw(setPath(raw(), "buckets[0].s3.rate_limit", { requests_per_second: 1.5 })),
    "buckets[0].s3.rate_limit.requests_per_second",
    /whole number/,
  );
  assertOneError(
    parseRaw(setPath(raw(), "server.rate_limit", { store: "memcached" })),
    "server.rate_limit.store",
    /expected one of "memory", "redis"/,
  );
  assertOneError(
    parseRaw(
      setPath(raw(), "server.rate_limit", { enabled: true, per_ip: { requests_per_secnd: 1 } }),
    ),
    "server.rate_limit.per_ip.requests_per_secnd",
    /did you mean `requests_per_second`/,
  );
});

Deno.test("rate limits: store redis needs the cache's Redis tier", () => {
  assertOneError(
    parseRaw(setPath(raw(), "server.rate_limit", { enabled: true, store: "redis" })),
    "server.rate_limit.store",
    /configure cache.redis \(enabled: true, redis_url\) and list "redis" in cache.cache_layers, or set store: memory/,
  );
  const config = ok(parseRaw(setPath(
    setPath(raw(), "server.rate_limit", { enabled: true, store: "redis" }),
    "cache",
    { cache_layers: ["memory", "redis"], redis: { enabled: true } },
  )));
  assert.equal(config.server.rateLimit?.store, "redis");
});
