// Owns where a request carries its JWT (bearer, header, query, cookie) and scrubbing it from the query.

import type { TokenSourceConfig } from "../config/types.ts";
import { formDecode } from "../http/form_decode.ts";

/** A token found in a request, and which configured source yielded it. */
export interface ExtractedToken {
  token: string;
  source: "bearer" | "header" | "query" | "cookie";
  /** The header, query parameter or cookie name (absent for `bearer`). */
  name?: string;
}

/**
 * Tries each source in order; the first one that yields a non-empty token wins. Never throws: a
 * malformed header, cookie or query is simply "no token here", so the caller answers 401.
 */
export function extractToken(
  request: Request,
  rawQuery: string,
  sources: readonly TokenSourceConfig[],
): ExtractedToken | undefined {
  for (const source of sources) {
    switch (source.type) {
      case "bearer": {
        const token = bearerToken(request.headers.get("authorization"));
        if (token !== undefined) return { token, source: "bearer" };
        break;
      }
      case "header": {
        if (!source.name) break;
        const token = headerToken(headerValue(request.headers, source.name), source.prefix);
        if (token !== undefined) return { token, source: "header", name: source.name };
        break;
      }
      case "query": {
        if (!source.name || rawQuery === "") break;
        const token = queryParam(rawQuery, source.name);
        if (token !== undefined) return { token, source: "query", name: source.name };
        break;
      }
      case "cookie": {
        if (!source.name) break;
        const token = cookieValue(request.headers.get("cookie"), source.name);
        if (token !== undefined) return { token, source: "cookie", name: source.name };
        break;
      }
    }
  }
  return undefined;
}

// Headers.get throws on a name that is not an HTTP token; the config schema should refuse such a
// name, but a request must still never turn into a 500 because of it.
function headerValue(headers: Headers, name: string): string | null {
  try {
    return headers.get(name);
  } catch {
    return null;
  }
}

// RFC 7235: the auth-scheme is case-insensitive, followed by one or more spaces (we also accept
// tabs, which some clients emit). The original demanded exactly "Bearer " and rejected "bearer ".
const BEARER = /^[ \t]*bearer[ \t]+(.*?)[ \t]*$/is;

/** The token of `Authorization: Bearer <token>`, or undefined (other scheme, or empty). */
export function bearerToken(value: string | null): string | undefined {
  if (value === null) return undefined;
  const match = BEARER.exec(value);
  const token = match?.[1];
  return token ? token : undefined;
}

function headerToken(value: string | null, prefix: string | undefined): string | undefined {
  if (value === null) return undefined;
  let token = value.trim();
  if (prefix) {
    // A value without the configured prefix is not ours (another scheme): the next source is tried.
    if (!token.startsWith(prefix)) return undefined;
    token = token.slice(prefix.length).trim();
  }
  return token === "" ? undefined : token;
}

/** The first non-empty value of `name` in a raw query, decoded like URLSearchParams does. */
function queryParam(rawQuery: string, name: string): string | undefined {
  for (const piece of rawQuery.split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const rawName = eq === -1 ? piece : piece.slice(0, eq);
    if (formDecode(rawName) !== name) continue;
    const value = eq === -1 ? "" : formDecode(piece.slice(eq + 1)).trim();
    if (value !== "") return value;
  }
  return undefined;
}

/**
 * The query without the named parameters; every other parameter is kept byte-for-byte, in order.
 * Names are compared after decoding, so `%74oken=...` is removed along with `token=...`.
 */
export function removeQueryParams(rawQuery: string, names: readonly string[]): string {
  if (rawQuery === "" || names.length === 0) return rawQuery;
  const pieces = rawQuery.split("&");
  const kept = pieces.filter((piece) => {
    if (piece === "") return true;
    const eq = piece.indexOf("=");
    return !names.includes(formDecode(eq === -1 ? piece : piece.slice(0, eq)));
  });
  return kept.length === pieces.length ? rawQuery : kept.join("&");
}

/**
 * The first cookie called `name` (RFC 6265 §5.4: "name=value" pairs separated by ";"). Fetch's
 * Headers joins repeated Cookie headers (HTTP/2 splits them) with ", ", and a cookie-value may not
 * contain a comma, so "," separates pairs too. A quoted value loses its DQUOTEs; values are not
 * percent-decoded (RFC 6265 defines no encoding, and a JWT uses only cookie-safe characters).
 */
export function cookieValue(header: string | null, name: string): string | undefined {
  if (header === null || header.indexOf(name) === -1) return undefined;
  for (const pair of header.split(/[;,]/)) {
    const eq = pair.indexOf("=");
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (value !== "") return value;
  }
  return undefined;
}
