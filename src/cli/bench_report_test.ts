// Tests of bench's output: bucket edges, the histogram bars, number formats, the text report, the --compare table and the JSON shape.

import assert from "node:assert/strict";
import {
  type BenchResult,
  BUCKET_EDGES_MS,
  bucketIndex,
  formatBytes,
  formatComparison,
  formatMs,
  formatReport,
  histogramBuckets,
  jsonReport,
  ratio,
  renderHistogram,
} from "./bench_report.ts";

function result(overrides: Partial<BenchResult> = {}): BenchResult {
  const latency = {
    min: 0.4,
    mean: 1.1,
    stdev: 0.3,
    p50: 1,
    p75: 1.2,
    p90: 1.6,
    p99: 3.2,
    p999: 7.5,
    max: 9.9,
  };
  return {
    url: "http://127.0.0.1:8080/public/a.txt",
    method: "GET",
    concurrency: 4,
    durationMs: 2_000,
    elapsedMs: 2_001,
    requests: 1_000,
    errors: 0,
    errorKinds: {},
    unfinished: 4,
    bytes: 1_024_000,
    requestsPerSecond: 500,
    bytesPerSecond: 512_000,
    status: { "200": 990, "404": 10 },
    latencyMs: latency,
    ttfbMs: { ...latency, p50: 0.8, p99: 2.5 },
    histogram: [
      { upToMs: 0.5, count: 100 },
      { upToMs: 1, count: 600 },
      {
        upToMs: 2,
        count: 290,
      },
      { upToMs: 5, count: 0 },
      { upToMs: 10, count: 10 },
    ],
    ...overrides,
  };
}

Deno.test("bucketIndex: edges are inclusive upper bounds; above 10 s is the last bucket", () => {
  assert.equal(bucketIndex(0), 0);
  assert.equal(bucketIndex(0.1), 0);
  assert.equal(bucketIndex(0.1001), 1);
  assert.equal(bucketIndex(1), 3);
  assert.equal(bucketIndex(10_000), BUCKET_EDGES_MS.length - 1);
  assert.equal(bucketIndex(10_001), BUCKET_EDGES_MS.length);
});

Deno.test("histogramBuckets: trimmed to the first and last non-empty bucket, gaps kept", () => {
  const counts = new Array<number>(BUCKET_EDGES_MS.length + 1).fill(0);
  counts[3] = 5;
  counts[5] = 2;
  assert.deepEqual(histogramBuckets(counts), [
    { upToMs: 1, count: 5 },
    { upToMs: 2, count: 0 },
    { upToMs: 5, count: 2 },
  ]);
  counts[BUCKET_EDGES_MS.length] = 1;
  assert.equal(histogramBuckets(counts).at(-1)!.upToMs, null);
  assert.deepEqual(histogramBuckets(new Array<number>(17).fill(0)), []);
});

Deno.test("renderHistogram: bars scale to the biggest bucket, a rare bucket keeps one mark", () => {
  const lines = renderHistogram([
    { upToMs: 1, count: 1000 },
    { upToMs: 2, count: 500 },
    { upToMs: 5, count: 0 },
    { upToMs: null, count: 1 },
  ], 20);
  assert.deepEqual(lines, [
    "  <= 1.00 ms |####################| 1000  66.6%",
    "  <= 2.00 ms |##########          |  500  33.3%",
    "  <= 5.00 ms |                    |    0   0.0%",
    "    > 10.0 s |#                   |    1   0.1%",
  ]);
  assert.deepEqual(renderHistogram([]), ["  (no responses)"]);
});

Deno.test("formatMs and formatBytes pick a readable unit", () => {
  assert.equal(formatMs(0.0421), "0.042 ms");
  assert.equal(formatMs(1.5), "1.50 ms");
  assert.equal(formatMs(12.34), "12.3 ms");
  assert.equal(formatMs(250), "250 ms");
  assert.equal(formatMs(1_250), "1.25 s");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(20 * 1024 * 1024), "20.00 MiB");
});

Deno.test("formatReport: totals, percentiles for latency and TTFB, status codes and the histogram", () => {
  const text = formatReport(result({ errors: 3, errorKinds: { "connection reset": 3 } }));
  assert.match(text, /^GET http:\/\/127\.0\.0\.1:8080\/public\/a\.txt\n/);
  assert.match(text, /requests: {3}1000 \(500\.0 req\/s\)/);
  assert.match(text, /transfer: {3}1000\.00 KiB \(500\.00 KiB\/s\)/);
  assert.match(text, /errors: {5}3\n {2}connection reset: 3\n/);
  assert.match(text, /\n {2}p50 {6,}1\.00 ms {4,}0\.800 ms\n/);
  assert.match(text, /\n {2}p99 {6,}3\.20 ms {4,}2\.50 ms\n/);
  assert.match(text, /status codes:\n {2}200: 990 \(99\.0%\)\n {2}404: 10 \(1\.0%\)/);
  assert.match(text, /latency histogram:\n {2}<= 0\.500 ms \|/);
});

Deno.test("formatComparison: one row per metric, ratios as compare / url, n/a when url is 0", () => {
  const a = result();
  const b = result({
    url: "http://127.0.0.1:9000/bucket/a.txt",
    requestsPerSecond: 250,
    bytesPerSecond: 256_000,
    latencyMs: { ...a.latencyMs, p50: 2, p99: 6.4 },
    errors: 10,
  });
  const table = formatComparison(a, b).split("\n");
  assert.equal(table[0], "url:     http://127.0.0.1:8080/public/a.txt");
  assert.equal(table[1], "compare: http://127.0.0.1:9000/bucket/a.txt");
  assert.match(table[2]!, /^metric +url +compare +compare\/url$/);
  assert.match(table.find((l) => l.startsWith("req/s"))!, /500\.0 +250\.0 +0\.50x$/);
  assert.match(table.find((l) => l.startsWith("latency p50"))!, /1\.00 ms +2\.00 ms +2\.00x$/);
  assert.match(table.find((l) => l.startsWith("latency p99"))!, /3\.20 ms +6\.40 ms +2\.00x$/);
  assert.match(table.find((l) => l.startsWith("errors"))!, /0\.00% +0\.99%$/);
  assert.equal(ratio(0, 5), null);
  const zero = formatComparison(result({ requestsPerSecond: 0 }), b);
  assert.match(zero.split("\n").find((l) => l.startsWith("req/s"))!, /n\/a$/);
});

Deno.test("jsonReport: one run as {url}, two as {url, compare, ratios}", () => {
  const one = JSON.parse(jsonReport(result()));
  assert.deepEqual(Object.keys(one), ["url"]);
  assert.equal(one.url.requests, 1000);
  const two = JSON.parse(jsonReport(result(), result({ requestsPerSecond: 1000 })));
  assert.deepEqual(Object.keys(two), ["url", "compare", "ratios"]);
  assert.equal(two.ratios.requestsPerSecond, 2);
});
