// Owns Cache-Control parsing and its shared-cache readings: storable, freshness, stale-if-error.

import { parseHttpDate } from "./http_date.ts";

/**
 * Cache-Control directives by lower-case name (RFC 9111 §5.2: names are case-insensitive). The
 * value is the argument with any quoted-string unescaped, `undefined` for a directive without
 * one, and `""` when an argument was attempted but malformed (so the directive still counts as
 * present, and any numeric reading of it is invalid).
 */
export type CacheDirectives = ReadonlyMap<string, string | undefined>;

/** tchar (RFC 9110 §5.6.2). */
function isTchar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || // DIGIT
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(code));
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Index after the token starting at `i` (== i when there is none). */
function scanToken(value: string, i: number): number {
  while (i < value.length && isTchar(value.charCodeAt(i))) i++;
  return i;
}

/**
 * Reads a quoted-string starting at the DQUOTE at `i` (RFC 9110 §5.6.4), unescaping quoted-pairs.
 * Returns undefined when it is not closed.
 */
function scanQuoted(value: string, i: number): { text: string; next: number } | undefined {
  let text = "";
  for (let k = i + 1; k < value.length; k++) {
    const ch = value[k]!;
    if (ch === '"') return { text, next: k + 1 };
    if (ch === "\\") {
      k++;
      if (k >= value.length) return undefined;
      text += value[k];
    } else {
      text += ch;
    }
  }
  return undefined;
}

/**
 * Moves past the rest of a malformed directive to the next comma that is not inside a
 * quoted-string, so `private="a, b"` junk cannot be split into bogus directives.
 */
function skipMember(value: string, i: number): number {
  while (i < value.length) {
    const ch = value[i];
    if (ch === ",") return i;
    if (ch === '"') {
      const quoted = scanQuoted(value, i);
      if (quoted === undefined) return value.length;
      i = quoted.next;
    } else {
      i++;
    }
  }
  return i;
}

/**
 * Parses a Cache-Control field value (RFC 9111 §5.2):
 * `#( token [ "=" ( token / quoted-string ) ] )`.
 * Several field lines arrive joined with ", " by Headers, which this list syntax absorbs.
 *
 * - Names are lower-cased; the first occurrence of a duplicate wins (RFC 9111 §4.2.1 allows
 *   "first occurrence" for duplicated directives, and it stops a later line overriding an earlier).
 * - Whitespace around members and around `=` is tolerated, as are empty members.
 * - A member without a readable name is skipped. A named directive with a malformed argument is
 *   kept with the value `""`: a damaged `no-store` still forbids storing, a damaged `max-age` still
 *   makes the response stale, which is the safe reading for a cache.
 *
 * Never throws; null or "" gives no directives.
 */
export function parseCacheControl(value: string | null): CacheDirectives {
  const directives = new Map<string, string | undefined>();
  if (value === null) return directives;
  let i = 0;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (isOws(code) || value[i] === ",") {
      i++;
      continue;
    }
    const nameEnd = scanToken(value, i);
    if (nameEnd === i) {
      i = skipMember(value, i);
      continue;
    }
    const name = value.slice(i, nameEnd).toLowerCase();
    let argument: string | undefined;
    let j = nameEnd;
    while (j < value.length && isOws(value.charCodeAt(j))) j++;
    let malformed = false;
    if (value[j] === "=") {
      j++;
      while (j < value.length && isOws(value.charCodeAt(j))) j++;
      if (value[j] === '"') {
        const quoted = scanQuoted(value, j);
        if (quoted === undefined) {
          argument = "";
          j = value.length;
        } else {
          argument = quoted.text;
          j = quoted.next;
        }
      } else {
        const argumentEnd = scanToken(value, j);
        argument = value.slice(j, argumentEnd);
        j = argumentEnd;
      }
      while (j < value.length && isOws(value.charCodeAt(j))) j++;
    }
    if (j < value.length && value[j] !== ",") {
      malformed = true;
      j = skipMember(value, j);
    }
    if (!directives.has(name)) directives.set(name, malformed ? "" : argument);
    i = j;
  }
  return directives;
}

