// Owns the `lookup` and `store` stages: serving hits with RFC 9110 semantics, filling the cache on misses.

import { type CachedObject, fullResponse, newCachedObject } from "../cache/cached_object.ts";
import { buildCacheKey } from "../cache/key.ts";
import { SharedFill } from "../cache/shared_fill.ts";
import type { TieredCache } from "../cache/tiered_cache.ts";
import { ProxyError } from "../errors.ts";
import { freshnessSeconds, isStorable, staleIfErrorSeconds } from "../http/cache_control.ts";
import {
  evaluatePreconditions,
  isRangeApplicable,
  NOT_MODIFIED_HEADERS,
} from "../http/conditional.ts";
import { contentRange, parseRange, unsatisfiedRange } from "../http/range.ts";
import { pickForwardedHeaders } from "../http/headers.ts";
import { bufferedBody } from "../origin/origin.ts";
import { pickS3Query } from "../origin/s3_query.ts";
import type { RequestContext } from "./context.ts";

/** What one bucket's requests need to use the cache. */
export interface BucketCache {
  store: TieredCache;
  /** Larger objects stream through uncached. */
  maxItemBytes: number;
  /** TTL when S3 sends no s-maxage / max-age. */
  defaultTtlSeconds: number;
  /** Seconds past expiry a copy may be served when S3 fails, unless the object's Cache-Control says. */
  staleIfErrorSeconds: number;
  /** Fills in progress by cache key (shared by every bucket of the app; keys name the bucket). */
  inflight: Map<string, SharedFill>;
}

/**
 * `lookup`: answers from the memory tier when a fresh entry exists (X-Cache: HIT), else notes the
 * key for `store` and returns undefined (then `lookupLower` asks the slower tiers, if any). Runs
 * after `authorize`, so a cached private object is only ever served to a caller who was just
 * allowed to read it.
 */
export function lookup(ctx: RequestContext, cache: BucketCache): Response | undefined {
  const key = buildCacheKey(ctx.bucket!.name, ctx.key, pickS3Query(ctx.rawQuery));
  ctx.cacheKey = key;
  const now = Date.now();
  const entry = cache.store.getFresh(key, now);
  if (entry !== undefined) return serveCached(ctx, entry, now);
  if (!cache.store.hasLowerTiers) prepareMiss(ctx, cache, cache.store.peekStale(key));
  return undefined;
}

/** `lookup`, continued below memory (disk, Redis): a fresh entry there is served and promoted. */
export async function lookupLower(
  ctx: RequestContext,
  cache: BucketCache,
): Promise<Response | undefined> {
  const key = ctx.cacheKey!;
  const now = Date.now();
  const found = await cache.store.lookupLower(key, now);
  if (found.fresh !== undefined) return serveCached(ctx, found.fresh, now);
  prepareMiss(ctx, cache, cache.store.peekStale(key) ?? found.stale);
  return undefined;
}

/**
 * On a miss: an expired copy is revalidated rather than fetched again, unless the client sent
 * Range or preconditions of its own (those go to S3 as they are); otherwise concurrent misses of
 * one key share one upstream fetch (see SharedFill).
 */
function prepareMiss(ctx: RequestContext, cache: BucketCache, stale: CachedObject | undefined) {
  ctx.forwardedHeaders = pickForwardedHeaders(ctx.request.headers);
  if (ctx.forwardedHeaders !== undefined) return;
  const key = ctx.cacheKey!;
  if (stale?.etag !== undefined) {
    ctx.staleEntry = stale;
  } else if (ctx.method === "GET") {
    const running = cache.inflight.get(key);
    if (running !== undefined) ctx.following = running;
    else {
      const fill = new SharedFill();
      cache.inflight.set(key, fill);
      ctx.leading = fill;
    }
  }
}

/**
 * A follower: waits for the leader's head. Its shareable object streams from the shared fill
 * (X-Cache: MISS, as for the leader); its error becomes this request's error; anything else
 * (not shareable) returns undefined and this request fetches on its own.
 */
export async function follow(ctx: RequestContext): Promise<Response | undefined> {
  const fill = ctx.following!;
  ctx.following = undefined;
  const head = await fill.head();
  if (head === undefined) return undefined;
  const headers = new Headers(head.headers);
  headers.set("x-cache", "MISS");
  headers.set("x-request-id", ctx.requestId);
  ctx.cacheStatus = "MISS";
  return new Response(fill.stream(), { status: 200, headers });
}

