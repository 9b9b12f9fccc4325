// Owns the prewarm manager's link to the buckets: listing through each bucket's origin and warming into its cache.

import { PREWARM_PAGE_SIZE, PrewarmManager } from "../cache/prewarm.ts";
import type { WarmingConfig } from "../config/types.ts";
import type { Logger } from "../observe/log.ts";
import type { GatewayMetrics } from "../observe/metrics.ts";
import type { Origin } from "../origin/origin.ts";
import type { BucketCache } from "./cache_stages.ts";
import { warmObject } from "./warm_object.ts";

/** What prewarming needs of one bucket. */
export interface PrewarmBucket {
  name: string;
  origin: Origin;
  /** undefined when the bucket opts out of caching (its objects are then listed, never stored). */
  cache: BucketCache | undefined;
  /** Seconds S3 may take to answer (buckets[].s3.timeout). */
  timeoutSeconds: number;
}

/**
 * A PrewarmManager whose tasks list and warm through `bucketNamed` (looked up at each call, so a
 * config reload's new buckets are used by tasks created after it).
 */
export function createPrewarmManager(
  warming: WarmingConfig,
  bucketNamed: (name: string) => PrewarmBucket | undefined,
  log?: Pick<Logger, "debug" | "info" | "warn">,
  metrics?: Pick<GatewayMetrics, "prewarmFile" | "prewarmTask">,
): PrewarmManager {
  const need = (name: string): PrewarmBucket => {
    const bucket = bucketNamed(name);
    if (bucket === undefined) throw new Error(`bucket "${name}" is no longer configured`);
    return bucket;
  };
  return new PrewarmManager({
    concurrency: warming.concurrency,
    ratePerSecond: warming.rateLimit,
    log,
    onFinished: metrics === undefined ? undefined : (task) =>
      metrics.prewarmTask(
        task.status,
        (task.end_time ?? task.created_at) - (task.start_time ?? task.created_at),
      ),
    list: (name, prefix, token, signal) => {
      const bucket = need(name);
      return bucket.origin.list({
        prefix,
        continuationToken: token,
        maxKeys: PREWARM_PAGE_SIZE,
        signal,
        timeoutMs: bucket.timeoutSeconds * 1000,
      });
    },
    warm: async (name, key, signal) => {
      const bucket = need(name);
      if (bucket.cache === undefined) {
        metrics?.prewarmFile("skipped");
        return { bytes: 0, cached: false };
      }
      let result;
      try {
        result = await warmObject(
          {
            name: bucket.name,
            origin: bucket.origin,
            cache: bucket.cache,
            timeoutMs: bucket.timeoutSeconds * 1000,
          },
          key,
          signal,
        );
      } catch (error) {
        // A cancelled task's aborted fetches are not failures (the manager counts them so too).
        if (!signal.aborted) metrics?.prewarmFile("failed");
        throw error;
      }
      metrics?.prewarmFile(result.cached ? "cached" : "skipped", result.bytes);
      return { bytes: result.bytes, cached: result.cached };
    },
  });
}
