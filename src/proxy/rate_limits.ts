// Owns RateLimits: the global, per-IP, per-bucket and per-user request limits, and the one import of
// rate-limiter-flexible (its limiters, the Redis store and the in-memory insurance).

import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import { closeRedisClient, createRedisClient, type RedisClient } from "../cache/redis_store.ts";
import type { Config, RateLimitRule } from "../config/types.ts";
import { errorMessage, ProxyError } from "../errors.ts";

export type RateLimitScope = "global" | "ip" | "bucket" | "user";

/** The log events this module reports (the Redis connection's outages and recoveries). */
export type RateLimitLog = (
  level: "info" | "warn",
  event: string,
  fields: Record<string, unknown>,
) => void;

interface Consumer {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/** Where counters live: this process's memory, or a Redis shared by the fleet. */
interface Store {
  redis: RedisClient | undefined;
  /** Redis key prefix (the cache's `redis_key_prefix` + "ratelimit:"). */
  redisPrefix: string;
  /** Every in-memory limiter (also the Redis insurances): close() stops their expiry timers. */
  memory: RateLimiterMemory[];
}

/** One scope's limit: a token bucket approximated by rate-limiter-flexible's windows. */
export class ScopeLimit {
  readonly scope: RateLimitScope;
  readonly rule: RateLimitRule;
  readonly #consumer: Consumer;
  readonly #onStoreError: (error: unknown) => void;

  constructor(
    scope: RateLimitScope,
    rule: RateLimitRule,
    consumer: Consumer,
    onStoreError: (error: unknown) => void,
  ) {
    this.scope = scope;
    this.rule = rule;
    this.#consumer = consumer;
    this.#onStoreError = onStoreError;
  }

  /**
   * Takes one token for `key`; resolves `undefined` when allowed, or the rejection's details.
   * A store failure the insurance did not absorb allows the request (fail open).
   */
  async take(key: string): Promise<RateLimiterRes | undefined> {
    try {
      await this.#consumer.consume(key, 1);
      return undefined;
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      this.#onStoreError(error);
      return undefined;
    }
  }
}

/**
 * A token bucket of `burst` tokens refilled at `requestsPerSecond`, built from fixed windows: a
 * 1-second window of `requestsPerSecond` requests, plus (when burst is larger) a slower window
 * holding the extra `burst - requestsPerSecond` requests, refilled over as many seconds as the
 * rate needs to earn them back.
 */
function buildConsumer(rule: RateLimitRule, name: string, store: Store): Consumer {
  const make = (points: number, duration: number, prefix: string): Consumer => {
    const memory = new RateLimiterMemory({ points, duration, keyPrefix: prefix });
    store.memory.push(memory);
    if (store.redis === undefined) return memory;
    return new RateLimiterRedis({
      storeClient: store.redis,
      keyPrefix: `${store.redisPrefix}${prefix}`,
      points,
      duration,
      // Redis down: each gateway keeps counting on its own (looser, never stricter: fail open).
      insuranceLimiter: memory,
    });
  };
  const primary = make(rule.requestsPerSecond, 1, name);
  const extra = rule.burst - rule.requestsPerSecond;
  if (extra <= 0) return primary;
  const burst = make(extra, Math.ceil(extra / rule.requestsPerSecond), `${name}:burst`);
  return new BurstyRateLimiter(primary as RateLimiterMemory, burst as RateLimiterMemory);
}

const CONFIG_KEY: Record<RateLimitScope, string> = {
  global: "server.rate_limit.global",
  ip: "server.rate_limit.per_ip",
  bucket: "buckets[].s3.rate_limit",
  user: "server.rate_limit.per_user",
};

/** The 429 for a rejection: Retry-After (whole seconds, at least 1) and RateLimit-* headers. */
export function rateLimitedError(
  limit: ScopeLimit,
  key: string,
  res: RateLimiterRes,
): ProxyError {
  const retryAfter = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  const { requestsPerSecond, burst } = limit.rule;
  const what = limit.scope === "global"
    ? "The gateway's global rate limit"
    : limit.scope === "ip"
    ? `The rate limit for IP ${key}`
    : limit.scope === "bucket"
    ? `The rate limit of bucket ${JSON.stringify(key)}`
    : `The rate limit for user ${JSON.stringify(key)}`;
  return new ProxyError("rate_limited", {
    message: `${what} (${requestsPerSecond} requests per second, burst ${burst}; ` +
      `${CONFIG_KEY[limit.scope]}) is used up; retry in ${retryAfter} s.`,
    source: "client",
    headers: {
      "retry-after": String(retryAfter),
      "ratelimit-limit": String(burst),
      "ratelimit-remaining": "0",
      "ratelimit-reset": String(retryAfter),
    },
    details: { scope: limit.scope },
  });
}

/**
 * Every limit of one config. `create` returns undefined when none is configured, so a gateway
 * without limits does no rate-limit work at all.
 */
export class RateLimits {
  readonly global: ScopeLimit | undefined;
  readonly perIp: ScopeLimit | undefined;
  readonly perUser: ScopeLimit | undefined;
  readonly #buckets: ReadonlyMap<string, ScopeLimit>;
  readonly #store: Store;

