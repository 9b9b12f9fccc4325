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
import { ALLOWED_METHODS } from "./accept.ts";
import type { RateLimits } from "./rate_limits.ts";

/**
 * The stages that run, in order. `accept` runs in app.ts before dispatch (request id, client ip,
 * method gate, path decoding). Later issues insert negotiate, lookup, transform and store
 * at their places in DESIGN.md's order.
 */
export const OBJECT_STAGES = [
  "accept",
  "route",
  "guard",
  "authenticate",
  "authorize",
  "lookup",
  "fetch",
  "respond",
  "store",
] as const;
export type ObjectStage = typeof OBJECT_STAGES[number];

/**
 * Runs route -> guard -> authenticate -> authorize -> lookup -> fetch -> respond -> store
 * (`store` tees the body as `respond` streams it). Errors propagate as ProxyErrors (thrown, or as the rejection).
 * A memory-tier hit on a bucket without authentication returns its Response synchronously: most
 * traffic takes that path, and skipping the promise machinery is measurable there.
 */
export function handleObject(
  ctx: RequestContext,
  router: BucketRouter<BucketRuntime>,
  limits?: RateLimits,
): Response | Promise<Response> {
  if (limits !== undefined) return limitedObject(ctx, router, limits);
  route(ctx, router);
  const bucket = ctx.bucket!;
  // `guard`: the network is checked before any credential is looked at.
  if (bucket.ipFilter !== undefined) bucket.ipFilter.check(ctx.clientIp, bucket.name);
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
  await limits.checkClient(ctx.clientIp);
  route(ctx, router);
  const bucket = ctx.bucket!;
  if (bucket.ipFilter !== undefined) bucket.ipFilter.check(ctx.clientIp, bucket.name);
  await limits.checkBucket(bucket.name);
  if (bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined) {
    await authenticate(ctx);
    await limits.checkUser(ctx.subject);
  }
  if (bucket.authorizer !== undefined) await authorize(ctx);
  return await afterAuthorization(ctx);
}

async function guardedObject(ctx: RequestContext): Promise<Response> {
  const bucket = ctx.bucket!;
  if (bucket.authenticator !== undefined || bucket.config.signedUrls !== undefined) {
    await authenticate(ctx);
  }
  if (bucket.authorizer !== undefined) await authorize(ctx);
  return await afterAuthorization(ctx);
}

function afterAuthorization(ctx: RequestContext): Response | Promise<Response> {
  const cache = ctx.bucket!.cache;
  if (cache === undefined) return fetchUncached(ctx);
  return lookup(ctx, cache) ?? missed(ctx, cache);
}

async function fetchUncached(ctx: RequestContext): Promise<Response> {
  return respond(ctx, await fetchObject(ctx));
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
  const response = storeWhileStreaming(ctx, respond(ctx, upstream), cache);
  releaseLead(ctx, cache);
  return response;
}
