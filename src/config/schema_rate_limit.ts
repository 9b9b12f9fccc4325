// Owns the schema of the rate-limit keys: `server.rate_limit` and `buckets[].s3.rate_limit`.

import { z } from "zod";
import type { RateLimitConfig, RateLimitRule } from "./types.ts";
import { expecting, oneOf, optional, present } from "./schema_support.ts";

/** Far beyond what one process serves; a larger number is a typo. */
export const MAX_REQUESTS_PER_SECOND = 1_000_000;

export const RATE_LIMIT_STORES = ["memory", "redis"] as const;

const RPS_ERROR = expecting(
  `a whole number of requests per second from 0 (no limit) to ${MAX_REQUESTS_PER_SECOND}`,
);
const BURST_ERROR = expecting(`a whole number of requests from 1 to ${MAX_REQUESTS_PER_SECOND}`);

export const RATE_LIMIT_RULE_SHAPE = {
  requests_per_second: z.int({ error: RPS_ERROR }).min(0, { error: RPS_ERROR })
    .max(MAX_REQUESTS_PER_SECOND, { error: RPS_ERROR }),
  // Absent: requests_per_second (the original's governor quota: burst n, refill n per second).
  burst: optional(
    z.int({ error: BURST_ERROR }).min(1, { error: BURST_ERROR })
      .max(MAX_REQUESTS_PER_SECOND, { error: BURST_ERROR }),
  ),
};

/** Why a burst does not fit its rate, if it does not. */
export function burstProblem(burst: number, requestsPerSecond: number): string | undefined {
  if (burst >= requestsPerSecond) return undefined;
  return `burst (${burst}) is smaller than requests_per_second (${requestsPerSecond}); burst is ` +
    "how many requests may arrive at once after a quiet spell, so set it to at least " +
    `${requestsPerSecond}, or leave it out (it defaults to requests_per_second)`;
}

/** One limit: `{requests_per_second, burst?}`; `requests_per_second: 0` means no limit (undefined). */
export const rateLimitRuleSchema = present(
  z.strictObject(RATE_LIMIT_RULE_SHAPE, {
    error: expecting("a mapping like {requests_per_second: 100, burst: 200}"),
  }).superRefine((raw, ctx) => {
    if (raw.requests_per_second === 0 || raw.burst === undefined) return;
    const problem = burstProblem(raw.burst, raw.requests_per_second);
    if (problem) {
      ctx.addIssue({ code: "custom", path: ["burst"], message: problem, input: raw.burst });
    }
  }).transform((raw): RateLimitRule | undefined =>
    raw.requests_per_second === 0 ? undefined : {
      requestsPerSecond: raw.requests_per_second,
      burst: raw.burst ?? raw.requests_per_second,
    }
  ),
);

export const SERVER_RATE_LIMIT_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(false),
  store: z.enum(RATE_LIMIT_STORES, { error: expecting(oneOf(RATE_LIMIT_STORES)) })
    .default("memory"),
  global: rateLimitRuleSchema,
  per_ip: rateLimitRuleSchema,
  per_user: rateLimitRuleSchema,
};

/** `server.rate_limit`: written (even empty) = its settings, absent = undefined. */
export const serverRateLimitSchema = present(
  z.strictObject(SERVER_RATE_LIMIT_SHAPE, {
    error: expecting(
      "a mapping of rate-limit settings (enabled, store, global, per_ip, per_user)",
    ),
  }).transform((raw): RateLimitConfig => ({
    enabled: raw.enabled,
    store: raw.store,
    global: raw.enabled ? raw.global : undefined,
    perIp: raw.enabled ? raw.per_ip : undefined,
    perUser: raw.enabled ? raw.per_user : undefined,
  })),
);

/** The message for `store: redis` without a Redis tier to borrow the connection settings of. */
export function redisStoreProblem(): string {
  return 'store "redis" shares the limits through the cache\'s Redis, but the cache has no ' +
    'Redis tier; configure cache.redis (enabled: true, redis_url) and list "redis" in ' +
    "cache.cache_layers, or set store: memory (each gateway then counts on its own)";
}
