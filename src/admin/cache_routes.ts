// Owns the cache admin API: purge (all, bucket, prefix, key), stats (all, bucket) and info, in the original's JSON shapes.

import { buildCacheKey } from "../cache/key.ts";
import type { PurgeSelector } from "../cache/tier.ts";
import type { CacheReport, TieredCache } from "../cache/tiered_cache.ts";
import { errorMessage, ProxyError } from "../errors.ts";
import { formDecode } from "../http/form_decode.ts";

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

export interface CacheAdminContext {
  method: string;
  /** The decoded path, starting with "/admin/cache". */
  path: string;
  rawQuery: string;
  /** undefined when the config has no `cache` block. */
  cache: TieredCache | undefined;
  /** Configured bucket names (purge/stats of an unknown bucket is a 404, not a silent 0). */
  buckets: ReadonlySet<string>;
}

/** Paths this module answers; anything else under /admin/ is route_not_found. */
export function isCacheAdminPath(path: string): boolean {
  return path === "/admin/cache/purge" || path.startsWith("/admin/cache/purge/") ||
    path === "/admin/cache/stats" || path.startsWith("/admin/cache/stats/") ||
    path === "/admin/cache/info";
}

function json(body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), { headers: JSON_HEADERS });
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function requireMethod(method: string, allowed: "GET" | "POST"): void {
  if (method === allowed || (allowed === "GET" && method === "HEAD")) return;
  throw new ProxyError("method_not_allowed", {
    message: `This admin route answers ${allowed} only.`,
    source: "client",
    headers: { allow: allowed === "GET" ? "GET, HEAD" : "POST" },
  });
}

function requireBucket(name: string, buckets: ReadonlySet<string>): void {
  if (name === "") {
    throw new ProxyError("bad_request", {
      message: "The bucket name is empty; use /admin/cache/.../{bucket}.",
      source: "client",
    });
  }
  if (!buckets.has(name)) {
    throw new ProxyError("route_not_found", {
      message: `No bucket named "${name}" is configured (buckets[].name).`,
      source: "client",
    });
  }
}

/** Answers one cache admin request; the caller has already passed `guardAdmin`. */
export async function handleCacheAdmin(ctx: CacheAdminContext): Promise<Response> {
  const cache = ctx.cache;
  if (cache === undefined) {
    throw new ProxyError("cache_disabled", {
      message: "Cache is not enabled: add a `cache` block to the config to use the cache API.",
      source: "client",
    });
  }
  const { path } = ctx;
  if (path === "/admin/cache/purge") {
    requireMethod(ctx.method, "POST");
    const deleted = await purge(cache, { kind: "all" });
    return json({
      status: "success",
      message: "Cache purged successfully",
      entries_deleted: deleted,
      tiers: cache.tierNames,
      timestamp: nowSeconds(),
    });
  }
  if (path.startsWith("/admin/cache/purge/")) {
    requireMethod(ctx.method, "POST");
    const rest = path.slice("/admin/cache/purge/".length);
    const slash = rest.indexOf("/");
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    requireBucket(bucket, ctx.buckets);
    if (slash === -1 || slash === rest.length - 1) {
      const prefix = prefixParam(ctx.rawQuery);
      const deleted = await purge(
        cache,
        prefix === undefined ? { kind: "bucket", bucket } : { kind: "prefix", bucket, prefix },
      );
      return json({
        status: "success",
        message: `Purged ${deleted} cache entries for bucket`,
        bucket,
        ...(prefix === undefined ? {} : { prefix }),
        entries_deleted: deleted,
        timestamp: nowSeconds(),
      });
    }
    const key = rest.slice(slash + 1);
    const deleted = await purge(cache, { kind: "object", bucket, key });
    return json({
      status: "success",
      message: deleted > 0 ? "Cache entry purged" : "Cache entry not found",
      bucket,
      path: key,
      deleted: deleted > 0,
      entries_deleted: deleted,
      timestamp: nowSeconds(),
    });
  }
  if (path === "/admin/cache/stats") {
    requireMethod(ctx.method, "GET");
    const report = await cache.liveReport();
    return json({ status: "success", data: statsData(report), timestamp: nowSeconds() });
  }
  if (path.startsWith("/admin/cache/stats/")) {
    requireMethod(ctx.method, "GET");
    const bucket = path.slice("/admin/cache/stats/".length);
    requireBucket(bucket, ctx.buckets);
    const rows = await usage(cache, { kind: "bucket", bucket });
    const first = rows[0] ?? { items: 0, bytes: 0 };
    return json({
      status: "success",
      bucket,
      data: {
        current_size_bytes: first.bytes,
        current_item_count: first.items,
        tiers: Object.fromEntries(
          rows.map((row) => [row.name, {
            current_size_bytes: row.bytes,
            current_item_count: row.items,
          }]),
        ),
      },
      timestamp: nowSeconds(),
    });
  }
  // /admin/cache/info?key=<bucket>:<object key>
  requireMethod(ctx.method, "GET");
  const key = new URLSearchParams(ctx.rawQuery).get("key");
  const colon = key?.indexOf(":") ?? -1;
  if (key === null || key === undefined || colon <= 0) {
    throw new ProxyError("bad_request", {
      message:
        "Give the entry as ?key=<bucket>:<object key>, for example ?key=public:images/a.png.",
      source: "client",
    });
  }
  const bucket = key.slice(0, colon);
  const objectKey = key.slice(colon + 1);
  requireBucket(bucket, ctx.buckets);
  const found = await cache.inspect(buildCacheKey(bucket, objectKey, undefined), Date.now());
  if (found === undefined) {
    throw new ProxyError("object_not_found", {
      message: `Cache entry not found for "${key}".`,
      source: "client",
    });
  }
  const entry = found.entry;
  return json({
    status: "success",
    key,
    data: {
      bucket,
      object_key: objectKey,
      tier: found.tier,
      content_type: entry.headers.get("content-type"),
      content_length: entry.body.byteLength,
      etag: entry.etag ?? null,
      last_modified: entry.headers.get("last-modified"),
      created_at: Math.floor(entry.storedAt / 1000),
      expires_at: Math.floor(entry.expiresAt / 1000),
    },
    timestamp: nowSeconds(),
  });
}

