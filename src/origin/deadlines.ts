// Owns DeadlineSweeper: one shared timer that aborts upstream requests past their deadline or whose client left.

interface Pending {
  controller: AbortController;
  deadline: number;
  clientSignal: AbortSignal;
  timeoutReason: unknown;
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

  /** Watches `controller` until `release` is called with the returned handle. */
  watch(
    controller: AbortController,
    timeoutMs: number,
    clientSignal: AbortSignal,
    timeoutReason: unknown,
  ): object {
    const pending: Pending = {
      controller,
      deadline: Date.now() + timeoutMs,
      clientSignal,
      timeoutReason,
    };
    this.#pending.add(pending);
    this.#timer ??= setInterval(() => this.#sweep(), this.#tickMs);
    return pending;
  }

  release(handle: object): void {
    this.#pending.delete(handle as Pending);
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
      }
    }
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
