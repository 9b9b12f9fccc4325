// Owns createApp: the composition root that builds a config generation and handles each request.

import { guardAdmin } from "./admin/admin_guard.ts";
import { handleCacheAdmin, isCacheAdminPath } from "./admin/cache_routes.ts";
import { ReadinessChecker, type ReadinessOptions } from "./admin/health.ts";
import { healthResponse } from "./admin/health.ts";
import { type Authorizer, createAuthorizer } from "./auth/authorizer.ts";
import { JwtAuthenticator } from "./auth/jwt_authenticator.ts";
import type { Config, JwtConfig } from "./config/types.ts";
import { type ConfigIssue, type ConfigResult, formatIssue } from "./config/load.ts";
import { originIdentity, type ReloadOutcome, restartOnlyChanges } from "./config/reload.ts";
import { handleReload, isReloadPath } from "./admin/reload_routes.ts";
import { errorMessage, ProxyError } from "./errors.ts";
import { errorResponse, toProxyError } from "./http/problem.ts";
import { describeError, type Logger } from "./observe/log.ts";
import type { GatewayMetrics } from "./observe/metrics.ts";
import { openRequestLog, type RequestBatchSink } from "./observe/request_log.ts";
import {
  beginRequestSpan,
  denoTracingEnabled,
  finishRequestSpan,
  QUERY_IN_SPANS_WARNING,
  type RequestSpan,
} from "./observe/tracing.ts";
import { openCache } from "./cache/open_cache.ts";
import type { PrewarmManager } from "./cache/prewarm.ts";
import { handlePrewarm, isPrewarmPath } from "./admin/prewarm_routes.ts";
import { createPrewarmManager } from "./proxy/prewarm_source.ts";
import type { TieredCache } from "./cache/tiered_cache.ts";
import type { SharedFill } from "./cache/shared_fill.ts";
import { DeadlineSweeper } from "./origin/deadlines.ts";
import type { CircuitTransition } from "./origin/circuit_breaker.ts";
import { S3Origin } from "./origin/s3_origin.ts";
import { ReplicaSetOrigin } from "./origin/replica_set.ts";
import type { Origin } from "./origin/origin.ts";
import { checkMethod, parseRequestTarget, resolveRequestId } from "./proxy/accept.ts";
import type { BucketRuntime } from "./proxy/bucket_runtime.ts";
import { checkRequestTarget } from "./proxy/path_guard.ts";
import { checkRequestLimits, readBodyText } from "./proxy/request_limits.ts";
import type { BucketCache } from "./proxy/cache_stages.ts";
import type { RequestContext } from "./proxy/context.ts";
import { handleObject, handleOptions } from "./proxy/handle_object.ts";
import { resolveClientIp } from "./proxy/client_ip.ts";
import { RateLimits } from "./proxy/rate_limits.ts";
import { CorsPolicy } from "./proxy/cors.ts";
import { compileIpFilter } from "./proxy/ip_filter.ts";
import { IpRangeSet } from "./net/ip.ts";
import { BucketRouter } from "./routing/bucket_router.ts";
import { defaultImageOptimization } from "./config/schema_image.ts";
import { acquireImageEngine } from "./image/engine.ts";
import { compileImagePolicy } from "./image/policy.ts";
import { ImagePool } from "./image/pool.ts";
import { type ImageOutcome, ImageProcessor } from "./image/processor.ts";
import type { ImagePolicy } from "./image/types.ts";
import { createImageService, type ImageService } from "./proxy/image_stages.ts";
import { VERSION } from "./version.ts";

export interface AppDeps {
  logger: Logger;
  /** The fetch used for S3; tests may inject one. */
  fetch?: typeof fetch;
  /** The fetch used for JWKS, OPA and OpenFGA; defaults to the global fetch. */
  authFetch?: typeof fetch;
  readiness?: ReadinessOptions;
  /** Milliseconds between probes of unhealthy replicas (default 5000); tests shorten it. */
  replicaProbeIntervalMs?: number;
  /** Prometheus metrics (`metrics` config); absent: no per-request metrics work at all. */
  metrics?: GatewayMetrics | undefined;
  /**
   * Re-reads the config file and reloads (POST /admin/reload). Absent when the app was not
   * started from a file (tests building a Config): the route then answers 503.
   */
  reloadConfig?: () => Promise<ReloadOutcome>;
  /**
   * The log thread (`serve` starts one): it formats and writes the access and audit lines, and
   * opened the audit file itself. Absent: this thread does both.
   */
  logThread?: { readonly requestSink: RequestBatchSink };
}

