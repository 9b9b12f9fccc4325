// Owns the metrics integration tests: known traffic through a served gateway (real s3rver, faulty
// upstreams, replicas, limits, prewarm), then exact deltas scraped from the metrics listener.

import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { GatewayMetrics } from "../../src/observe/metrics.ts";
import { type MetricsServer, startMetricsServer } from "../../src/admin/metrics_server.ts";
import {
  bucketConfig,
  buildTestApp,
  serveTestApp,
  type TestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { startS3Server } from "../support/s3_server.ts";
import { deadUrl, startFakeUpstream } from "../support/fake_upstream.ts";
import { startFaultUpstream } from "../support/fault_upstream.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";
import { eventually } from "../support/eventually.ts";
import { parsePrometheusText, type PromScrape } from "../support/prometheus_text.ts";
import { makeImage } from "../support/images.ts";
import { defaultImageOptimization } from "../../src/config/schema_image.ts";

const S3_BUCKET = "metrics-data";

interface Harness {
  gw: TestApp;
  /** The gateway's base URL (real HTTP, so delivery is awaited as in production). */
  url: string;
  metrics: GatewayMetrics;
  scrape(): Promise<PromScrape>;
  close(): Promise<void>;
}

async function harness(config: Config): Promise<Harness> {
  const metrics = new GatewayMetrics({ processMetrics: false });
  const gw = await buildTestApp(config, { metrics });
  const served = await serveTestApp(gw);
  let listener: MetricsServer;
  try {
    listener = await startMetricsServer(metrics, {
      hostname: "127.0.0.1",
      port: 0,
      logger: gw.logger,
    });
  } catch (error) {
    await served.stop();
    throw error;
  }
  const metricsUrl = `http://127.0.0.1:${listener.addr.port}/metrics`;
  return {
    gw,
    url: served.url,
    metrics,
    async scrape() {
      const response = await fetch(metricsUrl);
      assert.equal(response.status, 200);
      return parsePrometheusText(await response.text());
    },
    async close() {
      await listener.close();
      await served.stop();
    },
  };
}

/** GETs (or HEADs) a path and reads the whole body; returns the status and body length. */
async function hit(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; bytes: number }> {
  const response = await fetch(url, init);
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, bytes: body.byteLength };
}

/** Scrapes until nothing is in flight (streamed bodies are counted once delivered). */
async function settled(h: Harness): Promise<PromScrape> {
  let last: PromScrape | undefined;
  await eventually(async () => {
    last = await h.scrape();
    return last.value("http_requests_in_flight") === 0;
  }, "no request in flight");
  return last!;
}

