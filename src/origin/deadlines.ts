// Owns DeadlineSweeper: one shared timer that aborts upstream requests past their deadline or whose client left.

interface Pending {
  controller: AbortController;
  /** Infinity while disarmed (see `disarm`). */
  deadline: number;
  clientSignal: AbortSignal;
  timeoutReason: unknown;
  /** When `check` runs (once); Infinity for none. */
  checkAt: number;
  check: (() => void) | undefined;
}

/**
 * Arming a timer and an abort listener per upstream request costs ~3 µs in Deno, a large share
 * of a cache miss. Instead every pending request sits in one Set that a single interval sweeps:
 * past its deadline it is aborted with `timeoutReason`; if its client has gone it is aborted with
 * the client's reason. Timeouts are configured in seconds, so a sweep every `tickMs` is precise
 * enough. The interval runs only while requests are pending, so an idle gateway has no timer.
 */
export class DeadlineSweeper {
  readonly #pending = new Set<Pending>();
  readonly #tickMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(tickMs = 25) {
    this.#tickMs = tickMs;
  }

  /**
   * Watches `controller` until `release` is called with the returned handle. `check`, if given,
   * runs once `check.afterMs` from now unless the handle was released or aborted before.
   */
  watch(
    controller: AbortController,
    timeoutMs: number,
    clientSignal: AbortSignal,
    timeoutReason: unknown,
    check?: { afterMs: number; run: () => void },
  ): object {
    const now = Date.now();
    const pending: Pending = {
      controller,
      deadline: now + timeoutMs,
      clientSignal,
      timeoutReason,
      checkAt: check === undefined ? Infinity : now + check.afterMs,
      check: check?.run,
    };
    this.#pending.add(pending);
    this.#timer ??= setInterval(() => this.#sweep(), this.#tickMs);
    return pending;
  }

  release(handle: object): void {
    this.#pending.delete(handle as Pending);
  }

  /**
   * Gives a watched handle a new deadline `timeoutMs` from now, aborting with `timeoutReason`
   * past it (a body read that must not stall). The client is watched throughout.
   */
  arm(handle: object, timeoutMs: number, timeoutReason: unknown): void {
    const pending = handle as Pending;
    pending.deadline = Date.now() + timeoutMs;
    pending.timeoutReason = timeoutReason;
    pending.checkAt = Infinity;
  }

  /** No deadline until the next `arm` (the reader waits on its consumer, not on S3). */
  disarm(handle: object): void {
    (handle as Pending).deadline = Infinity;
  }

  /** Stops the timer (pending requests are no longer watched). For shutdown and tests. */
  close(): void {
    this.#pending.clear();
    this.#stop();
  }

  get size(): number {
    return this.#pending.size;
  }

  #sweep(): void {
    if (this.#pending.size === 0) {
      this.#stop();
      return;
    }
    const now = Date.now();
    for (const pending of this.#pending) {
      if (pending.clientSignal.aborted) {
        this.#pending.delete(pending);
        pending.controller.abort(pending.clientSignal.reason);
      } else if (now >= pending.deadline) {
        this.#pending.delete(pending);
        pending.controller.abort(pending.timeoutReason);
      } else if (now >= pending.checkAt) {
        pending.checkAt = Infinity;
        pending.check!();
      }
    }
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
