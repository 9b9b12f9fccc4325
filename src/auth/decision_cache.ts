// Owns DecisionCache (one authorizer's bounded TTL cache of policy answers) and canonicalJson().

/** A policy answer as cached: whether it allowed, and the policy's reason if it gave one. */
export interface CachedDecision {
  readonly allowed: boolean;
  readonly reason?: string;
}

export interface DecisionCacheOptions {
  /** How long an answer is reused; 0 or less disables the cache. */
  ttlMs: number;
  /** Bound on entries kept. Default 10,000 (the original's capacity). */
  maxEntries?: number;
  /**
   * Bound on the summed length of all keys, in UTF-16 code units, so that large claims cannot
   * make 10,000 entries cost hundreds of MB. A key longer than this is never cached. Default 4M.
   */
  maxKeyChars?: number;
  /** Monotonic milliseconds. Default performance.now. */
  now?: () => number;
}

interface Entry extends CachedDecision {
  readonly expiresAt: number;
}

/**
 * One authorizer's (so one bucket's) cache of policy answers, keyed by a canonical string of
 * everything the policy sees. Unlike the original, it is not shared across buckets and each keeps
 * its own configured TTL. Callers store only real policy answers, never fail-open/closed outcomes.
 *
 * Every entry has the same TTL, so insertion order is also expiry order: when full, the oldest
 * entry is dropped first, which is also the first to expire.
 */
export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxKeyChars: number;
  readonly #now: () => number;
  #keyChars = 0;
  #hits = 0;
  #misses = 0;

  constructor(options: DecisionCacheOptions) {
    this.#ttlMs = Number.isFinite(options.ttlMs) ? options.ttlMs : 0;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.#maxKeyChars = Math.max(1, options.maxKeyChars ?? 4_000_000);
    this.#now = options.now ?? (() => performance.now());
  }

  /** False when the TTL is 0: get() always misses and set() keeps nothing. */
  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** The answer stored under `key` if it has not expired, else undefined. */
  get(key: string): CachedDecision | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (entry.expiresAt > this.#now()) {
        this.#hits++;
        return entry;
      }
      this.#delete(key, entry);
    }
    this.#misses++;
    return undefined;
  }

  /** Stores a policy answer for the TTL. A no-op when disabled or when the key is too long. */
  set(key: string, decision: CachedDecision): void {
    if (!this.enabled || key.length > this.#maxKeyChars) return;
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#delete(key, previous);
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= this.#maxEntries || this.#keyChars + key.length > this.#maxKeyChars)
    ) {
      // Map iterates in insertion order: the first entry is the oldest, so the first to expire.
      const [oldestKey, oldest] = this.#entries.entries().next().value!;
      this.#delete(oldestKey, oldest);
    }
    const entry: Entry = decision.reason === undefined
      ? { allowed: decision.allowed, expiresAt: this.#now() + this.#ttlMs }
      : {
        allowed: decision.allowed,
        reason: decision.reason,
        expiresAt: this.#now() + this.#ttlMs,
      };
    this.#entries.set(key, entry);
    this.#keyChars += key.length;
  }

  clear(): void {
    this.#entries.clear();
    this.#keyChars = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Lookup counters since creation (for metrics). */
  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }

  #delete(key: string, entry: Entry): void {
    if (this.#entries.get(key) === entry) {
      this.#entries.delete(key);
      this.#keyChars -= key.length;
    }
  }
}

/**
 * JSON with object keys sorted at every level, so equal values always give the same string (a
 * stable cache key, and a valid request body). Follows JSON.stringify otherwise: undefined,
 * functions and symbols are dropped from objects and become null in arrays, non-finite numbers
 * become null, toJSON() is honoured. Throws a TypeError on cycles and BigInt, as JSON.stringify does.
 *
 * Used instead of hashing: WebCrypto digests cost ~50 µs per call in Deno, and the key string is
 * built anyway as the request body.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, new Set()) ?? "null";
}

function serialize(value: unknown, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new TypeError("a BigInt cannot be serialised to JSON");
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return "null";
  const object = value as Record<string, unknown>;
  if (typeof object.toJSON === "function") {
    return serialize((object.toJSON as () => unknown)(), ancestors);
  }
  // Boxed primitives serialise as their value, as in JSON.stringify.
  if (object instanceof Number || object instanceof String || object instanceof Boolean) {
    return serialize(object.valueOf(), ancestors);
  }
  if (ancestors.has(object)) throw new TypeError("a cyclic structure cannot be serialised to JSON");
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      // Indexed, not map(): map() skips the holes of a sparse array and join() renders them empty.
      const items: string[] = [];
      for (let i = 0; i < object.length; i++) items.push(serialize(object[i], ancestors) ?? "null");
      return "[" + items.join(",") + "]";
    }
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const item = serialize(object[key], ancestors);
      if (item !== undefined) parts.push(JSON.stringify(key) + ":" + item);
    }
    return "{" + parts.join(",") + "}";
  } finally {
    ancestors.delete(object);
  }
}