/** `after - before` for one sample (absent counts as 0). */
function delta(
  before: PromScrape,
  after: PromScrape,
  name: string,
  labels: Record<string, string> = {},
): number {
  return (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
}

Deno.test("metrics: object traffic through s3rver gives exact counter and histogram deltas", async () => {
  const s3 = await startS3Server({ buckets: [S3_BUCKET] });
  const small = "x".repeat(1024);
  const large = "y".repeat(200 * 1024);
  await s3.putObject(S3_BUCKET, "hello.txt", small);
  await s3.putObject(S3_BUCKET, "large.bin", large);
  const pub = bucketConfig({
    name: "pub",
    pathPrefix: "/pub",
    bucket: S3_BUCKET,
    endpoint: s3.endpoint,
  });
  const priv = bucketConfig({
    name: "priv",
    pathPrefix: "/priv",
    bucket: S3_BUCKET,
    endpoint: s3.endpoint,
  });
  priv.jwt = testJwtConfig();
  const config: Config = {
    ...testConfig([pub, priv]),
    // large.bin (200 KiB) is over the item bound: it streams from S3 on every request.
    cache: testCacheConfig({
      maxItemBytes: 100 * 1024,
      maxCacheBytes: 16 << 20,
      defaultTtlSeconds: 600,
    }),
  };
  const h = await harness(config);
  try {
    const before = await settled(h);
    const s3Before = s3.requests().length;
    const token = await signHs256({ sub: "alice" });

    const results = [
      await hit(`${h.url}/pub/hello.txt`), // miss (fetched, stored)
      await hit(`${h.url}/pub/hello.txt`), // hits
      await hit(`${h.url}/pub/hello.txt`),
      await hit(`${h.url}/pub/hello.txt`),
      await hit(`${h.url}/pub/hello.txt`, { method: "HEAD" }), // hit, no body
      await hit(`${h.url}/pub/missing.txt`), // S3 NoSuchKey -> 404
      await hit(`${h.url}/pub/large.bin`), // streamed, not cached
      await hit(`${h.url}/nowhere/x`), // no bucket -> 404
      await hit(`${h.url}/health`),
      await hit(`${h.url}/priv/hello.txt`), // no token -> 401
      await hit(`${h.url}/priv/hello.txt`, { headers: { authorization: "Bearer not-a-jwt" } }),
      await hit(`${h.url}/priv/hello.txt`, { headers: { authorization: `Bearer ${token}` } }),
    ];
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200, 200, 404, 200, 404, 200, 401, 401, 200],
    );
    const after = await settled(h);
    const d = (name: string, labels: Record<string, string> = {}) =>
      delta(before, after, name, labels);

    assert.equal(d("http_requests_total", { bucket: "pub", method: "GET", status: "200" }), 5);
    assert.equal(d("http_requests_total", { bucket: "pub", method: "HEAD", status: "200" }), 1);
    assert.equal(d("http_requests_total", { bucket: "pub", method: "GET", status: "404" }), 1);
    assert.equal(d("http_requests_total", { bucket: "", method: "GET", status: "404" }), 1);
    assert.equal(d("http_requests_total", { bucket: "", method: "GET", status: "200" }), 1);
    assert.equal(d("http_requests_total", { bucket: "priv", method: "GET", status: "401" }), 2);
    assert.equal(d("http_requests_total", { bucket: "priv", method: "GET", status: "200" }), 1);
    assert.equal(after.sum("http_requests_total") - before.sum("http_requests_total"), 12);
    assert.equal(d("http_requests_by_status_total", { status: "200" }), 8);
    assert.equal(d("http_requests_by_bucket_total", { bucket: "pub" }), 7);
    assert.equal(d("http_requests_by_method_total", { method: "HEAD" }), 1);

    // Every request is one observation of its bucket's histogram, in _count and the +Inf bucket.
    for (const [bucket, count] of [["pub", 7], ["priv", 3], ["", 2]] as const) {
      assert.equal(d("http_request_duration_seconds_count", { bucket }), count, bucket);
      assert.equal(d("http_request_duration_seconds_bucket", { bucket, le: "+Inf" }), count);
      assert.ok(d("http_request_duration_seconds_sum", { bucket }) > 0);
    }

    // Object bodies delivered: four 1 KiB GETs and the 200 KiB stream; one 1 KiB for priv.
    assert.equal(d("bytes_sent_total", { bucket: "pub" }), 4 * 1024 + 200 * 1024);
    assert.equal(d("bytes_sent_total", { bucket: "priv" }), 1024);

    assert.equal(d("http_errors_total", { bucket: "pub", code: "object_not_found" }), 1);
    assert.equal(d("http_errors_total", { bucket: "", code: "route_not_found" }), 1);
    assert.equal(d("auth_bypassed_total", { bucket: "pub" }), 7);
    assert.equal(d("auth_success_total", { bucket: "priv" }), 1);
    assert.equal(d("auth_failure_total", { bucket: "priv", reason: "token_missing" }), 1);
    assert.equal(d("auth_failure_total", { bucket: "priv", reason: "token_invalid" }), 1);

    // The cache's own counters, read at scrape time: 3 GET hits and the HEAD hit; misses are
    // hello.txt once, missing.txt, large.bin and priv's hello.txt (its own cache key).
    assert.equal(d("yatagarasu_cache_hits_total"), 4);
    assert.equal(d("yatagarasu_cache_misses_total"), 4);
    assert.equal(d("yatagarasu_cache_hits_by_layer", { layer: "memory" }), 4);
    assert.equal(after.value("yatagarasu_cache_items_by_layer", { layer: "memory" }), 2);

    // S3 saw exactly what the metrics say was sent.
    const s3Gets = s3.requests().slice(s3Before).filter((r) => r.startsWith("GET "));
    const pubOps = { bucket: "pub", replica: "default", operation: "GET" };
    assert.equal(d("s3_operations_total", pubOps), 3);
    assert.equal(d("s3_operations_total", { ...pubOps, bucket: "priv" }), 1);
    assert.equal(s3Gets.length, 4, s3Gets.join("\n"));
    assert.equal(
      d("s3_time_to_first_byte_seconds_count", { bucket: "pub", replica: "default" }),
      3,
    );
    assert.equal(
      d("s3_errors_total", { bucket: "pub", replica: "default", error_code: "object_not_found" }),
      1,
    );
    assert.equal(after.value("http_requests_in_flight"), 0);
    assert.equal(after.value("backend_health", { bucket: "pub" }), 1);
  } finally {
    await h.close();
    await s3.close();
  }
});