/** What the server knows about the connection (Deno.ServeHandlerInfo fits). */
export interface ClientInfo {
  remoteAddr: Deno.Addr;
  /** Settles when the response has been delivered (rejects if the client went away). */
  completed?: Promise<void>;
}

export interface App {
  handle(request: Request, info: ClientInfo): Response | Promise<Response>;
  /** Requests whose response has not been fully delivered yet. */
  readonly inFlight: number;
  /** The config generation new requests are handled by: 1 at start, +1 per successful reload. */
  readonly generation: number;
  /** The current generation's config (server.shutdown_timeout is read from it at drain time). */
  readonly config: Config;
  /** Reloads since start, by outcome. */
  readonly reloads: { readonly succeeded: number; readonly failed: number };
  /**
   * Builds a whole new generation from `next` (a Config, or a loader result whose errors are
   * reported as they are) and swaps it in; on any error the running generation keeps serving.
   * Reloads run one at a time, in call order. `source` names the file in messages; `trigger`
   * (SIGHUP, admin, watch) goes to the log line.
   */
  reload(
    next: Config | ConfigResult,
    options?: { source?: string; trigger?: string },
  ): Promise<ReloadOutcome>;
  /** Stops the app's timers (deadlines, JWKS refresh); call after the server has drained. */
  close(): Promise<void>;
}

/** Everything built from one config: swapped as a whole on reload (issue: operations). */
interface Generation {
  /** 1 for the start-up config, +1 per successful reload. */
  id: number;
  /** Requests that began on this generation and are not finished (it closes after the last). */
  inFlight: number;
  /** Replaced by a newer generation: closed once `inFlight` reaches 0. */
  retired: boolean;
  config: Config;
  router: BucketRouter<BucketRuntime>;
  readiness: ReadinessChecker;
  authenticators: JwtAuthenticator[];
  authorizers: Authorizer[];
  /** The top-level JWT's authenticator (admin routes check admin_claims with it). */
  adminAuthenticator: JwtAuthenticator | undefined;
  bucketNames: ReadonlySet<string>;
  /** The buckets by name (admin routes and prewarm tasks address them so). */
  buckets: ReadonlyMap<string, BucketRuntime>;
  /** server.trusted_proxies; undefined (none) means X-Forwarded-For is never read. */
  trustedProxies: IpRangeSet | undefined;
  /** server.rate_limit and buckets[].s3.rate_limit; undefined (no work at all) when none is set. */
  rateLimits: RateLimits | undefined;
  /** The image engine, pool and builds shared by the buckets with image_optimization (if any). */
  images: ImageService | undefined;
}

/** How one bucket uses the shared cache (its own TTL and size bound), or not at all. */
export function bucketCache(
  bucket: Config["buckets"][number],
  config: Config,
  cache: TieredCache | undefined,
  fills: Map<string, SharedFill>,
): BucketCache | undefined {
  if (cache === undefined || config.cache === undefined || bucket.cache?.enabled === false) {
    return undefined;
  }
  const tier = config.cache.memory;
  return {
    store: cache,
    inflight: fills,
    maxItemBytes: Math.min(tier.maxItemBytes, bucket.cache?.maxItemBytes ?? tier.maxItemBytes),
    defaultTtlSeconds: bucket.cache?.ttlSeconds ?? tier.defaultTtlSeconds,
    staleIfErrorSeconds: config.cache.staleIfErrorSeconds,
  };
}

