// Tests which config changes a reload reports as needing a restart, and what identifies a bucket's origin.

import assert from "node:assert/strict";
import { ok, parseRaw, twoRawBuckets } from "./_test_support.ts";
import { originIdentity, restartOnlyChanges } from "./reload.ts";
import type { Config } from "./types.ts";

function config(extra: Record<string, unknown> = {}, buckets = twoRawBuckets()): Config {
  return ok(parseRaw({ buckets, ...extra }));
}

const paths = (running: Config, next: Config) =>
  restartOnlyChanges(running, next).map((issue) => issue.path);

Deno.test("restartOnlyChanges: nothing for an identical config or live-applied changes", () => {
  const base = config({ server: { port: 8080, request_timeout: 30 } });
  assert.deepEqual(paths(base, config({ server: { port: 8080, request_timeout: 30 } })), []);
  // Routes, credentials, timeouts and limits are all applied by a reload.
  const buckets = twoRawBuckets();
  (buckets[0]!.s3 as Record<string, unknown>).secret_key = "ROTATED";
  buckets.push({
    name: "new",
    path_prefix: "/new",
    s3: { bucket: "new-bucket", access_key: "a", secret_key: "s" },
  });
  const next = config({
    server: { port: 8080, request_timeout: 5, max_concurrent_requests: 10, shutdown_timeout: 3 },
  }, buckets);
  assert.deepEqual(paths(base, next), []);
});

Deno.test("restartOnlyChanges: the listener and logging need a restart, and say their values", () => {
  const base = config({ server: { address: "127.0.0.1", port: 8080 } });
  const next = config({
    server: { address: "0.0.0.0", port: 9000 },
    logging: { level: "debug", format: "pretty", writer: "inline" },
  });
  const issues = restartOnlyChanges(base, next);
  assert.deepEqual(issues.map((i) => i.path), [
    "server.address",
    "server.port",
    "logging.level",
    "logging.format",
    "logging.writer",
  ]);
  assert.match(issues[1]!.message, /^changed \(8080 -> 9000\), but a running gateway keeps/);
  assert.match(issues[1]!.message, /restart it to apply this change/);
});

Deno.test("restartOnlyChanges: cache tiers need a restart; per-bucket cache settings do not", () => {
  const cached = (memory: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    config({ cache: { enabled: true, memory, ...extra } });
  const base = cached({ max_cache_size_mb: 64, default_ttl_seconds: 60 });
  assert.deepEqual(paths(base, cached({ max_cache_size_mb: 64, default_ttl_seconds: 5 })), []);
  assert.deepEqual(paths(base, cached({ max_cache_size_mb: 128, default_ttl_seconds: 60 })), [
    "cache.memory.max_cache_size_mb",
  ]);
  assert.deepEqual(
    paths(
      base,
      cached({ max_cache_size_mb: 64, default_ttl_seconds: 60 }, { warming: { concurrency: 2 } }),
    ),
    ["cache.warming"],
  );
  // Turning the cache on needs its tiers opened; turning it off is applied (buckets stop using it).
  const none = config();
  assert.deepEqual(paths(none, base), ["cache"]);
  assert.deepEqual(paths(base, none), []);
});

Deno.test("restartOnlyChanges: the metrics listener needs a restart", () => {
  const metrics = (port: number) => config({ metrics: { enabled: true, port } });
  assert.deepEqual(paths(metrics(9090), metrics(9090)), []);
  assert.deepEqual(paths(metrics(9090), metrics(9191)), ["metrics"]);
});

Deno.test("restartOnlyChanges: the redis tier's change is reported without its values", () => {
  const withRedis = (password: string) =>
    config({
      cache: {
        enabled: true,
        cache_layers: ["memory", "redis"],
        redis: { enabled: true, redis_url: "redis://127.0.0.1:6379", redis_password: password },
      },
    });
  const issues = restartOnlyChanges(withRedis("old-secret"), withRedis("new-secret"));
  assert.deepEqual(issues.map((i) => i.path), ["cache.redis"]);
  assert.doesNotMatch(issues[0]!.message, /secret/);
});

Deno.test("originIdentity: the S3 bucket, region and endpoint; not the credentials", () => {
  const [a] = config().buckets;
  const rotated = twoRawBuckets();
  (rotated[0]!.s3 as Record<string, unknown>).secret_key = "ROTATED";
  assert.equal(originIdentity(a!), originIdentity(config({}, rotated).buckets[0]!));
  const moved = twoRawBuckets();
  (moved[0]!.s3 as Record<string, unknown>).bucket = "elsewhere";
  assert.notEqual(originIdentity(a!), originIdentity(config({}, moved).buckets[0]!));
});
