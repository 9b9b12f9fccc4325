// Owns the unit tests of the cache config: the top-level `cache` (memory tier) and
// `buckets[].cache`: every rule, message, default, warning and position.

import assert from "node:assert/strict";
import { formatIssue, parseConfig } from "./load.ts";
import { cacheLayerProblem, cacheSizeProblem, configSchema, SECTION_KEYS } from "./schema.ts";
import {
  assertOne,
  assertOneError,
  DELETE,
  errors,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  show,
  twoRawBuckets,
} from "./_test_support.ts";

/** A valid config with a top-level cache (all defaults), fresh for each test. */
function cacheRaw(): Record<string, unknown> {
  return { buckets: twoRawBuckets(), cache: {} };
}

function cacheWith(path: string, value: unknown): Record<string, unknown> {
  return setPath(cacheRaw(), path, value);
}

const DEFAULT_MEMORY = {
  maxItemBytes: 10 * 1024 * 1024,
  maxCacheBytes: 1024 * 1024 * 1024,
  defaultTtlSeconds: 3600,
};

/** The resolved cache with only `memory` given: every other default. */
function defaultCache(memory = DEFAULT_MEMORY) {
  return {
    layers: ["memory"],
    memory,
    disk: undefined,
    redis: undefined,
    warming: { concurrency: 10, rateLimit: 100 },
    staleIfErrorSeconds: 0,
  };
}

const BASE = [
  "buckets:", //                                                          1
  "  - name: a", //                                                       2
  "    path_prefix: /a", //                                               3
  "    s3: {bucket: abc, access_key: k, secret_key: s}", //               4
];

/** BASE plus `lines` (from line 5 on), parsed with no environment. */
function parseLines(...lines: string[]) {
  return parseConfig([...BASE, ...lines].join("\n"), { env: {} });
}

function lines(issues: { path: string; line?: number; column?: number }[]) {
  return issues.map((issue) => [issue.path, issue.line, issue.column]);
}

// ---- defaults and the camelCase result ------------------------------------------------------

Deno.test("cache: no `cache` block, no cache (and no `cache` key in Config)", () => {
  const config = ok(parseRaw({ buckets: twoRawBuckets() }));
  assert.ok(!("cache" in config));
  assert.ok(config.buckets.every((bucket) => !("cache" in bucket)));
});

Deno.test("cache: an empty `cache:` (or {}) is the memory tier with every default", () => {
  for (const text of ["cache:", "cache: {}", "cache:\n  memory:", "cache:\n  cache_layers:"]) {
    assert.deepEqual(ok(parseLines(text)).cache, defaultCache(), text);
  }
});

Deno.test("cache: enabled: false leaves Config.cache out", () => {
  const config = ok(parseRaw(cacheWith("cache.enabled", false)));
  assert.ok(!("cache" in config));
  // Its keys are still checked.
  assertOneError(
    parseRaw(setPath(cacheWith("cache.enabled", false), "cache.memory.max_item_size_mb", -1)),
    "cache.memory.max_item_size_mb",
    "expected a number of MiB greater than 0 and at most 1048576 (1 TiB), like 10 or 0.5, got -1",
  );
});

Deno.test("cache: sizes in MiB become bytes (fractions rounded down), the TTL stays seconds", () => {
  const raw = cacheWith("cache.memory", {
    max_item_size_mb: 0.5,
    max_cache_size_mb: 1.0000001,
    default_ttl_seconds: 0,
  });
  assert.deepEqual(
    ok(parseRaw(raw)).cache,
    defaultCache({ maxItemBytes: 524_288, maxCacheBytes: 1_048_576, defaultTtlSeconds: 0 }),
  );
  const big = cacheWith("cache.memory", {
    max_item_size_mb: 1_048_576,
    max_cache_size_mb: 1_048_576,
  });
  assert.equal(ok(parseRaw(big)).cache?.memory.maxCacheBytes, 2 ** 40);
  // The smallest size is one byte.
  const tiny = cacheWith("cache.memory.max_item_size_mb", 1 / 1_048_576);
  assert.equal(ok(parseRaw(tiny)).cache?.memory.maxItemBytes, 1);
  // Equal bounds are fine.
  ok(parseRaw(cacheWith("cache.memory", { max_item_size_mb: 64, max_cache_size_mb: 64 })));
});

