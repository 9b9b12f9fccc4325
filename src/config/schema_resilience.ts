// Owns the schema of a bucket's upstream resilience keys: connect/idle timeouts, retry, circuit_breaker.

import { z } from "zod";
import type { CircuitBreakerConfig, RetryConfig } from "./types.ts";
import { expecting, MAX_SECONDS, optional, present, seconds, section } from "./schema_support.ts";

/** More attempts only multiply the load on an S3 that is already failing. */
export const MAX_ATTEMPTS = 10;
/** The longest backoff: one minute (a request waiting longer is better answered with an error). */
export const MAX_BACKOFF_MS = 60_000;

export const RETRY_DEFAULTS: RetryConfig = {
  maxAttempts: 3,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
};

export const CIRCUIT_BREAKER_DEFAULTS: CircuitBreakerConfig = {
  failureThreshold: 5,
  successThreshold: 2,
  timeoutSeconds: 60,
  halfOpenMaxRequests: 3,
};

function count(expected: string, max: number, defaultValue: number) {
  const error = expecting(`${expected} from 1 to ${max}`);
  return z.int({ error }).min(1, { error }).max(max, { error }).default(defaultValue);
}

function backoffMs(defaultValue: number) {
  const error = expecting(`a whole number of milliseconds from 0 to ${MAX_BACKOFF_MS}`);
  return z.int({ error }).min(0, { error }).max(MAX_BACKOFF_MS, { error }).default(defaultValue);
}

export const RETRY_SHAPE = {
  // The original counted retries down from max_attempts and underflowed at 0; here 0 is refused.
  max_attempts: count(
    "a whole number of attempts in total (1 = no retries)",
    MAX_ATTEMPTS,
    RETRY_DEFAULTS.maxAttempts,
  ),
  initial_backoff_ms: backoffMs(RETRY_DEFAULTS.initialBackoffMs),
  max_backoff_ms: backoffMs(RETRY_DEFAULTS.maxBackoffMs),
};

/** Why initial/max backoff do not fit together, if they do not. */
export function backoffProblem(initialMs: number, maxMs: number): string | undefined {
  if (initialMs <= maxMs) return undefined;
  return `initial_backoff_ms (${initialMs}) is larger than max_backoff_ms (${maxMs}); ` +
    "backoffs grow from initial_backoff_ms up to max_backoff_ms, so raise max_backoff_ms or " +
    "lower initial_backoff_ms";
}

export const retrySchema = section(
  z.strictObject(RETRY_SHAPE, {
    error: expecting("a mapping with max_attempts, initial_backoff_ms and max_backoff_ms"),
  }).superRefine((raw, ctx) => {
    // Reported on `retry` itself: either key may be the default (and so not in the file).
    const problem = backoffProblem(raw.initial_backoff_ms, raw.max_backoff_ms);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: raw });
  }).transform((raw): RetryConfig => ({
    maxAttempts: raw.max_attempts,
    initialBackoffMs: raw.initial_backoff_ms,
    maxBackoffMs: raw.max_backoff_ms,
  })),
);

export const CIRCUIT_BREAKER_SHAPE = {
  failure_threshold: count(
    "a whole number of consecutive failures",
    1000,
    CIRCUIT_BREAKER_DEFAULTS.failureThreshold,
  ),
  success_threshold: count(
    "a whole number of successful probes",
    1000,
    CIRCUIT_BREAKER_DEFAULTS.successThreshold,
  ),
  timeout_seconds: seconds({ min: "positive", default: CIRCUIT_BREAKER_DEFAULTS.timeoutSeconds }),
  half_open_max_requests: count(
    "a whole number of probes in flight",
    1000,
    CIRCUIT_BREAKER_DEFAULTS.halfOpenMaxRequests,
  ),
};

/** Present (even empty: `circuit_breaker:` means the defaults) = a breaker; absent = none. */
export const circuitBreakerSchema = present(
  z.strictObject(CIRCUIT_BREAKER_SHAPE, {
    error: expecting(
      "a mapping with failure_threshold, success_threshold, timeout_seconds and half_open_max_requests",
    ),
  }).transform((raw): CircuitBreakerConfig => ({
    failureThreshold: raw.failure_threshold,
    successThreshold: raw.success_threshold,
    timeoutSeconds: raw.timeout_seconds,
    halfOpenMaxRequests: raw.half_open_max_requests,
  })),
);

const SECONDS_ERROR = expecting(`a number of seconds greater than 0 and at most ${MAX_SECONDS}`);

/** The resilience keys of `buckets[].s3`, spread into its shape (schema_buckets.ts). */
export const S3_RESILIENCE_SHAPE = {
  connect_timeout: seconds({ min: "positive", default: 5 }),
  // Absent: the bucket's `timeout` (the original used one value for connect, read and write).
  idle_timeout: optional(
    z.number({ error: SECONDS_ERROR }).gt(0, { error: SECONDS_ERROR })
      .max(MAX_SECONDS, { error: SECONDS_ERROR }),
  ),
  retry: retrySchema,
  circuit_breaker: circuitBreakerSchema,
};
