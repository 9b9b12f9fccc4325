// Owns signed URLs: the canonical string, signing a path (sign-url, later image links) and verifying
// a request's X-Expires / X-Key-Id / X-Signature query parameters (HMAC-SHA256, constant-time).

import { timingSafeEqual } from "node:crypto";
import { ProxyError } from "../errors.ts";
import { PrecomputedHmacSha256 } from "../crypto/precomputed_hmac.ts";
import { formDecode } from "../http/form_decode.ts";
import type { SignedUrlKey } from "../config/types.ts";

/**
 * The three query parameters of a signed URL. Names are matched exactly (case-sensitive) after
 * form-decoding, like every other query parameter; any other spelling is an ordinary parameter,
 * so it is signed like one.
 *
 * - `X-Expires`: Unix time in whole seconds, plain decimal without leading zeros. The URL is
 *   accepted while `now < X-Expires` and is expired from that second on.
 * - `X-Key-Id`: the `id` of one of the bucket's `signed_urls.keys` (several during a rotation).
 * - `X-Signature`: base64url without padding (43 characters) of
 *   HMAC-SHA256(UTF-8 bytes of the key's secret, UTF-8 bytes of the canonical string).
 */
export const SIGNED_URL_PARAMS = {
  expires: "X-Expires",
  keyId: "X-Key-Id",
  signature: "X-Signature",
} as const;

/**
 * First line of every canonical string: names the scheme and its version, so a signature made for
 * this scheme can never be replayed as a signature of some other message under the same key.
 */
export const SIGNED_URL_SCHEME = "YATAGARASU-HMAC-SHA256";

/*
 * The canonical string is six fields joined by "\n" (no trailing newline):
 *
 *   YATAGARASU-HMAC-SHA256
 *   <method>          "GET" for GET and HEAD (one link serves both); any other method upper-cased
 *   <path>            the decoded request path (bucket prefix included), RFC 3986-encoded per
 *                     segment: every byte of its UTF-8 form outside A-Z a-z 0-9 - . _ ~ becomes
 *                     %XX (upper-case hex), "/" is kept
 *   <query>           every query parameter except the three above: name and value form-decoded
 *                     (as URLSearchParams does: "+" is a space, %XX a byte), each RFC 3986-encoded
 *                     as above (including "/"), joined as "name=value"; the pairs sorted by encoded
 *                     name (byte order), pairs with the same name keeping their order in the URL;
 *                     joined by "&"; "" when there are none
 *   <expires>         X-Expires as sent (canonical decimal, checked)
 *   <key id>          X-Key-Id, form-decoded then RFC 3986-encoded
 *
 * Every variable field is percent-encoded, so none contains "\n", "&" or "=" unescaped and the
 * fields cannot run into each other. The signature is over what the gateway acts on (the decoded
 * path and the decoded parameters), so "+" vs "%20" or "%7E" vs "~" in a query, or any encoding
 * of the path that decodes to the same text, changes nothing, while any change in meaning does.
 *
 * Example: GET /private/my report.pdf?w=300&fm=webp, expiring at 1767225600 with key "k1":
 *
 *   YATAGARASU-HMAC-SHA256\nGET\n/private/my%20report.pdf\nfm=webp&w=300\n1767225600\nk1
 */

/** The canonical string for one request (see the definition above). Exported for tests and tools. */
export function canonicalString(
  method: string,
  path: string,
  query: ReadonlyArray<readonly [string, string]>,
  expires: string,
  keyId: string,
): string {
  const upper = method.toUpperCase();
  const canonicalMethod = upper === "HEAD" ? "GET" : upper;
  return `${SIGNED_URL_SCHEME}\n${canonicalMethod}\n${encodeUrlPath(path)}\n${
    canonicalQuery(query)
  }\n${expires}\n${encodeRfc3986(keyId)}`;
}

/** The outcome for a request: no signing parameters at all, or a verified signed URL. */
export type SignedUrlCheck =
  | { kind: "absent" }
  | {
    kind: "valid";
    keyId: string;
    /** Unix seconds. */
    expiresAt: number;
    /**
     * The raw query without the three signing parameters (the other pieces byte for byte, in
     * their order, joined by "&"; a leading "?" dropped, as URLSearchParams drops it). Build
     * cache keys and S3 queries from this, never from the raw query.
     */
    remainingQuery: string;
  };

