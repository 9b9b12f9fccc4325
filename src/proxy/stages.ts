// Owns the object path's stage functions; each either fills the RequestContext or throws a ProxyError.

import { ProxyError } from "../errors.ts";
import { pickForwardedHeaders, stripResponseHeaders } from "../http/headers.ts";
import { bufferedBody, bufferedResponse, isOwned } from "../origin/origin.ts";
import { pickS3Query } from "../origin/s3_query.ts";
import type { BucketRouter } from "../routing/bucket_router.ts";
import type { BucketRuntime } from "./bucket_runtime.ts";
import type { RequestContext } from "./context.ts";

/** `route`: picks the bucket by the longest path_prefix and sets the object key. */
export function route(ctx: RequestContext, router: BucketRouter<BucketRuntime>): void {
  const match = router.resolve(ctx.path);
  if (match === undefined) {
    throw new ProxyError("route_not_found", {
      message: `No bucket is configured for the path "${ctx.path}"; request /{path_prefix}/{key}.`,
      source: "client",
    });
  }
  ctx.bucket = match.target;
  ctx.key = match.key;
  if (match.key === "") {
    throw new ProxyError("object_not_found", {
      message:
        `The path names the bucket "${match.target.name}" but no object; add the object key after "${match.target.pathPrefix}/".`,
      source: "client",
    });
  }
}

/** `fetch`: the signed upstream read, with Range/preconditions and S3 query parameters forwarded. */
export function fetchObject(ctx: RequestContext): Promise<Response> {
  const bucket = ctx.bucket!;
  const remaining = ctx.deadline - Date.now();
  const timeoutMs = Math.max(1, Math.min(bucket.config.s3.timeout * 1000, remaining));
  return bucket.origin.fetch({
    method: ctx.method === "HEAD" ? "HEAD" : "GET",
    key: ctx.key,
    query: pickS3Query(ctx.rawQuery),
    headers: upstreamHeaders(ctx),
    signal: ctx.request.signal,
    timeoutMs,
    // Retries and their backoffs end by the request's own deadline too.
    deadline: ctx.deadline,
    answerHeaders: answerHeaders(ctx),
  });
}

/**
 * What `respond` adds to S3's answer: the gateway's own client builds its Response with them (see
 * OriginRequest.answerHeaders). Sets ctx.cacheStatus to the X-Cache value.
 */
function answerHeaders(ctx: RequestContext): Record<string, string> {
  const bucket = ctx.bucket!;
  const cacheStatus = bucket.cache !== undefined ? "MISS" : bucket.uncachedStatus;
  ctx.cacheStatus = cacheStatus;
  return cacheStatus === undefined
    ? { "accept-ranges": "bytes", "x-request-id": ctx.requestId }
    : { "accept-ranges": "bytes", "x-request-id": ctx.requestId, "x-cache": cacheStatus };
}

/** The conditional/Range headers of the upstream request. */
function upstreamHeaders(ctx: RequestContext): Readonly<Record<string, string>> | undefined {
  // Revalidating a cached copy (the client sent no preconditions of its own): a 304 renews it.
  if (ctx.staleEntry?.etag !== undefined) return { "if-none-match": ctx.staleEntry.etag };
  // `lookup` already picked the client's for buckets with a cache; pick them here for the others.
  if (ctx.bucket!.cache !== undefined) return ctx.forwardedHeaders;
  return ctx.forwardedHeaders = pickForwardedHeaders(ctx.request.headers);
}

/** `respond`: the client's response from S3's, with S3's status (200/206/304) and safe headers. */
export function respond(ctx: RequestContext, upstream: Response): Response {
  const hasBody = ctx.method !== "HEAD" && upstream.status !== 304;
  // A body the origin read whole stays bytes (the cache then stores it without a tee). Nobody
  // reads `response.body` of such a Response: that would turn the bytes into a stream, and Deno
  // would send them the slow way.
  const bytes = hasBody ? bufferedBody(upstream) : undefined;
  if (bytes !== undefined) ctx.bodyBytes = bytes.byteLength;
  // From the gateway's own client: untouched, held by nobody else, its head already stripped of
  // what must not reach the client and holding fetchObject's answer headers: sent as it is
  // (editing its headers would cost it Deno's native path).
  if (isOwned(upstream)) return upstream;
  if (!hasBody) upstream.body?.cancel().catch(() => {});
  // Copying S3's Headers into the Response is the cheap path; stripping then edits that copy.
  const init = { status: upstream.status, headers: upstream.headers };
  const response = bytes !== undefined
    ? bufferedResponse(bytes, init)
    : new Response(hasBody ? upstream.body : null, init);
  const headers = response.headers;
  stripResponseHeaders(headers);
  headers.set("accept-ranges", "bytes");
  headers.set("x-request-id", ctx.requestId);
  if (ctx.cacheStatus !== undefined) headers.set("x-cache", ctx.cacheStatus);
  return response;
}
