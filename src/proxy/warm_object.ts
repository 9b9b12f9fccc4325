// Owns warmObject: fetching one object from its bucket's origin into the cache, as prewarm tasks do.

import { newCachedObject } from "../cache/cached_object.ts";
import { buildCacheKey } from "../cache/key.ts";
import { stripResponseHeaders } from "../http/headers.ts";
import { type Origin, readableBody } from "../origin/origin.ts";
import { type BucketCache, collect, storagePlan } from "./cache_stages.ts";

/** What warming one object did. */
export interface WarmResult {
  /** Bytes stored (0 when the object was not cached). */
  bytes: number;
  cached: boolean;
  /** Why it was not cached, in words for the task's report. */
  skipped?: string;
}

export interface WarmTarget {
  /** The gateway bucket name (cache keys use it). */
  name: string;
  origin: Origin;
  cache: BucketCache;
  /** Milliseconds S3 may take to answer. */
  timeoutMs: number;
}

/**
 * GETs `key` and stores it under the same rules as a client's miss: a complete 200 of a storable
 * object no larger than the bucket's bound, TTL from s-maxage/max-age or the default. Rejects
 * with the ProxyError of a failed fetch (S3 error, timeout) or a truncated body.
 */
export async function warmObject(
  target: WarmTarget,
  key: string,
  signal: AbortSignal,
): Promise<WarmResult> {
  const response = await target.origin.fetch({
    method: "GET",
    key,
    query: undefined,
    headers: undefined,
    signal,
    timeoutMs: target.timeoutMs,
  });
  const plan = storagePlan(response, target.cache);
  if ("skipped" in plan) {
    response.body?.cancel().catch(() => {});
    return { bytes: 0, cached: false, skipped: plan.skipped };
  }
  const { length, ttlSeconds } = plan;
  const body = await collect(readableBody(response)!, length, undefined);
  if (body === undefined) throw new Error(`the body of "${key}" ended before ${length} bytes`);
  // The headers a client's miss would have cached (see `respond`).
  const headers = new Headers(response.headers);
  stripResponseHeaders(headers);
  headers.set("accept-ranges", "bytes");
  target.cache.store.set(
    buildCacheKey(target.name, key, undefined),
    newCachedObject(headers, body, ttlSeconds, Date.now()),
  );
  return { bytes: length, cached: true };
}
