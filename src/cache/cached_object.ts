// Owns CachedObject: one complete S3 object as the cache keeps it, and the counters every tier reports.

import { parseHttpDate } from "../http/http_date.ts";

/** A complete 200 response from S3: never a partial, truncated or errored body. */
export interface CachedObject {
  /**
   * The response headers to replay (stripped of hop-by-hop and S3-internal ones). Never mutated:
   * each hit copies it into its own Response, which in Deno is far cheaper than building a Headers
   * from pairs.
   */
  headers: Headers;
  body: Uint8Array<ArrayBuffer>;
  /** The quoted ETag exactly as S3 sent it. */
  etag: string | undefined;
  /** Last-Modified in epoch ms (whole seconds), for If-Modified-Since and If-Range. */
  lastModifiedMs: number | undefined;
  /** Epoch ms when the object was stored (for Age). */
  storedAt: number;
  /** Epoch ms after which the entry is no longer served. */
  expiresAt: number;
  /** `headers` as a plain record, built by replayHeaders() on the first hit. */
  replay?: Readonly<Record<string, string>> | undefined;
}

/**
 * The entry's headers as a plain record, built once per entry: a hit passes a copy with its own
 * headers added as the init of one `new Response`. Deno validates a record's values without the
 * per-pair conversion a list of pairs costs, and a Response whose headers are never touched after
 * construction is sent on Deno's native path (touching `response.headers` drops it).
 */
export function replayHeaders(entry: CachedObject): Readonly<Record<string, string>> {
  let replay = entry.replay;
  if (replay === undefined) {
    const record: Record<string, string> = {};
    // Headers iterate combined and lower-cased: one value per name (S3 sends no Set-Cookie).
    for (const [name, value] of entry.headers) record[name] = value;
    replay = entry.replay = record;
  }
  return replay;
}

/**
 * The entry for a complete 200 body: `headers` are the ones to replay (already stripped of
 * per-request ones), validators come from them, and it is fresh for `ttlSeconds` from `nowMs`.
 */
export function newCachedObject(
  headers: Headers,
  body: Uint8Array<ArrayBuffer>,
  ttlSeconds: number,
  nowMs: number,
): CachedObject {
  const lastModified = headers.get("last-modified");
  const lastModifiedSeconds = lastModified === null ? undefined : parseHttpDate(lastModified);
  return {
    headers,
    body,
    etag: headers.get("etag") ?? undefined,
    lastModifiedMs: lastModifiedSeconds === undefined ? undefined : lastModifiedSeconds * 1000,
    storedAt: nowMs,
    expiresAt: nowMs + ttlSeconds * 1000,
  };
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  items: number;
  bytes: number;
  maxBytes: number;
}