/** Ends the leader's part: nobody waits on this fill any more. */
export function releaseLead(ctx: RequestContext, cache: BucketCache, error?: unknown): void {
  const fill = ctx.leading;
  if (fill === undefined) return;
  ctx.leading = undefined;
  if (error !== undefined) fill.fail(error);
  else fill.publishHead(undefined); // no-op when the head was already published
  // A streaming fill stays joinable until its body is complete (`store` removes it then).
  if (!fill.streaming) removeFill(cache, ctx.cacheKey!, fill);
}

function removeFill(cache: BucketCache, key: string, fill: SharedFill): void {
  if (cache.inflight.get(key) === fill) cache.inflight.delete(key);
}

/**
 * After a revalidation: S3's 304 renews the stale entry (its TTL from the 304's Cache-Control,
 * else the entry's own, else the default) and the request is answered from the cached bytes.
 */
export function renewAndServe(
  ctx: RequestContext,
  notModified: Response,
  cache: BucketCache,
): Response {
  notModified.body?.cancel().catch(() => {});
  const stale = ctx.staleEntry!;
  const now = Date.now();
  const source = notModified.headers.has("cache-control") ? notModified.headers : stale.headers;
  const ttlSeconds = freshnessSeconds(source, cache.defaultTtlSeconds);
  const renewed = { ...stale, storedAt: now, expiresAt: now + ttlSeconds * 1000 };
  if (ttlSeconds > 0) cache.store.set(ctx.cacheKey!, renewed);
  return serveCached(ctx, renewed, now);
}

/**
 * When S3 fails while a stale copy exists, RFC 5861 `stale-if-error` (from the object's own
 * Cache-Control, else `cache.stale_if_error_seconds`) allows serving it for that many seconds
 * past its expiry, with X-Cache: STALE. Returns undefined when it does not apply (the error then
 * reaches the client).
 */
export function serveStaleOnError(
  ctx: RequestContext,
  error: unknown,
  cache: BucketCache,
): Response | undefined {
  const stale = ctx.staleEntry;
  if (stale === undefined || !(error instanceof ProxyError) || error.status < 500) return undefined;
  const allowance = staleIfErrorSeconds(stale.headers) ?? cache.staleIfErrorSeconds;
  const now = Date.now();
  if (allowance <= 0 || now > stale.expiresAt + allowance * 1000) return undefined;
  return serveCached(ctx, stale, now, "STALE");
}

/**
 * RFC 9110 §13.2.2 preconditions, then §14 Range, from the cached bytes (plain objects and image
 * variants alike). `cacheStatus` is the X-Cache value (HIT, STALE, MISS for a variant just built;
 * null: none). `withAge` is false for an answer that was never cached (an image variant on a bucket
 * without a cache).
 *
 * A whole body is a clone of the entry's template answer (fullResponse: no copy of the bytes, no
 * validation of the stored headers); partial, HEAD and 304 answers are built from a copy of the
 * entry's headers.
 */
export function serveCached(
  ctx: RequestContext,
  entry: CachedObject,
  now: number,
  cacheStatus: string | null = "HIT",
  withAge = true,
): Response {
  const requestHeaders = ctx.request.headers;
  const validators = { etag: entry.etag, lastModifiedMs: entry.lastModifiedMs };
  const outcome = evaluatePreconditions(
    { method: ctx.method, headers: requestHeaders },
    validators,
  );
  if (outcome === "precondition_failed") {
    throw new ProxyError("precondition_failed", {
      message: "A precondition (If-Match or If-Unmodified-Since) did not hold for this object.",
      source: "client",
    });
  }
  const size = entry.body.byteLength;
  if (outcome === "not_modified") {
    const kept = new Headers();
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = entry.headers.get(name);
      if (value !== null) kept.set(name, value);
    }
    addHitHeaders(kept, ctx, entry, now, cacheStatus, withAge);
    ctx.bodyBytes = 0;
    return new Response(null, { status: 304, headers: kept });
  }
  const rangeHeader = requestHeaders.get("range");
  const range = rangeHeader !== null &&
      isRangeApplicable(requestHeaders.get("if-range"), validators)
    ? parseRange(rangeHeader, size)
    : undefined;
  if (range?.kind === "unsatisfiable") {
    throw new ProxyError("range_not_satisfiable", {
      message: `The requested Range does not overlap the object's ${size} bytes.`,
      source: "client",
      headers: { "content-range": unsatisfiedRange(size) },
    });
  }
  if (range?.kind === "partial" || ctx.method === "HEAD") {
    const headers = new Headers(entry.headers);
    addHitHeaders(headers, ctx, entry, now, cacheStatus, withAge);
    if (range?.kind === "partial") {
      const body = ctx.method === "HEAD" ? null : entry.body.subarray(range.start, range.end + 1);
      ctx.bodyBytes = body === null ? 0 : body.byteLength;
      headers.set("content-range", contentRange(range.start, range.end, size));
      headers.set("content-length", String(range.end - range.start + 1));
      return new Response(body, { status: 206, headers });
    }
    ctx.bodyBytes = 0;
    headers.set("content-length", String(size));
    return new Response(null, { status: 200, headers });
  }
  ctx.bodyBytes = size;
  const response = fullResponse(entry);
  addHitHeaders(response.headers, ctx, entry, now, cacheStatus, withAge);
  return response;
}