async function buildGeneration(
  config: Config,
  deps: AppDeps,
  deadlines: DeadlineSweeper,
  cache: TieredCache | undefined,
  fills: Map<string, SharedFill>,
): Promise<Generation> {
  // Buckets that share the top-level jwt block share one verifier: one JWKS fetcher, one token cache.
  const authenticators = new Map<JwtConfig, JwtAuthenticator>();
  const authorizers: Authorizer[] = [];
  let rateLimits: RateLimits | undefined;
  const builtBuckets: BucketRuntime[] = [];
  let images: ImageService | undefined;
  try {
    const buckets = builtBuckets;
    const imagePolicies = config.buckets.map((bucket) =>
      compileImagePolicy(config.imageOptimization, bucket.imageOptimization)
    );
    images = await buildImages(config, imagePolicies, deps.logger, deps.metrics);
    for (const [index, bucket] of config.buckets.entries()) {
      let authenticator: JwtAuthenticator | undefined;
      if (bucket.jwt !== undefined) {
        authenticator = authenticators.get(bucket.jwt);
        if (authenticator === undefined) {
          authenticator = await JwtAuthenticator.create(bucket.jwt, {
            fetch: deps.authFetch,
            configPath: bucket.jwt === config.jwt ? "jwt" : `buckets[${index}].auth.jwt`,
          });
          authenticators.set(bucket.jwt, authenticator);
        }
      }
      const authorizer = bucket.authorization === undefined
        ? undefined
        : createAuthorizer(bucket.authorization, { fetch: deps.authFetch });
      if (authorizer !== undefined) authorizers.push(authorizer);
      buckets.push({
        name: bucket.name,
        pathPrefix: bucket.pathPrefix,
        config: bucket,
        origin: buildOrigin(bucket, deps, deadlines),
        authenticator,
        authorizer,
        cache: bucketCache(bucket, config, cache, fills),
        uncachedStatus: config.cache !== undefined && bucket.cache?.enabled === false
          ? "BYPASS"
          : undefined,
        ipFilter: compileIpFilter(bucket.ipFilter),
        cors: bucket.cors === undefined ? undefined : new CorsPolicy(bucket.name, bucket.cors),
        image: imagePolicies[index],
        imageService: imagePolicies[index] === undefined ? undefined : images,
      });
    }
    // A top-level jwt guards the admin routes even when no bucket uses it.
    let adminAuthenticator: JwtAuthenticator | undefined;
    if (config.jwt !== undefined) {
      adminAuthenticator = authenticators.get(config.jwt);
      if (adminAuthenticator === undefined) {
        adminAuthenticator = await JwtAuthenticator.create(config.jwt, {
          fetch: deps.authFetch,
          configPath: "jwt",
        });
        authenticators.set(config.jwt, adminAuthenticator);
      }
    }
    rateLimits = RateLimits.create(
      config,
      (level, event, fields) => deps.logger.log(level, event, fields),
    );
    return {
      id: 0,
      inFlight: 0,
      retired: false,
      config,
      rateLimits,
      router: new BucketRouter(buckets),
      readiness: new ReadinessChecker(buckets, deps.readiness, images?.processor.engine.info),
      authenticators: [...authenticators.values()],
      authorizers,
      adminAuthenticator,
      bucketNames: new Set(config.buckets.map((bucket) => bucket.name)),
      buckets: new Map(buckets.map((bucket) => [bucket.name, bucket])),
      trustedProxies: config.server.trustedProxies === undefined
        ? undefined
        : new IpRangeSet(config.server.trustedProxies),
      images,
    };
  } catch (error) {
    // A half-built generation must not leave JWKS timers behind.
    for (const authenticator of authenticators.values()) await authenticator.close();
    for (const authorizer of authorizers) authorizer.close();
    for (const bucket of builtBuckets) bucket.origin.close?.();
    await rateLimits?.close();
    images?.processor.engine.close();
    throw error;
  }
}

/**
 * When any bucket has image_optimization: the engine (image_optimization.engine; loaded once per
 * process, logged with which build runs) and the pool its buckets share.
 */
async function buildImages(
  config: Config,
  policies: ReadonlyArray<ImagePolicy | undefined>,
  logger: Logger,
  metrics: GatewayMetrics | undefined,
): Promise<ImageService | undefined> {
  if (policies.every((policy) => policy === undefined)) return undefined;
  const settings = config.imageOptimization ?? defaultImageOptimization();
  const engine = await acquireImageEngine(settings.engine);
  logger.info("image engine", {
    engine: engine.name,
    requested: settings.engine,
    sharp: engine.info.sharp,
    libvips: engine.info.libvips,
    fallback_reason: engine.info.fallbackReason,
  });
  const pool = new ImagePool(settings.concurrency, settings.queueSize);
  const observe = metrics === undefined
    ? undefined
    : (outcome: ImageOutcome) => metrics.recordImage(outcome);
  return createImageService(new ImageProcessor(engine, pool, observe));
}

