// Owns MemoryStore: the memory tier, a size-weighted LRU with per-entry expiry (lru-cache adapter).

import { LRUCache } from "lru-cache";
import type { MemoryCacheConfig } from "../config/types.ts";
import type { CachedObject, CacheStats } from "./cached_object.ts";

/**
 * Bookkeeping bytes per entry beyond the body: headers, key, object overhead and the template
 * fullResponse keeps (an estimate).
 */
function entrySize(value: CachedObject, key: string): number {
  return value.body.byteLength + key.length + 1024;
}

/**
 * The memory tier: synchronous (it is asked on every request, before any await). The slower tiers
 * implement CacheTier (tier.ts) instead; TieredCache puts them together.
 */
export class MemoryStore {
  readonly #lru: LRUCache<string, CachedObject>;
  readonly #maxBytes: number;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(config: MemoryCacheConfig) {
    this.#maxBytes = config.maxCacheBytes;
    this.#lru = new LRUCache<string, CachedObject>({
      maxSize: config.maxCacheBytes,
      // An entry larger than the whole tier is refused rather than evicting everything.
      maxEntrySize: config.maxCacheBytes,
      sizeCalculation: entrySize,
      dispose: (_value, _key, reason) => {
        if (reason === "evict") this.#evictions++;
      },
    });
  }

  get(key: string, nowMs: number): CachedObject | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (entry.expiresAt <= nowMs) {
      // Kept (until LRU pressure evicts it) so that `lookup` can revalidate it with its ETag
      // or serve it under stale-if-error; it is no longer served as fresh.
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return entry;
  }

  set(key: string, value: CachedObject): void {
    this.#lru.set(key, value);
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  deleteMatching(matches: (key: string) => boolean): number {
    let deleted = 0;
    // Collect first: deleting while iterating an LRU's keys would skip entries.
    for (const key of [...this.#lru.keys()]) {
      if (matches(key) && this.#lru.delete(key)) deleted++;
    }
    return deleted;
  }

  peek(key: string): CachedObject | undefined {
    return this.#lru.peek(key);
  }

  usage(matches: (key: string) => boolean): { items: number; bytes: number } {
    let items = 0;
    let bytes = 0;
    for (const [key, value] of this.#lru.entries()) {
      if (!matches(key)) continue;
      items++;
      bytes += entrySize(value, key);
    }
    return { items, bytes };
  }

  clear(): void {
    this.#lru.clear();
  }

  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      items: this.#lru.size,
      bytes: this.#lru.calculatedSize,
      maxBytes: this.#maxBytes,
    };
  }
}
