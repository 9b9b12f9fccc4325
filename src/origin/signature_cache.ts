// Owns SignatureCache: reuse of SigV4 headers for identical plain reads within a short window.

/**
 * A SigV4 signature covers the method, path, query, signed headers and x-amz-date, and S3 accepts
 * a request for up to 15 minutes after its x-amz-date. So a hot object read many times a second
 * can reuse one signature for a while instead of hashing twice and HMAC-ing per request, which is
 * the largest per-request cost of the gateway on a miss. Only reads without forwarded headers are
 * cached (their signature depends on nothing else); bounded in entries, oldest dropped first.
 */
export class SignatureCache {
  readonly #entries = new Map<string, { headers: Record<string, string>; expiresAt: number }>();
  readonly #windowMs: number;
  readonly #maxEntries: number;

  /**
   * @param windowMs how long one signature is reused; well inside S3's 15-minute skew allowance.
   * @param maxEntries bound on distinct (method, path, query) signatures kept.
   */
  constructor(windowMs = 60_000, maxEntries = 10_000) {
    this.#windowMs = windowMs;
    this.#maxEntries = maxEntries;
  }

  /** The cached headers for `key` when still inside the window, else undefined. */
  get(key: string, nowMs: number): Record<string, string> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > nowMs) return entry.headers;
    this.#entries.delete(key);
    return undefined;
  }

  /** Stores headers signed at `nowMs`. The caller must not mutate them afterwards. */
  set(key: string, headers: Record<string, string>, nowMs: number): void {
    if (this.#entries.size >= this.#maxEntries) {
      // Map iterates in insertion order: the first key is the oldest signature.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { headers, expiresAt: nowMs + this.#windowMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
