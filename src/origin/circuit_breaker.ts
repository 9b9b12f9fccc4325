// Owns CircuitBreaker: the closed -> open -> half-open state machine of one upstream (pure, clock passed in).

import type { CircuitBreakerConfig } from "../config/types.ts";

export type CircuitState = "closed" | "open" | "half_open";

/** Leave to send one request; hand it back to `record` with the outcome. */
export interface CircuitPermit {
  /** The state period it was given in: outcomes of an earlier period no longer count. */
  readonly epoch: number;
  /** A half-open probe: it holds one of the `half_open_max_requests` slots until recorded. */
  readonly probe: boolean;
}

export type CircuitOutcome = "success" | "failure" | "neutral";

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  /** While open: milliseconds until probes are let through. */
  retryAfterMs: number;
}

export interface CircuitTransition {
  from: CircuitState;
  to: CircuitState;
  consecutiveFailures: number;
}

/** How long a caller turned away in half-open (every probe slot busy) should wait. */
const HALF_OPEN_RETRY_AFTER_MS = 1000;

interface Probe extends CircuitPermit {
  settled: boolean;
}

/**
 * The original's semantics, with its bugs left out: `failure_threshold` consecutive failures open
 * the breaker; open, it refuses every request for `timeout_seconds` (the caller answers 503 with
 * the real remaining time, not a fixed 60); then it is half-open: at most
 * `half_open_max_requests` probes in flight at once (others are refused at once rather than
 * queued behind a possibly stalled S3), `success_threshold` successful probes close it, and any
 * failed probe opens it again for another `timeout_seconds`.
 *
 * Written here rather than with cockatiel's CircuitBreakerPolicy: that one admits a fixed sample
 * of half-open calls and makes the others wait for the verdict, has no separate success
 * threshold, does not expose the time left open (needed for Retry-After), and only learns the
 * outcome of the function it wraps, while a body that stalls after the headers must count too.
 */
export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #successThreshold: number;
  readonly #openMs: number;
  readonly #halfOpenMax: number;
  readonly #onTransition: ((transition: CircuitTransition) => void) | undefined;
  #state: CircuitState = "closed";
  #epoch = 0;
  /** Shared by every request of a closed period: the common path allocates nothing. */
  #closedPermit: CircuitPermit = { epoch: 0, probe: false };
  #failures = 0;
  #openedAt = 0;
  #probesInFlight = 0;
  #probeSuccesses = 0;

  constructor(
    config: CircuitBreakerConfig,
    onTransition?: (transition: CircuitTransition) => void,
  ) {
    this.#failureThreshold = config.failureThreshold;
    this.#successThreshold = config.successThreshold;
    this.#openMs = config.timeoutSeconds * 1000;
    this.#halfOpenMax = config.halfOpenMaxRequests;
    this.#onTransition = onTransition;
  }

  /** A permit, or the milliseconds to wait when the request must not be sent. */
  admit(now: number): CircuitPermit | number {
    if (this.#state === "closed") return this.#closedPermit;
    if (this.#state === "open") {
      const left = this.#openedAt + this.#openMs - now;
      if (left > 0) return left;
      this.#enter("half_open", now);
    }
    if (this.#probesInFlight >= this.#halfOpenMax) return HALF_OPEN_RETRY_AFTER_MS;
    this.#probesInFlight++;
    const probe: Probe = { epoch: this.#epoch, probe: true, settled: false };
    return probe;
  }

  /**
   * The outcome of a permitted request. May be called again for the same permit with "failure"
   * when the body fails after the headers were recorded as a success.
   */
  record(permit: CircuitPermit, outcome: CircuitOutcome, now: number): void {
    if (permit.probe) {
      const probe = permit as Probe;
      const first = !probe.settled;
      probe.settled = true;
      if (permit.epoch !== this.#epoch) return;
      if (first) this.#probesInFlight--;
      if (outcome === "failure") this.#enter("open", now);
      else if (outcome === "success" && first) {
        this.#probeSuccesses++;
        if (this.#probeSuccesses >= this.#successThreshold) this.#enter("closed", now);
      }
      return;
    }
    // Requests let through in an earlier period say nothing about the current one.
    if (permit.epoch !== this.#epoch || this.#state !== "closed") return;
    if (outcome === "success") this.#failures = 0;
    else if (outcome === "failure") {
      this.#failures++;
      if (this.#failures >= this.#failureThreshold) this.#enter("open", now);
    }
  }

  /** Closes the breaker at once: an out-of-band probe found the upstream healthy again. */
  reset(now: number): void {
    if (this.#state !== "closed") this.#enter("closed", now);
  }

  /** The state as /ready reports it: an open breaker past its timeout is about to probe. */
  snapshot(now: number): CircuitSnapshot {
    if (this.#state === "open") {
      const left = Math.max(0, this.#openedAt + this.#openMs - now);
      return {
        state: left > 0 ? "open" : "half_open",
        consecutiveFailures: this.#failures,
        retryAfterMs: left,
      };
    }
    return { state: this.#state, consecutiveFailures: this.#failures, retryAfterMs: 0 };
  }

  #enter(state: CircuitState, now: number): void {
    const from = this.#state;
    this.#state = state;
    this.#epoch++;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    if (state === "open") this.#openedAt = now;
    if (state === "closed") {
      this.#failures = 0;
      this.#closedPermit = { epoch: this.#epoch, probe: false };
    }
    this.#onTransition?.({ from, to: state, consecutiveFailures: this.#failures });
  }
}
