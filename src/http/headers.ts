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
 * S3 response headers passed to the client. Hop-by-hop headers (RFC 9110 §7.6.1) and S3's
 * internal ids (x-amz-request-id, x-amz-id-2) and `server` stay behind.
 */
const PASSED_RESPONSE_HEADERS = new Set([
  "content-type",
  "content-length",
  "content-range",
  "content-encoding",
  "content-disposition",
  "content-language",
  "cache-control",
  "expires",
  "etag",
  "last-modified",
  "x-amz-version-id",
  "x-amz-delete-marker",
  "x-amz-storage-class",
  "x-amz-server-side-encryption",
  "x-amz-website-redirect-location",
  "x-amz-mp-parts-count",
  "x-amz-tagging-count",
]);

/** True for user metadata headers (`x-amz-meta-*`), which S3 returns and clients may rely on. */
function isUserMetadata(name: string): boolean {
  return name.startsWith("x-amz-meta-");
}

/** Copies the S3 response headers a client may see into `target`. Names arrive lower-cased. */
export function copyResponseHeaders(source: Headers, target: Headers): void {
  for (const [name, value] of source) {
    if (PASSED_RESPONSE_HEADERS.has(name) || isUserMetadata(name)) target.set(name, value);
  }
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
