// Owns the retry backoff schedule: exponential growth with jitter, bounded by initial and max.

import type { RetryConfig } from "../config/types.ts";

/**
 * Milliseconds to wait before retry number `retry` (1 = before the second attempt): a random
 * value between `initial * 2^(retry-1)` and twice that, both capped at `max`. The lower bound keeps
 * the exponential spacing (the original computed it but never waited); the random upper half
 * spreads the retries of many clients that failed together (S3 SlowDown is exactly that case).
 * Always within [initial_backoff_ms, max_backoff_ms].
 */
export function backoffMs(
  retry: number,
  policy: Pick<RetryConfig, "initialBackoffMs" | "maxBackoffMs">,
  random: () => number = Math.random,
): number {
  const max = policy.maxBackoffMs;
  const low = Math.min(max, policy.initialBackoffMs * 2 ** Math.max(0, retry - 1));
  const high = Math.min(max, low * 2);
  return Math.round(low + random() * (high - low));
}