Deno.test("cache: sizes and TTLs from ${VAR} are numbers", () => {
  const config = ok(parseConfig(
    [...BASE, "cache:", "  memory:", "    max_cache_size_mb: ${CACHE_MB:-256}"].join("\n"),
    { env: {} },
  ));
  assert.equal(config.cache?.memory.maxCacheBytes, 256 * 1024 * 1024);
});

Deno.test("cache: a bucket's cache gets its defaults and its bytes", () => {
  const raw = setPath(cacheRaw(), "buckets[0].cache", { ttl_seconds: 60, max_item_size_mb: 1.5 });
  setPath(raw, "buckets[1].cache", null);
  const config = ok(parseRaw(raw));
  assert.deepEqual(config.buckets[0]?.cache, {
    enabled: true,
    ttlSeconds: 60,
    maxItemBytes: 1_572_864,
  });
  assert.deepEqual(config.buckets[1]?.cache, {
    enabled: true,
    ttlSeconds: undefined,
    maxItemBytes: undefined,
  });
  const off = ok(parseRaw(setPath(cacheRaw(), "buckets[0].cache", { enabled: false })));
  assert.deepEqual(off.buckets[0]?.cache, {
    enabled: false,
    ttlSeconds: undefined,
    maxItemBytes: undefined,
  });
  // Empty values mean "not set".
  const empty = setPath(cacheRaw(), "buckets[0].cache", {
    ttl_seconds: "",
    max_item_size_mb: null,
  });
  assert.deepEqual(ok(parseRaw(empty)).buckets[0]?.cache?.ttlSeconds, undefined);
});

// ---- one rule, one message ------------------------------------------------------------------

const SIZE = "a number of MiB greater than 0 and at most 1048576 (1 TiB), like 10 or 0.5";
const TTL = "a whole number of seconds from 0 to 86400";

