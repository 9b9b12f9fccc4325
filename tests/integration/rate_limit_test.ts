// Owns the rate-limit integration tests: each scope (global, per IP, per bucket, per user), the
// 429's headers, and the Redis store shared by two gateways (and failing open without Redis).

import assert from "node:assert/strict";
import type { Config, RateLimitConfig } from "../../src/config/types.ts";
import {
  bucketConfig,
  buildTestApp,
  type TestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake_upstream.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";
import { startRedisServer } from "../support/redis_server.ts";

function upstream(): Promise<FakeUpstream> {
  return startFakeUpstream(() => new Response("ok", { headers: { "content-type": "text/plain" } }));
}

function configFor(
  endpoint: string,
  rateLimit: Partial<RateLimitConfig> | undefined,
  bucketRps?: number,
): Config {
  const a = bucketConfig({ name: "a", pathPrefix: "/a", bucket: "aaa", endpoint });
  const b = bucketConfig({ name: "b", pathPrefix: "/b", bucket: "bbb", endpoint });
  if (bucketRps !== undefined) a.s3.rateLimit = { requestsPerSecond: bucketRps, burst: bucketRps };
  const config = testConfig([a, b]);
  if (rateLimit !== undefined) {
    config.server.rateLimit = {
      enabled: true,
      store: "memory",
      global: undefined,
      perIp: undefined,
      perUser: undefined,
      ...rateLimit,
    };
  }
  return config;
}

async function statuses(
  app: TestApp,
  count: number,
  path = "/a/x",
  init?: RequestInit,
  peer?: string,
): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await app.request(path, init, peer);
    await response.body?.cancel();
    result.push(response.status);
  }
  return result;
}

Deno.test("rate limit: global limit answers 429 with Retry-After and RateLimit-* headers", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const app = await buildTestApp(
    configFor(s3.endpoint, { global: { requestsPerSecond: 2, burst: 2 } }),
  );
  try {
    assert.deepEqual(await statuses(app, 2), [200, 200]);
    // Another client and another bucket: the global limit is shared by all.
    const response = await app.request("/b/y", undefined, "192.0.2.7");
    assert.equal(response.status, 429);
    const retryAfter = Number(response.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 1, `retry-after ${retryAfter}`);
    assert.equal(response.headers.get("ratelimit-limit"), "2");
    assert.equal(response.headers.get("ratelimit-remaining"), "0");
    assert.equal(response.headers.get("ratelimit-reset"), String(retryAfter));
    const body = await response.json();
    assert.equal(body.code, "rate_limited");
    assert.match(
      body.message,
      /global rate limit \(2 requests per second, burst 2; server\.rate_limit\.global\)/,
    );
    // Health is never limited.
    assert.equal((await app.request("/health")).status, 200);
    // A token comes back after the window.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(await statuses(app, 1), [200]);
  } finally {
    await app.app.close();
  }
});

Deno.test("rate limit: burst above the rate allows more at once", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const app = await buildTestApp(
    configFor(s3.endpoint, { global: { requestsPerSecond: 2, burst: 4 } }),
  );
  try {
    assert.deepEqual(await statuses(app, 5), [200, 200, 200, 200, 429]);
  } finally {
    await app.app.close();
  }
});

Deno.test("rate limit: per IP uses the resolved client IP (trusted proxies), not a spoofed header", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const config = configFor(s3.endpoint, { perIp: { requestsPerSecond: 1, burst: 1 } });
  config.server.trustedProxies = ["10.0.0.0/8"];
  const app = await buildTestApp(config);
  try {
    // Two clients behind the trusted proxy each get their own bucket.
    const via = (client: string) => ({ headers: { "x-forwarded-for": client } });
    assert.deepEqual(await statuses(app, 2, "/a/x", via("198.51.100.1"), "10.0.0.5"), [200, 429]);
    assert.deepEqual(await statuses(app, 1, "/a/x", via("198.51.100.2"), "10.0.0.5"), [200]);
    const limited = await app.request("/a/x", via("198.51.100.1"), "10.0.0.5");
    assert.equal(limited.status, 429);
    assert.match((await limited.json()).message, /rate limit for IP 198\.51\.100\.1/);
    // A direct client cannot escape its limit by writing X-Forwarded-For.
    assert.deepEqual(await statuses(app, 1, "/a/x", undefined, "203.0.113.9"), [200]);
    assert.deepEqual(await statuses(app, 2, "/a/x", via("192.0.2.1"), "203.0.113.9"), [429, 429]);
  } finally {
    await app.app.close();
  }
});

