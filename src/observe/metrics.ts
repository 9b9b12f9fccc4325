// Owns GatewayMetrics: every Prometheus metric name, the per-request recording into preallocated
// plain counters, and the prom-client registry that reads them at scrape time (the only importer
// of prom-client).

import process from "node:process";
import { Counter, Gauge, Histogram, type Metric, Registry } from "prom-client";
import { ERROR_CODE } from "../errors.ts";

// ---- what the app lends the metrics at scrape time ----------------------------------------------

/** A breaker's state as Origin.circuit() reports it. */
export interface ScrapedCircuit {
  state: "closed" | "open" | "half_open";
  consecutiveFailures: number;
}

/** One configured bucket of the current config generation (BucketRuntime fits). */
export interface ScrapedBucket {
  readonly name: string;
  readonly origin: {
    circuit(): ScrapedCircuit | undefined;
    /** Replica sets only: each replica's health (breaker closed). */
    health?: () => { name: string; healthy: boolean }[];
  };
}

/** One cache tier's counters (TierReport fits). */
export interface ScrapedTier {
  name: string;
  hits: number;
  misses: number;
  evictions: number;
  items: number;
  bytes: number;
  maxBytes: number;
  errors: number;
}

/** The cache (TieredCache fits): read at scrape time, never counted twice. */
export interface ScrapedCache {
  report(): { hits: number; misses: number; evictions: number; tiers: ScrapedTier[] };
  /** Recounts lazily kept figures (Redis items and bytes: a SCAN); run in the background, throttled. */
  liveReport?(): Promise<unknown>;
  /** Purges made so far (admin API, reloads). */
  readonly purges?: number;
}

export interface MetricsSources {
  /** Requests whose response is not fully delivered yet. */
  inFlight(): number;
  /** The current generation's buckets (read at each scrape, so a reload shows at once). */
  buckets(): Iterable<ScrapedBucket>;
  cache?: ScrapedCache | undefined;
}

// ---- what the origins report -------------------------------------------------------------------

/** The kinds of S3 calls: object reads, listings (prewarm), HEAD-bucket probes (/ready, replicas). */
export type S3Operation = "GET" | "HEAD" | "LIST" | "PROBE";

/** What an S3 origin tells the metrics about its attempts (S3Origin calls it; no-op when absent). */
export interface OriginObserver {
  /** An attempt is being sent. */
  sent(operation: S3Operation): void;
  /** Response headers arrived `seconds` after the attempt was sent (time to first byte). */
  firstByte(seconds: number): void;
  /** An attempt failed (an S3 error status, a timeout, a connection error), by the gateway's error code. */
  failed(code: string): void;
  /** Another attempt follows a failed one. */
  retried(): void;
  /** A request succeeded after at least one retry. */
  retrySucceeded(): void;
  /** A retryable failure was given up on: attempts or time ran out. */
  retriesExhausted(): void;
}

// ---- fixed layouts ----------------------------------------------------------------------------

/** Upper bounds (seconds) of the request duration histogram; +Inf is implied. */
export const REQUEST_DURATION_BOUNDS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];
/** Upper bounds (seconds) of S3's time to first byte. */
export const TTFB_BOUNDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];
const PREWARM_DURATION_BOUNDS = [1, 5, 15, 60, 300, 900, 3600];
const IMAGE_DURATION_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Method labels: the methods a gateway answers, and "other" for the rest (always 405). */
const METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "other"] as const;
const OTHER_METHOD = METHODS.length - 1;

function methodIndex(method: string): number {
  // Plain comparisons: cheaper than a Map lookup for the two methods nearly every request has.
  if (method === "GET") return 0;
  if (method === "HEAD") return 1;
  if (method === "OPTIONS") return 2;
  if (method === "POST") return 3;
  if (method === "PUT") return 4;
  if (method === "DELETE") return 5;
  if (method === "PATCH") return 6;
  return OTHER_METHOD;
}

/**
 * Distinct statuses are given slots as they first occur (a handful in practice); slot 0 means
 * "none yet" and the last slot collects any status past the first 62 (and non-HTTP numbers).
 */
const STATUS_SLOTS = 64;
const OTHER_STATUS = STATUS_SLOTS - 1;

/** Error code labels: the stable codes of errors.ts, the access log's client_closed, and "other". */
const ERROR_CODES: readonly string[] = [...Object.keys(ERROR_CODE), "client_closed", "other"];
const ERROR_INDEX = new Map(ERROR_CODES.map((code, index) => [code, index]));
const OTHER_ERROR = ERROR_CODES.length - 1;

