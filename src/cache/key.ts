// Owns cache keys: bucket, object key and the S3 read parameters that change the bytes or headers.

/**
 * `versionId` changes the bytes and `response-*` the headers, so they are part of the key; nothing
 * else in the query is (tokens, signatures and cache busters are never forwarded, so they cannot
 * change what S3 answers). NUL cannot occur in a bucket name or an S3 key, so it separates them.
 */
export function buildCacheKey(
  bucket: string,
  key: string,
  s3Query: ReadonlyArray<readonly [string, string]> | undefined,
): string {
  if (s3Query === undefined || s3Query.length === 0) return bucket + "\0" + key;
  const sorted = [...s3Query].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return bucket + "\0" + key + "\0" + sorted.map(([n, v]) => `${n}=${v}`).join("&");
}

/** Matches every entry of one bucket. */
export function isBucketKey(bucket: string): (key: string) => boolean {
  const prefix = bucket + "\0";
  return (key) => key.startsWith(prefix);
}

/** Matches one object in every variant (versionId, response-* overrides). */
export function isObjectKey(bucket: string, key: string): (key: string) => boolean {
  const base = bucket + "\0" + key;
  const variants = base + "\0";
  return (candidate) => candidate === base || candidate.startsWith(variants);
}

/** Matches the objects of a bucket whose key starts with `prefix` (all their variants). */
export function isPrefixKey(bucket: string, prefix: string): (key: string) => boolean {
  const start = bucket + "\0" + prefix;
  return (key) => key.startsWith(start);
}
