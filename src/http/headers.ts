// Owns which request headers go upstream and which S3 response headers reach the client.

/**
 * Client request headers forwarded to S3 (and signed). An allowlist, not a denylist, so the
 * client's Authorization, Cookie, X-Auth-Token or any future token header can never reach S3.
 * Range and the RFC 9110 §13.1 preconditions are all S3 needs for reads.
 */
export const FORWARDED_REQUEST_HEADERS = [
  "range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
] as const;

/**
 * S3 response headers that stay behind: hop-by-hop headers (RFC 9110 §7.6.1), S3's internal
 * request ids, and anything that would act on the client's session. Everything else S3 sends
 * (content headers, validators, x-amz-meta-*, version ids...) passes, as with the original.
 *
 * A denylist applied to a copy, not an allowlist copied header by header, because iterating a
 * Headers object costs ~7 µs in Deno while copying one into a Response is ~1 µs: this runs on
 * every response.
 */
export const DROPPED_RESPONSE_HEADERS = [
  // Hop-by-hop headers a response can carry (TE, Proxy-Authenticate and Upgrade belong to
  // requests, 407s and 101s, which a read from S3 never is; each delete costs ~0.2 µs).
  "connection",
  "keep-alive",
  "transfer-encoding",
  "trailer",
  "server",
  "set-cookie",
  "x-amz-request-id",
  "x-amz-id-2",
] as const;

/** DROPPED_RESPONSE_HEADERS as a set, for clients that leave them out while parsing. */
export const DROPPED_RESPONSE_HEADER_SET: ReadonlySet<string> = new Set(DROPPED_RESPONSE_HEADERS);

/**
 * Removes from `headers` (a copy of S3's response headers) what must not reach the client,
 * including any header the upstream's Connection header names as hop-by-hop.
 */
export function stripResponseHeaders(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const token of connection.split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "") headers.delete(name);
    }
  }
  for (const name of DROPPED_RESPONSE_HEADERS) headers.delete(name);
}
/**
 * Picks the forwarded headers present on the client request. Returns undefined when there are
 * none, which is the common case, so the hot path allocates nothing for it.
 */
export function pickForwardedHeaders(headers: Headers): Record<string, string> | undefined {
  let picked: Record<string, string> | undefined;
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = headers.get(name);
    if (value !== null) (picked ??= {})[name] = value;
  }
  return picked;
}
