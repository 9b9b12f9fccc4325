// Owns the size limits of the `accept` stage (`server.security_limits`): URI length (414),
// header size (431) and body size (413).

import type { SecurityLimitsConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";

/**
 * Deno's HTTP layer refuses larger request heads before a handler runs (measured on Deno 2.9.6:
 * HTTP/1.1 heads over ~64 KiB get a bare 400, HTTP/2 header lists over 16 KiB a 431;
 * tests/integration/hardening_test.ts checks it still does). The sum of header names and values
 * is smaller than the head, so a `max_header_size` at or above this can never be exceeded by a
 * request that reaches the gateway, and the headers are not summed at all.
 */
export const RUNTIME_HEAD_LIMIT = 65_536;

/**
 * Throws 414, 431 or 413 (in the original's order) when the request is larger than the limits.
 * A plain GET within the defaults costs two comparisons: the URI is measured only when the whole
 * URL is longer than the limit, headers are summed only under a limit the runtime does not
 * already enforce (iterating Deno's Headers costs ~1 µs a request), and only methods that may
 * carry a body read to the gateway (admin POSTs) look at Content-Length.
 */
export function checkRequestLimits(
  request: Request,
  url: string,
  limits: SecurityLimitsConfig,
): void {
  if (url.length > limits.maxUriLength) {
    const length = targetLength(url);
    if (length > limits.maxUriLength) {
      throw new ProxyError("uri_too_long", {
        message: `The request URI (path and query) is ${length} characters long; this gateway ` +
          `accepts at most ${limits.maxUriLength} (server.security_limits.max_uri_length). ` +
          "Shorten the object key or the query string.",
        source: "client",
      });
    }
  }
  if (limits.maxHeaderSize < RUNTIME_HEAD_LIMIT) {
    const size = headerSize(request.headers);
    if (size > limits.maxHeaderSize) {
      throw new ProxyError("headers_too_large", {
        message: `The request headers total ${size} bytes (names and values); this gateway ` +
          `accepts at most ${limits.maxHeaderSize} (server.security_limits.max_header_size). ` +
          "Send fewer or smaller headers; large cookies are the usual cause.",
        source: "client",
      });
    }
  }
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") {
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limits.maxBodySize) {
      throw tooLarge(`(${Number(declared)} bytes by its Content-Length) `, limits.maxBodySize);
    }
  }
}

/** The request target's length: everything from the path on (the origin form's length). */
export function targetLength(url: string): number {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  return pathStart === -1 ? 1 : url.length - pathStart;
}

/** The sum of header name and value lengths, as the original counted. */
export function headerSize(headers: Headers): number {
  let total = 0;
  // forEach, not for-of: Deno's iterator sorts and copies the list first (several times slower).
  headers.forEach((value, name) => {
    total += name.length + value.length;
  });
  return total;
}

/**
 * Reads a request body as text, refusing with 413 once it passes `maxBytes`: a chunked body has no
 * Content-Length for checkRequestLimits to check, and must not be buffered without bound.
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge("", maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

function tooLarge(detail: string, maxBytes: number): ProxyError {
  return new ProxyError("payload_too_large", {
    message: `The request body ${detail}is larger than this gateway accepts: at most ` +
      `${maxBytes} bytes (server.security_limits.max_body_size). Send a smaller body.`,
    source: "client",
  });
}
