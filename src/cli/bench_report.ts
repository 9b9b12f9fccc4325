// Owns what `bench` prints: the result shape, the text report, the latency histogram bars and the --compare table (pure, no I/O).

import type { BenchMethod } from "./bench_args.ts";

/** Latency or TTFB figures of one run, in milliseconds (0 when nothing completed). */
export interface LatencySummary {
  min: number;
  mean: number;
  stdev: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One bar of the latency histogram: responses whose latency was <= upToMs (null: above the last edge). */
export interface HistogramBucket {
  upToMs: number | null;
  count: number;
}

/** Everything one run measured; `--json` prints this shape. */
export interface BenchResult {
  url: string;
  method: BenchMethod;
  concurrency: number;
  /** The asked-for duration. */
  durationMs: number;
  /** Measured wall time from the first request to the end of the run. */
  elapsedMs: number;
  /** Responses received completely (any status): the sum of `status`. */
  requests: number;
  /** Requests that got no complete response (connection refused, reset, body cut short). */
  errors: number;
  errorKinds: Record<string, number>;
  /** Requests still in flight when the duration ended (aborted, counted nowhere else). */
  unfinished: number;
  /** Body bytes of the counted responses. */
  bytes: number;
  requestsPerSecond: number;
  bytesPerSecond: number;
  /** Response count per status code ("200": n). */
  status: Record<string, number>;
  /** Request start to the last body byte. */
  latencyMs: LatencySummary;
  /** Request start to the response headers (time to first byte). */
  ttfbMs: LatencySummary;
  histogram: HistogramBucket[];
}

/** Upper edges of the histogram buckets, 1-2-5 per decade from 0.1 ms to 10 s; above is the last bucket. */
export const BUCKET_EDGES_MS: readonly number[] = [
  0.1,
  0.2,
  0.5,
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1_000,
  2_000,
  5_000,
  10_000,
];

/** Index into a counts array of BUCKET_EDGES_MS.length + 1 entries (the last one: above 10 s). */
export function bucketIndex(ms: number): number {
  for (let i = 0; i < BUCKET_EDGES_MS.length; i++) {
    if (ms <= BUCKET_EDGES_MS[i]!) return i;
  }
  return BUCKET_EDGES_MS.length;
}

/** Counts per bucket -> the bucket list, trimmed to the range from the first to the last non-empty one. */
export function histogramBuckets(counts: readonly number[]): HistogramBucket[] {
  const first = counts.findIndex((c) => c > 0);
  if (first < 0) return [];
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  const out: HistogramBucket[] = [];
  for (let i = first; i <= last; i++) {
    out.push({ upToMs: BUCKET_EDGES_MS[i] ?? null, count: counts[i] ?? 0 });
  }
  return out;
}

/** "0.512 ms", "12.3 ms", "1.25 s": three significant digits are what a load test can vouch for. */
export function formatMs(ms: number): string {
  if (ms >= 1_000) return `${(ms / 1_000).toPrecision(3)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 1536 -> "1.50 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value.toFixed(0)} B` : `${value.toFixed(2)} ${BYTE_UNITS[unit]}`;
}

/** "12,345.6" style: thousands separated, one decimal. */
export function formatRate(n: number): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

/** One line per bucket: its edge, a bar scaled to the largest bucket, the count and its share. */
export function renderHistogram(buckets: readonly HistogramBucket[], width = 40): string[] {
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return ["  (no responses)"];
  const biggest = Math.max(...buckets.map((b) => b.count));
  const labels = buckets.map((b) =>
    b.upToMs === null
      ? `> ${formatMs(BUCKET_EDGES_MS[BUCKET_EDGES_MS.length - 1]!)}`
      : `<= ${formatMs(b.upToMs)}`
  );
  const labelWidth = Math.max(...labels.map((l) => l.length));
  const countWidth = Math.max(...buckets.map((b) => String(b.count).length));
  return buckets.map((b, i) => {
    // A non-empty bucket always shows at least one mark, so a rare slow tail stays visible.
    const marks = b.count === 0 ? 0 : Math.max(1, Math.round((b.count / biggest) * width));
    const share = ((b.count / total) * 100).toFixed(1).padStart(5);
    return `  ${labels[i]!.padStart(labelWidth)} |${"#".repeat(marks).padEnd(width)}| ${
      String(b.count).padStart(countWidth)
    } ${share}%`;
  });
}

const PERCENTILES: readonly [keyof LatencySummary, string][] = [
  ["min", "min"],
  ["p50", "p50"],
  ["p75", "p75"],
  ["p90", "p90"],
  ["p99", "p99"],
  ["p999", "p99.9"],
  ["max", "max"],
  ["mean", "mean"],
  ["stdev", "stdev"],
];

function statusLines(result: BenchResult): string[] {
  const codes = Object.keys(result.status).sort();
  if (codes.length === 0) return ["  (none)"];
  return codes.map((code) => {
    const count = result.status[code]!;
    const share = ((count / result.requests) * 100).toFixed(1);
    return `  ${code}: ${count} (${share}%)`;
  });
}

function errorLines(result: BenchResult): string[] {
  return Object.entries(result.errorKinds).sort((a, b) => b[1] - a[1]).map(([kind, count]) =>
    `  ${kind}: ${count}`
  );
}

/** The full text report of one run. */
export function formatReport(result: BenchResult): string {
  const lines = [
    `${result.method} ${result.url}`,
    `  ${result.concurrency} concurrent, ${formatMs(result.durationMs)} asked, ${
      formatMs(result.elapsedMs)
    } measured`,
    `  requests:   ${result.requests} (${formatRate(result.requestsPerSecond)} req/s)`,
    `  transfer:   ${formatBytes(result.bytes)} (${formatBytes(result.bytesPerSecond)}/s)`,
    `  errors:     ${result.errors}`,
    ...errorLines(result),
    `  unfinished: ${result.unfinished} (in flight at the end, not counted)`,
    "",
    `  ${"".padEnd(7)}${"latency".padStart(12)}${"ttfb".padStart(12)}`,
    ...PERCENTILES.map(([key, label]) =>
      `  ${label.padEnd(7)}${formatMs(result.latencyMs[key]).padStart(12)}${
        formatMs(result.ttfbMs[key]).padStart(12)
      }`
    ),
    "",
    "status codes:",
    ...statusLines(result),
    "",
    "latency histogram:",
    ...renderHistogram(result.histogram),
  ];
  return lines.join("\n");
}

/** b / a, or null where a is 0 (no meaningful ratio). */
export function ratio(a: number, b: number): number | null {
  if (a === 0) return null;
  return b / a;
}

function formatRatio(value: number | null): string {
  return value === null ? "n/a" : `${value.toFixed(2)}x`;
}

/** The numbers the --compare table and the JSON `ratios` hold, as compare / url. */
export interface Ratios {
  requestsPerSecond: number | null;
  bytesPerSecond: number | null;
  latencyP50: number | null;
  latencyP99: number | null;
  ttfbP50: number | null;
  ttfbP99: number | null;
}

export function ratios(a: BenchResult, b: BenchResult): Ratios {
  return {
    requestsPerSecond: ratio(a.requestsPerSecond, b.requestsPerSecond),
    bytesPerSecond: ratio(a.bytesPerSecond, b.bytesPerSecond),
    latencyP50: ratio(a.latencyMs.p50, b.latencyMs.p50),
    latencyP99: ratio(a.latencyMs.p99, b.latencyMs.p99),
    ttfbP50: ratio(a.ttfbMs.p50, b.ttfbMs.p50),
    ttfbP99: ratio(a.ttfbMs.p99, b.ttfbMs.p99),
  };
}

/** The side-by-side table of two runs: metric, --url, --compare, and compare / url. */
export function formatComparison(a: BenchResult, b: BenchResult): string {
  const r = ratios(a, b);
  const errorShare = (x: BenchResult) => {
    const attempts = x.requests + x.errors;
    return attempts === 0 ? "n/a" : `${((x.errors / attempts) * 100).toFixed(2)}%`;
  };
  const rows: [string, string, string, string][] = [
    ["metric", "url", "compare", "compare/url"],
    [
      "req/s",
      formatRate(a.requestsPerSecond),
      formatRate(b.requestsPerSecond),
      formatRatio(r.requestsPerSecond),
    ],
    [
      "bytes/s",
      `${formatBytes(a.bytesPerSecond)}/s`,
      `${formatBytes(b.bytesPerSecond)}/s`,
      formatRatio(r.bytesPerSecond),
    ],
    [
      "latency p50",
      formatMs(a.latencyMs.p50),
      formatMs(b.latencyMs.p50),
      formatRatio(r.latencyP50),
    ],
    [
      "latency p99",
      formatMs(a.latencyMs.p99),
      formatMs(b.latencyMs.p99),
      formatRatio(r.latencyP99),
    ],
    ["ttfb p50", formatMs(a.ttfbMs.p50), formatMs(b.ttfbMs.p50), formatRatio(r.ttfbP50)],
    ["ttfb p99", formatMs(a.ttfbMs.p99), formatMs(b.ttfbMs.p99), formatRatio(r.ttfbP99)],
    ["requests", String(a.requests), String(b.requests), ""],
    ["errors", errorShare(a), errorShare(b), ""],
  ];
  const widths = [0, 1, 2, 3].map((col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: readonly string[]) =>
    row.map((cell, col) => col === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[col]!))
      .join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [
    `url:     ${a.url}`,
    `compare: ${b.url}`,
    line(rows[0]!),
    rule,
    ...rows.slice(1).map(line),
    "(compare/url above 1 means the compare target is higher: better for req/s, worse for latency)",
  ].join("\n");
}

/** The --json document: one run, or both runs and their ratios. */
export function jsonReport(a: BenchResult, b?: BenchResult): string {
  const doc = b === undefined ? { url: a } : { url: a, compare: b, ratios: ratios(a, b) };
  return JSON.stringify(doc, null, 2);
}