/** Codes that mean the caller failed authentication or authorization on the object path. */
const AUTH_FAILURE_CODES = [
  "token_missing",
  "token_invalid",
  "forbidden",
  "signed_url_invalid",
  "signed_url_expired",
] as const;

/** A histogram with fixed bounds: counts per bucket (not cumulative) and the sum, filled by a short loop. */
export class FixedHistogram {
  readonly bounds: readonly number[];
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    const last = bounds.length;
    let index = 0;
    // Most requests are fast: the loop usually stops at the first or second bound.
    while (index < last && value > bounds[index]!) index++;
    this.counts[index]!++;
    this.sum += value;
  }

  get count(): number {
    let total = 0;
    for (const count of this.counts) total += count;
    return total;
  }
}

/** One bucket's request counters ("" is the slot of requests that matched no bucket). */
class BucketSlot {
  /** [method * STATUS_SLOTS + status slot] -> requests. */
  readonly requests = new Float64Array(METHODS.length * STATUS_SLOTS);
  readonly duration = new FixedHistogram(REQUEST_DURATION_BOUNDS);
  /** [error code index] -> responses made from that error. */
  readonly errors = new Float64Array(ERROR_CODES.length);
  bytesSent = 0;
  authSuccess = 0;
  authBypassed = 0;
  constructor(readonly name: string) {}
}

/** One S3 endpoint's counters: a bucket's single origin (replica "default") or one replica. */
class OriginSlot implements OriginObserver {
  readonly operations = new Float64Array(4);
  readonly ttfb = new FixedHistogram(TTFB_BOUNDS);
  readonly errors = new Float64Array(ERROR_CODES.length);
  retryAttempts = 0;
  retrySuccesses = 0;
  retryExhausted = 0;
  constructor(readonly bucket: string, readonly replica: string) {}

  sent(operation: S3Operation): void {
    this.operations[S3_OPERATIONS.indexOf(operation)]!++;
  }
  firstByte(seconds: number): void {
    this.ttfb.observe(seconds);
  }
  failed(code: string): void {
    this.errors[ERROR_INDEX.get(code) ?? OTHER_ERROR]!++;
  }
  retried(): void {
    this.retryAttempts++;
  }
  retrySucceeded(): void {
    this.retrySuccesses++;
  }
  retriesExhausted(): void {
    this.retryExhausted++;
  }
}

const S3_OPERATIONS: readonly S3Operation[] = ["GET", "HEAD", "LIST", "PROBE"];

// ---- scrape-time metric objects ----------------------------------------------------------------

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
  /** For histograms: `<name>_bucket`, `_sum` or `_count`. */
  metricName?: string;
}
type MetricType = "counter" | "gauge" | "histogram";

/**
 * A metric whose samples are computed when scraped, from the plain counters above. It has the
 * shape prom-client's Registry formats (name, help, type, get()), so no label object is hashed on
 * the request path: prom-client's own counter.labels(...).inc() costs hundreds of ns per call.
 */
class ScrapedMetric {
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly read: () => Sample[],
  ) {}
  get() {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.read(),
      aggregator: this.aggregator,
    });
  }
  reset(): void {}
}

/** The `_bucket` (cumulative), `_sum` and `_count` samples of a histogram. */
export function histogramSamples(
  name: string,
  labels: Labels,
  histogram: FixedHistogram,
): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  histogram.bounds.forEach((bound, index) => {
    cumulative += histogram.counts[index]!;
    samples.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: String(bound) },
      value: cumulative,
    });
  });
  cumulative += histogram.counts[histogram.bounds.length]!;
  samples.push({
    metricName: `${name}_bucket`,
    labels: { ...labels, le: "+Inf" },
    value: cumulative,
  });
  samples.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
  samples.push({ metricName: `${name}_count`, labels, value: cumulative });
  return samples;
}

const CIRCUIT_STATE_VALUE = { closed: 0, open: 1, half_open: 2 } as const;

/** A label value set that stops growing at `max` distinct values (the rest become "other"). */
function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  };
}

export interface GatewayMetricsOptions {
  /** Also export prom-client's process_* and nodejs_* metrics (CPU, memory, fds, event loop). Default true. */
  processMetrics?: boolean;
  /** The gateway's version, for yatagarasu_build_info. */
  version?: string;
  /** Milliseconds between background recounts of lazily kept cache figures (Redis). Default 30000. */
  cacheRefreshMs?: number;
}

