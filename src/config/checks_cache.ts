// Owns the cross-field checks of caching: item vs cache size bounds and per-bucket `cache` effect.

import {
  cacheSizeProblem,
  MAX_MEGABYTES,
  megabytesToBytes,
  MEMORY_CACHE_DEFAULTS,
} from "./schema.ts";
import type { CheckContext } from "./issues.ts";
import { isPlainObject, type Segment } from "./paths.ts";

/**
 * Cross-field rules of caching: the memory tier's item bound fits in its size bound, and a
 * bucket's `cache` has an effect (a top-level cache, an item bound the tier does not cap).
 */
export function checkCache(ctx: CheckContext, root: Record<string, unknown>) {
  const topGiven = Object.hasOwn(root, "cache");
  const top = root.cache === null ? {} : root.cache;
  let tierItem: { mb: number; isDefault: boolean } | undefined;
  if (isPlainObject(top)) {
    const memory = top.memory === null || top.memory === undefined ? {} : top.memory;
    if (isPlainObject(memory)) {
      const at: Segment[] = ["cache", "memory"];
      const item = megabytes(ctx, [...at, "max_item_size_mb"], memory, "max_item_size_mb");
      const cache = megabytes(ctx, [...at, "max_cache_size_mb"], memory, "max_cache_size_mb");
      if (item) tierItem = item;
      if (item && cache && item.mb > cache.mb) {
        ctx.error(
          [...at, cache.isDefault ? "max_item_size_mb" : "max_cache_size_mb"],
          cacheSizeProblem(item.mb, cache.mb, { item: item.isDefault, cache: cache.isDefault }),
        );
      }
    }
  }
  if (isPlainObject(top)) checkUnlistedTiers(ctx, top);
  const topEnabled = topGiven && isPlainObject(top) && top.enabled !== false;
  const buckets = Array.isArray(root.buckets) ? root.buckets : [];
  buckets.forEach((bucket, index) => {
    if (!isPlainObject(bucket) || !Object.hasOwn(bucket, "cache")) return;
    const own = bucket.cache === null ? {} : bucket.cache;
    if (!isPlainObject(own)) return;
    const at: Segment[] = ["buckets", index, "cache"];
    if (own.enabled === false) {
      for (const name of ["ttl_seconds", "max_item_size_mb"]) {
        if (!ctx.given([...at, name], own[name])) continue;
        ctx.warning(
          [...at, name],
          `\`${name}\` is ignored because this bucket's \`cache.enabled\` is false (the bucket ` +
            "is never cached); remove it, or set `enabled: true`",
          { prefer: "key" },
        );
      }
      return;
    }
    if (!topEnabled) {
      const why = !topGiven
        ? "is absent; add `cache: {}` at the top level to cache objects in memory"
        : `is disabled (\`enabled: false\`${
          ctx.onLine(["cache", "enabled"])
        }); enable it, or remove this bucket's \`cache\``;
      ctx.warning(
        at,
        `this bucket's \`cache\` has no effect: the top-level \`cache\` ${why}`,
        { prefer: "key" },
      );
      return;
    }
    const item = megabytes(ctx, [...at, "max_item_size_mb"], own, "max_item_size_mb");
    if (item && !item.isDefault && tierItem && item.mb > tierItem.mb) {
      ctx.warning(
        [...at, "max_item_size_mb"],
        `${item.mb} MiB is larger than cache.memory.max_item_size_mb (${tierItem.mb}${
          tierItem.isDefault ? ", the default" : ""
        }), which still applies: objects over ${tierItem.mb} MiB are never cached`,
      );
    }
  });
}

/**
 * `disk.enabled: true` or `redis.enabled: true` without the layer in `cache_layers` turns nothing
 * on (the original's full-stack example fell into this): say so rather than look like it works.
 */
function checkUnlistedTiers(ctx: CheckContext, top: Record<string, unknown>) {
  const layers = Array.isArray(top.cache_layers) ? top.cache_layers : ["memory"];
  for (const tier of ["disk", "redis"] as const) {
    const block = top[tier];
    if (!isPlainObject(block) || block.enabled !== true || layers.includes(tier)) continue;
    ctx.warning(
      ["cache", tier, "enabled"],
      `cache.${tier} is enabled but "${tier}" is not in cache_layers, so it is not used; add ` +
        `it, like cache_layers: [memory, ${tier}]`,
      { prefer: "key" },
    );
  }
}

/**
 * A `*_mb` value of `mapping` as the schema reads it: the default when left out, undefined when
 * it is invalid (the schema reports that) or has no default.
 */
function megabytes(
  ctx: CheckContext,
  segments: Segment[],
  mapping: Record<string, unknown>,
  name: "max_item_size_mb" | "max_cache_size_mb",
): { mb: number; isDefault: boolean } | undefined {
  const value = mapping[name];
  if (value === undefined || (value === null && segments[0] === "buckets")) {
    const fallback = segments[0] === "cache" ? MEMORY_CACHE_DEFAULTS[name] : undefined;
    return fallback === undefined ? undefined : { mb: fallback, isDefault: true };
  }
  if (ctx.poisoned(segments) || typeof value !== "number") return undefined;
  if (!(value > 0 && value <= MAX_MEGABYTES && megabytesToBytes(value) >= 1)) return undefined;
  return { mb: value, isDefault: false };
}
