// Owns LargeBodies: the URLs whose last whole GET answered with a body the gateway's own client hands to fetch.

/**
 * A GET answered with a body over NATIVE_PIPE_MIN_BYTES is sent twice: the own client reads the
 * head, closes its connection and asks fetch again, so that Deno pipes the body natively. Closing
 * throws away what S3 had already written into the socket (megabytes over loopback) and a
 * connection. Remembering those URLs for a while sends the next GET of a hot large object to fetch
 * at once. Bounded in entries, oldest dropped first; an entry lives `ttlMs` at most, and the
 * client forgets one as soon as fetch answers that URL with anything but a large 200.
 */
export class LargeBodies {
  readonly #expiresAt = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(ttlMs = 300_000, maxEntries = 1_024) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** True when `url` answered with a large body within the last `ttlMs`. */
  has(url: string, nowMs: number): boolean {
    const expiresAt = this.#expiresAt.get(url);
    if (expiresAt === undefined) return false;
    if (expiresAt > nowMs) return true;
    this.#expiresAt.delete(url);
    return false;
  }

  remember(url: string, nowMs: number): void {
    // Re-inserted, so that the Map's insertion order stays oldest first.
    this.#expiresAt.delete(url);
    if (this.#expiresAt.size >= this.#maxEntries) {
      this.#expiresAt.delete(this.#expiresAt.keys().next().value!);
    }
    this.#expiresAt.set(url, nowMs + this.#ttlMs);
  }

  forget(url: string): void {
    this.#expiresAt.delete(url);
  }

  get size(): number {
    return this.#expiresAt.size;
  }
}
