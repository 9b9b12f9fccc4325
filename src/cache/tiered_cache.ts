// Owns TieredCache: the configured tiers in `cache_layers` order, lookup with promotion, fills, purges and stats.

import type { CachedObject, CacheStats } from "./cached_object.ts";
import type { MemoryStore } from "./memory_store.ts";
import { type CacheTier, type PurgeSelector, selectorMatcher, type TierStats } from "./tier.ts";
import { errorMessage } from "../errors.ts";

/** What a lookup below memory found: a fresh entry to serve, or an expired one to revalidate. */
export interface LowerLookup {
  fresh: CachedObject | undefined;
  stale: CachedObject | undefined;
}

/** Announces a purge to the other gateway instances (the Redis purge bus). */
export interface PurgeAnnouncer {
  publish(selector: PurgeSelector): Promise<void>;
  close(): Promise<void>;
}

export interface TierReport extends TierStats {
  name: "memory" | "disk" | "redis";
}

/**
 * The whole cache: `hits` are requests answered by any tier, `misses` requests no tier could
 * answer fresh; evictions sum the tiers; items, bytes and maxBytes are the first tier's.
 */
export interface CacheReport extends CacheStats {
  tiers: TierReport[];
}

export interface TieredCacheOptions {
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * The memory tier is looked up synchronously (a hit costs no await: most hits are there); the
 * tiers below it (disk, Redis) are asynchronous and only consulted on a memory miss. A hit below
 * is copied into every faster tier; a fill goes to every tier. Writes below memory run in the
 * background and never delay a response; `close` waits for them.
 */
export class TieredCache {
  readonly #memory: MemoryStore | undefined;
  readonly #lower: readonly CacheTier[];
  readonly #log: TieredCacheOptions["log"];
  #announcer: PurgeAnnouncer | undefined;
  readonly #pending = new Set<Promise<void>>();
  #hits = 0;
  #misses = 0;
  #purges = 0;

  constructor(
    memory: MemoryStore | undefined,
    lower: readonly CacheTier[],
    options: TieredCacheOptions = {},
  ) {
    this.#memory = memory;
    this.#lower = lower;
    this.#log = options.log;
  }

  /** Set once the purge bus exists (it needs the cache to apply remote purges to). */
  set announcer(announcer: PurgeAnnouncer | undefined) {
    this.#announcer = announcer;
  }

  /** True when tiers below memory exist, so a memory miss must still ask them. */
  get hasLowerTiers(): boolean {
    return this.#lower.length > 0;
  }

  /** Calls of `purge` so far (the admin API, a reload re-pointing a bucket), for the metrics. */
  get purges(): number {
    return this.#purges;
  }