/**
 * delta-seconds can be larger than anything useful; RFC 9111 §1.2.2 says to treat an overflowing
 * value as 2^31.
 */
const MAX_DELTA_SECONDS = 2 ** 31;

/**
 * Reads a delta-seconds argument (RFC 9111 §1.2.2: 1*DIGIT). Returns undefined for a missing or
 * non-numeric argument, which callers treat as invalid, never as absent.
 */
function deltaSeconds(argument: string | undefined): number | undefined {
  if (argument === undefined || !/^\d+$/.test(argument)) return undefined;
  return Math.min(Number(argument), MAX_DELTA_SECONDS);
}

/**
 * The freshness lifetime in seconds a shared cache gives a response (RFC 9111 §4.2.1), from its
 * headers, first applicable wins:
 *
 * 1. `no-cache` (any form) → 0: §5.2.2.4 forbids reuse without validation, and §4.2.1 says to
 *    honour the most restrictive of conflicting directives.
 * 2. `s-maxage` (shared caches only), then 3. `max-age`: their value; an invalid argument (say
 *    `max-age=abc`) → 0, because §4.2.1 encourages treating invalid freshness information as stale.
 * 4. `Expires` minus `Date` (never negative); an Expires that is not a valid HTTP-date (such as
 *    "0") → 0, since §5.3 says it means "already expired". Skipped without a valid Date, which
 *    the lifetime is relative to.
 * 5. `defaultSeconds`, the configured TTL standing in for heuristic freshness (§4.2.2).
 */
export function freshnessSeconds(headers: Headers, defaultSeconds: number): number {
  const directives = parseCacheControl(headers.get("cache-control"));
  if (directives.has("no-cache")) return 0;
  for (const name of ["s-maxage", "max-age"]) {
    if (directives.has(name)) return deltaSeconds(directives.get(name)) ?? 0;
  }
  const expires = headers.get("expires");
  if (expires !== null) {
    const date = parseHttpDate(headers.get("date"));
    if (date !== undefined) {
      const expiresAt = parseHttpDate(expires);
      return expiresAt === undefined ? 0 : Math.max(0, expiresAt - date);
    }
  }
  return defaultSeconds;
}

/**
 * Whether a shared cache may store a response, judged on its Cache-Control (RFC 9111 §3):
 * not with `no-store` (§5.2.2.5), nor with `private` (§5.2.2.7). A qualified `private="field"`
 * would allow storing the rest without those fields; it is treated as unqualified because the
 * gateway would rather miss than serve a field meant for one user. Status, method and
 * Authorization are the caller's to judge.
 */
export function isStorable(headers: Headers): boolean {
  const directives = parseCacheControl(headers.get("cache-control"));
  return !directives.has("no-store") && !directives.has("private");
}

/**
 * How many seconds past its freshness a response may be served when the origin fails
 * (`stale-if-error`, RFC 5861 §4); 0 when the response forbids serving stale (`must-revalidate`,
 * `proxy-revalidate`, `no-cache`, `no-store`; RFC 9111 §4.2.4), which no operator default may
 * override; undefined when it does not say (no directive, or an argument that is not
 * delta-seconds), so the operator's `cache.stale_if_error_seconds` applies. `s-maxage`
 * also implies proxy-revalidate (§5.2.2.10), but an explicit stale-if-error next to it is read as
 * the origin's more specific permission, as CDNs commonly do.
 */
export function staleIfErrorSeconds(headers: Headers): number | undefined {
  const directives = parseCacheControl(headers.get("cache-control"));
  for (const name of ["must-revalidate", "proxy-revalidate", "no-cache", "no-store"]) {
    if (directives.has(name)) return 0;
  }
  return directives.has("stale-if-error")
    ? deltaSeconds(directives.get("stale-if-error"))
    : undefined;
}
