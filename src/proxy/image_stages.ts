// Owns the image stages of the object path: `negotiate` (params, Accept, variant key) and `transform` (source -> cached variant).

import type { CachedObject } from "../cache/cached_object.ts";
import { newCachedObject } from "../cache/cached_object.ts";
import { buildCacheKey } from "../cache/key.ts";
import { ProxyError } from "../errors.ts";
import { freshnessSeconds, isStorable } from "../http/cache_control.ts";
import { stripResponseHeaders } from "../http/headers.ts";
import { chooseFormat, type FormatChoice } from "../image/negotiate.ts";
import { canonicalTransform } from "../image/params.ts";
import type { ImageProcessor } from "../image/processor.ts";
import type { ImageLimits, ImagePolicy, ImageTransform } from "../image/types.ts";
import { sourceEtagOf, variantCacheKey, variantEtag } from "../image/variant.ts";
import { readableBody } from "../origin/origin.ts";
import { pickS3Query } from "../origin/s3_query.ts";
import { type BucketCache, serveCached, storagePlan } from "./cache_stages.ts";
import type { RequestContext } from "./context.ts";

/** What the image stages share across the buckets of a config generation. */
export interface ImageService {
  readonly processor: ImageProcessor;
  /** Variant builds in progress by variant key: concurrent misses of one variant share one build. */
  readonly builds: Map<string, Promise<BuiltVariant>>;
  /** Unconditional source reads in progress by the source's cache key (variants of one source). */
  readonly sources: Map<string, Promise<SourceImage>>;
}

export function createImageService(processor: ImageProcessor): ImageService {
  return { processor, builds: new Map(), sources: new Map() };
}

/** One image request after `negotiate`. */
interface VariantRequest {
  transform: ImageTransform;
  canonical: string;
  choice: FormatChoice;
  sourceKey: string;
  variantKey: string;
  limits: ImageLimits;
}

/** A variant ready to answer from: freshly built, or a stale copy the source's 304 renewed. */
interface BuiltVariant {
  entry: CachedObject;
  built: boolean;
}

/** The source image: its bytes and headers, or S3's word that the revalidated ETag still holds. */
type SourceImage =
  | { notModified: false; body: Uint8Array; headers: Headers }
  | { notModified: true; headers: Headers };

/** Canonical strings of the transforms a policy remembers (a repeated variant asks again). */
const CANONICAL = new WeakMap<ImageTransform, string>();

/**
 * `negotiate` + `lookup` for image requests: undefined when the query asks for no transformation
 * (the plain object path goes on). A fresh variant in memory is answered synchronously from the
 * cache, with the same RFC 9110 conditional and Range handling as any cached object; anything
 * else builds (or renews) the variant first.
 */
export function serveImage(
  ctx: RequestContext,
  policy: ImagePolicy,
  service: ImageService,
): Response | Promise<Response> | undefined {
  const now = Date.now();
  const transform = policy.request(ctx.path, ctx.rawQuery, now);
  if (transform === undefined) return undefined;
  const bucket = ctx.bucket!;
  // Accept is read only when the format is negotiated (an explicit fmt needs no header read).
  const choice = chooseFormat(transform, policy.autoFormat, ctx.request.headers);
  let canonical = CANONICAL.get(transform);
  if (canonical === undefined) CANONICAL.set(transform, canonical = canonicalTransform(transform));
  const sourceKey = buildCacheKey(bucket.name, ctx.key, s3QueryOf(ctx.rawQuery));
  const variant: VariantRequest = {
    transform,
    canonical,
    choice,
    sourceKey,
    variantKey: variantCacheKey(sourceKey, canonical, choice.format),
    limits: policy.limits,
  };
  const cache = bucket.cache;
  if (cache !== undefined) {
    ctx.cacheKey = variant.variantKey;
    const entry = cache.store.getFresh(variant.variantKey, now);
    if (entry !== undefined) return serveCached(ctx, entry, now);
  }
  return missedVariant(ctx, variant, service, cache);
}

/**
 * pickS3Query() for image queries, which always have parameters: its URLSearchParams parse
 * costs about a microsecond on every variant hit, and a query that names none of S3's read
 * parameters (versionId, partNumber, response-*), in any encoding, picks nothing.
 */