export interface SignPathOptions {
  /** GET (default) and HEAD sign the same canonical method, so a link works for both. */
  method?: "GET" | "HEAD";
  /** The decoded path, bucket prefix included ("/private/my report.pdf"). */
  path: string;
  /** Other parameters to sign (decoded names and values), kept in this order in the URL. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Unix time in whole seconds from which the URL is refused. */
  expiresAt: number;
  key: SignedUrlKey;
}

/**
 * Returns "<encoded path>?<query>" with the other parameters first, then X-Expires, X-Key-Id and
 * X-Signature, everything RFC 3986-encoded so that the server's URL parser leaves it as is.
 * Throws TypeError for input that no URL could carry to the gateway unchanged (not starting with
 * "/", "." or ".." segments, which URL parsers resolve away, or unpaired surrogates), for a query
 * parameter named like a signing parameter, for an expiry that is not a whole number of seconds,
 * and for an empty key id or secret.
 */
export function signPath(options: SignPathOptions): string {
  const { path, key, expiresAt } = options;
  const query = options.query ?? [];
  if (!path.startsWith("/")) {
    throw new TypeError(`The path to sign must start with "/", got ${quote(path)}.`);
  }
  if (!path.isWellFormed()) {
    throw new TypeError("The path to sign contains an unpaired UTF-16 surrogate.");
  }
  if (path.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new TypeError(
      `The path ${
        quote(path)
      } has a "." or ".." segment; URLs resolve those away, so no link could reach it.`,
    );
  }
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) {
    throw new TypeError(`expiresAt must be a Unix time in whole seconds, got ${expiresAt}.`);
  }
  if (key.id === "") throw new TypeError("The signing key has an empty id.");
  if (key.secret === "") throw new TypeError(`The signing key "${key.id}" has an empty secret.`);
  if (!key.id.isWellFormed()) {
    throw new TypeError("The signing key id contains an unpaired UTF-16 surrogate.");
  }
  for (const [name, value] of query) {
    if (SIGNING_NAMES.has(name)) {
      throw new TypeError(`The query parameter ${name} is reserved for the signature itself.`);
    }
    if (!name.isWellFormed() || !value.isWellFormed()) {
      throw new TypeError(
        `The query parameter ${quote(name)} contains an unpaired UTF-16 surrogate.`,
      );
    }
  }
  const expires = String(expiresAt);
  const signature = hmacBase64url(
    key,
    canonicalString(options.method ?? "GET", path, query, expires, key.id),
  );
  let target = `${encodeUrlPath(path)}?`;
  for (const [name, value] of query) target += `${encodeRfc3986(name)}=${encodeRfc3986(value)}&`;
  return `${target}${SIGNED_URL_PARAMS.expires}=${expires}&${SIGNED_URL_PARAMS.keyId}=${
    encodeRfc3986(key.id)
  }&${SIGNED_URL_PARAMS.signature}=${signature}`;
}

export interface VerifySignedRequestOptions {
  /** The request method; HEAD verifies as GET. */
  method: string;
  /** The decoded path (RequestContext.path). */
  path: string;
  /** The raw query without "?" (RequestContext.rawQuery). */
  rawQuery: string;
  /** The bucket's accepted keys. */
  keys: readonly SignedUrlKey[];
  /** Current Unix time in seconds (may be fractional). */
  nowSeconds: number;
}

/**
 * Checks a request's signing parameters. Returns `absent` when none of the three is present (the
 * caller decides whether the bucket also admits other authentication), `valid` when the signature
 * matches one of `keys` and has not expired. Throws ProxyError `signed_url_invalid` (incomplete,
 * repeated or malformed parameters, unknown key id, wrong signature) or `signed_url_expired`
 * (a genuine signature past its expiry), both 403. The signature is checked before the expiry, so
 * "expired" is only ever said of a URL the gateway itself issued. Messages never contain the
 * expected signature or a secret.
 */