const RULES: RuleCase[] = [
  {
    name: "cache not a mapping",
    path: "cache",
    value: true,
    message: "expected a mapping of cache settings like {cache_layers: [memory]}, got true",
  },
  {
    name: "enabled not a boolean",
    path: "cache.enabled",
    value: "yes",
    message: 'expected true or false, got "yes"',
  },
  {
    name: "cache_layers not a list",
    path: "cache.cache_layers",
    value: "memory",
    message: 'expected a list of cache layers like [memory], got "memory"',
  },
  {
    name: "cache_layers empty",
    path: "cache.cache_layers",
    value: [],
    message:
      "at least one layer is needed, like [memory]; to turn the cache off, set `enabled: false`",
  },
  {
    name: "unknown layer",
    path: "cache.cache_layers",
    value: ["ram"],
    errorPath: "cache.cache_layers[0]",
    message: 'unknown cache layer "ram"; the layers are "memory", "disk" and "redis"',
  },
  {
    name: "layer in capitals",
    path: "cache.cache_layers",
    value: ["Memory"],
    errorPath: "cache.cache_layers[0]",
    message: 'unknown cache layer "Memory"; write "memory" (lowercase)',
  },
  {
    name: "layer not a string",
    path: "cache.cache_layers",
    value: [1],
    errorPath: "cache.cache_layers[0]",
    message: 'expected a cache layer name like "memory", got 1 (quote it to make it a string)',
  },
  {
    name: "duplicate layer",
    path: "cache.cache_layers",
    value: ["memory", "memory"],
    errorPath: "cache.cache_layers[1]",
    message: '"memory" is listed twice (cache_layers[0] is the same layer); list each layer once',
  },
  {
    name: "memory not a mapping",
    path: "cache.memory",
    value: [],
    message:
      "expected a mapping of memory cache settings (max_item_size_mb, max_cache_size_mb...), got a list",
  },
  {
    name: "max_item_size_mb zero",
    path: "cache.memory.max_item_size_mb",
    value: 0,
    message: `expected ${SIZE}, got 0`,
  },
  {
    name: "max_item_size_mb quoted",
    path: "cache.memory.max_item_size_mb",
    value: "10",
    message: `expected ${SIZE}, got "10" (a string; remove the quotes)`,
  },
  {
    name: "max_item_size_mb under one byte",
    path: "cache.memory.max_item_size_mb",
    value: 1e-7,
    message: `1e-7 MiB is less than one byte; expected ${SIZE}`,
  },
  {
    name: "max_cache_size_mb too big",
    path: "cache.memory.max_cache_size_mb",
    value: 2_000_000,
    message: `expected ${SIZE}, got 2000000`,
  },
  {
    name: "max_cache_size_mb empty",
    path: "cache.memory.max_cache_size_mb",
    value: null,
    message: `expected ${SIZE}, got an empty value`,
  },
  {
    name: "max_cache_size_mb below the default max_item_size_mb",
    path: "cache.memory.max_cache_size_mb",
    value: 5,
    message: "max_cache_size_mb (5) is smaller than max_item_size_mb (10, the default): the " +
      "cache must have room for its largest item; raise max_cache_size_mb or lower max_item_size_mb",
  },
  {
    name: "max_item_size_mb above the default max_cache_size_mb",
    path: "cache.memory.max_item_size_mb",
    value: 2048,
    message: "max_cache_size_mb (1024, the default) is smaller than max_item_size_mb (2048): the " +
      "cache must have room for its largest item; raise max_cache_size_mb or lower max_item_size_mb",
  },
  {
    name: "default_ttl_seconds fractional",
    path: "cache.memory.default_ttl_seconds",
    value: 1.5,
    message: `expected ${TTL}, got 1.5`,
  },
  {
    name: "default_ttl_seconds negative",
    path: "cache.memory.default_ttl_seconds",
    value: -1,
    message: `expected ${TTL}, got -1`,
  },
  {
    name: "default_ttl_seconds over a day",
    path: "cache.memory.default_ttl_seconds",
    value: 86_401,
    message: `expected ${TTL}, got 86401`,
  },
  {
    name: "misspelt memory key",
    path: "cache.memory.max_item_sise_mb",
    value: 10,
    message: "unknown key `max_item_sise_mb`; did you mean `max_item_size_mb`?",
  },
  {
    name: "misspelt cache key",
    path: "cache.cache_layer",
    value: ["memory"],
    message: "unknown key `cache_layer`; did you mean `cache_layers`?",
  },
  {
    name: "misspelt unsupported tier",
    path: "cache.reddis",
    value: {},
    message: "unknown key `reddis`; did you mean `redis`?",
  },
  {
    name: "disk layer without cache.disk.enabled",
    path: "cache.cache_layers",
    value: ["memory", "disk"],
    errorPath: "cache.cache_layers[1]",
    message: 'cache_layers lists "disk" but cache.disk.enabled is not true; set ' +
      'cache.disk.enabled: true, or remove "disk" from cache_layers',
  },
  {
    name: "redis layer without cache.redis.enabled",
    path: "cache.cache_layers",
    value: ["redis"],
    errorPath: "cache.cache_layers[0]",
    message: 'cache_layers lists "redis" but cache.redis.enabled is not true; set ' +
      'cache.redis.enabled: true, or remove "redis" from cache_layers',
  },
  {
    name: "cache_dir empty",
    path: "cache.disk.cache_dir",
    value: "",
    message: 'expected a non-empty string, got an empty string ""',
  },
  {
    name: "disk size zero",
    path: "cache.disk.max_disk_cache_size_mb",
    value: 0,
    message: `expected ${SIZE}, got 0`,
  },
  {
    name: "redis_url with another scheme",
    path: "cache.redis.redis_url",
    value: "http://127.0.0.1:6379",
    message: '"http://127.0.0.1:6379" must use redis:// or rediss:// (rediss:// for TLS)',
  },
  {
    name: "redis_url with a password",
    path: "cache.redis.redis_url",
    value: "redis://:hunter2@127.0.0.1:6379",
    message: "the URL must not contain a password (URLs show up in logs); use redis_password, " +
      'like redis_password: "${REDIS_PASSWORD}"',
  },
  {
    name: "redis_db out of range",
    path: "cache.redis.redis_db",
    value: 16,
    message: "expected a database number from 0 to 15, got 16",
  },
  {
    name: "redis_ttl_seconds zero",
    path: "cache.redis.redis_ttl_seconds",
    value: 0,
    message: "expected a whole number of seconds from 1 to 86400, got 0",
  },
  {
    name: "redis password not echoed",
    path: "cache.redis.redis_password",
    value: 12345,
    message: "expected a string, got a number",
  },
  {
    name: "warming concurrency zero",
    path: "cache.warming.concurrency",
    value: 0,
    message: "expected a whole number of objects fetched at once from 1 to 1000, got 0",
  },
  {
    name: "warming unknown key",
    path: "cache.warming.rate_limt",
    value: 5,
    message: "unknown key `rate_limt`; did you mean `rate_limit`?",
  },
  {
    name: "stale_if_error_seconds negative",
    path: "cache.stale_if_error_seconds",
    value: -1,
    message: `expected ${TTL}, got -1`,
  },
  // buckets[].cache
  {
    name: "bucket cache not a mapping",
    path: "buckets[0].cache",
    value: true,
    message:
      "expected a mapping like {enabled: true, ttl_seconds: 3600, max_item_size_mb: 10}, got true",
  },
  {
    name: "bucket cache enabled not a boolean",
    path: "buckets[0].cache.enabled",
    value: 1,
    message: "expected true or false, got 1",
  },
  {
    name: "bucket ttl_seconds negative",
    path: "buckets[0].cache.ttl_seconds",
    value: -5,
    message: `expected ${TTL}, got -5`,
  },
  {
    name: "bucket max_item_size_mb negative",
    path: "buckets[0].cache.max_item_size_mb",
    value: -1,
    message: `expected ${SIZE}, got -1`,
  },
  {
    name: "bucket cache unknown key",
    path: "buckets[0].cache.ttl",
    value: 5,
    message: "unknown key `ttl`; the keys allowed here are `enabled`, `ttl_seconds`, " +
      "`max_item_size_mb`",
  },
  {
    name: "bucket cache misspelt key",
    path: "buckets[0].cache.enabld",
    value: true,
    message: "unknown key `enabld`; did you mean `enabled`?",
  },
];