function s3QueryOf(rawQuery: string): Array<[string, string]> | undefined {
  if (
    rawQuery.includes("%") || rawQuery.includes("versionId") || rawQuery.includes("partNumber") ||
    rawQuery.includes("response-")
  ) return pickS3Query(rawQuery);
  return undefined;
}

/** Lower tiers, then a shared build (or a renewal of the stale copy), then the answer. */
async function missedVariant(
  ctx: RequestContext,
  variant: VariantRequest,
  service: ImageService,
  cache: BucketCache | undefined,
): Promise<Response> {
  let stale: CachedObject | undefined;
  if (cache !== undefined) {
    if (cache.store.hasLowerTiers) {
      const found = await cache.store.lookupLower(variant.variantKey, Date.now());
      if (found.fresh !== undefined) return serveCached(ctx, found.fresh, Date.now());
      stale = found.stale;
    }
    stale = cache.store.peekStale(variant.variantKey) ?? stale;
  }
  let build = service.builds.get(variant.variantKey);
  if (build === undefined) {
    build = buildVariant(ctx, variant, service, cache, stale).finally(() =>
      service.builds.delete(variant.variantKey)
    );
    service.builds.set(variant.variantKey, build);
  }
  const { entry, built } = await build;
  if (cache !== undefined) return serveCached(ctx, entry, Date.now(), built ? "MISS" : "HIT");
  // Without a cache there is no Age; X-Cache is the bucket's uncached status, if it has one.
  return serveCached(ctx, entry, Date.now(), ctx.bucket!.uncachedStatus ?? null, false);
}

/**
 * `fetch` + `transform` + `store` of one variant. A stale variant is revalidated against its
 * source's ETag (carried in its own): unchanged, it is renewed for the source's TTL; changed,
 * the variant is rebuilt from the new source.
 */