Deno.test("metrics: retries, retry exhaustion, an opening breaker and a replica failover", async () => {
  // "flaky": 503 then 200 (one retry that succeeds), then three 503s (retries exhausted).
  const flaky = startFaultUpstream((n) =>
    n === 1
      ? { kind: "ok", body: "fine", headers: { "content-type": "text/plain" } }
      : { kind: "error", status: 503, code: "SlowDown" }
  );
  const secondary = await startFakeUpstream(() =>
    new Response("from secondary", { headers: { "content-type": "text/plain" } })
  );
  const dead = deadUrl();
  const retrying = bucketConfig({
    name: "flaky",
    pathPrefix: "/flaky",
    bucket: "b",
    endpoint: flaky.endpoint,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
  });
  const breaking = bucketConfig({
    name: "brk",
    pathPrefix: "/brk",
    bucket: "b",
    endpoint: dead,
    circuitBreaker: {
      failureThreshold: 2,
      successThreshold: 1,
      timeoutSeconds: 60,
      halfOpenMaxRequests: 1,
    },
  });
  const replicated = bucketConfig({ name: "ha", pathPrefix: "/ha", bucket: "b", endpoint: dead });
  replicated.s3.replicas = [
    {
      name: "primary",
      priority: 1,
      bucket: "b",
      region: "us-east-1",
      endpoint: dead,
      accessKey: "k1",
      secretKey: "s1",
      sessionToken: undefined,
      timeout: 5,
    },
    {
      name: "secondary",
      priority: 2,
      bucket: "b",
      region: "us-east-1",
      endpoint: secondary.endpoint,
      accessKey: "k2",
      secretKey: "s2",
      sessionToken: undefined,
      timeout: 5,
    },
  ];
  const h = await harness(testConfig([retrying, breaking, replicated]));
  try {
    const before = await settled(h);
    assert.equal((await hit(`${h.url}/flaky/one`)).status, 200);
    const exhausted = await hit(`${h.url}/flaky/two`);
    assert.ok(exhausted.status >= 500, String(exhausted.status));
    assert.equal(flaky.requests.length, 5);
    const refused = [
      await hit(`${h.url}/brk/a`),
      await hit(`${h.url}/brk/b`),
      await hit(`${h.url}/brk/c`),
    ];
    assert.deepEqual(refused.map((r) => r.status), [502, 502, 503]);
    assert.equal((await hit(`${h.url}/ha/obj`)).status, 200);
    const after = await settled(h);
    const d = (name: string, labels: Record<string, string> = {}) =>
      delta(before, after, name, labels);

    const flakyLabels = { bucket: "flaky", replica: "default" };
    assert.equal(d("s3_operations_total", { ...flakyLabels, operation: "GET" }), 5);
    assert.equal(d("s3_retry_attempts_total", flakyLabels), 3);
    assert.equal(d("s3_retry_success_total", flakyLabels), 1);
    assert.equal(d("s3_retry_exhausted_total", flakyLabels), 1);
    assert.equal(
      after.sum("s3_errors_total", flakyLabels) - before.sum("s3_errors_total", flakyLabels),
      4,
    );
    // All five attempts got headers (four 503s and the 200): each has a time to first byte.
    assert.equal(d("s3_time_to_first_byte_seconds_count", flakyLabels), 5);

    const brk = { bucket: "brk", replica: "default" };
    assert.equal(d("s3_operations_total", { ...brk, operation: "GET" }), 2);
    assert.equal(d("s3_errors_total", { ...brk, error_code: "origin_unavailable" }), 2);
    assert.equal(d("circuit_breaker_transitions_total", { ...brk, to: "open" }), 1);
    assert.equal(after.value("circuit_breaker_state", { bucket: "brk" }), 1);
    assert.equal(after.value("circuit_breaker_failures", { bucket: "brk" }), 2);
    assert.equal(d("circuit_breaker_rejections_total", { bucket: "brk" }), 1);
    assert.equal(d("http_errors_total", { bucket: "brk", code: "circuit_open" }), 1);
    assert.equal(after.value("backend_health", { bucket: "brk" }), 0);
    assert.equal(after.value("circuit_breaker_state", { bucket: "flaky" }), undefined);

    assert.equal(
      d("replica_failovers_total", { bucket: "ha", from: "primary", to: "secondary" }),
      1,
    );
    assert.equal(
      d("s3_errors_total", { bucket: "ha", replica: "primary", error_code: "origin_unavailable" }),
      1,
    );
    assert.equal(
      d("s3_operations_total", { bucket: "ha", replica: "secondary", operation: "GET" }),
      1,
    );
    // One failure is below the replicas' default threshold (5): both stay healthy.
    assert.equal(after.value("replica_health", { bucket: "ha", replica: "primary" }), 1);
    assert.equal(after.value("replica_health", { bucket: "ha", replica: "secondary" }), 1);
    assert.equal(d("http_requests_total", { bucket: "ha", method: "GET", status: "200" }), 1);
  } finally {
    await h.close();
    await flaky.close();
    await secondary.close();
  }
});

