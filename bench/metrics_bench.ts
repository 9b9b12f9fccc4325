// Micro-benchmark: the per-request cost of recording metrics (GatewayMetrics.request) against
// prom-client's own labelled counter and histogram, and the cost of one scrape.

import { Counter, Histogram, Registry } from "prom-client";
import { createApp } from "../src/app.ts";
import type { Config } from "../src/config/types.ts";
import { discardingLogger, LOOPBACK_CLIENT, memoryS3 } from "./in_process.ts";
import { GatewayMetrics } from "../src/observe/metrics.ts";
import { bucketConfig, testCacheConfig, testConfig } from "../tests/support/app_harness.ts";

const metrics = new GatewayMetrics({ processMetrics: false });
const buckets = Array.from({ length: 10 }, (_, i) => `bucket-${i}`);
// Warm the slots, as a running gateway has them.
for (const bucket of buckets) {
  metrics.request(bucket, "GET", 200, 0.0001, 1024, undefined, "public", false);
}

let i = 0;
Deno.bench("metrics: GatewayMetrics.request, cache hit (GET 200, 1 KiB)", {
  group: "record",
  baseline: true,
}, () => {
  metrics.request(buckets[i++ % 10], "GET", 200, 0.00012, 1024, undefined, "public", false);
});

Deno.bench(
  "metrics: GatewayMetrics.request, error (404 object_not_found)",
  { group: "record" },
  () => {
    metrics.request(buckets[i++ % 10], "GET", 404, 0.003, 180, "object_not_found", "public", false);
  },
);

// The app's whole hook for a hit: the duration read (performance.now()) and the record.
const startedAt = performance.now();
Deno.bench("metrics: performance.now() + GatewayMetrics.request (the app's hook)", {
  group: "record",
}, () => {
  metrics.request(
    buckets[i++ % 10],
    "GET",
    200,
    (performance.now() - startedAt) / 1000,
    1024,
    undefined,
    "public",
    false,
  );
});

// What a per-request prom-client call would cost (not used on the request path).
const registry = new Registry();
const counter = new Counter({
  name: "x_requests_total",
  help: "x",
  labelNames: ["bucket", "method", "status"],
  registers: [registry],
});
const histogram = new Histogram({
  name: "x_duration_seconds",
  help: "x",
  labelNames: ["bucket"],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});
Deno.bench("metrics: prom-client counter.inc + histogram.observe (for comparison)", {
  group: "record",
}, () => {
  const bucket = buckets[i++ % 10]!;
  counter.inc({ bucket, method: "GET", status: "200" });
  histogram.observe({ bucket }, 0.00012);
});

Deno.bench(
  "metrics: one scrape (10 buckets, no process metrics)",
  { group: "scrape" },
  async () => {
    await metrics.text();
  },
);

// In situ: a 1 KiB memory-cache hit through app.handle, with and without metrics (access log off
// in both), so the whole per-request cost is measured: the Map lookup, performance.now(), and
// the counters.
const body = new Uint8Array(1024);
const memoryFetch = memoryS3(body, {
  "content-type": "application/octet-stream",
  "content-length": "1024",
});
const config: Config = {
  ...testConfig([
    bucketConfig({
      name: "bench",
      pathPrefix: "/bench",
      bucket: "bench",
      endpoint: "http://127.0.0.1:9000",
    }),
  ]),
  cache: testCacheConfig({
    maxItemBytes: 1 << 20,
    maxCacheBytes: 64 << 20,
    defaultTtlSeconds: 3600,
  }),
};
const info = LOOPBACK_CLIENT;
const plain = await createApp(config, {
  logger: discardingLogger("warn"),
  fetch: memoryFetch,
});
const measured = await createApp(config, {
  logger: discardingLogger("warn"),
  fetch: memoryFetch,
  metrics: new GatewayMetrics({ processMetrics: false }),
});
const url = "http://gw/bench/object-1k.bin";
for (const app of [plain, measured]) await (await app.handle(new Request(url), info)).arrayBuffer();

Deno.bench("pipeline: 1 KiB cache hit, metrics off", { group: "pipeline", baseline: true }, () => {
  plain.handle(new Request(url), info);
});
Deno.bench("pipeline: 1 KiB cache hit, metrics on", { group: "pipeline" }, () => {
  measured.handle(new Request(url), info);
});