for (const rule of RULES) {
  Deno.test(`cache rule: ${rule.name}`, () => {
    assertOneError(
      parseRaw(cacheWith(rule.path, rule.value)),
      rule.errorPath ?? rule.path,
      rule.message,
    );
  });
}

Deno.test("cache: every layer problem at once, each at its own entry", () => {
  const found = errors(parseLines("cache:", "  cache_layers: [memory, disk, ram, memory]"));
  // disk: listed but not enabled; ram: unknown; memory: listed twice.
  assert.deepEqual(lines(found), [
    ["cache.cache_layers[1]", 6, 26],
    ["cache.cache_layers[2]", 6, 32],
    ["cache.cache_layers[3]", 6, 37],
  ]);
});

Deno.test("cache: both sizes written, the error is at max_cache_size_mb", () => {
  const found = errors(parseLines(
    "cache:", //                        5
    "  memory:", //                     6
    "    max_item_size_mb: 20", //      7
    "    max_cache_size_mb: 5", //      8
  ));
  assert.deepEqual(found.map((issue) => formatIssue("c", issue)), [
    "c:8:24 cache.memory.max_cache_size_mb: max_cache_size_mb (5) is smaller than " +
    "max_item_size_mb (20): the cache must have room for its largest item; raise " +
    "max_cache_size_mb or lower max_item_size_mb",
  ]);
});

Deno.test("cache: an invalid size is one error, not also a comparison", () => {
  const found = errors(
    parseLines("cache:", "  memory: {max_item_size_mb: 20, max_cache_size_mb: x}"),
  );
  assert.deepEqual(found.map((issue) => issue.path), ["cache.memory.max_cache_size_mb"]);
});

