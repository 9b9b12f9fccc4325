// Owns opening the configured cache: the tiers of `cache_layers`, and the Redis purge bus that links instances.

import type { CacheConfig } from "../config/types.ts";
import { DiskStore } from "./disk_store.ts";
import { MemoryStore } from "./memory_store.ts";
import { RedisPurgeBus } from "./purge_bus.ts";
import { RedisStore } from "./redis_store.ts";
import type { CacheTier } from "./tier.ts";
import { TieredCache } from "./tiered_cache.ts";

export interface OpenCacheOptions {
  /** Names this process on the purge bus (its own announcements are not applied twice). */
  instanceId: string;
  log: (level: "info" | "warn", event: string, fields: Record<string, unknown>) => void;
}

/** How long start-up waits for Redis before serving without it (it reconnects later by itself). */
const REDIS_STARTUP_WAIT_MS = 2000;

/** Events worth a warning: a tier that fails is degraded service an operator must hear about. */
const WARN_EVENTS = /unavailable|error|damaged|failed|invalid/;

/**
 * Opens every tier of `config.layers`. The memory tier is always looked up first (it is the only
 * synchronous one); disk and Redis follow in the listed order. Rejects when the disk tier's
 * directory is unusable (a config error the operator must fix); an unreachable Redis is not an
 * error: the tier degrades to misses and reconnects by itself.
 */
export async function openCache(
  config: CacheConfig,
  options: OpenCacheOptions,
): Promise<TieredCache> {
  const log = (event: string, fields: Record<string, unknown>) =>
    options.log(WARN_EVENTS.test(event) ? "warn" : "info", event, fields);
  const memory = config.layers.includes("memory") ? new MemoryStore(config.memory) : undefined;
  const lower: CacheTier[] = [];
  try {
    for (const layer of config.layers) {
      if (layer === "disk" && config.disk !== undefined) {
        lower.push(await DiskStore.open(config.disk, { log }));
      } else if (layer === "redis" && config.redis !== undefined) {
        // Expired copies stay long enough to be revalidated or served under stale-if-error.
        const retainStaleMs =
          Math.max(config.staleIfErrorSeconds, config.memory.defaultTtlSeconds) *
          1000;
        const redis = new RedisStore(config.redis, { log, retainStaleMs });
        lower.push(redis);
        // Not an error when it stays down: the tier answers misses until it reconnects.
        await redis.whenReady(REDIS_STARTUP_WAIT_MS);
      }
    }
  } catch (error) {
    await Promise.allSettled(lower.map((tier) => tier.close()));
    throw error;
  }
  const cache = new TieredCache(memory, lower, { log });
  if (config.redis !== undefined) {
    cache.announcer = RedisPurgeBus.create(config.redis, {
      instanceId: options.instanceId,
      log,
      onPurge: (selector) => {
        cache.applyRemotePurge(selector).catch((error) =>
          log("cache.remote_purge_failed", { error: String(error) })
        );
      },
    });
  }
  return cache;
}