function addHitHeaders(
  headers: Headers,
  ctx: RequestContext,
  entry: CachedObject,
  now: number,
  cacheStatus: string | null,
  withAge: boolean,
): void {
  // Kept for the logs too, only for answers that carry it (a 412 or 416 from here does not).
  ctx.cacheStatus = cacheStatus ?? undefined;
  if (cacheStatus !== null) headers.set("x-cache", cacheStatus);
  if (withAge) headers.set("age", String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))));
  headers.set("x-request-id", ctx.requestId);
}

/**
 * Whether S3's answer may be stored under the bucket's cache rules (a complete 200 with a
 * Content-Length within the item bound, storable, with a TTL above 0): its length and TTL, or
 * why not. Shared by the `store` stage and prewarming, so both cache exactly the same things.
 */
export function storagePlan(
  response: Response,
  cache: BucketCache,
): { length: number; ttlSeconds: number } | { skipped: string } {
  // A body read whole is checked as bytes: reading `response.body` would turn them into a stream
  // (Deno then sends them the slow way).
  if (response.status !== 200 || (bufferedBody(response) === undefined && response.body === null)) {
    return { skipped: `S3 answered ${response.status}` };
  }
  const length = Number(response.headers.get("content-length"));
  if (!Number.isSafeInteger(length)) return { skipped: "S3 sent no Content-Length" };
  if (length > cache.maxItemBytes) {
    return { skipped: `${length} bytes is over the bucket's max_item_size_mb` };
  }
  if (!isStorable(response.headers)) return { skipped: "S3 marked it no-store or private" };
  const ttlSeconds = freshnessSeconds(response.headers, cache.defaultTtlSeconds);
  if (ttlSeconds <= 0) return { skipped: "its TTL is 0" };
  return { length, ttlSeconds };
}

/**
 * `store`: on a miss, a complete 200 GET of a storable object no larger than the bound is teed:
 * one branch streams to the client as it arrives, the other fills a buffer of the announced size
 * and is stored only if exactly that many bytes arrived (a truncated or failed body never enters
 * the cache). The client is never made to wait for the store.
 */
export function storeWhileStreaming(
  ctx: RequestContext,
  response: Response,
  cache: BucketCache,
): Response {
  const key = ctx.cacheKey;
  if (key === undefined || ctx.method !== "GET" || ctx.forwardedHeaders !== undefined) {
    return response;
  }
  const plan = storagePlan(response, cache);
  if ("skipped" in plan) return response;
  const { length, ttlSeconds } = plan;
  const snapshot = new Headers(response.headers);
  snapshot.delete("x-request-id");
  snapshot.delete("x-cache");
  const fill = ctx.leading;
  fill?.publishHead({ headers: snapshot, length });
  const bytes = bufferedBody(response);
  if (bytes !== undefined && bytes.byteLength === length) {
    // Read whole by the origin (small bodies): stored at once, no stream to tee.
    if (fill !== undefined) {
      fill.push(bytes);
      fill.finish();
      removeFill(cache, key, fill);
    }
    cache.store.set(key, newCachedObject(snapshot, bytes, ttlSeconds, Date.now()));
    return response;
  }
  const [toClient, toCache] = response.body!.tee();
  collect(toCache, length, fill).then((body) => {
    if (fill !== undefined) removeFill(cache, key, fill);
    if (body === undefined) return;
    cache.store.set(key, newCachedObject(snapshot, body, ttlSeconds, Date.now()));
  });
  return new Response(toClient, { status: 200, headers: response.headers });
}

/**
 * Reads exactly `length` bytes, passing each chunk on to the followers of `fill`; undefined (and
 * the followers' streams fail) when the stream errors or delivers another length.
 */
export async function collect(
  stream: ReadableStream<Uint8Array>,
  length: number,
  fill: SharedFill | undefined,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const body = new Uint8Array(length);
  let offset = 0;
  try {
    for await (const chunk of stream) {
      if (offset + chunk.byteLength > length) throw new Error("S3 sent more than Content-Length");
      body.set(chunk, offset);
      offset += chunk.byteLength;
      fill?.push(chunk);
    }
    if (offset !== length) throw new Error(`S3 sent ${offset} of ${length} bytes`);
  } catch (error) {
    fill?.fail(error);
    return undefined;
  }
  fill?.finish();
  return body;
}
