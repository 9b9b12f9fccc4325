// Micro-benchmark: the whole request pipeline (accept, route, sign, respond) with an in-memory S3.

import { createApp } from "../src/app.ts";
import type { Config } from "../src/config/types.ts";
import { SECURITY_LIMITS_DEFAULTS } from "../src/config/schema_security.ts";
import { discardingLogger, LOOPBACK_CLIENT, memoryS3 } from "./in_process.ts";
import { signHs256, TEST_JWT_SECRET, testJwtConfig } from "../tests/support/jwt_config.ts";
import { testCacheConfig } from "../tests/support/app_harness.ts";

const body = new Uint8Array(1024);
const upstreamHeaders = {
  "content-type": "application/octet-stream",
  "content-length": "1024",
  etag: '"0123456789abcdef0123456789abcdef"',
  "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
  "x-amz-request-id": "REQ",
};
// Answers like S3 would, without a socket: what is left is the gateway's own work.
const memoryFetch = memoryS3(body, upstreamHeaders);

const config: Config = {
  server: {
    address: "127.0.0.1",
    port: 0,
    requestTimeout: 30,
    shutdownTimeout: 5,
    securityLimits: { ...SECURITY_LIMITS_DEFAULTS },
  },
  buckets: Array.from({ length: 10 }, (_, i) => ({
    name: `b${i}`,
    pathPrefix: `/b${i}`,
    s3: {
      bucket: `bucket-${i}`,
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9000",
      accessKey: "AKIDEXAMPLE",
      secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: undefined,
      timeout: 20,
      connectTimeout: 5,
      idleTimeout: 20,
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
      circuitBreaker: undefined,
    },
  })),
  logging: { level: "info", format: "json" },
};

// Bucket b9 requires an HS256 JWT with one claims rule: the authenticated twin of b7.
config.buckets[9]!.jwt = testJwtConfig({
  claims: [{ claim: "role", operator: "equals", value: "viewer" }],
});
const token = await signHs256({ role: "viewer", sub: "bench" }, TEST_JWT_SECRET, {
  expiresIn: "1h",
});
const authorization = `Bearer ${token}`;

// The same buckets behind the memory cache: after the first request every GET of b7 is a HIT.
const cachedConfig: Config = {
  ...config,
  cache: testCacheConfig({
    maxItemBytes: 1 << 20,
    maxCacheBytes: 64 << 20,
    defaultTtlSeconds: 3600,
  }),
};

const info = LOOPBACK_CLIENT;

const quiet = await createApp(config, {
  logger: discardingLogger("warn"),
  fetch: memoryFetch,
});
const logged = await createApp(config, {
  logger: discardingLogger("info"),
  fetch: memoryFetch,
});

Deno.bench({
  name: "GET 1 KiB miss, access log off",
  group: "pipeline",
  baseline: true,
  async fn() {
    const response = await quiet.handle(new Request("http://gw/b7/photos/2026/cat.jpg"), info);
    await response.arrayBuffer();
  },
});

Deno.bench({
  name: "GET 1 KiB miss, access log on",
  group: "pipeline",
  async fn() {
    const response = await logged.handle(new Request("http://gw/b7/photos/2026/cat.jpg"), info);
    await response.arrayBuffer();
  },
});

Deno.bench({
  name: "GET 1 KiB miss, JWT bucket, repeated token (verified-token cache hit)",
  group: "auth",
  async fn() {
    const response = await quiet.handle(
      new Request("http://gw/b9/photos/2026/cat.jpg", { headers: { authorization } }),
      info,
    );
    await response.arrayBuffer();
  },
});

Deno.bench({
  name: "GET 1 KiB miss, public bucket, same request shape",
  group: "auth",
  baseline: true,
  async fn() {
    const response = await quiet.handle(
      new Request("http://gw/b7/photos/2026/cat.jpg", { headers: { authorization } }),
      info,
    );
    await response.arrayBuffer();
  },
});

const cached = await createApp(cachedConfig, {
  logger: discardingLogger("warn"),
  fetch: memoryFetch,
});
await (await cached.handle(new Request("http://gw/b7/photos/2026/cat.jpg"), info)).arrayBuffer();
await new Promise((resolve) => setTimeout(resolve, 10)); // let the background store finish

Deno.bench({
  name: "GET 1 KiB cache hit (memory tier)",
  group: "pipeline",
  async fn() {
    const response = await cached.handle(new Request("http://gw/b7/photos/2026/cat.jpg"), info);
    await response.arrayBuffer();
  },
});

Deno.bench({
  name: "GET with Range and If-None-Match",
  group: "pipeline",
  async fn() {
    const response = await quiet.handle(
      new Request("http://gw/b7/photos/2026/cat.jpg", {
        headers: { range: "bytes=0-99", "if-none-match": '"abc"' },
      }),
      info,
    );
    await response.arrayBuffer();
  },
});

Deno.bench({
  name: "baseline: Request + Response + arrayBuffer only",
  group: "pipeline",
  async fn() {
    const _request = new Request("http://gw/b7/photos/2026/cat.jpg");
    const response = await memoryFetch("x");
    await response.arrayBuffer();
  },
});
