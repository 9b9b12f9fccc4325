// Owns which query parameters a read may pass to S3: versionId and the response-* overrides.

/** S3 GetObject/HeadObject parameters that change what is read or how it is labelled. */
const FORWARDED_QUERY = new Set([
  "versionId",
  "partNumber",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-content-type",
  "response-expires",
]);

/**
 * Picks the forwardable parameters from a raw query string ("a=1&versionId=x"). Everything else
 * (tokens, signatures, cache busters) stays at the gateway, so it never reaches S3.
 * Returns undefined when nothing is forwarded.
 */
export function pickS3Query(rawQuery: string): Array<[string, string]> | undefined {
  if (rawQuery === "") return undefined;
  let picked: Array<[string, string]> | undefined;
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (FORWARDED_QUERY.has(name)) (picked ??= []).push([name, value]);
  }
  return picked;
}