Deno.test("cache: the schema alone (no load.ts) still rejects max_item_size_mb > max_cache_size_mb", () => {
  const raw = {
    buckets: twoRawBuckets(),
    cache: { memory: { max_item_size_mb: 20, max_cache_size_mb: 5 } },
  };
  const result = configSchema.safeParse(raw);
  assert.ok(!result.success);
  assert.deepEqual(result.error.issues.map((issue) => [issue.path, issue.message]), [
    [["cache", "memory"], cacheSizeProblem(20, 5)],
  ]);
});

Deno.test("cache: disk, redis and warming resolve with their defaults, in layer order", () => {
  const config = ok(parseLines(
    "cache:",
    "  cache_layers: [memory, disk, redis]",
    "  disk: {enabled: true}",
    "  redis:",
    "    enabled: true",
    "    redis_password: ${REDIS_PASSWORD:-}",
    "  stale_if_error_seconds: 300",
  ));
  assert.deepEqual(config.cache, {
    ...defaultCache(),
    layers: ["memory", "disk", "redis"],
    disk: { cacheDir: "./cache", maxBytes: 10240 * 1024 * 1024 },
    redis: {
      url: "redis://127.0.0.1:6379",
      password: undefined,
      db: 0,
      keyPrefix: "yatagarasu:",
      ttlSeconds: 3600,
    },
    staleIfErrorSeconds: 300,
  });
});

Deno.test("cache: an enabled tier left out of cache_layers is not used (and says so)", () => {
  const result = parseLines("cache:", "  redis: {enabled: true}", "  disk: {enabled: true}");
  assert.equal(ok(result).cache?.redis, undefined);
  assert.equal(ok(result).cache?.disk, undefined);
  assert.deepEqual(result.warnings.map((w) => [w.path, w.message]), [
    [
      "cache.redis.enabled",
      'cache.redis is enabled but "redis" is not in cache_layers, so it is not used; add it, ' +
      "like cache_layers: [memory, redis]",
    ],
    [
      "cache.disk.enabled",
      'cache.disk is enabled but "disk" is not in cache_layers, so it is not used; add it, ' +
      "like cache_layers: [memory, disk]",
    ],
  ]);
});

Deno.test("cache: a single lower tier works alone", () => {
  const config = ok(parseLines(
    "cache:",
    "  cache_layers: [disk]",
    "  disk: {enabled: true, cache_dir: /tmp/x, max_disk_cache_size_mb: 1}",
  ));
  assert.deepEqual(config.cache?.layers, ["disk"]);
  assert.deepEqual(config.cache?.disk, { cacheDir: "/tmp/x", maxBytes: 1024 * 1024 });
});

Deno.test("cache: a Redis password from ${VAR} is never shown in a message", () => {
  const found = errors(parseConfig(
    [...BASE, "cache:", "  redis:", "    redis_password: ${PW}", "    redis_db: x"].join("\n"),
    { env: { PW: "sekrit-password" } },
  ));
  assert.deepEqual(found.map((issue) => issue.path), ["cache.redis.redis_db"]);
  assert.ok(!show(found).includes("sekrit"));
});

// ---- warnings -------------------------------------------------------------------------------

Deno.test("cache: a bucket's cache without a top-level cache is a warning at its key", () => {
  const result = parseLines(
    "    cache:", //              5
    "      ttl_seconds: 60", //   6
  );
  ok(result);
  assert.deepEqual(result.warnings.map((issue) => formatIssue("c", issue)), [
    "c:5:5 buckets[0].cache: this bucket's `cache` has no effect: the top-level `cache` is " +
    "absent; add `cache: {}` at the top level to cache objects in memory",
  ]);
});

Deno.test("cache: a bucket's cache with a disabled top-level cache is a warning naming its line", () => {
  const result = parseLines(
    "    cache: {}", //           5
    "cache:", //                  6
    "  enabled: false", //        7
  );
  ok(result);
  assert.deepEqual(result.warnings.map((issue) => formatIssue("c", issue)), [
    "c:5:5 buckets[0].cache: this bucket's `cache` has no effect: the top-level `cache` is " +
    "disabled (`enabled: false` on line 7); enable it, or remove this bucket's `cache`",
  ]);
});

