// Owns the unit tests of the resilience keys of `buckets[].s3`: connect/idle timeouts, retry and
// circuit_breaker (defaults, every rule and message, positions, "did you mean").

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import {
  assertOneError,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  twoRawBuckets,
} from "./_test_support.ts";

function raw(): Record<string, unknown> {
  return { buckets: twoRawBuckets() };
}

function rawWith(path: string, value: unknown): Record<string, unknown> {
  return setPath(raw(), path, value);
}

Deno.test("resilience defaults: 3 attempts 100-1000 ms, connect 5 s, idle = timeout, no breaker", () => {
  const s3 = ok(parseRaw(rawWith("buckets[0].s3.timeout", 12))).buckets[0]!.s3;
  assert.equal(s3.connectTimeout, 5);
  assert.equal(s3.idleTimeout, 12);
  assert.deepEqual(s3.retry, { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 });
  assert.equal(s3.circuitBreaker, undefined);
});

Deno.test("an empty `retry:` is the defaults; an empty `circuit_breaker:` is a breaker with defaults", () => {
  const text = `
buckets:
  - name: a
    path_prefix: /a
    s3:
      bucket: abc
      access_key: k
      secret_key: s
      retry:
      circuit_breaker:
`;
  const s3 = ok(parseConfig(text, { env: {} })).buckets[0]!.s3;
  assert.deepEqual(s3.retry, { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 });
  assert.deepEqual(s3.circuitBreaker, {
    failureThreshold: 5,
    successThreshold: 2,
    timeoutSeconds: 60,
    halfOpenMaxRequests: 3,
  });
});

Deno.test("resilience keys are read and keep fractions of seconds", () => {
  const config = ok(parseRaw(setPath(
    setPath(
      setPath(rawWith("buckets[1].s3.connect_timeout", 0.25), "buckets[1].s3.idle_timeout", 0.5),
      "buckets[1].s3.retry",
      { max_attempts: 1, initial_backoff_ms: 0, max_backoff_ms: 0 },
    ),
    "buckets[1].s3.circuit_breaker",
    { failure_threshold: 1, timeout_seconds: 0.2 },
  )));
  const s3 = config.buckets[1]!.s3;
  assert.equal(s3.connectTimeout, 0.25);
  assert.equal(s3.idleTimeout, 0.5);
  assert.deepEqual(s3.retry, { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 });
  assert.deepEqual(s3.circuitBreaker, {
    failureThreshold: 1,
    successThreshold: 2,
    timeoutSeconds: 0.2,
    halfOpenMaxRequests: 3,
  });
  // The other bucket keeps the defaults.
  assert.equal(config.buckets[0]!.s3.circuitBreaker, undefined);
});

const RULES: RuleCase[] = [
  {
    name: "max_attempts 0 (the original underflowed)",
    path: "buckets[0].s3.retry.max_attempts",
    value: 0,
    message: "expected a whole number of attempts in total (1 = no retries) from 1 to 10, got 0",
  },
  {
    name: "max_attempts too many",
    path: "buckets[0].s3.retry.max_attempts",
    value: 11,
    message: /from 1 to 10, got 11/,
  },
  {
    name: "max_attempts fractional",
    path: "buckets[0].s3.retry.max_attempts",
    value: 2.5,
    message: /from 1 to 10, got 2.5/,
  },
  {
    name: "max_attempts quoted",
    path: "buckets[0].s3.retry.max_attempts",
    value: "3",
    message: /got "3" \(a string; remove the quotes\)/,
  },
  {
    name: "initial_backoff_ms negative",
    path: "buckets[0].s3.retry.initial_backoff_ms",
    value: -1,
    message: "expected a whole number of milliseconds from 0 to 60000, got -1",
  },
  {
    name: "max_backoff_ms over a minute",
    path: "buckets[0].s3.retry.max_backoff_ms",
    value: 60_001,
    message: "expected a whole number of milliseconds from 0 to 60000, got 60001",
  },
  {
    name: "initial above the default max",
    path: "buckets[0].s3.retry",
    value: { initial_backoff_ms: 2000 },
    message: "initial_backoff_ms (2000) is larger than max_backoff_ms (1000); backoffs grow " +
      "from initial_backoff_ms up to max_backoff_ms, so raise max_backoff_ms or lower " +
      "initial_backoff_ms",
  },
  {
    name: "max below the default initial",
    path: "buckets[0].s3.retry",
    value: { max_backoff_ms: 50 },
    message: /^initial_backoff_ms \(100\) is larger than max_backoff_ms \(50\)/,
  },
  {
    name: "retry not a mapping",
    path: "buckets[0].s3.retry",
    value: 3,
    message: "expected a mapping with max_attempts, initial_backoff_ms and max_backoff_ms, got 3",
  },
  {
    name: "retry unknown key",
    path: "buckets[0].s3.retry",
    value: { max_attempt: 3 },
    errorPath: "buckets[0].s3.retry.max_attempt",
    message: /unknown key `max_attempt`; did you mean `max_attempts`\?/,
  },
  {
    name: "failure_threshold 0",
    path: "buckets[0].s3.circuit_breaker.failure_threshold",
    value: 0,
    message: "expected a whole number of consecutive failures from 1 to 1000, got 0",
  },
  {
    name: "success_threshold 0",
    path: "buckets[0].s3.circuit_breaker.success_threshold",
    value: 0,
    message: "expected a whole number of successful probes from 1 to 1000, got 0",
  },
  {
    name: "half_open_max_requests 0",
    path: "buckets[0].s3.circuit_breaker.half_open_max_requests",
    value: 0,
    message: "expected a whole number of probes in flight from 1 to 1000, got 0",
  },
  {
    name: "circuit timeout_seconds 0",
    path: "buckets[0].s3.circuit_breaker.timeout_seconds",
    value: 0,
    message: /greater than 0 and at most 86400, got 0/,
  },
  {
    name: "circuit_breaker unknown key",
    path: "buckets[0].s3.circuit_breaker",
    value: { failure_treshold: 3 },
    errorPath: "buckets[0].s3.circuit_breaker.failure_treshold",
    message: /did you mean `failure_threshold`\?/,
  },
  {
    name: "connect_timeout zero",
    path: "buckets[0].s3.connect_timeout",
    value: 0,
    message: /greater than 0 and at most 86400, got 0/,
  },
  {
    name: "idle_timeout negative",
    path: "buckets[0].s3.idle_timeout",
    value: -2,
    message: "expected a number of seconds greater than 0 and at most 86400, got -2",
  },
  {
    name: "idle_timeout over a day",
    path: "buckets[0].s3.idle_timeout",
    value: 86_401,
    message: "expected a number of seconds greater than 0 and at most 86400, got 86401",
  },
];

for (const rule of RULES) {
  Deno.test(`resilience rule: ${rule.name}`, () => {
    assertOneError(
      parseRaw(rawWith(rule.path, rule.value)),
      rule.errorPath ?? rule.path,
      rule.message,
    );
  });
}
