// Owns LargeBodies: the URLs whose last whole GET answered with a body the gateway's own client hands to fetch.

/**
 * A GET answered with a body over NATIVE_PIPE_MIN_BYTES is sent twice: the own client reads the
 * head, closes its connection and asks fetch again, so that Deno pipes the body natively. Closing
 * throws away what S3 had already written into the socket (megabytes over loopback) and a
 * connection. Remembering those URLs for a while sends the next GET of a hot large object to fetch
 * at once. Bounded in entries, oldest dropped first; an entry lives `ttlMs` at most, and the
 * client forgets one as soon as fetch answers that URL with anything but a large 200. A Map with an
 * expiry per URL, like SignatureCache beside it: lru-cache's TTL mode schedules a timer whenever
 * it reads its clock (its ttlResolution cache), which this does not need.
 */
export class LargeBodies {
  readonly #expiresAt = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  /** `now`: the clock, in epoch ms (tests pass their own). */
  constructor(ttlMs = 300_000, maxEntries = 1_024, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /**
   * True when `url` answered with a large body within the last `ttlMs`. Asked on every whole GET:
   * the clock is read only for a URL that is remembered.
   */
  has(url: string): boolean {
    if (this.#expiresAt.size === 0) return false;
    const expiresAt = this.#expiresAt.get(url);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.#now()) return true;
    this.#expiresAt.delete(url);
    return false;
  }

  remember(url: string): void {
    // Re-inserted, so that the Map's insertion order stays oldest first.
    this.#expiresAt.delete(url);
    if (this.#expiresAt.size >= this.#maxEntries) {
      this.#expiresAt.delete(this.#expiresAt.keys().next().value!);
    }
    this.#expiresAt.set(url, this.#now() + this.#ttlMs);
  }

  forget(url: string): void {
    this.#expiresAt.delete(url);
  }

  get size(): number {
    return this.#expiresAt.size;
  }
}
