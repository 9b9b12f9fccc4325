// Owns the load generator of `bench`: N keep-alive fetch loops bounded by a duration, recorded in HDR histograms (the only hdr-histogram-js importer).

import * as hdr from "hdr-histogram-js";
import { errorMessage } from "../errors.ts";
import type { BenchMethod } from "./bench_args.ts";
import {
  type BenchResult,
  BUCKET_EDGES_MS,
  bucketIndex,
  histogramBuckets,
  type LatencySummary,
} from "./bench_report.ts";

export interface LoadOptions {
  url: URL;
  method: BenchMethod;
  headers: Headers;
  concurrency: number;
  durationMs: number;
}

/** One latency series in microseconds (3 significant digits, 1 µs .. 1 h, grows beyond if needed). */
function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

function summarize(histogram: hdr.Histogram): LatencySummary {
  if (histogram.totalCount === 0) {
    return { min: 0, mean: 0, stdev: 0, p50: 0, p75: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  }
  const max = histogram.maxValue;
  const ms = (us: number) => us / 1_000;
  // A percentile is its bucket's highest equivalent value (up to 0.1% above what was recorded)
  // while maxValue is exact, so a tail percentile could print above the max: the true value
  // cannot be, hence the clamp.
  const at = (percentile: number) => ms(Math.min(histogram.getValueAtPercentile(percentile), max));
  return {
    min: ms(histogram.minNonZeroValue),
    mean: ms(histogram.mean),
    stdev: ms(histogram.stdDeviation),
    p50: at(50),
    p75: at(75),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: ms(max),
  };
}

/** A short, stable name for a failed request, so thousands of them group into a few lines. */
export function errorKind(error: unknown, stage: "connect" | "body"): string {
  const text = errorMessage(error).toLowerCase();
  const cause = (error as { cause?: unknown })?.cause;
  const all = cause === undefined ? text : `${text} ${errorMessage(cause).toLowerCase()}`;
  if (all.includes("refused")) return "connection refused";
  if (all.includes("reset")) return "connection reset";
  if (all.includes("timed out") || all.includes("timeout")) return "timeout";
  if (all.includes("dns") || all.includes("lookup")) return "name resolution failed";
  if (stage === "body") return "body cut short";
  return "request failed";
}

/**
 * One request outside the measurement: it fails fast with the reason when nothing answers (instead
 * of N loops spinning on refused connections for the whole duration), and opens the first connection.
 */
export async function probe(
  options: LoadOptions,
): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    const response = await fetch(options.url, {
      method: options.method,
      headers: options.headers,
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return { ok: true };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    return {
      ok: false,
      error: cause === undefined
        ? errorMessage(error)
        : `${errorMessage(error)} (${errorMessage(cause)})`,
    };
  }
}

/** Runs the load for options.durationMs and returns what it measured. */
export async function runLoad(options: LoadOptions): Promise<BenchResult> {
  const latency = newHistogram();
  const ttfb = newHistogram();
  const buckets = new Array<number>(BUCKET_EDGES_MS.length + 1).fill(0);
  const status = new Map<number, number>();
  const errorKinds = new Map<string, number>();
  let requests = 0;
  let errors = 0;
  let unfinished = 0;
  let bytes = 0;

  // Requests still running when the time is up are aborted, like wrk: the run ends on time even
  // when a response is slow, and the figures cover only what completed inside the window.
  const stop = new AbortController();
  const started = performance.now();
  const deadline = started + options.durationMs;
  const timer = setTimeout(() => stop.abort(), options.durationMs);
  const { signal } = stop;
  const init: RequestInit = { method: options.method, headers: options.headers, signal };
  const url = options.url.href;

  const failed = (error: unknown, stage: "connect" | "body") => {
    errors++;
    const kind = errorKind(error, stage);
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  };

  const loop = async () => {
    while (performance.now() < deadline) {
      const begin = performance.now();
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        if (signal.aborted) {
          unfinished++;
          return;
        }
        failed(error, "connect");
        // A refused connection fails in microseconds; yield so the loops do not starve the timer.
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      const headersAt = performance.now();
      let size = 0;
      try {
        if (response.body !== null) {
          const reader = response.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            size += value.byteLength;
          }
        }
      } catch (error) {
        if (signal.aborted) {
          unfinished++;
          return;
        }
        failed(error, "body");
        continue;
      }
      const end = performance.now();
      requests++;
      bytes += size;
      status.set(response.status, (status.get(response.status) ?? 0) + 1);
      const totalMs = end - begin;
      latency.recordValue(Math.max(1, Math.round(totalMs * 1_000)));
      ttfb.recordValue(Math.max(1, Math.round((headersAt - begin) * 1_000)));
      buckets[bucketIndex(totalMs)]!++;
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, loop));
  } finally {
    clearTimeout(timer);
  }
  const elapsedMs = performance.now() - started;
  const seconds = elapsedMs / 1_000;
  const result: BenchResult = {
    url,
    method: options.method,
    concurrency: options.concurrency,
    durationMs: options.durationMs,
    elapsedMs,
    requests,
    errors,
    errorKinds: Object.fromEntries(errorKinds),
    unfinished,
    bytes,
    requestsPerSecond: requests / seconds,
    bytesPerSecond: bytes / seconds,
    status: Object.fromEntries(
      [...status].sort((a, b) => a[0] - b[0]).map(([k, v]) => [
        String(k),
        v,
      ]),
    ),
    latencyMs: summarize(latency),
    ttfbMs: summarize(ttfb),
    histogram: histogramBuckets(buckets),
  };
  latency.destroy();
  ttfb.destroy();
  return result;
}