export function verifySignedRequest(options: VerifySignedRequestOptions): SignedUrlCheck {
  const { rawQuery } = options;
  // No name can decode to X-... without an "X" or a "%" somewhere: the common unsigned case
  // costs one scan.
  if (rawQuery === "" || !MAYBE_SIGNED.test(rawQuery)) return ABSENT;

  const pieces = splitQuery(rawQuery);
  const entries: Array<readonly [string, string]> = [];
  const remaining: string[] = [];
  let expires: string | undefined;
  let keyId: string | undefined;
  let signature: string | undefined;
  for (const piece of pieces) {
    const eq = piece.indexOf("=");
    const name = formDecode(eq === -1 ? piece : piece.slice(0, eq));
    if (SIGNING_NAMES.has(name)) {
      const value = eq === -1 ? "" : formDecode(piece.slice(eq + 1));
      if (name === SIGNED_URL_PARAMS.expires) expires = once(name, expires, value);
      else if (name === SIGNED_URL_PARAMS.keyId) keyId = once(name, keyId, value);
      else signature = once(name, signature, value);
      continue;
    }
    entries.push([name, eq === -1 ? "" : formDecode(piece.slice(eq + 1))]);
    remaining.push(piece);
  }
  if (expires === undefined && keyId === undefined && signature === undefined) return ABSENT;
  if (expires === undefined || keyId === undefined || signature === undefined) {
    const missing = [
      expires === undefined ? SIGNED_URL_PARAMS.expires : "",
      keyId === undefined ? SIGNED_URL_PARAMS.keyId : "",
      signature === undefined ? SIGNED_URL_PARAMS.signature : "",
    ].filter((name) => name !== "");
    throw invalid(
      `Incomplete signed URL: ${missing.join(" and ")} ${
        missing.length === 1 ? "is" : "are"
      } missing. A signed URL carries ${SIGNED_URL_PARAMS.expires}, ${SIGNED_URL_PARAMS.keyId} and ${SIGNED_URL_PARAMS.signature}; use the link exactly as issued.`,
    );
  }
  if (!CANONICAL_SECONDS.test(expires) || !Number.isSafeInteger(Number(expires))) {
    throw invalid(
      `Malformed signed URL: ${SIGNED_URL_PARAMS.expires} must be a Unix time in whole seconds, got ${
        quote(expires)
      }.`,
    );
  }
  const key = options.keys.find((candidate) => candidate.id === keyId);
  if (key === undefined) {
    throw invalid(
      `The signed URL names the key id ${
        quote(keyId)
      }, which this bucket does not accept (unknown, or rotated out); ask for a new link.`,
    );
  }
  if (!SIGNATURE_SHAPE.test(signature)) {
    throw invalid(
      `Malformed signed URL: ${SIGNED_URL_PARAMS.signature} must be 43 base64url characters (an unpadded HMAC-SHA256).`,
    );
  }
  const expected = hmacBase64url(
    key,
    canonicalString(options.method, options.path, entries, expires, keyId),
  );
  // Both are 43 ASCII characters here (the shape was checked), so the compare runs on
  // equal-length buffers and takes the same time wherever they differ.
  if (!timingSafeEqual(UTF8_ENCODER.encode(expected), UTF8_ENCODER.encode(signature))) {
    throw invalid(
      "The signed URL's signature does not match its path and parameters (the link was changed, or signed for another path); use the link exactly as issued.",
    );
  }
  const expiresAt = Number(expires);
  // Written so that a NaN clock fails closed.
  if (!(options.nowSeconds < expiresAt)) {
    throw new ProxyError("signed_url_expired", {
      message: `The signed URL expired ${formatDuration(options.nowSeconds - expiresAt)} ago (at ${
        isoSeconds(expiresAt)
      }); ask for a new link.`,
      source: "client",
      details: { expired_at: isoSeconds(expiresAt) },
    });
  }
  return { kind: "valid", keyId, expiresAt, remainingQuery: remaining.join("&") };
}

/**
 * "45s", "15m", "2h 5m", "3d 4h": at most the two largest non-zero units, rounded down to whole
 * seconds; "0s" below one second.
 */
