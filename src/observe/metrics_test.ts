// Owns the unit tests of GatewayMetrics: recording, scrape-time sources, exposition format, bounded labels.

import assert from "node:assert/strict";
import {
  FixedHistogram,
  GatewayMetrics,
  REQUEST_DURATION_BOUNDS,
  type ScrapedBucket,
  type ScrapedTier,
} from "./metrics.ts";
import { parsePrometheusText, type PromScrape } from "../../tests/support/prometheus_text.ts";

async function scrape(metrics: GatewayMetrics): Promise<PromScrape> {
  return parsePrometheusText(await metrics.text());
}

Deno.test("FixedHistogram: an observation lands in the first bucket whose bound is >= it", () => {
  const histogram = new FixedHistogram([0.1, 1, 10]);
  for (const value of [0, 0.1, 0.10001, 1, 5, 10, 11, 1e9]) histogram.observe(value);
  assert.deepEqual([...histogram.counts], [2, 2, 2, 2]);
  assert.equal(histogram.count, 8);
  assert.equal(histogram.sum, 0 + 0.1 + 0.10001 + 1 + 5 + 10 + 11 + 1e9);
});

Deno.test("metrics: requests are counted by bucket, method and status, with the original's sums", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  for (let i = 0; i < 3; i++) {
    metrics.request("assets", "GET", 200, 0.0002, 1024, undefined, "public", false);
  }
  metrics.request("assets", "HEAD", 200, 0.0003, 0, undefined, "public", false);
  metrics.request("assets", "GET", 404, 0.004, 120, "object_not_found", "public", false);
  metrics.request(undefined, "GET", 200, 0.0001, 60, undefined, undefined, false);
  metrics.request(undefined, "BREW", 405, 0.0001, 100, "method_not_allowed", undefined, false);
  const s = await scrape(metrics);
  assert.equal(s.types.get("http_requests_total"), "counter");
  assert.equal(
    s.value("http_requests_total", { bucket: "assets", method: "GET", status: "200" }),
    3,
  );
  assert.equal(
    s.value("http_requests_total", { bucket: "assets", method: "HEAD", status: "200" }),
    1,
  );
  assert.equal(
    s.value("http_requests_total", { bucket: "assets", method: "GET", status: "404" }),
    1,
  );
  // Requests that matched no bucket have bucket=""; unknown methods are "other".
  assert.equal(s.value("http_requests_total", { bucket: "", method: "GET", status: "200" }), 1);
  assert.equal(s.value("http_requests_total", { bucket: "", method: "other", status: "405" }), 1);
  assert.equal(s.sum("http_requests_total"), 7);
  assert.equal(s.value("http_requests_by_status_total", { status: "200" }), 5);
  assert.equal(s.value("http_requests_by_status_total", { status: "404" }), 1);
  assert.equal(s.value("http_requests_by_method_total", { method: "GET" }), 5);
  assert.equal(s.value("http_requests_by_bucket_total", { bucket: "assets" }), 5);
  assert.equal(s.value("http_requests_by_bucket_total", { bucket: "" }), undefined);
  assert.equal(s.value("bytes_sent_total", { bucket: "assets" }), 3 * 1024 + 120);
  assert.equal(s.value("http_errors_total", { bucket: "assets", code: "object_not_found" }), 1);
  assert.equal(s.value("http_errors_total", { bucket: "", code: "method_not_allowed" }), 1);
});