/**
 * The gateway's metrics. Requests and S3 attempts are recorded into plain typed arrays (a few
 * additions, no allocation); cache, breaker and replica figures are read from their owners when
 * scraped; rare events (reloads, failovers, prewarm, images) use prom-client metrics directly.
 * Labels are bounded: bucket and replica names come from the config, statuses, methods and error
 * codes from fixed sets; never an object key or a client address.
 */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly #startedAt = Date.now();
  readonly #statusSlot = new Uint8Array(600);
  readonly #statuses: string[] = ["", ...Array(STATUS_SLOTS - 2).fill(""), "other"];
  #nextStatusSlot = 1;
  readonly #unrouted = new BucketSlot("");
  readonly #buckets = new Map<string, BucketSlot>();
  readonly #origins = new Map<string, OriginSlot>();
  #sources: MetricsSources | undefined;
  readonly #cacheRefreshMs: number;
  #lastCacheRefresh = 0;

  readonly #reloadSuccess: Counter;
  readonly #reloadFailure: Counter;
  readonly #generation: Gauge;
  readonly #failovers: Counter<"bucket" | "from" | "to">;
  readonly #transitions: Counter<"bucket" | "replica" | "to">;
  readonly #prewarmTasks: Counter<"status">;
  readonly #prewarmFiles: Counter;
  readonly #prewarmBytes: Counter;
  readonly #prewarmErrors: Counter;
  readonly #prewarmSkipped: Counter;
  readonly #prewarmDuration: Histogram;
  readonly #images: Counter<"format">;
  readonly #imageErrors: Counter<"type">;
  readonly #imageDuration: Histogram;
  readonly #imageBytesOriginal: Counter;
  readonly #imageBytesProcessed: Counter;
  readonly #imageBytesSaved: Counter;
  readonly #imageFormat = boundedLabel(16);
  readonly #imageErrorType = boundedLabel(16);

  constructor(options: GatewayMetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    this.#cacheRefreshMs = options.cacheRefreshMs ?? 30_000;
    const registers = [registry];
    this.#registerRequests();
    this.#registerOrigins();
    this.#registerGauges(options.version);
    this.#registerCache();

    this.#reloadSuccess = new Counter({
      name: "config_reload_success_total",
      help: "Config reloads that were applied.",
      registers,
    });
    this.#reloadFailure = new Counter({
      name: "config_reload_failure_total",
      help: "Config reloads that were rejected (the running config stayed).",
      registers,
    });
    this.#generation = new Gauge({
      name: "config_generation",
      help: "The config generation being served (1 at start, +1 per applied reload).",
      registers,
    });
    this.#generation.set(1);
    this.#failovers = new Counter({
      name: "replica_failovers_total",
      help: "Requests moved on from a failed replica to the next one.",
      labelNames: ["bucket", "from", "to"],
      registers,
    });
    this.#transitions = new Counter({
      name: "circuit_breaker_transitions_total",
      help: "Circuit breaker state changes, by the state entered.",
      labelNames: ["bucket", "replica", "to"],
      registers,
    });
    this.#prewarmTasks = new Counter({
      name: "yatagarasu_prewarm_tasks_total",
      help: "Prewarm tasks finished, by final status (completed, failed, cancelled).",
      labelNames: ["status"],
      registers,
    });
    this.#prewarmFiles = new Counter({
      name: "yatagarasu_prewarm_files_total",
      help: "Objects a prewarm task put in the cache.",
      registers,
    });
    this.#prewarmBytes = new Counter({
      name: "yatagarasu_prewarm_bytes_total",
      help: "Bytes a prewarm task put in the cache.",
      registers,
    });
    this.#prewarmErrors = new Counter({
      name: "yatagarasu_prewarm_errors_total",
      help: "Objects a prewarm task failed to fetch.",
      registers,
    });
    this.#prewarmSkipped = new Counter({
      name: "yatagarasu_prewarm_skipped_total",
      help:
        "Objects a prewarm task fetched but could not cache (too large, not storable, bucket opted out).",
      registers,
    });
    this.#prewarmDuration = new Histogram({
      name: "yatagarasu_prewarm_duration_seconds",
      help: "How long finished prewarm tasks ran.",
      buckets: PREWARM_DURATION_BOUNDS,
      registers,
    });
    this.#images = new Counter({
      name: "yatagarasu_image_processing_total",
      help: "Images transformed, by output format.",
      labelNames: ["format"],
      registers,
    });
    this.#imageErrors = new Counter({
      name: "yatagarasu_image_processing_errors_total",
      help: "Image transformations that failed, by error type.",
      labelNames: ["type"],
      registers,
    });
    this.#imageDuration = new Histogram({
      name: "yatagarasu_image_processing_duration_seconds",
      help: "Time spent transforming one image.",
      buckets: IMAGE_DURATION_BOUNDS,
      registers,
    });
    this.#imageBytesOriginal = new Counter({
      name: "yatagarasu_image_bytes_original_total",
      help: "Bytes of the source images transformed.",
      registers,
    });
    this.#imageBytesProcessed = new Counter({
      name: "yatagarasu_image_bytes_processed_total",
      help: "Bytes of the transformed images.",
      registers,
    });
    this.#imageBytesSaved = new Counter({
      name: "yatagarasu_image_bytes_saved_total",
      help: "Bytes saved by transformations (original minus processed, when smaller).",
      registers,
    });
    if (options.processMetrics ?? true) registerProcessMetrics(registry);
  }

  /** Lends the metrics what they read at scrape time (the app calls it once it is built). */
  attach(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    this.#refreshCache();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // ---- per request: plain arithmetic only ------------------------------------------------------

  /**
   * Records one finished request. `bucket` is undefined when it matched no bucket (health, admin,
   * unknown path); `identity` is how the caller authenticated (undefined before the object path);
   * `authRequired` says whether the bucket asks for a token or a signed URL.
   */
  request(
    bucket: string | undefined,
    method: string,
    status: number,
    seconds: number,
    bytesSent: number,
    code: string | undefined,
    identity: string | undefined,
    authRequired: boolean,
  ): void {
    const slot = bucket === undefined ? this.#unrouted : this.#buckets.get(bucket) ??
      this.#bucket(bucket);
    let statusSlot = status >= 0 && status < 600 ? this.#statusSlot[status]! : OTHER_STATUS;
    if (statusSlot === 0) statusSlot = this.#assignStatus(status);
    slot.requests[methodIndex(method) * STATUS_SLOTS + statusSlot]!++;
    slot.duration.observe(seconds);
    slot.bytesSent += bytesSent;
    if (code !== undefined) slot.errors[ERROR_INDEX.get(code) ?? OTHER_ERROR]!++;
    if (bucket !== undefined && identity !== undefined) {
      if (identity !== "public") slot.authSuccess++;
      else if (!authRequired) slot.authBypassed++;
    }
  }

  /** The observer of one S3 endpoint (replica "default" for a bucket's single origin); kept across reloads. */
  origin(bucket: string, replica: string): OriginObserver {
    const key = `${bucket}\u0000${replica}`;
    let slot = this.#origins.get(key);
    if (slot === undefined) {
      slot = new OriginSlot(bucket, replica);
      this.#origins.set(key, slot);
    }
    return slot;
  }

  // ---- rare events ----------------------------------------------------------------------------

  circuitTransition(bucket: string, replica: string, to: ScrapedCircuit["state"]): void {
    this.#transitions.inc({ bucket, replica, to });
  }

  failover(bucket: string, from: string, to: string): void {
    this.#failovers.inc({ bucket, from, to });
  }

  /** One object of a prewarm task: cached (with its bytes), fetched but not cacheable, or failed. */
  prewarmFile(outcome: "cached" | "skipped" | "failed", bytes = 0): void {
    if (outcome === "cached") {
      this.#prewarmFiles.inc();
      this.#prewarmBytes.inc(bytes);
    } else if (outcome === "skipped") this.#prewarmSkipped.inc();
    else this.#prewarmErrors.inc();
  }

  /** A prewarm task finished with `status` after `seconds`. */
  prewarmTask(status: string, seconds: number): void {
    this.#prewarmTasks.inc({ status });
    this.#prewarmDuration.observe(Math.max(0, seconds));
  }

  /** A config reload was applied ("success") or rejected ("failure"). */
  recordReload(outcome: "success" | "failure"): void {
    (outcome === "success" ? this.#reloadSuccess : this.#reloadFailure).inc();
  }

  /** The config generation now served. */
  setGeneration(generation: number): void {
    this.#generation.set(generation);
  }

  /**
   * One image transformation: its output format, time, and sizes; `error` names the failure type
   * (decode, limits, timeout...) when it failed. At most 16 distinct formats and error types are
   * kept as labels (the rest are "other").
   */
  recordImage(image: {
    format: string;
    seconds: number;
    bytesIn: number;
    bytesOut?: number;
    error?: string | undefined;
  }): void {
    this.#imageDuration.observe(Math.max(0, image.seconds));
    if (image.error !== undefined) {
      this.#imageErrors.inc({ type: this.#imageErrorType(image.error) });
      return;
    }
    const bytesOut = image.bytesOut ?? 0;
    this.#images.inc({ format: this.#imageFormat(image.format) });
    this.#imageBytesOriginal.inc(Math.max(0, image.bytesIn));
    this.#imageBytesProcessed.inc(Math.max(0, bytesOut));
    this.#imageBytesSaved.inc(Math.max(0, image.bytesIn - bytesOut));
  }

  // ---- internals ------------------------------------------------------------------------------

  #bucket(name: string): BucketSlot {
    const slot = new BucketSlot(name);
    this.#buckets.set(name, slot);
    return slot;
  }

  #assignStatus(status: number): number {
    if (this.#nextStatusSlot >= OTHER_STATUS) return OTHER_STATUS;
    const slot = this.#nextStatusSlot++;
    this.#statusSlot[status] = slot;
    this.#statuses[slot] = String(status);
    return slot;
  }

  #slots(): BucketSlot[] {
    return [this.#unrouted, ...this.#buckets.values()];
  }

  #add(name: string, help: string, type: MetricType, read: () => Sample[]): void {
    this.registry.registerMetric(new ScrapedMetric(name, help, type, read) as unknown as Metric);
  }

  #registerRequests(): void {
    const perStatus = (
      slot: BucketSlot,
      each: (method: string, status: string, n: number) => void,
    ) => {
      const requests = slot.requests;
      for (let m = 0; m < METHODS.length; m++) {
        for (let s = 1; s < STATUS_SLOTS; s++) {
          const n = requests[m * STATUS_SLOTS + s]!;
          if (n > 0) each(METHODS[m]!, this.#statuses[s]!, n);
        }
      }
    };
    this.#add(
      "http_requests_total",
      'Requests answered, by bucket ("" when none matched), method and status.',
      "counter",
      () => {
        const samples: Sample[] = [];
        for (const slot of this.#slots()) {
          perStatus(
            slot,
            (method, status, value) =>
              samples.push({ labels: { bucket: slot.name, method, status }, value }),
          );
        }
        return samples;
      },
    );
    const summed = (
      key: (slot: BucketSlot, method: string, status: string) => string | undefined,
    ) => {
      const totals = new Map<string, number>();
      for (const slot of this.#slots()) {
        perStatus(slot, (method, status, n) => {
          const label = key(slot, method, status);
          if (label !== undefined) totals.set(label, (totals.get(label) ?? 0) + n);
        });
      }
      return totals;
    };
    this.#add(
      "http_requests_by_status_total",
      "Requests answered, by status (the original's name; http_requests_total has every label).",
      "counter",
      () =>
        [...summed((_, __, status) => status)].map(([status, value]) => ({
          labels: { status },
          value,
        })),
    );
    this.#add(
      "http_requests_by_method_total",
      "Requests answered, by method.",
      "counter",
      () =>
        [...summed((_, method) => method)].map(([method, value]) => ({
          labels: { method },
          value,
        })),
    );
    this.#add(
      "http_requests_by_bucket_total",
      "Requests answered, by the bucket they were routed to.",
      "counter",
      () =>
        [...summed((slot) => slot.name === "" ? undefined : slot.name)].map(([bucket, value]) => ({
          labels: { bucket },
          value,
        })),
    );
    this.#add(
      "http_request_duration_seconds",
      "Time from receiving a request to handing over its response (to the end of delivery for streamed bodies).",
      "histogram",
      () =>
        this.#slots().flatMap((slot) =>
          slot.duration.count === 0 ? [] : histogramSamples(
            "http_request_duration_seconds",
            { bucket: slot.name },
            slot.duration,
          )
        ),
    );
    this.#add(
      "bytes_sent_total",
      "Response body bytes delivered to clients (bodies cut short by the client are not counted).",
      "counter",
      () =>
        this.#slots().filter((slot) => slot.bytesSent > 0).map((slot) => ({
          labels: { bucket: slot.name },
          value: slot.bytesSent,
        })),
    );
    const errorCount = (slot: BucketSlot, code: string) => slot.errors[ERROR_INDEX.get(code)!]!;
    this.#add(
      "http_errors_total",
      "Responses the gateway made from an error, by bucket and stable error code (see the README's error table).",
      "counter",
      () => {
        const samples: Sample[] = [];
        for (const slot of this.#slots()) {
          slot.errors.forEach((value, index) => {
            if (value > 0) {
              samples.push({ labels: { bucket: slot.name, code: ERROR_CODES[index]! }, value });
            }
          });
        }
        return samples;
      },
    );
    const byBucketCode = (code: string) => () =>
      this.#slots().flatMap((slot) => {
        const value = errorCount(slot, code);
        return value > 0 ? [{ labels: { bucket: slot.name }, value }] : [];
      });
    const total = (...codes: string[]) => () => [{
      labels: {},
      value: this.#slots().reduce(
        (sum, slot) => sum + codes.reduce((n, code) => n + errorCount(slot, code), 0),
        0,
      ),
    }];
    this.#add(
      "rate_limit_exceeded_total",
      'Requests refused with 429 by a rate limit, by bucket ("" for the global and per-IP limits, checked before routing).',
      "counter",
      byBucketCode("rate_limited"),
    );
    this.#add(
      "concurrency_limit_rejections_total",
      "Requests refused with 503 by server.max_concurrent_requests.",
      "counter",
      total("overloaded"),
    );
    this.#add(
      "circuit_breaker_rejections_total",
      "Requests refused with 503 because the bucket's circuit breaker was open.",
      "counter",
      byBucketCode("circuit_open"),
    );
    this.#add(
      "security_uri_too_long_total",
      "Requests refused with 414 (server.security_limits.max_uri_length).",
      "counter",
      total("uri_too_long"),
    );
    this.#add(
      "security_headers_too_large_total",
      "Requests refused with 431 (server.security_limits.max_header_size).",
      "counter",
      total("headers_too_large"),
    );
    this.#add(
      "security_payload_too_large_total",
      "Requests refused with 413 (server.security_limits.max_body_size).",
      "counter",
      total("payload_too_large"),
    );
    this.#add(
      "auth_success_total",
      "Object requests whose caller authenticated (JWT or signed URL), by bucket.",
      "counter",
      () =>
        this.#slots().filter((slot) => slot.authSuccess > 0).map((slot) => ({
          labels: { bucket: slot.name },
          value: slot.authSuccess,
        })),
    );
    this.#add(
      "auth_failure_total",
      "Object requests refused by authentication or authorization, by bucket and reason (the error code).",
      "counter",
      () =>
        this.#slots().flatMap((slot) =>
          AUTH_FAILURE_CODES.flatMap((reason) => {
            const value = slot.name === "" ? 0 : errorCount(slot, reason);
            return value > 0 ? [{ labels: { bucket: slot.name, reason }, value }] : [];
          })
        ),
    );
    this.#add(
      "auth_bypassed_total",
      "Object requests to buckets without authentication, by bucket.",
      "counter",
      () =>
        this.#slots().filter((slot) => slot.authBypassed > 0).map((slot) => ({
          labels: { bucket: slot.name },
          value: slot.authBypassed,
        })),
    );
  }

  #registerOrigins(): void {
    const origins = () => [...this.#origins.values()];
    const labels = (slot: OriginSlot) => ({ bucket: slot.bucket, replica: slot.replica });
    this.#add(
      "s3_operations_total",
      'Attempts sent to S3, by bucket, replica ("default" for a single endpoint) and operation (GET, HEAD, LIST, PROBE).',
      "counter",
      () =>
        origins().flatMap((slot) =>
          S3_OPERATIONS.flatMap((operation, index) => {
            const value = slot.operations[index]!;
            return value > 0 ? [{ labels: { ...labels(slot), operation }, value }] : [];
          })
        ),
    );
    this.#add(
      "s3_errors_total",
      "S3 attempts that failed (error statuses, timeouts, connection errors), by the gateway's error code.",
      "counter",
      () =>
        origins().flatMap((slot) => {
          const samples: Sample[] = [];
          slot.errors.forEach((value, index) => {
            if (value > 0) {
              samples.push({ labels: { ...labels(slot), error_code: ERROR_CODES[index]! }, value });
            }
          });
          return samples;
        }),
    );
    this.#add(
      "s3_time_to_first_byte_seconds",
      "Time from sending an attempt to S3 until its response headers arrived.",
      "histogram",
      () =>
        origins().flatMap((slot) =>
          slot.ttfb.count === 0
            ? []
            : histogramSamples("s3_time_to_first_byte_seconds", labels(slot), slot.ttfb)
        ),
    );
    const retry = (pick: (slot: OriginSlot) => number) => () =>
      origins().filter((slot) => pick(slot) > 0).map((slot) => ({
        labels: labels(slot),
        value: pick(slot),
      }));
    this.#add(
      "s3_retry_attempts_total",
      "Retries sent to S3 (attempts after the first).",
      "counter",
      retry((slot) => slot.retryAttempts),
    );
    this.#add(
      "s3_retry_success_total",
      "Requests to S3 that succeeded after at least one retry.",
      "counter",
      retry((slot) => slot.retrySuccesses),
    );
    this.#add(
      "s3_retry_exhausted_total",
      "Retryable S3 failures given up on (buckets[].s3.retry.max_attempts or server.request_timeout reached).",
      "counter",
      retry((slot) => slot.retryExhausted),
    );
  }

  #registerGauges(version: string | undefined): void {
    const inFlight = () => [{ labels: {}, value: this.#sources?.inFlight() ?? 0 }];
    this.#add(
      "http_requests_in_flight",
      "Requests whose response is not fully delivered yet.",
      "gauge",
      inFlight,
    );
    this.#add(
      "active_connections",
      "The original's name for http_requests_in_flight.",
      "gauge",
      inFlight,
    );
    this.#add("uptime_seconds", "Seconds since the gateway started.", "gauge", () => [{
      labels: {},
      value: (Date.now() - this.#startedAt) / 1000,
    }]);
    this.#add("memory_usage_bytes", "Resident set size of the process.", "gauge", () => [{
      labels: {},
      value: Deno.memoryUsage().rss,
    }]);
    this.#add("yatagarasu_build_info", "The running version (value 1).", "gauge", () => [{
      labels: { version: version ?? "unknown" },
      value: 1,
    }]);
    const buckets = () => [...(this.#sources?.buckets() ?? [])];
    this.#add(
      "circuit_breaker_state",
      "The bucket's circuit breaker: 0 closed, 1 open, 2 half-open (buckets with a breaker; for replica sets, the replica in use).",
      "gauge",
      () =>
        buckets().flatMap((bucket) => {
          const circuit = bucket.origin.circuit();
          return circuit === undefined
            ? []
            : [{ labels: { bucket: bucket.name }, value: CIRCUIT_STATE_VALUE[circuit.state] }];
        }),
    );
    this.#add(
      "circuit_breaker_failures",
      "Consecutive failures the bucket's circuit breaker has counted.",
      "gauge",
      () =>
        buckets().flatMap((bucket) => {
          const circuit = bucket.origin.circuit();
          return circuit === undefined
            ? []
            : [{ labels: { bucket: bucket.name }, value: circuit.consecutiveFailures }];
        }),
    );
    this.#add(
      "replica_health",
      "1 while the replica's breaker is closed, else 0 (buckets with s3.replicas).",
      "gauge",
      () =>
        buckets().flatMap((bucket) =>
          (bucket.origin.health?.() ?? []).map((replica) => ({
            labels: { bucket: bucket.name, replica: replica.name },
            value: replica.healthy ? 1 : 0,
          }))
        ),
    );
    this.#add(
      "backend_health",
      "1 while the bucket has a healthy backend (a replica with a closed breaker, or a breaker not open), else 0.",
      "gauge",
      () =>
        buckets().map((bucket) => {
          const replicas = bucket.origin.health?.();
          const healthy = replicas !== undefined
            ? replicas.some((replica) => replica.healthy)
            : bucket.origin.circuit()?.state !== "open";
          return { labels: { bucket: bucket.name }, value: healthy ? 1 : 0 };
        }),
    );
  }

  #registerCache(): void {
    const report = () => this.#sources?.cache?.report();
    const whole = (pick: (r: NonNullable<ReturnType<typeof report>>) => number) => () => {
      const r = report();
      return r === undefined ? [] : [{ labels: {}, value: pick(r) }];
    };
    this.#add(
      "yatagarasu_cache_hits_total",
      "Requests answered fresh by any cache tier.",
      "counter",
      whole((r) => r.hits),
    );
    this.#add(
      "yatagarasu_cache_misses_total",
      "Requests no cache tier could answer fresh.",
      "counter",
      whole((r) => r.misses),
    );
    this.#add(
      "yatagarasu_cache_evictions_total",
      "Entries evicted to make room, all tiers.",
      "counter",
      whole((r) => r.evictions),
    );
    this.#add(
      "yatagarasu_cache_purges_total",
      "Cache purges (the admin API, and reloads that re-point a bucket to another origin).",
      "counter",
      () => {
        const cache = this.#sources?.cache;
        return cache?.purges === undefined ? [] : [{ labels: {}, value: cache.purges }];
      },
    );
    const perTier = (pick: (tier: ScrapedTier) => number) => () =>
      (report()?.tiers ?? []).map((tier) => ({ labels: { layer: tier.name }, value: pick(tier) }));
    this.#add(
      "yatagarasu_cache_hits_by_layer",
      "Lookups a tier answered fresh, by layer (memory, disk, redis).",
      "counter",
      perTier((tier) => tier.hits),
    );
    this.#add(
      "yatagarasu_cache_misses_by_layer",
      "Lookups a tier could not answer fresh, by layer.",
      "counter",
      perTier((tier) => tier.misses),
    );
    this.#add(
      "yatagarasu_cache_evictions_by_layer",
      "Entries a tier evicted to make room, by layer.",
      "counter",
      perTier((tier) => tier.evictions),
    );
    this.#add(
      "yatagarasu_cache_errors_by_layer",
      "Tier operations that failed (I/O errors, Redis unreachable) and were answered as misses, by layer.",
      "counter",
      perTier((tier) => tier.errors),
    );
    this.#add(
      "yatagarasu_cache_size_by_layer",
      "Bytes a tier holds, by layer (Redis: as of the last recount, at most cacheRefreshMs old).",
      "gauge",
      perTier((tier) => tier.bytes),
    );
    this.#add(
      "yatagarasu_cache_items_by_layer",
      "Entries a tier holds, by layer.",
      "gauge",
      perTier((tier) => tier.items),
    );
    this.#add(
      "yatagarasu_cache_max_size_by_layer",
      "A tier's configured capacity in bytes, by layer.",
      "gauge",
      perTier((tier) => tier.maxBytes),
    );
  }

  /** Starts a background recount of lazily kept cache figures, at most every cacheRefreshMs. */
  #refreshCache(): void {
    const cache = this.#sources?.cache;
    if (cache?.liveReport === undefined) return;
    const now = Date.now();
    if (now - this.#lastCacheRefresh < this.#cacheRefreshMs) return;
    this.#lastCacheRefresh = now;
    cache.liveReport().catch(() => {});
  }
}