  /** The names of the tiers, in lookup order. */
  get tierNames(): string[] {
    return [...(this.#memory ? ["memory"] : []), ...this.#lower.map((tier) => tier.name)];
  }

  /**
   * The fresh memory entry for `key`. Counts a hit; counts a miss only when no lower tier will be
   * asked (otherwise `lookupLower` counts the outcome).
   */
  getFresh(key: string, nowMs: number): CachedObject | undefined {
    const entry = this.#memory?.get(key, nowMs);
    if (entry !== undefined) this.#hits++;
    else if (this.#lower.length === 0) this.#misses++;
    return entry;
  }

  /** An expired memory entry kept for revalidation (undefined when there is none). */
  peekStale(key: string): CachedObject | undefined {
    return this.#memory?.peek(key);
  }

  /**
   * Asks the tiers below memory in order. The first fresh entry is served and copied into the
   * faster tiers; the first expired one is returned for revalidation when nothing fresh exists.
   */
  async lookupLower(key: string, nowMs: number): Promise<LowerLookup> {
    let stale: CachedObject | undefined;
    for (let index = 0; index < this.#lower.length; index++) {
      const entry = await this.#lower[index]!.get(key, nowMs);
      if (entry === undefined) continue;
      if (entry.expiresAt > nowMs) {
        this.#hits++;
        this.#promote(key, entry, index);
        return { fresh: entry, stale: undefined };
      }
      stale ??= entry;
    }
    this.#misses++;
    return { fresh: undefined, stale };
  }

  /** Stores a complete object in every tier (memory at once, the others in the background). */
  set(key: string, value: CachedObject): void {
    this.#memory?.set(key, value);
    for (const tier of this.#lower) this.#track(tier.set(key, value));
  }

  /**
   * Removes what `selector` names from every tier and tells the other instances. Resolves with
   * the number of entries removed (the largest count of any tier: one object lives in several).
   * Rejects when a shared tier or the announcement failed, after purging everything it could.
   */
  async purge(selector: PurgeSelector): Promise<number> {
    this.#purges++;
    const failures: string[] = [];
    const counts = [this.#purgeMemory(selector)];
    // Writes still in flight could re-add a purged entry after it was deleted: let them land first.
    await this.flush();
    const results = await Promise.allSettled(this.#lower.map((tier) => tier.purge(selector)));
    results.forEach((result, index) => {
      if (result.status === "fulfilled") counts.push(result.value);
      else failures.push(`${this.#lower[index]!.name}: ${errorMessage(result.reason)}`);
    });
    if (this.#announcer !== undefined) {
      try {
        await this.#announcer.publish(selector);
      } catch (error) {
        failures.push(errorMessage(error));
      }
    }
    if (failures.length > 0) throw new Error(failures.join("; "));
    return Math.max(...counts);
  }

  /**
   * A purge announced by another instance: the local tiers only (the shared Redis tier was
   * purged by the announcer itself).
   */
  async applyRemotePurge(selector: PurgeSelector): Promise<void> {
    this.#purgeMemory(selector);
    await this.flush();
    for (const tier of this.#lower) {
      if (tier.name === "redis") continue;
      try {
        await tier.purge(selector);
      } catch (error) {
        this.#log?.("cache.remote_purge_failed", { tier: tier.name, error: errorMessage(error) });
      }
    }
  }

  /** The entry for `key` in the first tier that has one (fresh or not), for the admin API. */
  async inspect(
    key: string,
    nowMs: number,
  ): Promise<{ tier: string; entry: CachedObject } | undefined> {
    const memory = this.#memory?.peek(key);
    if (memory !== undefined) return { tier: "memory", entry: memory };
    for (const tier of this.#lower) {
      const entry = await tier.get(key, nowMs);
      if (entry !== undefined) return { tier: tier.name, entry };
    }
    return undefined;
  }

  /** Items and bytes of `selector` per tier. */
  async usage(
    selector: PurgeSelector,
  ): Promise<Array<{ name: string; items: number; bytes: number }>> {
    const rows: Array<{ name: string; items: number; bytes: number }> = [];
    if (this.#memory !== undefined) {
      rows.push({ name: "memory", ...this.#memory.usage(selectorMatcher(selector)) });
    }
    for (const tier of this.#lower) rows.push({ name: tier.name, ...(await tier.usage(selector)) });
    return rows;
  }

  /** Counters of the whole cache and of each tier. */
  report(): CacheReport {
    const tiers: TierReport[] = [];
    if (this.#memory !== undefined) {
      tiers.push({ name: "memory", ...this.#memory.stats(), errors: 0 });
    }
    for (const tier of this.#lower) tiers.push({ name: tier.name, ...tier.stats() });
    const sum = (field: "evictions" | "items" | "bytes" | "maxBytes") =>
      tiers.reduce((total, tier) => total + Math.max(0, tier[field]), 0);
    // The first tier holds what is hot; its size is what "the cache" holds for an operator.
    const first = tiers[0];
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: sum("evictions"),
      items: first?.items ?? 0,
      bytes: first?.bytes ?? 0,
      maxBytes: first?.maxBytes ?? 0,
      tiers,
    };
  }

  /** `report`, after tiers that count their contents lazily (Redis) have recounted; a failed recount keeps the last figures. */
  async liveReport(): Promise<CacheReport> {
    await Promise.allSettled(this.#lower.map((tier) => tier.refreshUsage?.()));
    return this.report();
  }

  /** Resolves once every background write started so far has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Waits for background writes, then closes the bus and every tier. */
  async close(): Promise<void> {
    await this.flush();
    await this.#announcer?.close();
    await Promise.allSettled(this.#lower.map((tier) => tier.close()));
  }

  #purgeMemory(selector: PurgeSelector): number {
    const memory = this.#memory;
    if (memory === undefined) return 0;
    if (selector.kind !== "all") return memory.deleteMatching(selectorMatcher(selector));
    const items = memory.stats().items;
    memory.clear();
    return items;
  }

  /** Copies a hit from tier `foundAt` into memory and every lower tier above it. */
  #promote(key: string, entry: CachedObject, foundAt: number): void {
    this.#memory?.set(key, entry);
    for (let index = 0; index < foundAt; index++) this.#track(this.#lower[index]!.set(key, entry));
  }

  #track(write: Promise<void>): void {
    const tracked = write.catch((error) => {
      this.#log?.("cache.write_failed", { error: errorMessage(error) });
    }).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }
}