Deno.test("metrics: rate-limit and concurrency rejections, and prewarm through the admin API", async () => {
  const s3 = await startS3Server({ buckets: [S3_BUCKET] });
  for (const key of ["warm/a.txt", "warm/b.txt", "warm/c.txt"]) {
    await s3.putObject(S3_BUCKET, key, `body of ${key}`);
  }
  const config: Config = {
    ...testConfig([
      bucketConfig({ name: "w", pathPrefix: "/w", bucket: S3_BUCKET, endpoint: s3.endpoint }),
    ]),
    cache: testCacheConfig(
      { maxItemBytes: 1 << 20, maxCacheBytes: 16 << 20, defaultTtlSeconds: 600 },
      { warming: { concurrency: 2, rateLimit: 1000 } },
    ),
  };
  config.server.rateLimit = {
    enabled: true,
    store: "memory",
    global: { requestsPerSecond: 1, burst: 2 },
    perIp: undefined,
    perUser: undefined,
  };
  const h = await harness(config);
  try {
    const before = await settled(h);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await hit(`${h.url}/w/warm/a.txt`)).status);
    // The burst of 2 goes first; a token may come back if the machine is slow, so count.
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 429]);
    const refused = statuses.filter((status) => status === 429).length;
    assert.equal(refused + statuses.filter((status) => status === 200).length, 6);

    // Admin routes are not rate limited; a loopback client needs no token without a jwt.
    const created = await fetch(`${h.url}/admin/cache/prewarm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bucket: "w", path: "warm/" }),
    });
    assert.equal(created.status, 201);
    const { task_id: id } = await created.json();
    await eventually(async () => {
      const task = await (await fetch(`${h.url}/admin/cache/prewarm/status/${id}`)).json();
      return task.status === "completed";
    }, "the prewarm task to complete");
    const after = await settled(h);
    const d = (name: string, labels: Record<string, string> = {}) =>
      delta(before, after, name, labels);
    // Global limits are checked before routing: their rejections have no bucket.
    assert.equal(d("rate_limit_exceeded_total", { bucket: "" }), refused);
    assert.equal(d("http_requests_total", { bucket: "", method: "GET", status: "429" }), refused);
    assert.equal(
      d("http_requests_total", { bucket: "w", method: "GET", status: "200" }),
      6 - refused,
    );
    assert.equal(d("concurrency_limit_rejections_total"), 0);
    assert.equal(d("yatagarasu_prewarm_tasks_total", { status: "completed" }), 1);
    // a.txt was already cached by the GETs, but a prewarm fetches and stores every object.
    assert.equal(d("yatagarasu_prewarm_files_total"), 3);
    assert.equal(
      d("yatagarasu_prewarm_bytes_total"),
      ["warm/a.txt", "warm/b.txt", "warm/c.txt"].reduce((n, k) => n + `body of ${k}`.length, 0),
    );
    assert.equal(d("yatagarasu_prewarm_errors_total"), 0);
    assert.equal(d("yatagarasu_prewarm_duration_seconds_count"), 1);
    const w = { bucket: "w", replica: "default" };
    assert.equal(d("s3_operations_total", { ...w, operation: "LIST" }), 1);
    assert.equal(d("s3_operations_total", { ...w, operation: "GET" }), 1 + 3);
  } finally {
    await h.close();
    await s3.close();
  }
});

Deno.test("metrics: the concurrency limit's 503s are counted", async () => {
  const release = Promise.withResolvers<void>();
  const slow = await startFakeUpstream(async () => {
    await release.promise;
    return new Response("late", { headers: { "content-type": "text/plain" } });
  });
  const config = testConfig([
    bucketConfig({ name: "s", pathPrefix: "/s", bucket: "b", endpoint: slow.endpoint }),
  ]);
  config.server.maxConcurrentRequests = 1;
  const h = await harness(config);
  try {
    const before = await settled(h);
    const first = hit(`${h.url}/s/one`);
    await eventually(
      () => Promise.resolve(slow.requests.length === 1),
      "the first request upstream",
    );
    assert.equal((await hit(`${h.url}/s/two`)).status, 503);
    const during = await h.scrape();
    assert.equal(during.value("http_requests_in_flight"), 1);
    release.resolve();
    assert.equal((await first).status, 200);
    const after = await settled(h);
    assert.equal(delta(before, after, "concurrency_limit_rejections_total"), 1);
    assert.equal(delta(before, after, "http_errors_total", { bucket: "", code: "overloaded" }), 1);
  } finally {
    release.resolve();
    await h.close();
    await slow.close();
  }
});

Deno.test("metrics listener: only GET/HEAD /metrics, with the Prometheus content type", async () => {
  const upstream = await startFakeUpstream(() => new Response("ok"));
  const h = await harness(
    testConfig([
      bucketConfig({ name: "a", pathPrefix: "/a", bucket: "b", endpoint: upstream.endpoint }),
    ]),
  );
  const listener = await startMetricsServer(h.metrics, {
    hostname: "127.0.0.1",
    port: 0,
    logger: h.gw.logger,
  });
  const base = `http://127.0.0.1:${listener.addr.port}`;
  try {
    const get = await fetch(`${base}/metrics`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.match(await get.text(), /^# HELP /m);
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.match((await post.json()).message, /GET and HEAD/);
    const other = await fetch(`${base}/a/object`);
    assert.equal(other.status, 404);
    assert.match((await other.json()).message, /scrape GET \/metrics/);
    // The proxy port does not serve /metrics: there it is an unknown route like any other.
    const proxied = await fetch(`${h.url}/metrics`);
    assert.equal(proxied.status, 404);
    assert.equal((await proxied.json()).code, "route_not_found");
    // Scrapes are not requests of the gateway.
    const s = await h.scrape();
    assert.equal(s.value("http_requests_total", { bucket: "", method: "GET", status: "404" }), 1);
    assert.equal(s.sum("http_requests_total"), 1);
  } finally {
    await listener.close();
    await h.close();
    await upstream.close();
  }
});

Deno.test("metrics: config reloads, the generation, and image transformations", async () => {
  const s3 = await startS3Server({ buckets: [S3_BUCKET] });
  const photo = await makeImage("jpeg", 400, 300);
  await s3.putObject(S3_BUCKET, "photo.jpg", photo, { contentType: "image/jpeg" });
  await s3.putObject(S3_BUCKET, "broken.jpg", await makeImage("truncated", 400, 300), {
    contentType: "image/jpeg",
  });
  const config: Config = {
    ...testConfig([
      bucketConfig({ name: "pics", pathPrefix: "/pics", bucket: S3_BUCKET, endpoint: s3.endpoint }),
    ]),
    imageOptimization: { ...defaultImageOptimization(), enabled: true },
  };
  const h = await harness(config);
  try {
    const before = await h.scrape();
    assert.equal(before.value("config_generation"), 1);
    const variant = await fetch(`${h.url}/pics/photo.jpg?w=100&fmt=webp`);
    assert.equal(variant.status, 200);
    const webp = new Uint8Array(await variant.arrayBuffer());
    const unreadable = await fetch(`${h.url}/pics/broken.jpg?w=100&fmt=webp`);
    assert.equal(unreadable.status, 415);
    await unreadable.body?.cancel();

    assert.equal((await h.gw.app.reload(config)).ok, true);
    const rejected = await h.gw.app.reload({
      ok: false,
      errors: [{ path: "buckets[0].s3", message: "broken on purpose" }],
      warnings: [],
    });
    assert.equal(rejected.ok, false);

    const after = await settled(h);
    assert.equal(delta(before, after, "config_reload_success_total"), 1);
    assert.equal(delta(before, after, "config_reload_failure_total"), 1);
    assert.equal(after.value("config_generation"), 2);
    assert.equal(delta(before, after, "yatagarasu_image_processing_total", { format: "webp" }), 1);
    // Sizes are counted for transformations that produced an image; the failed one counts as an error.
    assert.equal(delta(before, after, "yatagarasu_image_bytes_original_total"), photo.byteLength);
    assert.equal(delta(before, after, "yatagarasu_image_bytes_processed_total"), webp.byteLength);
    assert.equal(delta(before, after, "yatagarasu_image_processing_duration_seconds_count"), 2);
    const errors = after.samples.filter((s) =>
      s.name === "yatagarasu_image_processing_errors_total"
    );
    assert.equal(errors.reduce((sum, s) => sum + s.value, 0), 1, JSON.stringify(errors));
  } finally {
    await h.close();
    await s3.close();
  }
});
