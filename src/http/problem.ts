// Owns the one mapping from a ProxyError to the JSON error Response every proxy-made error uses.

import { ERROR_CODE, ProxyError } from "../errors.ts";

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * Builds `{"error","message","status","code","request_id",...details}` (DESIGN.md §2).
 * A HEAD request gets the same status and headers with no body (RFC 9110 §9.3.2).
 */
export function errorResponse(
  error: ProxyError,
  options: { requestId: string; method: string },
): Response {
  const { status, title } = ERROR_CODE[error.code];
  const body = JSON.stringify({
    error: title,
    message: error.message,
    status,
    code: error.code,
    request_id: options.requestId,
    ...error.details,
  });
  const headers = new Headers(error.headers);
  headers.set("content-type", JSON_CONTENT_TYPE);
  headers.set("x-request-id", options.requestId);
  if (options.method === "HEAD") {
    headers.set("content-length", String(new TextEncoder().encode(body).byteLength));
    return new Response(null, { status, headers });
  }
  return new Response(body, { status, headers });
}

/** Wraps anything thrown that is not a ProxyError as an `internal` error with a safe message. */
export function toProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  return new ProxyError("internal", {
    message: "The gateway failed unexpectedly; the request id identifies the logged cause.",
    cause: error,
  });
}