/** Stops a generation's timers and clients (JWKS refresh, authorizers, replica probes, limiters). */
async function closeGeneration(generation: Generation): Promise<void> {
  for (const authenticator of generation.authenticators) await authenticator.close();
  for (const authorizer of generation.authorizers) authorizer.close();
  for (const bucket of generation.buckets.values()) bucket.origin.close?.();
  await generation.rateLimits?.close();
  generation.images?.processor.engine.close();
}

/** One bucket's origin: a single S3Origin, or a ReplicaSetOrigin for `s3.replicas`. */
function buildOrigin(
  bucket: Config["buckets"][number],
  deps: AppDeps,
  deadlines: DeadlineSweeper,
): Origin {
  const metrics = deps.metrics;
  const logTransition = (
    replica: string | undefined,
    { from, to, consecutiveFailures }: CircuitTransition,
  ) => {
    metrics?.circuitTransition(bucket.name, replica ?? "default", to);
    deps.logger.log(to === "open" ? "warn" : "info", "circuit breaker", {
      bucket: bucket.name,
      replica,
      from,
      to,
      consecutive_failures: consecutiveFailures,
    });
  };
  const replicas = bucket.s3.replicas;
  if (replicas !== undefined) {
    return ReplicaSetOrigin.fromConfig({
      bucketName: bucket.name,
      s3: { ...bucket.s3, replicas },
      fetch: deps.fetch,
      deadlines,
      probeIntervalMs: deps.replicaProbeIntervalMs,
      onCircuitTransition: logTransition,
      onFailover: (from, to, error) => {
        metrics?.failover(bucket.name, from, to);
        deps.logger.warn("replica failover", {
          bucket: bucket.name,
          from,
          to,
          code: error.code,
          message: error.message,
        });
      },
      observer: metrics === undefined
        ? undefined
        : (replica) => metrics.origin(bucket.name, replica),
    });
  }
  return new S3Origin({
    bucketName: bucket.name,
    s3: bucket.s3,
    fetch: deps.fetch,
    deadlines,
    onCircuitTransition: (transition) => logTransition(undefined, transition),
    observer: metrics?.origin(bucket.name, "default"),
  });
}

/** The claims of a request without a token. */
const NO_CLAIMS: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Bodies from memory larger than this are counted in flight until delivered (a slow client can
 * hold a large one for long); smaller ones leave the count when they are handed to the server.
 */
const DELIVERY_WATCHED_BYTES = 64 * 1024;

/** Status logged when the client went away before the response could be sent (nginx's 499). */
const CLIENT_CLOSED = 499;

/**
 * Builds the request handler for a validated config. Rejects when a JWT key cannot be loaded
 * (a PEM file missing or unreadable), with a message naming the config key and the file.
 */