Deno.test("metrics: the duration histogram has cumulative _bucket, _sum and _count per bucket", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  const durations = [0.0001, 0.0005, 0.0007, 0.02, 3, 100];
  for (const seconds of durations) {
    metrics.request("a", "GET", 200, seconds, 0, undefined, "public", false);
  }
  const s = await scrape(metrics);
  assert.equal(s.types.get("http_request_duration_seconds"), "histogram");
  const bucket = (le: string) =>
    s.value("http_request_duration_seconds_bucket", { bucket: "a", le });
  assert.equal(bucket("0.0005"), 2); // 0.0001 and 0.0005 (le is inclusive)
  assert.equal(bucket("0.001"), 3);
  assert.equal(bucket("0.025"), 4);
  assert.equal(bucket("2.5"), 4);
  assert.equal(bucket("5"), 5);
  assert.equal(bucket("60"), 5);
  assert.equal(bucket("+Inf"), 6);
  assert.equal(s.value("http_request_duration_seconds_count", { bucket: "a" }), 6);
  const sum = s.value("http_request_duration_seconds_sum", { bucket: "a" })!;
  assert.ok(Math.abs(sum - durations.reduce((a, b) => a + b, 0)) < 1e-9, String(sum));
  // Every bound is exported, in order, and the counts never decrease.
  const les = s.samples.filter((x) => x.name === "http_request_duration_seconds_bucket");
  assert.deepEqual(les.map((x) => x.labels.le), [...REQUEST_DURATION_BOUNDS.map(String), "+Inf"]);
  les.reduce((previous, x) => (assert.ok(x.value >= previous), x.value), 0);
});

Deno.test("metrics: statuses get slots as they occur; past the table's size they are 'other'", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  for (let status = 100; status < 200; status++) {
    metrics.request("a", "GET", status, 0, 0, undefined, "public", false);
  }
  metrics.request("a", "GET", 100, 0, 0, undefined, "public", false);
  metrics.request("a", "GET", 1000, 0, 0, undefined, "public", false);
  const s = await scrape(metrics);
  assert.equal(s.value("http_requests_total", { bucket: "a", method: "GET", status: "100" }), 2);
  assert.equal(s.value("http_requests_total", { bucket: "a", method: "GET", status: "161" }), 1);
  assert.equal(
    s.value("http_requests_total", { bucket: "a", method: "GET", status: "162" }),
    undefined,
  );
  // 62 named slots (100..161); 38 more statuses and the out-of-range one share "other".
  assert.equal(s.value("http_requests_total", { bucket: "a", method: "GET", status: "other" }), 39);
  assert.equal(s.sum("http_requests_total"), 102);
});

Deno.test("metrics: auth outcomes come from the identity, the bucket's needs and the error code", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  metrics.request("private", "GET", 200, 0, 0, undefined, "jwt", true);
  metrics.request("private", "GET", 200, 0, 0, undefined, "signed_url", true);
  metrics.request("private", "GET", 401, 0, 0, "token_missing", "public", true);
  metrics.request("private", "GET", 401, 0, 0, "token_invalid", "public", true);
  metrics.request("private", "GET", 403, 0, 0, "forbidden", "jwt", true);
  // Refused before authentication (rate limit): neither success nor failure.
  metrics.request("private", "GET", 429, 0, 0, "rate_limited", "public", true);
  metrics.request("public", "GET", 200, 0, 0, undefined, "public", false);
  metrics.request("public", "GET", 200, 0, 0, undefined, "public", false);
  // Not the object path (health, admin): no auth figures at all.
  metrics.request(undefined, "POST", 403, 0, 0, "forbidden", undefined, false);
  const s = await scrape(metrics);
  // A token that passed authentication but was denied by policy is both: authenticated, then refused.
  assert.equal(s.value("auth_success_total", { bucket: "private" }), 3);
  assert.equal(s.value("auth_failure_total", { bucket: "private", reason: "token_missing" }), 1);
  assert.equal(s.value("auth_failure_total", { bucket: "private", reason: "token_invalid" }), 1);
  assert.equal(s.value("auth_failure_total", { bucket: "private", reason: "forbidden" }), 1);
  assert.equal(s.sum("auth_failure_total"), 3);
  assert.equal(s.value("auth_bypassed_total", { bucket: "public" }), 2);
  assert.equal(s.sum("auth_bypassed_total"), 2);
  assert.equal(s.value("rate_limit_exceeded_total", { bucket: "private" }), 1);
});