  private constructor(
    scopes: {
      global: ScopeLimit | undefined;
      perIp: ScopeLimit | undefined;
      perUser: ScopeLimit | undefined;
      buckets: ReadonlyMap<string, ScopeLimit>;
    },
    store: Store,
  ) {
    this.global = scopes.global;
    this.perIp = scopes.perIp;
    this.perUser = scopes.perUser;
    this.#buckets = scopes.buckets;
    this.#store = store;
  }

  static create(config: Config, log: RateLimitLog): RateLimits | undefined {
    const server = config.server.rateLimit;
    const bucketRules = config.buckets.flatMap((bucket) =>
      bucket.s3.rateLimit === undefined ? [] : [[bucket.name, bucket.s3.rateLimit] as const]
    );
    if (
      server?.global === undefined && server?.perIp === undefined &&
      server?.perUser === undefined && bucketRules.length === 0
    ) return undefined;
    const redisConfig = server?.store === "redis" ? config.cache?.redis : undefined;
    if (server?.store === "redis" && redisConfig === undefined) {
      // The schema refuses this; a hand-built Config must not silently count per process.
      throw new Error('server.rate_limit.store is "redis" but cache.redis is not configured');
    }
    const store: Store = {
      redis: redisConfig === undefined ? undefined : createRedisClient(redisConfig, {
        role: "rate-limit",
        log: (event, fields) =>
          log(event.endsWith("_unavailable") ? "warn" : "info", event, {
            ...fields,
            note: event.endsWith("_unavailable")
              ? "rate limits fall back to per-process counting until Redis is back"
              : undefined,
          }),
      }),
      redisPrefix: `${redisConfig?.keyPrefix ?? ""}ratelimit:`,
      memory: [],
    };
    let failing = false;
    const onStoreError = (error: unknown) => {
      // Reported once; the request is allowed (fail open).
      if (failing) return;
      failing = true;
      log("warn", "rate_limit.store_error", {
        error: errorMessage(error),
      });
    };
    const scope = (name: RateLimitScope, rule: RateLimitRule | undefined, prefix: string = name) =>
      rule === undefined
        ? undefined
        : new ScopeLimit(name, rule, buildConsumer(rule, prefix, store), onStoreError);
    return new RateLimits({
      global: scope("global", server?.global),
      perIp: scope("ip", server?.perIp),
      perUser: scope("user", server?.perUser),
      buckets: new Map(
        bucketRules.map(([name, rule]) => [name, scope("bucket", rule, `bucket:${name}`)!]),
      ),
    }, store);
  }

  /** Global, then per-IP (both before routing); throws the 429. */
  async checkClient(clientIp: string): Promise<void> {
    if (this.global !== undefined) await check(this.global, "all");
    if (this.perIp !== undefined) await check(this.perIp, clientIp);
  }

  /** The bucket's own limit (after routing), if it has one. */
  async checkBucket(bucket: string): Promise<void> {
    const limit = this.#buckets.get(bucket);
    if (limit !== undefined) await check(limit, bucket);
  }

  /** The per-user limit (after authentication); requests without a subject are not limited. */
  async checkUser(subject: string | undefined): Promise<void> {
    if (this.perUser !== undefined && subject !== undefined) await check(this.perUser, subject);
  }

  async close(): Promise<void> {
    for (const limiter of this.#store.memory) stopExpiryTimers(limiter);
    if (this.#store.redis !== undefined) await closeRedisClient(this.#store.redis);
  }
}

async function check(limit: ScopeLimit, key: string): Promise<void> {
  const rejected = await limit.take(key);
  if (rejected !== undefined) throw rateLimitedError(limit, key, rejected);
}

/**
 * RateLimiterMemory expires each key with its own (unref'd) timer; a closed app clears them so
 * nothing outlives it (and Deno's test sanitizers stay quiet).
 */
function stopExpiryTimers(limiter: RateLimiterMemory): void {
  const storage = (limiter as unknown as {
    _memoryStorage?: { _storage?: Record<string, { timeoutId?: ReturnType<typeof setTimeout> }> };
  })._memoryStorage?._storage;
  if (storage === undefined) return;
  for (const key of Object.keys(storage)) {
    const timer = storage[key]?.timeoutId;
    if (timer !== undefined) clearTimeout(timer);
    delete storage[key];
  }
}
