// Owns the unit tests of RateLimits: scopes, burst, the 429's headers, and "no limits = no object".

import assert from "node:assert/strict";
import type { Config, RateLimitRule } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { RateLimits } from "./rate_limits.ts";

function config(
  server: { global?: RateLimitRule; perIp?: RateLimitRule; perUser?: RateLimitRule } | undefined,
  bucket?: RateLimitRule,
): Config {
  return {
    server: {
      address: "127.0.0.1",
      port: 0,
      requestTimeout: 10,
      shutdownTimeout: 1,
      securityLimits: { maxUriLength: 8192, maxHeaderSize: 65536, maxBodySize: 1024 },
      rateLimit: server === undefined ? undefined : {
        enabled: true,
        store: "memory",
        global: server.global,
        perIp: server.perIp,
        perUser: server.perUser,
      },
    },
    buckets: [{
      name: "a",
      pathPrefix: "/a",
      s3: {
        bucket: "aaa",
        region: "us-east-1",
        endpoint: "http://127.0.0.1:1",
        accessKey: "k",
        secretKey: "s",
        sessionToken: undefined,
        timeout: 1,
        connectTimeout: 1,
        idleTimeout: 1,
        retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
        circuitBreaker: undefined,
        rateLimit: bucket,
      },
    }],
    logging: { level: "info", format: "json" },
  };
}

const noLog = () => {};

async function rejection(promise: Promise<void>): Promise<ProxyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProxyError);
    return error;
  }
  assert.fail("expected a 429");
}

Deno.test("RateLimits.create: undefined when no limit is configured", () => {
  assert.equal(RateLimits.create(config(undefined), noLog), undefined);
  assert.equal(RateLimits.create(config({}), noLog), undefined);
});

Deno.test("RateLimits: per-IP keys are independent; the 429 carries its headers", async () => {
  const limits = RateLimits.create(config({ perIp: { requestsPerSecond: 1, burst: 1 } }), noLog)!;
  try {
    await limits.checkClient("192.0.2.1");
    await limits.checkClient("192.0.2.2");
    const error = await rejection(limits.checkClient("192.0.2.1"));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.status, 429);
    assert.equal(error.headers?.["retry-after"], "1");
    assert.equal(error.headers?.["ratelimit-limit"], "1");
    assert.equal(error.headers?.["ratelimit-remaining"], "0");
    assert.equal(error.headers?.["ratelimit-reset"], "1");
    assert.deepEqual(error.details, { scope: "ip" });
    assert.match(error.message, /IP 192\.0\.2\.1 .*server\.rate_limit\.per_ip/);
  } finally {
    await limits.close();
  }
});

Deno.test("RateLimits: burst allows extra requests at once, then refuses", async () => {
  const limits = RateLimits.create(config({ global: { requestsPerSecond: 1, burst: 3 } }), noLog)!;
  try {
    for (let i = 0; i < 3; i++) await limits.checkClient("x");
    const error = await rejection(limits.checkClient("x"));
    assert.equal(error.headers?.["ratelimit-limit"], "3");
    assert.match(error.message, /global rate limit \(1 requests per second, burst 3/);
  } finally {
    await limits.close();
  }
});

Deno.test("RateLimits: bucket and user scopes; no subject is never limited", async () => {
  const limits = RateLimits.create(
    config({ perUser: { requestsPerSecond: 1, burst: 1 } }, { requestsPerSecond: 1, burst: 1 }),
    noLog,
  )!;
  try {
    await limits.checkBucket("a");
    await limits.checkBucket("other");
    await limits.checkBucket("other");
    assert.match((await rejection(limits.checkBucket("a"))).message, /bucket "a"/);
    await limits.checkUser("alice");
    await limits.checkUser(undefined);
    await limits.checkUser(undefined);
    assert.match((await rejection(limits.checkUser("alice"))).message, /user "alice"/);
  } finally {
    await limits.close();
  }
});
