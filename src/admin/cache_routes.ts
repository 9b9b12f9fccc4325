// Owns the cache admin API: purge (all, bucket, prefix, key), stats (all, bucket) and info, in the original's JSON shapes.

import type { CacheStore } from "../cache/cached_object.ts";
import { buildCacheKey, isBucketKey, isObjectKey, isPrefixKey } from "../cache/key.ts";
import { ProxyError } from "../errors.ts";
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
  store: CacheStore | undefined;
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
export function handleCacheAdmin(ctx: CacheAdminContext): Response {
  const store = ctx.store;
  if (store === undefined) {
    throw new ProxyError("cache_disabled", {
      message: "Cache is not enabled: add a `cache` block to the config to use the cache API.",
      source: "client",
    });
  }
  const { path } = ctx;
  if (path === "/admin/cache/purge") {
    requireMethod(ctx.method, "POST");
    const items = store.stats().items;
    store.clear();
    return json({
      status: "success",
      message: "Cache purged successfully",
      entries_deleted: items,
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
      const deleted = store.deleteMatching(
        prefix === undefined ? isBucketKey(bucket) : isPrefixKey(bucket, prefix),
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
    const deleted = store.deleteMatching(isObjectKey(bucket, key));
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
    const stats = store.stats();
    const lookups = stats.hits + stats.misses;
    return json({
      status: "success",
      data: {
        hits: stats.hits,
        misses: stats.misses,
        hit_rate: (lookups === 0 ? 0 : stats.hits / lookups).toFixed(4),
        evictions: stats.evictions,
        current_size_bytes: stats.bytes,
        current_item_count: stats.items,
        max_size_bytes: stats.maxBytes,
      },
      timestamp: nowSeconds(),
    });
  }
  if (path.startsWith("/admin/cache/stats/")) {
    requireMethod(ctx.method, "GET");
    const bucket = path.slice("/admin/cache/stats/".length);
    requireBucket(bucket, ctx.buckets);
    const usage = store.usage(isBucketKey(bucket));
    return json({
      status: "success",
      bucket,
      data: { current_size_bytes: usage.bytes, current_item_count: usage.items },
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
  const entry = store.peek(buildCacheKey(bucket, objectKey, undefined));
  if (entry === undefined) {
    throw new ProxyError("object_not_found", {
      message: `Cache entry not found for "${key}".`,
      source: "client",
    });
  }
  return json({
    status: "success",
    key,
    data: {
      bucket,
      object_key: objectKey,
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
