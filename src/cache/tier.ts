// Owns CacheTier: the shape of the lower, asynchronous cache tiers (disk, Redis) and purge selectors.

import type { CachedObject, CacheStats } from "./cached_object.ts";
import { isBucketKey, isObjectKey, isPrefixKey } from "./key.ts";

/** What a purge removes: everything, one bucket, one key prefix of a bucket, or one object (all its variants). */
export type PurgeSelector =
  | { readonly kind: "all" }
  | { readonly kind: "bucket"; readonly bucket: string }
  | { readonly kind: "prefix"; readonly bucket: string; readonly prefix: string }
  | { readonly kind: "object"; readonly bucket: string; readonly key: string };

/** The cache-key predicate of a selector (for tiers that can scan their keys in memory). */
export function selectorMatcher(selector: PurgeSelector): (key: string) => boolean {
  switch (selector.kind) {
    case "all":
      return () => true;
    case "bucket":
      return isBucketKey(selector.bucket);
    case "prefix":
      return isPrefixKey(selector.bucket, selector.prefix);
    case "object":
      return isObjectKey(selector.bucket, selector.key);
  }
}

export interface TierStats extends CacheStats {
  /** Operations that failed (I/O errors, Redis unreachable); each was answered as a miss or skipped. */
  errors: number;
}

/**
 * A tier below memory. Every method except `purge` and `usage` is total: a failing disk or an
 * unreachable Redis answers `get` with undefined and skips `set`, counting an error, so a broken
 * tier never fails a request.
 */
export interface CacheTier {
  readonly name: "disk" | "redis";
  /**
   * The entry for `key`, fresh or expired (the caller revalidates an expired one), or undefined.
   * Counts a hit when the entry is fresh at `nowMs`, a miss otherwise.
   */
  get(key: string, nowMs: number): Promise<CachedObject | undefined>;
  /** Stores (or replaces) the entry; resolves once it is durable in the tier or was skipped. */
  set(key: string, value: CachedObject): Promise<void>;
  /** Removes what `selector` names; resolves with how many entries went. Rejects when the tier is unreachable. */
  purge(selector: PurgeSelector): Promise<number>;
  /** Items and bytes of what `selector` names. Rejects when the tier is unreachable. */
  usage(selector: PurgeSelector): Promise<{ items: number; bytes: number }>;
  stats(): TierStats;
  /** Recounts items and bytes for `stats` when the tier cannot keep them current (Redis). */
  refreshUsage?(): Promise<unknown>;
  /** Releases files, timers and connections; pending writes finish first. */
  close(): Promise<void>;
}
