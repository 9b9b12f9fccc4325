// Owns SharedFill: one upstream fill of a cache key whose bytes stream to every request that waits on it.

/** The leader's response, as followers replay it. */
export interface FillHead {
  headers: Headers;
  length: number;
}

/**
 * Concurrent misses for one key share the first request's upstream fetch (the leader). Followers
 * wait for its head; if the leader's object is shareable they get a stream that replays the bytes
 * already received and then follows the live ones; if it is not (an error status, too large,
 * not storable) they fetch on their own; if the leader fails, they fail with the same error, and
 * never hang. Chunks are kept only until the fill ends (it is bounded by the cache's item size).
 */
export class SharedFill {
  readonly #head: Promise<FillHead | undefined>;
  #resolveHead!: (head: FillHead | undefined) => void;
  #rejectHead!: (error: unknown) => void;
  #settledHead = false;
  #streaming = false;
  readonly #chunks: Uint8Array[] = [];
  #done = false;
  #error: unknown = undefined;
  #failed = false;
  #wake: Array<() => void> = [];

  constructor() {
    this.#head = new Promise((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    // A fill nobody follows must not leave an unhandled rejection behind.
    this.#head.catch(() => {});
  }

  /** The leader's head: shareable (`FillHead`), not shareable (undefined), or its error. */
  head(): Promise<FillHead | undefined> {
    return this.#head;
  }

  /** True once a shareable head was published (the fill then ends with finish() or fail()). */
  get streaming(): boolean {
    return this.#streaming;
  }

  publishHead(head: FillHead | undefined): void {
    if (this.#settledHead) return;
    this.#settledHead = true;
    this.#streaming = head !== undefined;
    this.#resolveHead(head);
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#notify();
  }

  finish(): void {
    this.#done = true;
    this.#notify();
  }

  /** Before the head: followers get `error`; after it: their streams error. */
  fail(error: unknown): void {
    if (!this.#settledHead) {
      this.#settledHead = true;
      this.#rejectHead(error);
    }
    this.#failed = true;
    this.#error = error;
    this.#notify();
  }

  /** A stream of every chunk of the fill, from the first. */
  stream(): ReadableStream<Uint8Array> {
    let index = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          if (index < this.#chunks.length) {
            controller.enqueue(this.#chunks[index++]!);
            return;
          }
          if (this.#failed) {
            controller.error(this.#error);
            return;
          }
          if (this.#done) {
            controller.close();
            return;
          }
          await new Promise<void>((resolve) => this.#wake.push(resolve));
        }
      },
    });
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}