export async function createApp(config: Config, deps: AppDeps): Promise<App> {
  const deadlines = new DeadlineSweeper();
  const logger = deps.logger;
  const metrics = deps.metrics;
  // The audit log and tracing belong to the process: a reload does not change them.
  const requestLog = await openRequestLog(config.auditLog, logger, deps.logThread);
  // Decided once: with tracing off, requests never touch the OpenTelemetry API.
  const tracing = denoTracingEnabled();
  if (tracing) logger.warn(QUERY_IN_SPANS_WARNING);
  // The cache belongs to the app, not to a config generation: a reload keeps what it holds.
  const cache = config.cache === undefined ? undefined : await openCache(config.cache, {
    instanceId: crypto.randomUUID(),
    log: (level, event, fields) => logger.log(level, event, fields),
  });
  const fills = new Map<string, SharedFill>();
  // Prewarm tasks outlive a generation too: each call looks its bucket up in the current one.
  const prewarm: PrewarmManager | undefined = config.cache === undefined
    ? undefined
    : createPrewarmManager(
      config.cache.warming,
      (name) => {
        const bucket = generation.buckets.get(name);
        return bucket === undefined ? undefined : {
          name: bucket.name,
          origin: bucket.origin,
          cache: bucket.cache,
          timeoutSeconds: bucket.config.s3.timeout,
        };
      },
      logger,
      metrics,
    );
  let generation: Generation;
  try {
    generation = await buildGeneration(config, deps, deadlines, cache, fills);
  } catch (error) {
    await cache?.close();
    await requestLog?.close();
    deadlines.close();
    throw error;
  }
  generation.id = 1;
  const startedAtMs = Date.now();
  let inFlight = 0;
  // Read at scrape time: the current generation's buckets (breakers, replicas) and the cache.
  metrics?.attach({ inFlight: () => inFlight, buckets: () => generation.buckets.values(), cache });
  metrics?.setGeneration(generation.id);

  /** What the access log needs of one request, filled as it is handled. */
  interface Handled {
    readonly request: Request;
    readonly info: ClientInfo;
    readonly startedAt: number;
    /** The generation this request began on: it is handled by that one to the end. */
    readonly gen: Generation;
    readonly requestId: string;
    readonly clientIp: string;
    readonly method: string;
    path: string;
    /** Set once the object path has started (it names the bucket and how the body was served). */
    ctx: RequestContext | undefined;
    /** Deno's server span of this request, when tracing is on. */
    trace: RequestSpan | undefined;
    /** performance.now() when the request ended; 0 until `endedAt` reads it. */
    endedAt: number;
    /** User-Agent and Referer, read for the audit log when it is on (else null). */
    userAgent: string | null;
    referer: string | null;
  }

  /**
   * When the request ended: read once and shared by the metrics, the audit and the access log
   * (performance.now() costs about 95 ns in Deno; three reads were most of their overhead).
   */
  function endedAt(handled: Handled): number {
    return handled.endedAt ||= performance.now();
  }

  /** One finished request into the metrics: plain counters, no allocation (see metrics.ts). */
  function recordMetrics(
    metrics: GatewayMetrics,
    handled: Handled,
    response: Response,
    code: string | undefined,
    interrupted: boolean,
  ): void {
    const ctx = handled.ctx;
    const bucket = ctx?.bucket;
    const method = handled.method;
    // Memory bodies know their length; a streamed one sent its Content-Length unless cut short.
    const bytes = interrupted || method === "HEAD"
      ? 0
      : ctx?.bodyBytes ?? contentLength(response.headers) ?? 0;
    metrics.request(
      bucket?.name,
      method,
      response.status,
      (endedAt(handled) - handled.startedAt) / 1000,
      bytes,
      code,
      ctx?.identity,
      bucket !== undefined &&
        (bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined),
    );
  }

  /**
   * A request is over (its body delivered, or cut short): it leaves the counts and is recorded
   * in the metrics, the audit log and the access log. A plain function, not a closure per
   * request: cache hits end here tens of thousands of times a second.
   */
  function finished(
    handled: Handled,
    response: Response,
    code: string | undefined,
    interrupted: boolean,
  ): void {
    inFlight--;
    const gen = handled.gen;
    if (--gen.inFlight === 0 && gen.retired) closeRetired(gen);
    if (metrics !== undefined) recordMetrics(metrics, handled, response, code, interrupted);
    if (requestLog === undefined) return;
    const ctx = handled.ctx;
    const bucket = ctx?.bucket;
    requestLog.record({
      requestId: handled.requestId,
      clientIp: handled.clientIp,
      method: handled.method,
      path: handled.path,
      bucket: bucket?.name,
      status: response.status,
      bytes: interrupted ? null : ctx?.bodyBytes ?? contentLength(response.headers),
      // X-Cache as the stages set it: reading it back from the response would build its Headers again.
      cache: ctx?.cacheStatus,
      durationMs: endedAt(handled) - handled.startedAt,
      code,
      interrupted,
      user: ctx?.subject,
      key: bucket === undefined ? undefined : ctx?.key,
      userAgent: handled.userAgent,
      referer: handled.referer,
    });
  }

  function logAccess(
    handled: Handled,
    response: Response,
    code: string | undefined,
    streamed: boolean,
  ): void {
    const ctx = handled.ctx;
    if (handled.trace !== undefined) {
      finishRequestSpan(handled.trace, {
        bucket: ctx?.bucket?.name,
        cache: ctx?.cacheStatus ?? null,
        code,
      });
    }
    // Read now: a request's headers may be gone once its response has been delivered.
    if (requestLog?.audit) {
      handled.userAgent = handled.request.headers.get("user-agent");
      handled.referer = handled.request.headers.get("referer");
    }
    // Only a body streamed from S3 takes long to deliver or can be cut short in a way worth
    // reporting, so only it waits for delivery: info.completed and request.signal each cost Deno
    // several µs of bookkeeping per request (together they halved the rate of cache hits), and a
    // body answered from memory (a hit, an error, an admin answer) is logged as it is returned.
    // With deno.json's "no-legacy-abort", the signal aborts only when the client left before the
    // response was fully delivered.
    if (!streamed) {
      finished(handled, response, code, false);
      return;
    }
    // Read only for streamed bodies: the getter makes Deno track the delivery (a promise and an
    // op), which every cache hit would otherwise pay for.
    const completed = handled.info.completed;
    if (completed === undefined) {
      finished(handled, response, code, false);
      return;
    }
    const signal = handled.request.signal;
    completed.then(
      () => finished(handled, response, code, signal.aborted),
      () => finished(handled, response, code, true),
    );
  }

  /** An error thrown anywhere in handling, as the response the client gets. */
  function failed(handled: Handled, thrown: unknown): Response {
    let response: Response;
    let code: string;
    // An error answer carries no X-Cache, whatever a stage had set before it failed.
    if (handled.ctx !== undefined) handled.ctx.cacheStatus = undefined;
    if (handled.ctx?.bodyBytes === undefined && handled.request.signal.aborted) {
      code = "client_closed";
      response = new Response(null, { status: CLIENT_CLOSED });
    } else {
      const error = toProxyError(thrown);
      code = error.code;
      if (error.code === "internal" || error.source === "origin") {
        logger.warn("request failed", {
          request_id: handled.requestId,
          code: error.code,
          message: error.message,
          cause: error.cause === undefined ? undefined : describeError(error.cause),
        });
      }
      response = errorResponse(error, { requestId: handled.requestId, method: handled.method });
      // Errors of a bucket with CORS carry its headers too: a page must be able to read why.
      handled.ctx?.bucket?.cors?.decorate(
        response.headers,
        handled.request.headers,
        handled.method,
      );
    }
    logAccess(handled, response, code, false);
    return response;
  }

  function succeeded(handled: Handled, response: Response): Response {
    const ctx = handled.ctx;
    // A body S3 is streaming, or a large one from memory: its delivery takes a while, so it is
    // waited for (for the access log and max_concurrent_requests). `body` is never read for
    // bodies from memory (it would build a stream).
    const streamed = ctx !== undefined &&
      (ctx.bodyBytes === undefined
        ? response.body !== null
        : ctx.bodyBytes > DELIVERY_WATCHED_BYTES);
    ctx?.bucket?.cors?.decorate(response.headers, handled.request.headers, handled.method);
    logAccess(handled, response, undefined, streamed);
    return response;
  }

  /**
   * Handles one request. A cache hit on a public bucket is answered synchronously (no promise,
   * no await): Deno then sends it on its fast path. Everything else returns a promise.
   */
  function handle(request: Request, info: ClientInfo): Response | Promise<Response> {
    const startedAt = performance.now();
    inFlight++;
    // One read of the current generation: a reload swapping it mid-request does not affect this one.
    const gen = generation;
    gen.inFlight++;
    const handled: Handled = {
      request,
      info,
      startedAt,
      gen,
      requestId: resolveRequestId(request.headers),
      // Without trusted proxies (the common case) the peer is the client: no header is read.
      clientIp: gen.trustedProxies === undefined
        ? hostOf(info.remoteAddr)
        : resolveClientIp(hostOf(info.remoteAddr), request.headers, gen.trustedProxies),
      method: request.method,
      path: "",
      ctx: undefined,
      trace: undefined,
      endedAt: 0,
      userAgent: null,
      referer: null,
    };
    if (tracing) handled.trace = beginRequestSpan(handled.requestId);
    let outcome: Response | Promise<Response>;
    try {
      outcome = dispatch(handled);
    } catch (thrown) {
      return failed(handled, thrown);
    }
    if (outcome instanceof Response) return succeeded(handled, outcome);
    return outcome.then(
      (response) => succeeded(handled, response),
      (thrown) => failed(handled, thrown),
    );
  }

  /** The `accept` stage's routing: admin, health, readiness, OPTIONS, or the object path. */
  function dispatch(handled: Handled): Response | Promise<Response> {
    const { request, requestId, method, gen } = handled;
    const server = gen.config.server;
    if (server.maxConcurrentRequests !== undefined && inFlight > server.maxConcurrentRequests) {
      // inFlight counts this request too, and every earlier one until its body was delivered.
      throw new ProxyError("overloaded", {
        message: `The gateway is handling its limit of ${server.maxConcurrentRequests} requests ` +
          "(server.max_concurrent_requests); retry shortly.",
        source: "client",
        headers: { "retry-after": "1" },
      });
    }
    const url = request.url;
    checkRequestLimits(request, url, server.securityLimits);
    const target = parseRequestTarget(url);
    handled.path = target.path;
    checkRequestTarget(target.rawPath, target.path);
    if (target.path.startsWith("/admin/")) {
      // Admin routes take POST too; they check their own methods.
      return handleAdmin(gen, request, target.path, target.rawQuery, handled.clientIp).then(
        (response) => withRequestId(response, requestId),
      );
    }
    checkMethod(method);
    if (target.path === "/health") {
      return withRequestId(healthResponse(startedAtMs, VERSION), requestId);
    }
    if (target.path === "/ready") {
      return gen.readiness.response().then((response) => withRequestId(response, requestId));
    }
    // `respond` and the cache set X-Request-ID on the object path.
    const ctx: RequestContext = {
      request,
      method,
      requestId,
      clientIp: handled.clientIp,
      startedAt: handled.startedAt,
      deadline: Date.now() + server.requestTimeout * 1000,
      path: target.path,
      rawQuery: target.rawQuery,
      bucket: undefined,
      key: "",
      identity: "public",
      claims: NO_CLAIMS,
      subject: undefined,
      cacheKey: undefined,
      staleEntry: undefined,
      forwardedHeaders: undefined,
      bodyBytes: undefined,
      cacheStatus: undefined,
      trace: handled.trace,
    };
    handled.ctx = ctx;
    // OPTIONS: a bucket's CORS preflight, or a plain Allow answer.
    if (method === "OPTIONS") return handleOptions(ctx, gen.router);
    return handleObject(ctx, gen.router, gen.rateLimits);
  }

  /** The admin API: guarded first (see admin_guard.ts), then the cache routes. */
  async function handleAdmin(
    gen: Generation,
    request: Request,
    path: string,
    rawQuery: string,
    clientIp: string,
  ): Promise<Response> {
    if (!isCacheAdminPath(path) && !isPrewarmPath(path) && !isReloadPath(path)) {
      throw new ProxyError("route_not_found", {
        message: `No admin route "${path}"; the admin API is /admin/reload and ` +
          "/admin/cache/{purge,stats,info,prewarm}.",
        source: "client",
      });
    }
    // The generation the request began on decides who may use it (its jwt and admin settings).
    await guardAdmin(request, rawQuery, clientIp, {
      authenticator: gen.adminAuthenticator,
      anyJwt: gen.config.buckets.some((bucket) => bucket.jwt !== undefined),
      allowUnauthenticated: gen.config.admin?.allowUnauthenticated ?? false,
    });
    if (isReloadPath(path)) return handleReload(request.method, deps.reloadConfig);
    if (isPrewarmPath(path)) {
      return handlePrewarm({
        method: request.method,
        path,
        body: () => readBodyText(request, gen.config.server.securityLimits.maxBodySize),
        manager: prewarm,
        buckets: gen.bucketNames,
      });
    }
    return handleCacheAdmin({
      method: request.method,
      path,
      rawQuery,
      cache,
      buckets: gen.bucketNames,
    });
  }

  // ---- reload: a whole new generation, swapped in one assignment ----------------------------

  const reloads = { succeeded: 0, failed: 0 };
  /** Retired generations still finishing requests (closed by the last one, or by close()). */
  const retiring = new Set<Generation>();
  let reloadChain: Promise<unknown> = Promise.resolve();
  let closed = false;
  const SHUTTING_DOWN: ConfigIssue = {
    path: "",
    message: "the gateway is shutting down; the config was not reloaded",
  };

  /** `purgeAgain`: old requests may have stored objects since the swap (see below). */
  function closeRetired(gen: Generation, purgeAgain = true): void {
    retiring.delete(gen);
    closeGeneration(gen).catch((error) =>
      logger.warn("closing a replaced config generation failed", {
        generation: gen.id,
        error: errorMessage(error),
      })
    );
    // Objects that old requests were still storing may have come from a bucket's previous
    // origin: drop them once more now that no old request can store anything.
    if (purgeAgain) purgeChangedOrigins(gen, generation);
  }

  function retire(gen: Generation): void {
    gen.retired = true;
    if (gen.inFlight === 0) closeRetired(gen, false);
    else retiring.add(gen);
  }

  /**
   * The cache is keyed by bucket name, and survives a reload: a bucket now pointing at another
   * S3 bucket or endpoint must not go on serving the old one's objects.
   */
  function purgeChangedOrigins(previous: Generation, next: Generation): void {
    if (cache === undefined) return;
    for (const [name, bucket] of next.buckets) {
      const before = previous.buckets.get(name);
      if (before === undefined || originIdentity(before.config) === originIdentity(bucket.config)) {
        continue;
      }
      cache.purge({ kind: "bucket", bucket: name }).catch((error) =>
        logger.warn("purging a re-pointed bucket's cache after a reload failed", {
          bucket: name,
          error: errorMessage(error),
        })
      );
    }
  }

  function reload(
    next: Config | ConfigResult,
    options: { source?: string; trigger?: string } = {},
  ): Promise<ReloadOutcome> {
    const run = reloadChain.then(() => reloadNow(next, options));
    reloadChain = run.catch(() => {});
    return run;
  }

  async function reloadNow(
    next: Config | ConfigResult,
    options: { source?: string; trigger?: string },
  ): Promise<ReloadOutcome> {
    const started = performance.now();
    const source = options.source ?? "the config";
    const loaded: ConfigResult = "ok" in next ? next : { ok: true, config: next, warnings: [] };
    const previous = generation;
    let errors: ConfigIssue[] = [];
    let needsRestart: ConfigIssue[] = [];
    if (closed) {
      errors = [SHUTTING_DOWN];
    } else if (!loaded.ok) {
      errors = loaded.errors;
    } else {
      needsRestart = restartOnlyChanges(previous.config, loaded.config);
      try {
        // Built beside the running generation: nothing is swapped unless all of it was built.
        const built = await buildGeneration(loaded.config, deps, deadlines, cache, fills);
        if (closed) {
          await closeGeneration(built);
          errors = [SHUTTING_DOWN];
        } else {
          built.id = previous.id + 1;
          generation = built;
          purgeChangedOrigins(previous, built);
          retire(previous);
        }
      } catch (error) {
        errors = [{ path: "", message: errorMessage(error) }];
      }
    }
    const ok = errors.length === 0;
    if (ok) reloads.succeeded++;
    else reloads.failed++;
    metrics?.recordReload(ok ? "success" : "failure");
    metrics?.setGeneration(generation.id);
    const outcome: ReloadOutcome = {
      ok,
      generation: generation.id,
      finishedAt: Date.now(),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      errors,
      warnings: loaded.warnings,
      needsRestart,
      source,
    };
    const format = (issue: ConfigIssue) => formatIssue(source, issue);
    logger.log(
      !ok ? "error" : needsRestart.length > 0 ? "warn" : "info",
      ok ? "config reloaded" : "config reload failed; the running config keeps serving",
      {
        outcome: ok ? "success" : "failed",
        generation: generation.id,
        previous_generation: ok ? previous.id : undefined,
        duration_ms: outcome.durationMs,
        trigger: options.trigger,
        source,
        errors: ok ? undefined : errors.map(format),
        warnings: loaded.warnings.length > 0 ? loaded.warnings.map(format) : undefined,
        needs_restart: needsRestart.length > 0 ? needsRestart.map(format) : undefined,
      },
    );
    return outcome;
  }

  return {
    handle,
    get inFlight() {
      return inFlight;
    },
    get generation() {
      return generation.id;
    },
    get config() {
      return generation.config;
    },
    reloads,
    reload,
    async close() {
      closed = true;
      // A reload in progress finishes first (it then sees `closed` and closes what it built).
      await reloadChain;
      deadlines.close();
      await closeGeneration(generation);
      for (const gen of [...retiring]) {
        retiring.delete(gen);
        await closeGeneration(gen);
      }
      await prewarm?.close();
      await cache?.close();
      // Last: every request that finished above is in the audit file before the process exits.
      await requestLog?.close();
    },
  };
}

function contentLength(headers: Headers): number | null {
  const length = headers.get("content-length");
  return length === null ? null : Number(length);
}

function withRequestId(response: Response, requestId: string): Response {
  response.headers.set("x-request-id", requestId);
  return response;
}

function hostOf(addr: Deno.Addr): string {
  return "hostname" in addr ? addr.hostname : "unix";
}
