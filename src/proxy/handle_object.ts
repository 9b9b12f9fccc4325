// Owns the ordered stage list of the object path (DESIGN.md §1), as implemented so far.

import type { BucketRouter } from "../routing/bucket_router.ts";
import type { BucketRuntime } from "./bucket_runtime.ts";
import type { RequestContext } from "./context.ts";
import { authenticate, authorize } from "./auth_stages.ts";
import type { BucketCache } from "./cache_stages.ts";
import {
  follow,
  lookup,
  lookupLower,
  releaseLead,
  renewAndServe,
  serveStaleOnError,
  storeWhileStreaming,
} from "./cache_stages.ts";
import { fetchObject, respond, route } from "./stages.ts";
import { serveImage } from "./image_stages.ts";
import { ALLOWED_METHODS } from "./accept.ts";
import type { RateLimits } from "./rate_limits.ts";

/**
 * The stages that run, in order. `accept` runs in app.ts before dispatch (request id, client ip,
 * method gate, path decoding). `negotiate` and `transform` run only for image requests on
 * buckets with image_optimization (proxy/image_stages.ts).
 */
export const OBJECT_STAGES = [
  "accept",
  "route",
  "guard",
  "authenticate",
  "authorize",
  "negotiate",
  "lookup",
  "fetch",
  "transform",
  "respond",
  "store",
] as const;
export type ObjectStage = typeof OBJECT_STAGES[number];

/**
 * Runs route -> guard -> authenticate -> authorize -> [negotiate] -> lookup -> fetch ->
 * [transform] -> respond -> store (`store` tees the body as `respond` streams it). Errors propagate as ProxyErrors (thrown, or as the rejection).
 * A memory-tier hit on a bucket without authentication returns its Response synchronously: most
 * traffic takes that path, and skipping the promise machinery is measurable there.
 */
export function handleObject(
  ctx: RequestContext,
  router: BucketRouter<BucketRuntime>,
  limits?: RateLimits,
): Response | Promise<Response> {
  if (limits !== undefined) return limitedObject(ctx, router, limits);
  // ctx.trace (only when tracing is on) marks each stage's start as an event of the request's span.
  ctx.trace?.addEvent("route");
  route(ctx, router);
  const bucket = ctx.bucket!;
  // `guard`: the network is checked before any credential is looked at.
  if (bucket.ipFilter !== undefined) {
    ctx.trace?.addEvent("guard");
    bucket.ipFilter.check(ctx.clientIp, bucket.name);
  }
  if (
    bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined ||
    bucket.authorizer !== undefined
  ) {
    return guardedObject(ctx);
  }
  return afterAuthorization(ctx);
}

/**
 * OPTIONS: on a bucket with `cors`, its preflight answer (after the bucket's ip_filter, so a
 * refused network learns nothing of the policy); anywhere else a plain 204 with Allow. Neither
 * asks for credentials: browsers send preflights without them (Fetch standard).
 */
export function handleOptions(ctx: RequestContext, router: BucketRouter<BucketRuntime>): Response {
  const bucket = router.resolve(ctx.path)?.target;
  if (bucket !== undefined) {
    ctx.bucket = bucket;
    if (bucket.ipFilter !== undefined) bucket.ipFilter.check(ctx.clientIp, bucket.name);
    if (bucket.cors !== undefined) return bucket.cors.options(ctx.request, ctx.requestId);
  }
  return new Response(null, {
    status: 204,
    headers: { allow: ALLOWED_METHODS, "x-request-id": ctx.requestId },
  });
}

/**
 * The object path with rate limits (server.rate_limit, buckets[].s3.rate_limit): global and per-IP
 * before routing, the bucket's after routing (and its ip_filter), per-user after authentication.
 */
async function limitedObject(
  ctx: RequestContext,
  router: BucketRouter<BucketRuntime>,
  limits: RateLimits,
): Promise<Response> {
  ctx.trace?.addEvent("guard");
  await limits.checkClient(ctx.clientIp);
  ctx.trace?.addEvent("route");
  route(ctx, router);
  const bucket = ctx.bucket!;
  if (bucket.ipFilter !== undefined) bucket.ipFilter.check(ctx.clientIp, bucket.name);
  await limits.checkBucket(bucket.name);
  if (bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined) {
    ctx.trace?.addEvent("authenticate");
    await authenticate(ctx);
    await limits.checkUser(ctx.subject);
  }
  if (bucket.authorizer !== undefined) {
    ctx.trace?.addEvent("authorize");
    await authorize(ctx);
  }
  return await afterAuthorization(ctx);
}

async function guardedObject(ctx: RequestContext): Promise<Response> {
  const bucket = ctx.bucket!;
  if (bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined) {
    ctx.trace?.addEvent("authenticate");
    await authenticate(ctx);
  }
  if (bucket.authorizer !== undefined) {
    ctx.trace?.addEvent("authorize");
    await authorize(ctx);
  }
  return await afterAuthorization(ctx);
}

function afterAuthorization(ctx: RequestContext): Response | Promise<Response> {
  const bucket = ctx.bucket!;
  // `negotiate`: image parameters make it a variant request (buckets with image_optimization only).
  if (bucket.image !== undefined) {
    ctx.trace?.addEvent("negotiate");
    const variant = serveImage(ctx, bucket.image, bucket.imageService!);
    if (variant !== undefined) return variant;
  }
  const cache = bucket.cache;
  if (cache === undefined) return fetchUncached(ctx);
  ctx.trace?.addEvent("lookup");
  return lookup(ctx, cache) ?? missed(ctx, cache);
}

async function fetchUncached(ctx: RequestContext): Promise<Response> {
  ctx.trace?.addEvent("fetch");
  const upstream = await fetchObject(ctx);
  ctx.trace?.addEvent("respond");
  return respond(ctx, upstream);
}

/** After a memory miss: the lower tiers, then a shared or own fetch, revalidation, stale-if-error. */
async function missed(ctx: RequestContext, cache: BucketCache): Promise<Response> {
  if (cache.store.hasLowerTiers) {
    const hit = await lookupLower(ctx, cache);
    if (hit !== undefined) return hit;
  }
  if (ctx.following !== undefined) {
    const shared = await follow(ctx);
    if (shared !== undefined) return shared;
  }
  let upstream: Response;
  try {
    ctx.trace?.addEvent("fetch");
    upstream = await fetchObject(ctx);
  } catch (error) {
    releaseLead(ctx, cache, error);
    const stale = serveStaleOnError(ctx, error, cache);
    if (stale !== undefined) return stale;
    throw error;
  }
  if (ctx.staleEntry !== undefined && upstream.status === 304) {
    return renewAndServe(ctx, upstream, cache);
  }
  ctx.trace?.addEvent("respond");
  const responded = respond(ctx, upstream);
  ctx.trace?.addEvent("store");
  const response = storeWhileStreaming(ctx, responded, cache);
  releaseLead(ctx, cache);
  return response;
}
