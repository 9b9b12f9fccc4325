// Owns the schema of caching: the top-level `cache` (layers, memory tier) and `buckets[].cache`.

import { z } from "zod";
import type {
  BucketCacheConfig,
  CacheConfig,
  CacheLayerName,
  DiskCacheConfig,
  MemoryCacheConfig,
  RedisCacheConfig,
  WarmingConfig,
} from "./types.ts";
import {
  expecting,
  list,
  MAX_SECONDS,
  nonEmptyString,
  optional,
  section,
} from "./schema_support.ts";

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

/** Every layer name, fastest first. */
export const CACHE_LAYERS = ["memory", "disk", "redis"] as const;

/** Why an entry of `cache.cache_layers` is unusable, if it is. */
export function cacheLayerProblem(layer: string): string | undefined {
  if ((CACHE_LAYERS as readonly string[]).includes(layer)) return undefined;
  const shown = JSON.stringify(layer);
  const known = CACHE_LAYERS.find((name) => name === layer.trim().toLowerCase());
  if (known !== undefined) return `unknown cache layer ${shown}; write "${known}" (lowercase)`;
  return `unknown cache layer ${shown}; the layers are "memory", "disk" and "redis"`;
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

/** Defaults of `cache.disk` as written in YAML. */
export const DISK_CACHE_DEFAULTS = { cache_dir: "./cache", max_disk_cache_size_mb: 10240 } as const;

export const DISK_CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(false),
  cache_dir: nonEmptyString().default(DISK_CACHE_DEFAULTS.cache_dir),
  max_disk_cache_size_mb: megabytes().default(DISK_CACHE_DEFAULTS.max_disk_cache_size_mb),
};

const diskCacheSchema = section(
  z.strictObject(DISK_CACHE_SHAPE, {
    error: expecting(
      "a mapping of disk cache settings (enabled, cache_dir, max_disk_cache_size_mb)",
    ),
  }).transform((raw): DiskCacheConfig & { enabled: boolean } => ({
    enabled: raw.enabled,
    cacheDir: raw.cache_dir,
    maxBytes: megabytesToBytes(raw.max_disk_cache_size_mb),
  })),
);

/** Why a `cache.redis.redis_url` is unusable, if it is. */
export function redisUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected a redis:// or rediss:// URL like "redis://127.0.0.1:6379", got ${
      JSON.stringify(value)
    }`;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `${JSON.stringify(value)} must use redis:// or rediss:// (rediss:// for TLS)`;
  }
  if (url.password !== "") {
    return "the URL must not contain a password (URLs show up in logs); use redis_password, " +
      'like redis_password: "${REDIS_PASSWORD}"';
  }
  if (url.hostname === "") return `${JSON.stringify(value)} has no host`;
  return undefined;
}

const redisUrl = z.string({
  error: expecting('a redis:// URL like "redis://127.0.0.1:6379"', { text: true }),
}).superRefine((value, ctx) => {
  const problem = redisUrlProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
});

export const REDIS_CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(false),
  redis_url: redisUrl.default("redis://127.0.0.1:6379"),
  redis_password: optional(z.string({ error: expecting("a string", { secret: true }) })),
  redis_db: z.int({ error: expecting("a database number from 0 to 15") })
    .min(0, { error: expecting("a database number from 0 to 15") })
    .max(15, { error: expecting("a database number from 0 to 15") }).default(0),
  redis_key_prefix: z.string({ error: expecting('a string like "yatagarasu:"', { text: true }) })
    .default("yatagarasu:"),
  redis_ttl_seconds: z.int({
    error: expecting(`a whole number of seconds from 1 to ${MAX_SECONDS}`),
  })
    .min(1, { error: expecting(`a whole number of seconds from 1 to ${MAX_SECONDS}`) })
    .max(MAX_SECONDS, { error: expecting(`a whole number of seconds from 1 to ${MAX_SECONDS}`) })
    .default(3600),
};

const redisCacheSchema = section(
  z.strictObject(REDIS_CACHE_SHAPE, {
    error: expecting("a mapping of Redis cache settings (enabled, redis_url, redis_password...)"),
  }).transform((raw): RedisCacheConfig & { enabled: boolean } => ({
    enabled: raw.enabled,
    url: raw.redis_url,
    password: raw.redis_password === undefined || raw.redis_password === ""
      ? undefined
      : raw.redis_password,
    db: raw.redis_db,
    keyPrefix: raw.redis_key_prefix,
    ttlSeconds: raw.redis_ttl_seconds,
  })),
);

function positiveInt(expected: string, max: number) {
  const error = expecting(`${expected} from 1 to ${max}`);
  return z.int({ error }).min(1, { error }).max(max, { error });
}

export const WARMING_SHAPE = {
  concurrency: positiveInt("a whole number of objects fetched at once", 1000).default(10),
  rate_limit: positiveInt("a whole number of objects per second", 100_000).default(100),
};

const warmingSchema = section(
  z.strictObject(WARMING_SHAPE, {
    error: expecting("a mapping like {concurrency: 10, rate_limit: 100}"),
  }).transform((raw): WarmingConfig => ({
    concurrency: raw.concurrency,
    rateLimit: raw.rate_limit,
  })),
);

export const CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  cache_layers: cacheLayers,
  memory: memoryCacheSchema,
  disk: diskCacheSchema,
  redis: redisCacheSchema,
  warming: warmingSchema,
  stale_if_error_seconds: ttlSeconds().default(0),
};

/** The message for a layer listed in `cache_layers` whose block is not enabled. */
export function layerNotEnabledProblem(layer: "disk" | "redis"): string {
  return `cache_layers lists "${layer}" but cache.${layer}.enabled is not true; set ` +
    `cache.${layer}.enabled: true, or remove "${layer}" from cache_layers`;
}

/** The top-level `cache`: undefined when `enabled: false` (its keys are still checked). */
export const cacheSchema = z.strictObject(CACHE_SHAPE, {
  error: expecting("a mapping of cache settings like {cache_layers: [memory]}"),
}).superRefine((raw, ctx) => {
  raw.cache_layers.forEach((layer, index) => {
    if ((layer === "disk" || layer === "redis") && !raw[layer].enabled) {
      ctx.addIssue({
        code: "custom",
        path: ["cache_layers", index],
        input: layer,
        message: layerNotEnabledProblem(layer),
      });
    }
  });
}).transform((raw): CacheConfig | undefined => {
  if (!raw.enabled) return undefined;
  const layers = raw.cache_layers as CacheLayerName[];
  const { enabled: _disk, ...disk } = raw.disk;
  const { enabled: _redis, ...redis } = raw.redis;
  return {
    layers,
    memory: raw.memory,
    disk: layers.includes("disk") ? disk : undefined,
    redis: layers.includes("redis") ? redis : undefined,
    warming: raw.warming,
    staleIfErrorSeconds: raw.stale_if_error_seconds,
  };
});

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
