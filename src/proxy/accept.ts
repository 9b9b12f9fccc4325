// Owns the `accept` stage: request id, client address, method gate and request-target parsing.

import { ProxyError } from "../errors.ts";
import { invalidEncodingMessage } from "./path_guard.ts";

/** Methods proxied to S3. OPTIONS is answered by the gateway; everything else is 405. */
export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";

/** An incoming X-Request-ID is kept only if it is short and harmless in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/**
 * Keeps a sane incoming X-Request-ID, or makes a new one.
 *
 * Asked with has() first, on purpose: on a request from Deno.serve, has() copies every request
 * header into JS in one call, after which each get() (this one, the preconditions, Range) is a
 * lookup in that copy rather than one call into Rust per name. Deno makes that same copy anyway
 * when a request whose headers were read is answered, so it costs nothing extra.
 */
export function resolveRequestId(headers: Headers): string {
  if (!headers.has("x-request-id")) return crypto.randomUUID();
  const incoming = headers.get("x-request-id")!;
  return SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export interface RequestTarget {
  /** Percent-decoded path. */
  path: string;
  /** The path as received, before decoding (path_guard.ts inspects both). */
  rawPath: string;
  /** Raw query without "?" ("" when absent). */
  rawQuery: string;
}

/**
 * Splits `request.url` into the decoded path and the raw query without building a URL object
 * (the URL was already parsed and normalised once by the server).
 */
export function parseRequestTarget(url: string): RequestTarget {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  if (pathStart === -1) return { path: "/", rawPath: "/", rawQuery: "" };
  const queryStart = url.indexOf("?", pathStart);
  const rawPath = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  const rawQuery = queryStart === -1 ? "" : url.slice(queryStart + 1);
  let path = rawPath;
  if (rawPath.includes("%")) {
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      throw new ProxyError("bad_request", {
        message: invalidEncodingMessage(rawPath),
        source: "client",
      });
    }
  }
  return { path, rawPath, rawQuery };
}

/** Throws 405 for methods a read-only gateway never serves. */
export function checkMethod(method: string): void {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return;
  throw new ProxyError("method_not_allowed", {
    message:
      `Method ${method} is not allowed. This is a read-only S3 proxy. Allowed methods: ${ALLOWED_METHODS}`,
    source: "client",
    headers: { allow: ALLOWED_METHODS },
  });
}
