// Owns /health (liveness) and /ready (each bucket probed with a signed HEAD, cached briefly).

import type { BucketRuntime } from "../proxy/bucket_runtime.ts";
import type { CircuitSnapshot } from "../origin/circuit_breaker.ts";
import type { ProbeResult } from "../origin/origin.ts";
import { ReplicaSetOrigin } from "../origin/replica_set.ts";
import type { EngineInfo } from "../image/engine.ts";

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

/** `{"status":"healthy","uptime_seconds":n,"version":"x"}`: the process is up and serving. */
export function healthResponse(startedAtMs: number, version: string): Response {
  const body = {
    status: "healthy",
    uptime_seconds: Math.floor((Date.now() - startedAtMs) / 1000),
    version,
  };
  return new Response(JSON.stringify(body), { headers: JSON_HEADERS });
}

export interface ReadinessOptions {
  /** How long one round of probes answers /ready before the buckets are probed again. */
  cacheMs?: number;
  /** How long one probe may take before the bucket counts as unreachable. */
  probeTimeoutMs?: number;
}

interface ReadinessReport {
  ready: boolean;
  /** By bucket name; each gets its breaker's state added when answered. */
  backends: Record<string, Record<string, unknown>>;
  checkedAt: string;
  at: number;
}

/**
 * Probes every bucket at most once per `cacheMs`, however often /ready is polled, and lets
 * concurrent callers share the probe round in flight: a load balancer polling every second must
 * not turn into a HEAD per bucket per poll.
 */
export class ReadinessChecker {
  readonly #buckets: readonly BucketRuntime[];
  readonly #cacheMs: number;
  readonly #probeTimeoutMs: number;
  #last: ReadinessReport | undefined;
  #inFlight: Promise<ReadinessReport> | undefined;
  /** The image engine that runs, when any bucket has image_optimization (reported as `image_engine`). */
  readonly #imageEngine: EngineInfo | undefined;

  constructor(
    buckets: readonly BucketRuntime[],
    options: ReadinessOptions = {},
    imageEngine?: EngineInfo,
  ) {
    this.#buckets = buckets;
    this.#imageEngine = imageEngine;
    this.#cacheMs = options.cacheMs ?? 5000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000;
  }

  async response(): Promise<Response> {
    const report = await this.#report();
    // Breaker states are read now, not with the cached probes: an open breaker shows at once.
    const backends: Record<string, unknown> = {};
    let ready = report.ready;
    for (const bucket of this.#buckets) {
      if (bucket.origin instanceof ReplicaSetOrigin) {
        // Replica sets: each replica's health is its breaker's state (kept current by the
        // replica set's own probes), read now.
        const health = bucket.origin.health();
        const healthy = health.filter((replica) => replica.healthy).length;
        if (healthy === 0) ready = false;
        backends[bucket.name] = {
          status: healthy === health.length ? "ready" : healthy === 0 ? "unavailable" : "degraded",
          replicas: Object.fromEntries(
            health.map((replica) => [replica.name, replica.healthy ? "healthy" : "unhealthy"]),
          ),
          circuit_breaker: circuitReport(bucket.origin.circuit()),
        };
        continue;
      }
      backends[bucket.name] = {
        ...report.backends[bucket.name],
        circuit_breaker: circuitReport(bucket.origin.circuit()),
      };
    }
    const body = JSON.stringify({
      status: ready ? "ready" : "unavailable",
      checked_at: report.checkedAt,
      backends,
      ...(this.#imageEngine === undefined ? {} : { image_engine: engineReport(this.#imageEngine) }),
    });
    return new Response(body, { status: ready ? 200 : 503, headers: JSON_HEADERS });
  }

  #report(): Promise<ReadinessReport> {
    if (this.#last !== undefined && Date.now() - this.#last.at < this.#cacheMs) {
      return Promise.resolve(this.#last);
    }
    this.#inFlight ??= this.#probeAll().then((report) => {
      this.#last = report;
      return report;
    }).finally(() => this.#inFlight = undefined);
    return this.#inFlight;
  }

  async #probeAll(): Promise<ReadinessReport> {
    // Replica sets are reported from their breakers in response(), not probed here.
    const probed = this.#buckets.filter((bucket) => !(bucket.origin instanceof ReplicaSetOrigin));
    const results = await Promise.all(probed.map((bucket) => this.#probe(bucket)));
    const backends: Record<string, Record<string, unknown>> = {};
    let ready = true;
    probed.forEach((bucket, i) => {
      const result = results[i]!;
      if (!result.healthy) ready = false;
      backends[bucket.name] = {
        status: result.healthy ? "ready" : "unavailable",
        replicas: { default: result.healthy ? "healthy" : "unhealthy" },
        latency_ms: Math.round(result.latencyMs * 10) / 10,
        ...(result.detail === undefined ? {} : { detail: result.detail }),
      };
    });
    const checkedAt = Date.now();
    return { ready, backends, checkedAt: new Date(checkedAt).toISOString(), at: checkedAt };
  }

  #probe(bucket: BucketRuntime): Promise<ProbeResult> {
    return bucket.origin.probe(AbortSignal.timeout(this.#probeTimeoutMs));
  }
}

/**
 * A bucket's breaker in /ready: `{"state":"closed"|"open"|"half_open","consecutive_failures":n}`,
 * with `retry_after_seconds` while open; `{"state":"disabled"}` without a `circuit_breaker` block.
 * Readiness itself still comes from the probe: an open breaker is reported, not turned into 503.
 */
function circuitReport(snapshot: CircuitSnapshot | undefined): Record<string, unknown> {
  if (snapshot === undefined) return { state: "disabled" };
  return {
    state: snapshot.state,
    consecutive_failures: snapshot.consecutiveFailures,
    ...(snapshot.state === "open"
      ? { retry_after_seconds: Math.ceil(snapshot.retryAfterMs / 1000) }
      : {}),
  };
}

/** `{"name":"native"|"wasm","sharp":"0.35.5","libvips":"8.18.7"}`, plus why `auto` fell back to wasm. */
function engineReport(info: EngineInfo): Record<string, string> {
  return {
    name: info.name,
    sharp: info.sharp,
    libvips: info.libvips,
    ...(info.fallbackReason === undefined ? {} : { fallback_reason: info.fallbackReason }),
  };
}
