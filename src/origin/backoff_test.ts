// Owns the unit tests of backoffMs: the exponential schedule, its bounds and its jitter.

import assert from "node:assert/strict";
import fc from "fast-check";
import { backoffMs } from "./backoff.ts";

Deno.test("backoffMs() doubles from initial, stays within [initial, max], jitters upwards", () => {
  const policy = { initialBackoffMs: 100, maxBackoffMs: 1000 };
  assert.equal(backoffMs(1, policy, () => 0), 100);
  assert.equal(backoffMs(1, policy, () => 0.999_999), 200);
  assert.equal(backoffMs(2, policy, () => 0), 200);
  assert.equal(backoffMs(3, policy, () => 0.5), 600);
  assert.equal(backoffMs(4, policy, () => 0), 800);
  assert.equal(backoffMs(4, policy, () => 0.999_999), 1000);
  assert.equal(backoffMs(5, policy, () => 0.3), 1000);
  assert.equal(backoffMs(50, policy, () => 0.3), 1000);
  assert.equal(backoffMs(3, { initialBackoffMs: 0, maxBackoffMs: 0 }), 0);
  assert.equal(backoffMs(3, { initialBackoffMs: 70, maxBackoffMs: 70 }), 70);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 60_000 }),
    fc.integer({ min: 0, max: 60_000 }),
    fc.integer({ min: 1, max: 20 }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    (a, b, retry, r) => {
      const policy = { initialBackoffMs: Math.min(a, b), maxBackoffMs: Math.max(a, b) };
      const wait = backoffMs(retry, policy, () => r);
      const floor = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (retry - 1));
      return wait >= policy.initialBackoffMs && wait <= policy.maxBackoffMs && wait >= floor &&
        Number.isInteger(wait);
    },
  ));
});