Deno.test("rate limit: per bucket limits only that bucket, and applies without server.rate_limit", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const app = await buildTestApp(configFor(s3.endpoint, undefined, 2));
  try {
    assert.deepEqual(await statuses(app, 3, "/a/x", undefined, "192.0.2.1"), [200, 200, 429]);
    // Other clients share the bucket's limit; other buckets are not limited.
    const response = await app.request("/a/y", undefined, "192.0.2.2");
    assert.equal(response.status, 429);
    assert.match((await response.json()).message, /rate limit of bucket "a"/);
    assert.deepEqual(await statuses(app, 4, "/b/x"), [200, 200, 200, 200]);
  } finally {
    await app.app.close();
  }
});

Deno.test("rate limit: per user is keyed by the JWT subject, after authentication", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const config = configFor(s3.endpoint, { perUser: { requestsPerSecond: 2, burst: 2 } });
  config.buckets[0]!.jwt = testJwtConfig();
  const app = await buildTestApp(config);
  try {
    const bearer = async (sub: string | undefined) => ({
      headers: {
        authorization: `Bearer ${await signHs256(sub === undefined ? {} : { sub }, undefined, {
          expiresIn: "5m",
        })}`,
      },
    });
    const alice = await bearer("alice");
    assert.deepEqual(await statuses(app, 3, "/a/x", alice), [200, 200, 429]);
    const limited = await app.request("/a/x", alice, "192.0.2.50");
    assert.equal(limited.status, 429);
    assert.match((await limited.json()).message, /rate limit for user "alice"/);
    assert.deepEqual(await statuses(app, 2, "/a/x", await bearer("bob")), [200, 200]);
    // Without a subject, or without a token (401 first), the per-user limit does not apply.
    assert.deepEqual(await statuses(app, 3, "/a/x", await bearer(undefined)), [200, 200, 200]);
    assert.deepEqual(await statuses(app, 3, "/a/x"), [401, 401, 401]);
    // Public buckets have no subject.
    assert.deepEqual(await statuses(app, 3, "/b/x"), [200, 200, 200]);
  } finally {
    await app.app.close();
  }
});

Deno.test("rate limit: disabled server.rate_limit limits nothing", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  const config = configFor(s3.endpoint, undefined);
  config.server.rateLimit = {
    enabled: false,
    store: "memory",
    global: undefined,
    perIp: undefined,
    perUser: undefined,
  };
  const app = await buildTestApp(config);
  try {
    assert.deepEqual(await statuses(app, 5), [200, 200, 200, 200, 200]);
  } finally {
    await app.app.close();
  }
});

function redisConfig(endpoint: string, url: string): Config {
  const config = configFor(endpoint, {
    store: "redis",
    global: { requestsPerSecond: 3, burst: 3 },
  });
  config.cache = testCacheConfig(
    { maxItemBytes: 1024, maxCacheBytes: 1024 * 1024, defaultTtlSeconds: 60 },
    {
      layers: ["memory", "redis"],
      redis: {
        url,
        password: undefined,
        db: 0,
        keyPrefix: `rl-test-${crypto.randomUUID()}:`,
        ttlSeconds: 60,
      },
    },
  );
  // Cached hits would not reach the limiter any differently, but keep S3 in the loop.
  for (const bucket of config.buckets) {
    bucket.cache = { enabled: false, ttlSeconds: undefined, maxItemBytes: undefined };
  }
  return config;
}

async function waitForReady(app: TestApp): Promise<void> {
  // The Redis client connects in the background; until then the insurance counts in memory.
  await new Promise((resolve) => setTimeout(resolve, 200));
  void app;
}

Deno.test("rate limit: store redis shares one limit between two gateways, and fails open without Redis", async () => {
  await using s3 = await upstream().then((u) => ({ ...u, [Symbol.asyncDispose]: u.close }));
  await using redis = await startRedisServer();
  const base = redisConfig(s3.endpoint, redis.url);
  const first = await buildTestApp(base);
  // Same key prefix: the second gateway of the same fleet.
  const second = await buildTestApp({ ...base });
  try {
    await waitForReady(first);
    await waitForReady(second);
    const combined = [
      ...(await statuses(first, 2)),
      ...(await statuses(second, 2)),
    ];
    assert.deepEqual(combined, [200, 200, 200, 429]);
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Redis is gone: each gateway counts on its own instead of refusing everything.
    assert.deepEqual(await statuses(first, 2), [200, 200]);
    assert.deepEqual(await statuses(second, 2), [200, 200]);
    const events = first.log.entries().map((entry) => entry.msg);
    assert.ok(
      events.filter((msg) => msg === "cache.redis_unavailable").length >= 1,
      JSON.stringify(events),
    );
  } finally {
    await first.app.close();
    await second.app.close();
  }
});