Deno.test("cache: a bucket with `cache: {enabled: false}` needs no top-level cache", () => {
  const result = parseRaw(
    setPath({ buckets: twoRawBuckets() }, "buckets[0].cache", { enabled: false }),
  );
  ok(result);
  assert.deepEqual(result.warnings, []);
});

Deno.test("cache: settings of a bucket whose cache is off are ignored, with a warning each", () => {
  const raw = cacheWith("buckets[1].cache", {
    enabled: false,
    ttl_seconds: 60,
    max_item_size_mb: 1,
  });
  const result = parseRaw(raw);
  ok(result);
  assert.deepEqual(result.warnings.map((issue) => [issue.path, issue.message]), [
    [
      "buckets[1].cache.ttl_seconds",
      "`ttl_seconds` is ignored because this bucket's `cache.enabled` is false (the bucket is " +
      "never cached); remove it, or set `enabled: true`",
    ],
    [
      "buckets[1].cache.max_item_size_mb",
      "`max_item_size_mb` is ignored because this bucket's `cache.enabled` is false (the bucket " +
      "is never cached); remove it, or set `enabled: true`",
    ],
  ]);
});

Deno.test("cache: a bucket's max_item_size_mb above the tier's is a warning (the tier's applies)", () => {
  const result = parseLines(
    "    cache: {max_item_size_mb: 20}", //        5
    "cache:", //                                   6
  );
  assert.deepEqual(ok(result).buckets[0]?.cache?.maxItemBytes, 20 * 1024 * 1024);
  assert.deepEqual(result.warnings.map((issue) => formatIssue("c", issue)), [
    "c:5:31 buckets[0].cache.max_item_size_mb: 20 MiB is larger than " +
    "cache.memory.max_item_size_mb (10, the default), which still applies: objects over 10 MiB " +
    "are never cached",
  ]);
  const set = parseRaw(
    setPath(cacheWith("cache.memory.max_item_size_mb", 2), "buckets[0].cache.max_item_size_mb", 3),
  );
  assertOne(
    set.warnings,
    "buckets[0].cache.max_item_size_mb",
    "3 MiB is larger than cache.memory.max_item_size_mb (2), which still applies: objects over " +
      "2 MiB are never cached",
  );
  // Equal or lower: no warning.
  for (const mb of [10, 0.5]) {
    const quiet = parseRaw(cacheWith("buckets[0].cache.max_item_size_mb", mb));
    ok(quiet);
    assert.deepEqual(quiet.warnings, []);
  }
});

Deno.test("cache: an invalid bucket cache gets its error and no warning", () => {
  const result = parseRaw(setPath({ buckets: twoRawBuckets() }, "buckets[0].cache", "yes"));
  assert.equal(errors(result).length, 1);
  assert.deepEqual(result.warnings, []);
});

// ---- helpers and tables ---------------------------------------------------------------------

Deno.test("cacheLayerProblem() accepts the three tiers, lowercase", () => {
  for (const layer of ["memory", "disk", "redis"]) {
    assert.equal(cacheLayerProblem(layer), undefined);
  }
  for (const layer of ["ram", "MEMORY", "Disk", ""]) {
    assert.ok(cacheLayerProblem(layer) !== undefined, layer);
  }
});

Deno.test("SECTION_KEYS lists the cache sections", () => {
  assert.deepEqual(SECTION_KEYS.cache, [
    "enabled",
    "cache_layers",
    "memory",
    "disk",
    "redis",
    "warming",
    "stale_if_error_seconds",
  ]);
  assert.deepEqual(SECTION_KEYS["cache.memory"], [
    "max_item_size_mb",
    "max_cache_size_mb",
    "default_ttl_seconds",
  ]);
  assert.deepEqual(SECTION_KEYS["buckets[].cache"], ["enabled", "ttl_seconds", "max_item_size_mb"]);
});

Deno.test("cache: deleting the block turns the cache off again", () => {
  assert.ok(!("cache" in ok(parseRaw(cacheWith("cache", DELETE)))));
});
