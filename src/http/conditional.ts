// Owns conditional requests (RFC 9110 §13): the §13.2.2 precondition order, If-Range, 304 headers.

import { listMatches, parseEntityTag, parseEntityTagList, strongMatch } from "./etag.ts";
import { trimOws } from "./ows.ts";
import { parseHttpDate } from "./http_date.ts";

/** What a precondition check tells the caller to do (RFC 9110 §13.2.2). */
export type PreconditionResult = "proceed" | "not_modified" | "precondition_failed";

/**
 * The validators of the selected representation: its ETag exactly as the origin sent it
 * (quoted, maybe `W/`), and its Last-Modified in epoch milliseconds. Either may be absent.
 */
export interface Validators {
  readonly etag: string | undefined;
  readonly lastModifiedMs: number | undefined;
}

/** The representation's Last-Modified at one-second resolution, as HTTP-dates carry it (§5.6.7). */
function lastModifiedSeconds(representation: Validators): number | undefined {
  const ms = representation.lastModifiedMs;
  return ms !== undefined && Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

function isGetOrHead(method: string): boolean {
  // Method names are case-sensitive (RFC 9110 §9.1); fetch already upper-cases the standard ones.
  return method === "GET" || method === "HEAD";
}

/**
 * Evaluates the preconditions of a request against the selected representation, which exists
 * (the caller has it), in exactly the order of RFC 9110 §13.2.2:
 *
 * 1. If-Match (§13.1.1): `*` is true; otherwise strong comparison, so a weak ETag never satisfies
 *    it. False → `precondition_failed`.
 * 2. Only without If-Match, If-Unmodified-Since (§13.1.4): ignored when not a valid HTTP-date or
 *    when there is no Last-Modified; false when Last-Modified is later → `precondition_failed`.
 * 3. If-None-Match (§13.1.2): `*` or a weak match makes it false → `not_modified` for GET/HEAD,
 *    `precondition_failed` for any other method.
 * 4. Only without If-None-Match and only for GET/HEAD, If-Modified-Since (§13.1.3): ignored when
 *    not a valid HTTP-date or when there is no Last-Modified; false when Last-Modified is not
 *    later → `not_modified`.
 *
 * Dates are compared in whole seconds because HTTP-dates have no finer resolution: an object
 * modified at 12:00:00.700 is "not modified since" 12:00:00. Step 5 (Range / If-Range) is
 * {@link isRangeApplicable}. A header that is present but holds no valid entity-tag is an empty
 * list (§5.6.1): it makes If-Match false and If-None-Match true. Never throws.
 *
 * Per §13.2.1 the caller only asks this when the response without preconditions would be 2xx.
 */
export function evaluatePreconditions(
  request: { method: string; headers: Headers },
  representation: Validators,
): PreconditionResult {
  const { headers } = request;
  const ifMatch = headers.get("if-match");
  const ifUnmodifiedSince = ifMatch === null ? headers.get("if-unmodified-since") : null;
  const ifNoneMatch = headers.get("if-none-match");
  const ifModifiedSince = ifNoneMatch === null ? headers.get("if-modified-since") : null;
  // Most requests carry none: nothing to parse (this runs on every cache hit).
  if (
    ifMatch === null && ifUnmodifiedSince === null && ifNoneMatch === null &&
    ifModifiedSince === null
  ) return "proceed";
  const currentTag = parseEntityTag(representation.etag);
  const modified = lastModifiedSeconds(representation);

  if (ifMatch !== null) {
    if (!listMatches(parseEntityTagList(ifMatch), currentTag, "strong")) {
      return "precondition_failed";
    }
  } else {
    const since = parseHttpDate(ifUnmodifiedSince);
    if (since !== undefined && modified !== undefined && modified > since) {
      return "precondition_failed";
    }
  }

  if (ifNoneMatch !== null) {
    if (listMatches(parseEntityTagList(ifNoneMatch), currentTag, "weak")) {
      return isGetOrHead(request.method) ? "not_modified" : "precondition_failed";
    }
  } else if (isGetOrHead(request.method)) {
    const since = parseHttpDate(ifModifiedSince);
    if (since !== undefined && modified !== undefined && modified <= since) {
      return "not_modified";
    }
  }
  return "proceed";
}

/**
 * Whether a Range request should be honoured given its If-Range field (RFC 9110 §13.1.5), after
 * {@link evaluatePreconditions} said `proceed`. No If-Range → true. Otherwise If-Range holds one
 * validator and the range applies only if it still names the current representation with a strong
 * validator, because splicing bytes from two different versions corrupts the client's copy:
 *
 * - an entity-tag: strong comparison with the current ETag (a weak tag on either side → false);
 * - an HTTP-date: exactly equal, in whole seconds, to Last-Modified (not "not later than").
 *   Last-Modified is taken as strong, as nginx and std file_server do; §8.8.2.2 notes a date is
 *   only as strong as the origin's clock resolution, a risk accepted for S3's per-write dates.
 *
 * Anything else (a list, `*`, junk, whitespace other than SP / HTAB around the value, a validator
 * the representation lacks) → false, so the caller sends the whole representation with 200,
 * which is always a correct answer.
 */
export function isRangeApplicable(
  ifRangeHeader: string | null,
  representation: Validators,
): boolean {
  if (ifRangeHeader === null) return true;
  // Only OWS (SP / HTAB) may surround the value (§5.6.3): with NBSP in front it is neither form.
  const value = trimOws(ifRangeHeader);
  // An entity-tag starts with a quote or W/; an HTTP-date never does, so the forms cannot clash.
  if (value.startsWith('"') || value.startsWith("W/")) {
    const tag = parseEntityTag(value);
    const current = parseEntityTag(representation.etag);
    return tag !== undefined && current !== undefined && strongMatch(tag, current);
  }
  const date = parseHttpDate(value);
  const modified = lastModifiedSeconds(representation);
  return date !== undefined && modified !== undefined && date === modified;
}

/**
 * The response headers a 304 keeps (RFC 9110 §15.4.5): those a 200 would have sent among
 * Cache-Control, Content-Location, Date, ETag, Expires and Vary, so the client can update its
 * stored response; plus Last-Modified, as hono and std file_server keep it, since it is a
 * validator the client stores too. Content headers are dropped: a 304 has no content.
 * Lower-case, the form Headers uses.
 */
export const NOT_MODIFIED_HEADERS: readonly string[] = [
  "cache-control",
  "content-location",
  "date",
  "etag",
  "expires",
  "vary",
  "last-modified",
];
