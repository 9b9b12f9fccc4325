// Owns the image worker pool: at most `concurrency` transformations at once, a bounded queue, 503 when full.

import { ProxyError } from "../errors.ts";

interface Waiting {
  start(): void;
}

/**
 * sharp already runs on libuv's threads; this bounds how many decoded images exist at once (work
 * and memory), and how many requests may wait for a slot. A request that finds the queue full is
 * refused at once with 503 image_overloaded + Retry-After instead of piling up.
 */
export class ImagePool {
  readonly concurrency: number;
  readonly queueSize: number;
  #active = 0;
  readonly #queue: Waiting[] = [];

  constructor(concurrency: number, queueSize: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
    }
    if (!Number.isInteger(queueSize) || queueSize < 0) {
      throw new RangeError(`queue size must be an integer >= 0, got ${queueSize}`);
    }
    this.concurrency = concurrency;
    this.queueSize = queueSize;
  }

  /** Transformations running now. */
  get active(): number {
    return this.#active;
  }

  /** Transformations waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs `task` when a slot is free; the slot is held until the task's promise settles. Rejects
   * with image_overloaded when every slot is busy and the queue is full, and with `signal`'s
   * reason when it aborts while waiting (the task then never starts).
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#active < this.concurrency) return this.#start(task);
    if (this.#queue.length >= this.queueSize) return Promise.reject(this.#overloaded());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiting);
        if (index !== -1) this.#queue.splice(index, 1);
        reject(signal!.reason);
      };
      const waiting: Waiting = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#start(task).then(resolve, reject);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiting);
    });
  }

  #start<T>(task: () => Promise<T>): Promise<T> {
    this.#active++;
    let running: Promise<T>;
    try {
      running = task();
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.finally(() => {
      this.#active--;
      this.#queue.shift()?.start();
    });
  }

  #overloaded(): ProxyError {
    return new ProxyError("image_overloaded", {
      message:
        `All ${this.concurrency} image workers are busy and ${this.queueSize} requests are ` +
        "waiting (image_optimization.concurrency, queue_size); retry shortly.",
      source: "internal",
      headers: { "retry-after": "1" },
    });
  }
}
