// Owns ReplicaSetOrigin: one bucket served by several S3 replicas, tried in priority order.

import type { ReplicaConfig, S3Config } from "../config/types.ts";
import { CIRCUIT_BREAKER_DEFAULTS } from "../config/schema_resilience.ts";
import { ProxyError } from "../errors.ts";
import type { CircuitSnapshot, CircuitTransition } from "./circuit_breaker.ts";
import type { DeadlineSweeper } from "./deadlines.ts";
import type { ListPage } from "./list_objects.ts";
import type { ListRequest, Origin, OriginRequest, ProbeResult } from "./origin.ts";
import { S3Origin } from "./s3_origin.ts";
import type { OriginObserver } from "../observe/metrics.ts";

/** How often replicas that are not healthy are probed (signed HEAD bucket), by default. */
export const REPLICA_PROBE_INTERVAL_MS = 5000;

/** The part of an origin a replica set needs (S3Origin; fakes in unit tests). */
export interface ReplicaMember extends Origin {
  resetCircuit(): void;
}

export interface Replica {
  name: string;
  origin: ReplicaMember;
}

export interface ReplicaSetOptions {
  bucketName: string;
  s3: S3Config & { replicas: ReplicaConfig[] };
  fetch?: typeof fetch;
  deadlines: DeadlineSweeper;
  onCircuitTransition?: (replica: string, transition: CircuitTransition) => void;
  /** Told when a request moves on from a failed replica to the next one. */
  onFailover?: (from: string, to: string, error: ProxyError) => void;
  /** Milliseconds between probes of unhealthy replicas; default 5000. */
  probeIntervalMs?: number;
  /** Each replica's metrics observer (none when metrics are off). */
  observer?: ((replica: string) => OriginObserver) | undefined;
}

/**
 * Whether a failed attempt at one replica should be retried at the next one in the same
 * request: only when the replica failed before sending an answer worth keeping (connection
 * error, timeout, 5xx) or its breaker refused the request. A 4xx is the answer (the object is
 * missing or forbidden everywhere alike); a client that left stops everything.
 */
export function shouldFailOver(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || !(error instanceof ProxyError)) return false;
  if (error.code === "circuit_open") return true;
  return error.source === "origin" && error.status >= 500;
}

/**
 * A replica is healthy while its breaker is closed (half-open counts as unhealthy, as in the
 * original's /ready). Each replica is an S3Origin with its own credentials and its own breaker:
 * the bucket's `circuit_breaker` block when written, else the defaults (5/2/60 s/3), so that a
 * replica set always has breakers to fail over on.
 */
export class ReplicaSetOrigin implements Origin {
  readonly #replicas: readonly Replica[];
  readonly #onFailover: ReplicaSetOptions["onFailover"];
  readonly #probeTimeoutMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #probing = false;
  #closed = false;

  constructor(
    replicas: readonly Replica[],
    options: {
      probeIntervalMs?: number;
      probeTimeoutMs?: number;
      onFailover?: ReplicaSetOptions["onFailover"];
    } = {},
  ) {
    if (replicas.length === 0) throw new Error("a replica set needs at least one replica");
    this.#replicas = replicas;
    this.#onFailover = options.onFailover;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    const interval = options.probeIntervalMs ?? REPLICA_PROBE_INTERVAL_MS;
    const timer = setInterval(() => void this.probeUnhealthy(), interval);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Builds the S3Origin of every replica of a bucket's `s3.replicas` (sorted by priority). */
  static fromConfig(options: ReplicaSetOptions): ReplicaSetOrigin {
    const replicas = options.s3.replicas.map((replica): Replica => ({
      name: replica.name,
      origin: new S3Origin({
        bucketName: `${options.bucketName}" replica "${replica.name}`,
        s3: {
          ...options.s3,
          bucket: replica.bucket,
          region: replica.region,
          endpoint: replica.endpoint,
          accessKey: replica.accessKey,
          secretKey: replica.secretKey,
          sessionToken: replica.sessionToken,
          timeout: replica.timeout,
          idleTimeout: Math.min(options.s3.idleTimeout, replica.timeout),
          circuitBreaker: options.s3.circuitBreaker ?? CIRCUIT_BREAKER_DEFAULTS,
          replicas: undefined,
        },
        fetch: options.fetch,
        deadlines: options.deadlines,
        onCircuitTransition: (transition) =>
          options.onCircuitTransition?.(replica.name, transition),
        observer: options.observer?.(replica.name),
      }),
    }));
    return new ReplicaSetOrigin(replicas, {
      probeIntervalMs: options.probeIntervalMs,
      onFailover: options.onFailover,
    });
  }

  /** The replicas in priority order with their health (breaker closed). */
  health(): { name: string; healthy: boolean }[] {
    return this.#replicas.map((replica) => ({
      name: replica.name,
      healthy: isHealthy(replica.origin),
    }));
  }

  /**
   * Tries the replicas in priority order, skipping those whose breaker is open; a replica that
   * fails before answering (see shouldFailOver) hands the request to the next one.
   */
  async fetch(request: OriginRequest): Promise<Response> {
    let failure: unknown;
    let previous: string | undefined;
    const candidates = this.#order();
    for (const replica of candidates) {
      if (previous !== undefined && failure instanceof ProxyError) {
        this.#onFailover?.(previous, replica.name, failure);
      }
      try {
        return await replica.origin.fetch(request);
      } catch (error) {
        if (!shouldFailOver(error, request.signal)) throw error;
        // A refusal by an open breaker says less than a real failure: keep the real one.
        if (!(failure instanceof ProxyError && isCircuitOpen(error))) failure = error;
        previous = replica.name;
      }
    }
    throw failure;
  }

  /** Listing (cache pre-warming) asks the first healthy replica, else the first one. */
  list(request: ListRequest): Promise<ListPage> {
    return this.#order()[0]!.origin.list(request);
  }

  /** The first healthy replica's probe; with none healthy, the preferred one's. */
  probe(signal: AbortSignal): Promise<ProbeResult> {
    return this.#order()[0]!.origin.probe(signal);
  }

  /** The breaker of the replica requests go to now. */
  circuit(): CircuitSnapshot | undefined {
    return this.#order()[0]!.origin.circuit();
  }

  /**
   * Probes every replica that is not healthy; one that answers is marked healthy (its breaker
   * closed), so traffic returns to it by priority. One round at a time.
   */
  async probeUnhealthy(): Promise<void> {
    if (this.#probing || this.#closed) return;
    this.#probing = true;
    try {
      await Promise.all(this.#replicas.map(async (replica) => {
        if (isHealthy(replica.origin)) return;
        const result = await replica.origin.probe(AbortSignal.timeout(this.#probeTimeoutMs));
        if (result.healthy && !this.#closed) replica.origin.resetCircuit();
      }));
    } finally {
      this.#probing = false;
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Healthy replicas first (in priority order), then the others (their breakers decide). */
  #order(): Replica[] {
    const healthy: Replica[] = [];
    const others: Replica[] = [];
    for (const replica of this.#replicas) {
      (isHealthy(replica.origin) ? healthy : others).push(replica);
    }
    return healthy.concat(others);
  }
}

function isHealthy(origin: Origin): boolean {
  const snapshot = origin.circuit();
  return snapshot === undefined || snapshot.state === "closed";
}

function isCircuitOpen(error: unknown): boolean {
  return error instanceof ProxyError && error.code === "circuit_open";
}
