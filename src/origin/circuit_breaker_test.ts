// Owns the unit tests of CircuitBreaker: every transition, with a clock passed in.

import assert from "node:assert/strict";
import { CircuitBreaker, type CircuitPermit, type CircuitTransition } from "./circuit_breaker.ts";

const CONFIG = {
  failureThreshold: 3,
  successThreshold: 2,
  timeoutSeconds: 10,
  halfOpenMaxRequests: 2,
};

function permit(breaker: CircuitBreaker, now: number): CircuitPermit {
  const admitted = breaker.admit(now);
  if (typeof admitted === "number") assert.fail(`refused for ${admitted} ms at ${now}`);
  return admitted;
}

/** A breaker opened at t=0 by three failures. */
function opened(transitions: CircuitTransition[] = []): CircuitBreaker {
  const breaker = new CircuitBreaker(CONFIG, (t) => transitions.push(t));
  for (let i = 0; i < 3; i++) breaker.record(permit(breaker, 0), "failure", 0);
  return breaker;
}

Deno.test("closed: consecutive failures open it; a success in between resets the count", () => {
  const breaker = new CircuitBreaker(CONFIG);
  breaker.record(permit(breaker, 0), "failure", 0);
  breaker.record(permit(breaker, 0), "failure", 0);
  breaker.record(permit(breaker, 0), "success", 0);
  breaker.record(permit(breaker, 0), "failure", 0);
  breaker.record(permit(breaker, 0), "neutral", 0);
  breaker.record(permit(breaker, 0), "failure", 0);
  assert.deepEqual(breaker.snapshot(0), {
    state: "closed",
    consecutiveFailures: 2,
    retryAfterMs: 0,
  });
  breaker.record(permit(breaker, 0), "failure", 5);
  assert.deepEqual(breaker.snapshot(5), {
    state: "open",
    consecutiveFailures: 3,
    retryAfterMs: 10_000,
  });
});

Deno.test("open: refuses with the time left, then lets probes through", () => {
  const transitions: CircuitTransition[] = [];
  const breaker = opened(transitions);
  assert.equal(breaker.admit(1), 9_999);
  assert.equal(breaker.admit(9_999), 1);
  assert.equal(breaker.snapshot(10_000).state, "half_open");
  const first = permit(breaker, 10_000);
  const second = permit(breaker, 10_001);
  assert.ok(first.probe && second.probe);
  // half_open_max_requests = 2: a third request is refused while both probes are in flight.
  assert.equal(breaker.admit(10_002), 1000);
  breaker.record(first, "success", 10_003);
  assert.equal(breaker.snapshot(10_003).state, "half_open");
  // The freed slot takes another probe.
  const third = permit(breaker, 10_004);
  breaker.record(second, "success", 10_005);
  assert.equal(breaker.snapshot(10_005).state, "closed");
  // A probe of the finished half-open period changes nothing.
  breaker.record(third, "failure", 10_006);
  assert.equal(breaker.snapshot(10_006).state, "closed");
  assert.deepEqual(transitions.map((t) => `${t.from}->${t.to}`), [
    "closed->open",
    "open->half_open",
    "half_open->closed",
  ]);
  // Closed again from zero: it takes three new failures to open.
  breaker.record(permit(breaker, 10_007), "failure", 10_007);
  breaker.record(permit(breaker, 10_007), "failure", 10_007);
  assert.equal(breaker.snapshot(10_007).state, "closed");
});

Deno.test("half-open: a failed probe reopens it for another full timeout", () => {
  const breaker = opened();
  const probe = permit(breaker, 10_000);
  breaker.record(probe, "failure", 12_000);
  assert.equal(breaker.admit(12_000), 10_000);
  assert.deepEqual(breaker.snapshot(15_000), {
    state: "open",
    consecutiveFailures: 3,
    retryAfterMs: 7_000,
  });
});

Deno.test("half-open: a neutral probe frees its slot without counting", () => {
  const breaker = opened();
  const a = permit(breaker, 10_000);
  const b = permit(breaker, 10_000);
  breaker.record(a, "neutral", 10_001);
  breaker.record(b, "success", 10_001);
  assert.equal(breaker.snapshot(10_001).state, "half_open");
  breaker.record(permit(breaker, 10_002), "success", 10_002);
  assert.equal(breaker.snapshot(10_002).state, "closed");
});

Deno.test("a body that fails after a successful head counts as a failure, once per slot", () => {
  const breaker = opened();
  const probe = permit(breaker, 10_000);
  breaker.record(probe, "success", 10_000);
  // Recording the same probe again must not free a second slot nor count twice.
  breaker.record(probe, "success", 10_000);
  assert.equal(breaker.snapshot(10_000).state, "half_open");
  breaker.record(probe, "failure", 10_001);
  assert.equal(breaker.snapshot(10_001).state, "open");

  const closed = new CircuitBreaker(CONFIG);
  const p = permit(closed, 0);
  closed.record(p, "success", 0);
  closed.record(p, "failure", 0);
  assert.equal(closed.snapshot(0).consecutiveFailures, 1);
});

Deno.test("requests let through before the breaker opened do not count after it", () => {
  const breaker = new CircuitBreaker(CONFIG);
  const early = permit(breaker, 0);
  for (let i = 0; i < 3; i++) breaker.record(permit(breaker, 0), "failure", 0);
  breaker.record(early, "success", 1);
  assert.equal(breaker.snapshot(1).state, "open");
  const probe = permit(breaker, 10_000);
  breaker.record(early, "failure", 10_001);
  assert.equal(breaker.snapshot(10_001).state, "half_open");
  breaker.record(probe, "success", 10_002);
});

Deno.test("failure_threshold 1 and success_threshold 1 switch on every outcome", () => {
  const breaker = new CircuitBreaker({
    failureThreshold: 1,
    successThreshold: 1,
    timeoutSeconds: 0.5,
    halfOpenMaxRequests: 1,
  });
  breaker.record(permit(breaker, 0), "failure", 0);
  assert.equal(breaker.admit(499), 1);
  breaker.record(permit(breaker, 500), "success", 500);
  assert.equal(breaker.snapshot(500).state, "closed");
});
