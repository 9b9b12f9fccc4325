// Owns the schema of caching: the top-level `cache` (layers, memory tier) and `buckets[].cache`.

import { z } from "zod";
import type { BucketCacheConfig, CacheConfig, MemoryCacheConfig } from "./types.ts";
import { expecting, list, MAX_SECONDS, optional, section } from "./schema_support.ts";
import { CACHE_TIERS_FEATURE } from "./schema_unsupported.ts";

/** Bytes in a MiB: every `*_mb` key counts in MiB (fractions allowed). */
export const MIB = 1024 * 1024;
/** Largest `*_mb` value: 1 TiB (byte counts stay exact integers far below 2^53). */
export const MAX_MEGABYTES = 1_048_576;

/** `mb` MiB in whole bytes (rounded down). */
export function megabytesToBytes(mb: number): number {
  return Math.floor(mb * MIB);
}

/** A size in MiB: > 0 (fractions allowed, at least one byte), at most MAX_MEGABYTES. */
function megabytes() {
  const expected =
    `a number of MiB greater than 0 and at most ${MAX_MEGABYTES} (1 TiB), like 10 or 0.5`;
  return z.number({ error: expecting(expected) }).superRefine((value, ctx) => {
    if (value > 0 && value <= MAX_MEGABYTES && megabytesToBytes(value) >= 1) return;
    ctx.addIssue({
      code: "custom",
      input: value,
      message: value > 0 && value <= MAX_MEGABYTES
        ? `${value} MiB is less than one byte; expected ${expected}`
        : expecting(expected)({ input: value }),
    });
  });
}

/** A cache TTL: whole seconds, 0 (never cached without S3's max-age) to MAX_SECONDS. */
function ttlSeconds() {
  const error = expecting(`a whole number of seconds from 0 to ${MAX_SECONDS}`);
  return z.int({ error }).min(0, { error }).max(MAX_SECONDS, { error });
}

/** Every layer name the original knows; only "memory" is supported so far. */
export const CACHE_LAYERS = ["memory", "disk", "redis"] as const;

/** Why an entry of `cache.cache_layers` is unusable, if it is. */
export function cacheLayerProblem(layer: string): string | undefined {
  if (layer === "memory") return undefined;
  if (layer === "disk" || layer === "redis") {
    return `\`${layer}\` is not supported yet (it lands with ${CACHE_TIERS_FEATURE}); remove it ` +
      "from cache_layers for now";
  }
  const shown = JSON.stringify(layer);
  const known = CACHE_LAYERS.find((name) => name === layer.trim().toLowerCase());
  if (known !== undefined) return `unknown cache layer ${shown}; write "${known}" (lowercase)`;
  return `unknown cache layer ${shown}; the layers are "memory", "disk" and "redis" (only ` +
    '"memory" is supported so far)';
}

const cacheLayer = z.string({
  error: expecting('a cache layer name like "memory"', { text: true }),
})
  .superRefine((value, ctx) => {
    const problem = cacheLayerProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });

const cacheLayers = list(cacheLayer, {
  expected: "a list of cache layers like [memory]",
  fallback: () => ["memory"],
  empty: "at least one layer is needed, like [memory]; to turn the cache off, set `enabled: false`",
}).superRefine((layers, ctx) => {
  const seen = new Map<string, number>();
  layers.forEach((layer, index) => {
    const first = seen.get(layer);
    if (first === undefined) {
      seen.set(layer, index);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: [index],
      input: layer,
      message: `${
        JSON.stringify(layer)
      } is listed twice (cache_layers[${first}] is the same layer); list each layer once`,
    });
  });
});

/**
 * The message for `max_item_size_mb` > `max_cache_size_mb`: shared by load.ts's check (which
 * knows which values are defaults) and the schema's backstop.
 */
export function cacheSizeProblem(
  item: number,
  cache: number,
  defaults: { item?: boolean; cache?: boolean } = {},
): string {
  const note = (isDefault: boolean | undefined) => (isDefault ? ", the default" : "");
  return `max_cache_size_mb (${cache}${note(defaults.cache)}) is smaller than max_item_size_mb ` +
    `(${item}${note(defaults.item)}): the cache must have room for its largest item; raise ` +
    "max_cache_size_mb or lower max_item_size_mb";
}

/** Defaults of `cache.memory`, in MiB and seconds as written in YAML. */
export const MEMORY_CACHE_DEFAULTS = {
  max_item_size_mb: 10,
  max_cache_size_mb: 1024,
  default_ttl_seconds: 3600,
} as const;

export const MEMORY_CACHE_SHAPE = {
  max_item_size_mb: megabytes().default(MEMORY_CACHE_DEFAULTS.max_item_size_mb),
  max_cache_size_mb: megabytes().default(MEMORY_CACHE_DEFAULTS.max_cache_size_mb),
  default_ttl_seconds: ttlSeconds().default(MEMORY_CACHE_DEFAULTS.default_ttl_seconds),
};

const memoryCacheSchema = section(
  z.strictObject(MEMORY_CACHE_SHAPE, {
    error: expecting("a mapping of memory cache settings (max_item_size_mb, max_cache_size_mb...)"),
  }).superRefine((raw, ctx) => {
    // Backstop: load.ts reports this at the offending key.
    if (raw.max_item_size_mb <= raw.max_cache_size_mb) return;
    ctx.addIssue({
      code: "custom",
      message: cacheSizeProblem(raw.max_item_size_mb, raw.max_cache_size_mb),
      input: raw,
      params: { backstop: true },
    });
  }).transform((raw): MemoryCacheConfig => ({
    maxItemBytes: megabytesToBytes(raw.max_item_size_mb),
    maxCacheBytes: megabytesToBytes(raw.max_cache_size_mb),
    defaultTtlSeconds: raw.default_ttl_seconds,
  })),
);

export const CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  cache_layers: cacheLayers,
  memory: memoryCacheSchema,
};

/** The top-level `cache`: undefined when `enabled: false` (its keys are still checked). */
export const cacheSchema = z.strictObject(CACHE_SHAPE, {
  error: expecting("a mapping of cache settings like {cache_layers: [memory]}"),
}).transform((raw): CacheConfig | undefined => (raw.enabled ? { memory: raw.memory } : undefined));

export const BUCKET_CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  ttl_seconds: optional(ttlSeconds()),
  max_item_size_mb: optional(megabytes()),
};

export const bucketCacheSchema = z.strictObject(BUCKET_CACHE_SHAPE, {
  error: expecting("a mapping like {enabled: true, ttl_seconds: 3600, max_item_size_mb: 10}"),
}).transform((raw): BucketCacheConfig => ({
  enabled: raw.enabled,
  ttlSeconds: raw.ttl_seconds,
  maxItemBytes: raw.max_item_size_mb === undefined
    ? undefined
    : megabytesToBytes(raw.max_item_size_mb),
}));