/**
 * The process metrics Prometheus' conventions name (process_cpu_*, process_resident_memory_bytes,
 * process_open_fds, process_start_time_seconds) and V8's heap, all read at scrape time. Not
 * prom-client's collectDefaultMetrics: under Deno its event-loop and GC monitors cost about 5% of
 * the cache-hit rate (measured with bench/ops_overhead.sh, metrics only, no scrapes).
 */
function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const startSeconds = Math.round(Date.now() / 1000 - performance.now() / 1000);
  const cpu = (pick: (usage: NodeJS.CpuUsage) => number) => () => pick(process.cpuUsage()) / 1e6;
  const counters: [string, string, () => number][] = [
    ["process_cpu_user_seconds_total", "User CPU time spent in seconds.", cpu((u) => u.user)],
    ["process_cpu_system_seconds_total", "System CPU time spent in seconds.", cpu((u) => u.system)],
    [
      "process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.",
      cpu((u) => u.user + u.system),
    ],
  ];
  for (const [name, help, read] of counters) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
  const gauges: [string, string, () => number | undefined][] = [
    [
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      () => startSeconds,
    ],
    [
      "process_resident_memory_bytes",
      "Resident memory size in bytes.",
      () => Deno.memoryUsage().rss,
    ],
    ["nodejs_heap_size_total_bytes", "V8 heap size in bytes.", () => Deno.memoryUsage().heapTotal],
    ["nodejs_heap_size_used_bytes", "V8 heap used in bytes.", () => Deno.memoryUsage().heapUsed],
    [
      "nodejs_external_memory_bytes",
      "Memory of V8-managed objects outside the heap (buffers), in bytes.",
      () => Deno.memoryUsage().external,
    ],
    ["process_open_fds", "Number of open file descriptors (Linux only).", openFileDescriptors],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }
}

/** Entries of /proc/self/fd (minus the one reading it), or undefined where there is no /proc. */
function openFileDescriptors(): number | undefined {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
    return count - 1;
  } catch {
    return undefined;
  }
}