/** The original's `data` shape (hit_rate a 4-decimal string), plus each tier's own counters. */
function statsData(report: CacheReport): Record<string, unknown> {
  const rate = (hits: number, misses: number) =>
    (hits + misses === 0 ? 0 : hits / (hits + misses)).toFixed(4);
  return {
    hits: report.hits,
    misses: report.misses,
    hit_rate: rate(report.hits, report.misses),
    evictions: report.evictions,
    current_size_bytes: report.bytes,
    current_item_count: report.items,
    max_size_bytes: report.maxBytes,
    tiers: Object.fromEntries(report.tiers.map((tier) => [tier.name, {
      hits: tier.hits,
      misses: tier.misses,
      hit_rate: rate(tier.hits, tier.misses),
      evictions: tier.evictions,
      current_size_bytes: tier.bytes,
      current_item_count: tier.items,
      max_size_bytes: tier.maxBytes,
      errors: tier.errors,
    }])),
  };
}

/** A purge whose failure (a tier or the bus unreachable) is a 502 that says what was not purged. */
async function purge(cache: TieredCache, selector: PurgeSelector): Promise<number> {
  try {
    return await cache.purge(selector);
  } catch (error) {
    throw new ProxyError("upstream_error", {
      message: `Failed to purge cache: ${
        errorMessage(error)
      }. The reachable tiers were purged; retry once the failing one is back.`,
      source: "origin",
      cause: error,
    });
  }
}

async function usage(
  cache: TieredCache,
  selector: PurgeSelector,
): Promise<Array<{ name: string; items: number; bytes: number }>> {
  try {
    return await cache.usage(selector);
  } catch (error) {
    throw new ProxyError("upstream_error", {
      message: `Failed to read cache usage: ${errorMessage(error)}.`,
      source: "origin",
      cause: error,
    });
  }
}

/** The decoded `prefix` query parameter, if given. */
function prefixParam(rawQuery: string): string | undefined {
  for (const piece of rawQuery.split("&")) {
    const eq = piece.indexOf("=");
    if (eq !== -1 && formDecode(piece.slice(0, eq)) === "prefix") {
      return formDecode(piece.slice(eq + 1));
    }
  }
  return undefined;
}