export function formatDuration(seconds: number): string {
  let rest = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const parts: string[] = [];
  for (const [unit, size] of DURATION_UNITS) {
    if (rest >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  // Units are only added when non-zero (seconds also when nothing else is): keep the two largest.
  return parts.slice(0, 2).join(" ");
}

// ---- internals ------------------------------------------------------------------------------

const ABSENT: SignedUrlCheck = Object.freeze({ kind: "absent" });
const SIGNING_NAMES: ReadonlySet<string> = new Set(Object.values(SIGNED_URL_PARAMS));
const MAYBE_SIGNED = /[X%]/;
const CANONICAL_SECONDS = /^(?:0|[1-9][0-9]{0,15})$/;
const SIGNATURE_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~/]*$/;
const SAFE_COMPONENT = /^[A-Za-z0-9\-._~]*$/;
const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400],
  ["h", 3_600],
  ["m", 60],
  ["s", 1],
];

const UTF8_ENCODER = new TextEncoder();

/** One precomputed HMAC per configured key (rebuilt if its secret changes). */
const keyStates = new WeakMap<SignedUrlKey, { secret: string; hmac: PrecomputedHmacSha256 }>();

function hmacBase64url(key: SignedUrlKey, message: string): string {
  let state = keyStates.get(key);
  if (state === undefined || state.secret !== key.secret) {
    state = {
      secret: key.secret,
      hmac: new PrecomputedHmacSha256(UTF8_ENCODER.encode(key.secret)),
    };
    keyStates.set(key, state);
  }
  return state.hmac.base64url(message);
}

function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  if (query.length === 0) return "";
  const pairs = query.map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const);
  // Array.prototype.sort is stable: parameters repeated under one name keep their URL order,
  // which is the order a reader of the query sees them in.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join("&");
}

/** RFC 3986 percent-encoding of everything but the unreserved characters. */
function encodeRfc3986(text: string): string {
  if (SAFE_COMPONENT.test(text)) return text;
  return encodeUnpaired(text).replace(/[!'()*]/g, hexEscape);
}

/**
 * A decoded path as it goes into a URL and into a signed string: each segment RFC 3986-encoded
 * (every byte outside A-Z a-z 0-9 - . _ ~ as %XX), "/" kept. Shared with image URL signing.
 */
export function encodeUrlPath(path: string): string {
  if (SAFE_PATH.test(path)) return path;
  return path.split("/").map(encodeRfc3986).join("/");
}

/**
 * encodeURIComponent, except that an unpaired surrogate (which it rejects) is encoded as U+FFFD's
 * bytes, the way TextEncoder and URL parsers treat it. Only reachable from verify with a path that
 * did not come from a URL; signPath rejects such input up front.
 */
function encodeUnpaired(text: string): string {
  return encodeURIComponent(text.isWellFormed() ? text : text.toWellFormed());
}

function hexEscape(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase()}`;
}

/** The "&"-separated pieces of a query, as URLSearchParams sees them (one leading "?" dropped). */
function splitQuery(rawQuery: string): string[] {
  const query = rawQuery.charCodeAt(0) === 63 /* ? */ ? rawQuery.slice(1) : rawQuery;
  return query.split("&").filter((piece) => piece !== "");
}

function once(name: string, previous: string | undefined, value: string): string {
  if (previous !== undefined) {
    throw invalid(
      `Malformed signed URL: ${name} appears more than once; use the link exactly as issued.`,
    );
  }
  return value;
}

function invalid(message: string): ProxyError {
  return new ProxyError("signed_url_invalid", { message, source: "client" });
}

/** A client-supplied value, quoted and cut short, safe to put in a message or a log line. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
}

/** A Unix time in seconds as ISO 8601 (for expiry messages), or the number beyond Date's range. */
export function isoSeconds(unixSeconds: number): string {
  const ms = unixSeconds * 1000;
  // Beyond the Date range (year 275760) there is no ISO form; the raw number still says it.
  if (!(Math.abs(ms) <= 8.64e15)) return `Unix time ${unixSeconds}`;
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}