async function buildVariant(
  ctx: RequestContext,
  variant: VariantRequest,
  service: ImageService,
  cache: BucketCache | undefined,
  stale: CachedObject | undefined,
): Promise<BuiltVariant> {
  const knownSource = sourceEtagOf(stale?.etag);
  const source = await readSource(ctx, variant, service, cache, knownSource);
  const now = Date.now();
  if (source.notModified) {
    const renewed = stale!;
    const fresh = source.headers.has("cache-control") ? source.headers : renewed.headers;
    const ttlSeconds = freshnessSeconds(fresh, cache?.defaultTtlSeconds ?? 0);
    const entry = { ...renewed, storedAt: now, expiresAt: now + ttlSeconds * 1000 };
    if (cache !== undefined && ttlSeconds > 0) cache.store.set(variant.variantKey, entry);
    return { entry, built: false };
  }
  const format = variant.choice.format === "source" ? undefined : variant.choice.format;
  const processor = service.processor;
  const result = await processor.transform(
    source.body,
    variant.transform,
    format,
    variant.limits,
  );
  const headers = new Headers({
    "content-type": result.contentType,
    "content-length": String(result.bytes.byteLength),
    "accept-ranges": "bytes",
    etag: variantEtag(
      source.headers.get("etag") ?? undefined,
      variant.canonical,
      result.format,
      processor.engine.info,
      source.body,
    ),
  });
  for (const name of ["cache-control", "expires", "last-modified"]) {
    const value = source.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  if (variant.choice.negotiated) headers.set("vary", "Accept");
  const ttlSeconds = cache === undefined
    ? 0
    : freshnessSeconds(source.headers, cache.defaultTtlSeconds);
  const entry = newCachedObject(headers, result.bytes, ttlSeconds, now);
  if (
    cache !== undefined && ttlSeconds > 0 && isStorable(source.headers) &&
    result.bytes.byteLength <= cache.maxItemBytes
  ) {
    cache.store.set(variant.variantKey, entry);
  }
  return { entry, built: true };
}

/**
 * The source image: the cached object when it is fresh, else S3's (conditional on `knownEtag`
 * when revalidating). Unconditional reads of one source are shared by its variants, and a
 * source S3 lets us cache is stored under its own key (a plain GET of it is then a hit).
 */
async function readSource(
  ctx: RequestContext,
  variant: VariantRequest,
  service: ImageService,
  cache: BucketCache | undefined,
  knownEtag: string | undefined,
): Promise<SourceImage> {
  if (cache !== undefined) {
    const cached = cache.store.getFresh(variant.sourceKey, Date.now());
    if (cached !== undefined) {
      if (knownEtag !== undefined && cached.etag === knownEtag) {
        return { notModified: true, headers: cached.headers };
      }
      checkSource(cached.headers, cached.body.byteLength, variant.limits);
      return { notModified: false, body: cached.body, headers: cached.headers };
    }
  }
  if (knownEtag !== undefined) return await fetchSource(ctx, variant, cache, knownEtag);
  let read = service.sources.get(variant.sourceKey);
  if (read === undefined) {
    read = fetchSource(ctx, variant, cache, undefined).finally(() =>
      service.sources.delete(variant.sourceKey)
    );
    service.sources.set(variant.sourceKey, read);
  }
  return await read;
}

/** A GET of the whole source from S3: never the client's Range or preconditions (those apply to the variant). */
async function fetchSource(
  ctx: RequestContext,
  variant: VariantRequest,
  cache: BucketCache | undefined,
  knownEtag: string | undefined,
): Promise<SourceImage> {
  const bucket = ctx.bucket!;
  const remaining = ctx.deadline - Date.now();
  const upstream = await bucket.origin.fetch({
    method: "GET",
    key: ctx.key,
    query: s3QueryOf(ctx.rawQuery),
    headers: knownEtag === undefined ? undefined : { "if-none-match": knownEtag },
    // A read shared by several requests is not cut short when the first of them leaves.
    signal: new AbortController().signal,
    timeoutMs: Math.max(1, Math.min(bucket.config.s3.timeout * 1000, remaining)),
    deadline: ctx.deadline,
  });
  if (upstream.status === 304 && knownEtag !== undefined) {
    upstream.body?.cancel().catch(() => {});
    return { notModified: true, headers: upstream.headers };
  }
  if (upstream.status !== 200 || upstream.body === null) {
    upstream.body?.cancel().catch(() => {});
    throw new ProxyError("upstream_error", {
      message: `S3 answered ${upstream.status} to a full read of the image source.`,
      source: "origin",
    });
  }
  const headers = new Headers(upstream.headers);
  stripResponseHeaders(headers);
  headers.set("accept-ranges", "bytes");
  const announced = headers.get("content-length");
  try {
    checkSource(headers, announced === null ? 0 : Number(announced), variant.limits);
  } catch (error) {
    upstream.body.cancel().catch(() => {});
    throw error;
  }
  const plan = cache === undefined ? undefined : storagePlan(upstream, cache);
  const body = await readBounded(readableBody(upstream)!, variant.limits);
  if (
    cache !== undefined && plan !== undefined && !("skipped" in plan) &&
    body.byteLength === plan.length
  ) {
    cache.store.set(variant.sourceKey, newCachedObject(headers, body, plan.ttlSeconds, Date.now()));
  }
  return { notModified: false, body, headers };
}

/** 415 for a source that is not `image/*`; 422 for one over max_source_bytes. */
function checkSource(headers: Headers, length: number, limits: ImageLimits): void {
  const type = headers.get("content-type") ?? "";
  if (!/^image\//i.test(type.trimStart())) {
    throw new ProxyError("unsupported_image", {
      message: `Image parameters apply to images; this object is ${
        type === "" ? "of no declared type" : `"${type.split(";", 1)[0]!.trim()}"`
      }. Request it without image parameters.`,
      source: "client",
    });
  }
  if (length > limits.maxSourceBytes) throw sourceTooLarge(length, limits);
}

function sourceTooLarge(length: number, limits: ImageLimits): ProxyError {
  return new ProxyError("image_too_large", {
    message: `The source image is ${length} bytes, over image_optimization.max_source_bytes ` +
      `(${limits.maxSourceBytes}); it is not transformed.`,
    source: "client",
  });
}

/** The whole body, refusing (and cancelling) it once it passes max_source_bytes. */
async function readBounded(
  stream: ReadableStream<Uint8Array>,
  limits: ImageLimits,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        if (error instanceof ProxyError) throw error;
        throw new ProxyError("upstream_error", {
          message: "S3's body of the image source ended before it was complete.",
          source: "origin",
          cause: error,
        });
      }
      const { done, value } = next;
      if (done) break;
      length += value.byteLength;
      if (length > limits.maxSourceBytes) {
        reader.cancel().catch(() => {});
        throw sourceTooLarge(length, limits);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