Deno.test("metrics: rejections are exported under the original's names", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  const reject = (code: string, status: number, bucket?: string) =>
    metrics.request(bucket, "GET", status, 0, 0, code, undefined, false);
  reject("overloaded", 503);
  reject("overloaded", 503);
  reject("uri_too_long", 414);
  reject("headers_too_large", 431);
  reject("payload_too_large", 413);
  reject("rate_limited", 429);
  reject("rate_limited", 429, "a");
  reject("circuit_open", 503, "a");
  reject("client_closed", 499, "a");
  reject("something_new", 500, "a");
  const s = await scrape(metrics);
  assert.equal(s.value("concurrency_limit_rejections_total"), 2);
  assert.equal(s.value("security_uri_too_long_total"), 1);
  assert.equal(s.value("security_headers_too_large_total"), 1);
  assert.equal(s.value("security_payload_too_large_total"), 1);
  assert.equal(s.value("rate_limit_exceeded_total", { bucket: "" }), 1);
  assert.equal(s.value("rate_limit_exceeded_total", { bucket: "a" }), 1);
  assert.equal(s.value("circuit_breaker_rejections_total", { bucket: "a" }), 1);
  assert.equal(s.value("http_errors_total", { bucket: "a", code: "client_closed" }), 1);
  // An unknown code cannot grow the label set.
  assert.equal(s.value("http_errors_total", { bucket: "a", code: "other" }), 1);
});

Deno.test("metrics: S3 attempts, time to first byte, errors and retries per bucket and replica", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  const single = metrics.origin("assets", "default");
  assert.equal(
    metrics.origin("assets", "default"),
    single,
    "one slot per endpoint, kept across reloads",
  );
  single.sent("GET");
  single.firstByte(0.003);
  single.sent("GET");
  single.firstByte(0.2);
  single.failed("upstream_error");
  single.retried();
  single.sent("GET");
  single.firstByte(0.004);
  single.retrySucceeded();
  single.sent("LIST");
  single.sent("PROBE");
  single.failed("origin_unavailable");
  single.retriesExhausted();
  const replica = metrics.origin("ha", "secondary");
  replica.sent("HEAD");
  replica.failed("object_not_found");
  const s = await scrape(metrics);
  const labels = { bucket: "assets", replica: "default" };
  assert.equal(s.value("s3_operations_total", { ...labels, operation: "GET" }), 3);
  assert.equal(s.value("s3_operations_total", { ...labels, operation: "LIST" }), 1);
  assert.equal(s.value("s3_operations_total", { ...labels, operation: "PROBE" }), 1);
  assert.equal(s.value("s3_operations_total", { ...labels, operation: "HEAD" }), undefined);
  assert.equal(
    s.value("s3_operations_total", { bucket: "ha", replica: "secondary", operation: "HEAD" }),
    1,
  );
  assert.equal(s.value("s3_errors_total", { ...labels, error_code: "upstream_error" }), 1);
  assert.equal(s.value("s3_errors_total", { ...labels, error_code: "origin_unavailable" }), 1);
  assert.equal(
    s.value("s3_errors_total", {
      bucket: "ha",
      replica: "secondary",
      error_code: "object_not_found",
    }),
    1,
  );
  assert.equal(s.value("s3_time_to_first_byte_seconds_count", labels), 3);
  assert.equal(s.value("s3_time_to_first_byte_seconds_bucket", { ...labels, le: "0.005" }), 2);
  assert.equal(s.value("s3_time_to_first_byte_seconds_bucket", { ...labels, le: "0.25" }), 3);
  assert.equal(s.value("s3_retry_attempts_total", labels), 1);
  assert.equal(s.value("s3_retry_success_total", labels), 1);
  assert.equal(s.value("s3_retry_exhausted_total", labels), 1);
});

