// Owns RequestContext: the one typed record that the object path's stages read and fill in.

import type { CachedObject } from "../cache/cached_object.ts";
import type { SharedFill } from "../cache/shared_fill.ts";
import type { BucketRuntime } from "./bucket_runtime.ts";
import type { StageTrace } from "../observe/tracing.ts";

/** What the object path knows about one request, filled stage by stage. */
export interface RequestContext {
  readonly request: Request;
  readonly method: string;
  readonly requestId: string;
  readonly clientIp: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Epoch ms by which response headers must be sent (server.request_timeout). */
  readonly deadline: number;
  /** The decoded path, without the query. */
  path: string;
  /** The raw query string without "?", or "" when there is none. */
  rawQuery: string;
  /** Set by `route`. */
  bucket: BucketRuntime | undefined;
  /** Set by `route`: the decoded object key. */
  key: string;
  /** Set by `authenticate`: how the caller proved itself. */
  identity: "public" | "jwt" | "signed_url";
  /** Set by `authenticate`: the verified JWT claims (`{}` when there is no token). */
  claims: Readonly<Record<string, unknown>>;
  /** Set by `authenticate`: the JWT `sub`, when it is a string. */
  subject: string | undefined;
  /** Set by `lookup` when the bucket uses the cache. */
  cacheKey: string | undefined;
  /** Set by `lookup`: an expired entry with an ETag, to revalidate with If-None-Match. */
  staleEntry: CachedObject | undefined;
  /** Set by `lookup`: this request fetches the key for every concurrent miss of it. */
  leading?: SharedFill | undefined;
  /** Set by `lookup`: another request is fetching this key; wait for it. */
  following?: SharedFill | undefined;
  /**
   * Set when the body is answered from memory (a cache hit, or a small S3 body the origin read
   * whole): its length, so no stream is watched.
   */
  bodyBytes: number | undefined;
  /**
   * The X-Cache value the response carries (HIT, MISS, STALE, or the bucket's uncached status),
   * kept here too so the logs never read it back from the response's headers.
   */
  cacheStatus?: string | undefined;
  /** Set by `lookup` (buckets with a cache) or `fetch`: the Range/precondition headers forwarded to S3 (a response to those is never stored). */
  forwardedHeaders: Readonly<Record<string, string>> | undefined;
  /** The request's server span when tracing is on (OTEL_DENO=true): stages mark their start on it. */
  trace?: StageTrace | undefined;
}
