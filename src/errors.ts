// Owns ProxyError and the one table that maps each stable error code to its HTTP status.

/**
 * Every error the gateway makes for a client has a stable `code` (used in JSON bodies, logs and
 * metric labels). The HTTP status and reason phrase live only here; `http/problem.ts` reads them.
 */
export const ERROR_CODE = {
  bad_request: { status: 400, title: "Bad Request" },
  /** An image parameter (or preset) out of its range, or free-form parameters in presets-only mode. */
  invalid_image_params: { status: 400, title: "Bad Request" },
  /** No token where the bucket requires one: 401 + `WWW-Authenticate: Bearer` (RFC 6750 §3). */
  token_missing: { status: 401, title: "Unauthorized" },
  /** Malformed, wrongly signed, expired or not-yet-valid token: 401 + `error="invalid_token"`. */
  token_invalid: { status: 401, title: "Unauthorized" },
  /** A valid caller that the claims rules or the policy (OPA/OpenFGA) do not allow. */
  forbidden: { status: 403, title: "Forbidden" },
  /** A signed URL whose signature does not match, or whose key id is unknown. */
  signed_url_invalid: { status: 403, title: "Forbidden" },
  /** A signed URL past its expiry. */
  signed_url_expired: { status: 403, title: "Forbidden" },
  /** Image parameters without a valid signature (missing, wrong, unknown key, expired) under signing. */
  invalid_image_signature: { status: 403, title: "Forbidden" },
  access_denied: { status: 403, title: "Forbidden" },
  /** The client address is in the bucket's ip_filter.blocklist, or not in its allowlist. */
  ip_forbidden: { status: 403, title: "Forbidden" },
  /** A CORS preflight whose origin, method or headers the bucket's `cors` does not allow. */
  cors_forbidden: { status: 403, title: "Forbidden" },
  route_not_found: { status: 404, title: "Not Found" },
  object_not_found: { status: 404, title: "Not Found" },
  /** An admin cache route on a gateway without a `cache` block. */
  cache_disabled: { status: 404, title: "Not Found" },
  method_not_allowed: { status: 405, title: "Method Not Allowed" },
  /** A request that the resource's current state rules out (cancelling a finished prewarm task). */
  conflict: { status: 409, title: "Conflict" },
  precondition_failed: { status: 412, title: "Precondition Failed" },
  /** A request body larger than `server.security_limits.max_body_size`. */
  payload_too_large: { status: 413, title: "Content Too Large" },
  /** A request target longer than `server.security_limits.max_uri_length`. */
  uri_too_long: { status: 414, title: "URI Too Long" },
  /** Image parameters on a source that is not a decodable image the engine reads (image_optimization). */
  unsupported_image: { status: 415, title: "Unsupported Media Type" },
  range_not_satisfiable: { status: 416, title: "Range Not Satisfiable" },
  /** An image source over image_optimization.max_source_bytes or max_source_pixels (decompression bombs). */
  image_too_large: { status: 422, title: "Unprocessable Content" },
  /** A rate limit (global, per IP, per bucket or per user) ran out: 429 + Retry-After, RateLimit-*. */
  rate_limited: { status: 429, title: "Too Many Requests" },
  /** Request headers larger than `server.security_limits.max_header_size` (names + values). */
  headers_too_large: { status: 431, title: "Request Header Fields Too Large" },
  internal: { status: 500, title: "Internal Server Error" },
  upstream_error: { status: 502, title: "Bad Gateway" },
  origin_unavailable: { status: 502, title: "Bad Gateway" },
  overloaded: { status: 503, title: "Service Unavailable" },
  shutting_down: { status: 503, title: "Service Unavailable" },
  /** The bucket's circuit breaker is open (S3 kept failing): 503 + `Retry-After`, S3 not contacted. */
  circuit_open: { status: 503, title: "Service Unavailable" },
  /** The image worker pool and its queue are full (image_optimization.concurrency, queue_size): + Retry-After. */
  image_overloaded: { status: 503, title: "Service Unavailable" },
  /** A transformation ran past image_optimization.processing_timeout_ms: + Retry-After. */
  image_timeout: { status: 503, title: "Service Unavailable" },
  origin_timeout: { status: 504, title: "Gateway Timeout" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODE;

/** Where an error came from: the caller, the S3 origin, or the gateway itself. */
export type ErrorSource = "client" | "origin" | "internal";

export interface ProxyErrorOptions {
  /** Safe to show to the client: what is wrong and how to fix it. Never secrets or tokens. */
  message: string;
  source?: ErrorSource;
  /** Extra response headers (Allow, Retry-After, Content-Range, WWW-Authenticate...). */
  headers?: Record<string, string>;
  /** Extra JSON fields for the body (for example `s3_error_code`). */
  details?: Record<string, string | number>;
  cause?: unknown;
}

/** An error with a stable code whose status comes from ERROR_CODE. */
export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly source: ErrorSource;
  readonly headers: Record<string, string> | undefined;
  readonly details: Record<string, string | number> | undefined;

  constructor(code: ErrorCode, options: ProxyErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProxyError";
    this.code = code;
    this.source = options.source ?? "internal";
    this.headers = options.headers;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CODE[this.code].status;
  }
}

/** The message of a thrown value, for messages and logs (anything can be thrown in JavaScript). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