Deno.test("metrics: breakers, replicas, in-flight and the cache are read when scraped", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false });
  let circuit: { state: "closed" | "open" | "half_open"; consecutiveFailures: number } = {
    state: "closed",
    consecutiveFailures: 0,
  };
  let replicas = [{ name: "primary", healthy: true }, { name: "secondary", healthy: true }];
  const buckets: ScrapedBucket[] = [
    { name: "plain", origin: { circuit: () => undefined } },
    { name: "guarded", origin: { circuit: () => circuit } },
    { name: "ha", origin: { circuit: () => undefined, health: () => replicas } },
  ];
  const tiers: ScrapedTier[] = [
    {
      name: "memory",
      hits: 5,
      misses: 2,
      evictions: 1,
      items: 3,
      bytes: 3072,
      maxBytes: 1 << 20,
      errors: 0,
    },
    {
      name: "redis",
      hits: 1,
      misses: 1,
      evictions: 0,
      items: 4,
      bytes: 4096,
      maxBytes: 0,
      errors: 2,
    },
  ];
  let liveReports = 0;
  let inFlight = 7;
  metrics.attach({
    inFlight: () => inFlight,
    buckets: () => buckets,
    cache: {
      report: () => ({ hits: 6, misses: 1, evictions: 1, tiers }),
      liveReport: () => (liveReports++, Promise.resolve()),
      purges: 4,
    },
  });
  let s = await scrape(metrics);
  assert.equal(s.value("http_requests_in_flight"), 7);
  assert.equal(s.value("active_connections"), 7);
  assert.equal(s.value("circuit_breaker_state", { bucket: "guarded" }), 0);
  assert.equal(s.value("circuit_breaker_state", { bucket: "plain" }), undefined);
  assert.equal(s.value("replica_health", { bucket: "ha", replica: "secondary" }), 1);
  assert.equal(s.value("backend_health", { bucket: "plain" }), 1);
  assert.equal(s.value("backend_health", { bucket: "ha" }), 1);
  assert.equal(s.value("yatagarasu_cache_hits_total"), 6);
  assert.equal(s.value("yatagarasu_cache_misses_total"), 1);
  assert.equal(s.value("yatagarasu_cache_evictions_total"), 1);
  assert.equal(s.value("yatagarasu_cache_purges_total"), 4);
  assert.equal(s.value("yatagarasu_cache_hits_by_layer", { layer: "memory" }), 5);
  assert.equal(s.value("yatagarasu_cache_size_by_layer", { layer: "redis" }), 4096);
  assert.equal(s.value("yatagarasu_cache_items_by_layer", { layer: "memory" }), 3);
  assert.equal(s.value("yatagarasu_cache_errors_by_layer", { layer: "redis" }), 2);
  assert.equal(s.value("yatagarasu_cache_max_size_by_layer", { layer: "memory" }), 1 << 20);
  assert.equal(liveReports, 1, "the first scrape starts a recount");

  inFlight = 2;
  circuit = { state: "open", consecutiveFailures: 5 };
  replicas = [{ name: "primary", healthy: false }, { name: "secondary", healthy: false }];
  s = await scrape(metrics);
  assert.equal(s.value("http_requests_in_flight"), 2);
  assert.equal(s.value("circuit_breaker_state", { bucket: "guarded" }), 1);
  assert.equal(s.value("circuit_breaker_failures", { bucket: "guarded" }), 5);
  assert.equal(s.value("backend_health", { bucket: "guarded" }), 0);
  assert.equal(s.value("replica_health", { bucket: "ha", replica: "primary" }), 0);
  assert.equal(s.value("backend_health", { bucket: "ha" }), 0);
  assert.equal(liveReports, 1, "recounts are throttled");
  circuit = { state: "half_open", consecutiveFailures: 5 };
  s = await scrape(metrics);
  assert.equal(s.value("circuit_breaker_state", { bucket: "guarded" }), 2);
});

