// Owns a bucket's CORS policy at run time: preflight answers and the headers of actual responses.

import type { CorsConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { ALLOWED_METHODS } from "./accept.ts";

/** Preflight answers depend on these request headers, so caches must key on them. */
const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/** A Vary value that already covers Origin ("*" covers everything). */
const VARIES_BY_ORIGIN = /(^|,)\s*(origin|\*)\s*(,|$)/i;

/**
 * Adds `Origin` to Vary: every response of a bucket with CORS may differ by Origin (the
 * Access-Control-Allow-Origin echo), so a shared cache must never hand one origin's copy to
 * another, nor a copy without CORS headers to a page that needs them.
 */
export function varyOnOrigin(headers: Headers): void {
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Origin");
  else if (!VARIES_BY_ORIGIN.test(vary)) headers.set("vary", `${vary}, Origin`);
}

/** A bucket's `cors`, compiled once per config generation. */
export class CorsPolicy {
  readonly #bucket: string;
  readonly #anyOrigin: boolean;
  readonly #origins: ReadonlySet<string>;
  readonly #methods: ReadonlySet<string>;
  readonly #methodList: string;
  readonly #anyHeader: boolean;
  readonly #headers: ReadonlySet<string>;
  readonly #exposed: string | undefined;
  readonly #maxAge: string;
  readonly #credentials: boolean;

  constructor(bucket: string, config: CorsConfig) {
    this.#bucket = bucket;
    this.#anyOrigin = config.allowedOrigins.includes("*");
    this.#origins = new Set(config.allowedOrigins);
    this.#methods = new Set(config.allowedMethods);
    this.#methodList = config.allowedMethods.join(", ");
    this.#anyHeader = config.allowedHeaders.includes("*");
    this.#headers = new Set(config.allowedHeaders.map((name) => name.toLowerCase()));
    this.#exposed = config.exposedHeaders.length === 0
      ? undefined
      : config.exposedHeaders.join(", ");
    this.#maxAge = String(config.maxAgeSeconds);
    this.#credentials = config.allowCredentials;
  }

  #allowsOrigin(origin: string): boolean {
    return this.#anyOrigin || this.#origins.has(origin);
  }

  /**
   * Access-Control-Allow-Origin: "*" for a wildcard policy without credentials (one answer for
   * every origin), else the request's origin echoed (the Fetch standard forbids "*" with
   * credentials, and a list can only be answered one origin at a time).
   */
  #allowOrigin(headers: Headers, origin: string): void {
    headers.set(
      "access-control-allow-origin",
      this.#anyOrigin && !this.#credentials ? "*" : origin,
    );
    if (this.#credentials) headers.set("access-control-allow-credentials", "true");
  }

  /**
   * The CORS headers of an actual response (GET/HEAD: a hit, a miss, an error): Vary: Origin
   * always; Allow-Origin, Allow-Credentials and Expose-Headers when the request's Origin and
   * method are allowed. Preflights (OPTIONS) are answered whole by `options`.
   */
  decorate(headers: Headers, requestHeaders: Headers, method: string): void {
    if (method === "OPTIONS") return;
    varyOnOrigin(headers);
    const origin = requestHeaders.get("origin");
    if (origin === null || !this.#allowsOrigin(origin) || !this.#methods.has(method)) return;
    this.#allowOrigin(headers, origin);
    if (this.#exposed !== undefined) headers.set("access-control-expose-headers", this.#exposed);
  }

  /**
   * OPTIONS on the bucket. A CORS preflight (Origin and Access-Control-Request-Method present)
   * that the policy allows gets 204 with the Access-Control-Allow-* headers; one it does not
   * allow gets 403 `cors_forbidden` without them, saying what to add to the config (the Fetch
   * standard's suggestion for an explicit refusal; the browser fails the preflight either way).
   * Any other OPTIONS gets the plain 204 with Allow.
   */
  options(request: Request, requestId: string): Response {
    const requestHeaders = request.headers;
    const origin = requestHeaders.get("origin");
    const method = requestHeaders.get("access-control-request-method");
    if (origin === null || method === null) {
      return new Response(null, {
        status: 204,
        headers: { allow: ALLOWED_METHODS, vary: "Origin", "x-request-id": requestId },
      });
    }
    const where = `the cors settings of bucket "${this.#bucket}"`;
    if (!this.#allowsOrigin(origin)) {
      throw this.#refuse(
        `The origin ${origin} is not in the allowed_origins of ${where}; add it there to let pages of that origin read this bucket.`,
      );
    }
    if (!this.#methods.has(method)) {
      throw this.#refuse(
        `The method ${method} is not in the allowed_methods of ${where} (${this.#methodList}); the gateway serves only GET and HEAD.`,
      );
    }
    const requested = requestedHeaders(requestHeaders.get("access-control-request-headers"));
    if (!this.#anyHeader) {
      const refused = requested.filter((name) => !this.#headers.has(name));
      if (refused.length > 0) {
        throw this.#refuse(
          `The request header${refused.length === 1 ? "" : "s"} ${refused.join(", ")} ${
            refused.length === 1 ? "is" : "are"
          } not in the allowed_headers of ${where}; add ${
            refused.length === 1 ? "it" : "them"
          } there (or "*").`,
        );
      }
    }
    const headers = new Headers({
      vary: PREFLIGHT_VARY,
      "access-control-allow-methods": this.#methodList,
      "access-control-max-age": this.#maxAge,
      "x-request-id": requestId,
    });
    this.#allowOrigin(headers, origin);
    // The names asked for, echoed: a literal "*" would not cover Authorization, nor anything on
    // a credentialed request (Fetch standard), and every name asked for was just checked.
    if (requested.length > 0) headers.set("access-control-allow-headers", requested.join(", "));
    return new Response(null, { status: 204, headers });
  }

  #refuse(message: string): ProxyError {
    return new ProxyError("cors_forbidden", {
      message,
      source: "client",
      headers: { vary: PREFLIGHT_VARY },
    });
  }
}

/** Access-Control-Request-Headers as lowercase names (browsers send them so; be lenient anyway). */
export function requestedHeaders(value: string | null): string[] {
  if (value === null) return [];
  const names: string[] = [];
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name !== "" && !names.includes(name)) names.push(name);
  }
  return names;
}