Deno.test("metrics: failovers, transitions, prewarm, reloads, generation and images", async () => {
  const metrics = new GatewayMetrics({ processMetrics: false, version: "9.9.9" });
  metrics.failover("ha", "primary", "secondary");
  metrics.failover("ha", "primary", "secondary");
  metrics.circuitTransition("ha", "primary", "open");
  metrics.circuitTransition("assets", "default", "half_open");
  metrics.prewarmFile("cached", 100);
  metrics.prewarmFile("cached", 50);
  metrics.prewarmFile("failed");
  metrics.prewarmFile("skipped");
  metrics.prewarmTask("completed", 12);
  metrics.prewarmTask("cancelled", 0.5);
  metrics.recordReload("success");
  metrics.recordReload("failure");
  metrics.recordReload("failure");
  metrics.setGeneration(2);
  metrics.recordImage({ format: "webp", seconds: 0.03, bytesIn: 1000, bytesOut: 400 });
  metrics.recordImage({ format: "avif", seconds: 0.2, bytesIn: 1000, bytesOut: 1200 });
  metrics.recordImage({ format: "webp", seconds: 0.01, bytesIn: 1000, error: "decode" });
  for (let i = 0; i < 20; i++) {
    metrics.recordImage({ format: `f${i}`, seconds: 0, bytesIn: 0, bytesOut: 0 });
  }
  const s = await scrape(metrics);
  assert.equal(
    s.value("replica_failovers_total", { bucket: "ha", from: "primary", to: "secondary" }),
    2,
  );
  assert.equal(
    s.value("circuit_breaker_transitions_total", { bucket: "ha", replica: "primary", to: "open" }),
    1,
  );
  assert.equal(s.value("yatagarasu_prewarm_files_total"), 2);
  assert.equal(s.value("yatagarasu_prewarm_bytes_total"), 150);
  assert.equal(s.value("yatagarasu_prewarm_errors_total"), 1);
  assert.equal(s.value("yatagarasu_prewarm_skipped_total"), 1);
  assert.equal(s.value("yatagarasu_prewarm_tasks_total", { status: "completed" }), 1);
  assert.equal(s.value("yatagarasu_prewarm_duration_seconds_count"), 2);
  assert.equal(s.value("yatagarasu_prewarm_duration_seconds_bucket", { le: "1" }), 1);
  assert.equal(s.value("yatagarasu_prewarm_duration_seconds_sum"), 12.5);
  assert.equal(s.value("config_reload_success_total"), 1);
  assert.equal(s.value("config_reload_failure_total"), 2);
  assert.equal(s.value("config_generation"), 2);
  assert.equal(s.value("yatagarasu_image_processing_total", { format: "webp" }), 1);
  assert.equal(s.value("yatagarasu_image_processing_errors_total", { type: "decode" }), 1);
  assert.equal(s.value("yatagarasu_image_processing_duration_seconds_count"), 23);
  assert.equal(s.value("yatagarasu_image_bytes_original_total"), 2000);
  assert.equal(s.value("yatagarasu_image_bytes_processed_total"), 1600);
  // A larger output saves nothing (never a negative saving).
  assert.equal(s.value("yatagarasu_image_bytes_saved_total"), 600);
  // 16 distinct formats at most: webp, avif and 14 of f0..f19; the other 6 are "other".
  assert.equal(s.value("yatagarasu_image_processing_total", { format: "other" }), 6);
  assert.equal(s.samples.filter((x) => x.name === "yatagarasu_image_processing_total").length, 17);
  assert.equal(s.value("yatagarasu_build_info", { version: "9.9.9" }), 1);
});

Deno.test("metrics: the exposition is well formed, with process metrics when asked for", async () => {
  const metrics = new GatewayMetrics({ version: "1.0.0" });
  metrics.request('a"b\\c', "GET", 200, 0.001, 10, undefined, "public", false);
  const text = await metrics.text();
  assert.ok(text.endsWith("\n"));
  const s = parsePrometheusText(text);
  // A bucket name with quotes and backslashes is escaped, and reads back the same.
  assert.equal(
    s.value("http_requests_total", { bucket: 'a"b\\c', method: "GET", status: "200" }),
    1,
  );
  assert.ok((s.value("process_cpu_seconds_total") ?? -1) >= 0);
  assert.ok((s.value("process_resident_memory_bytes") ?? 0) > 0);
  assert.ok((s.value("memory_usage_bytes") ?? 0) > 0);
  assert.ok((s.value("uptime_seconds") ?? -1) >= 0);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  // Every sample belongs to a family with a TYPE.
  for (const sample of s.samples) {
    const family = sample.name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(s.types.has(sample.name) || s.types.has(family), sample.name);
  }
});
