// Owns the Authorizer contract and the engine shared by OPA and OpenFGA: cache, timeout, fail mode.

import type { AuthorizationConfig } from "../config/types.ts";
import { DecisionCache } from "./decision_cache.ts";
import { createOpaProtocol } from "./opa.ts";
import { createOpenFgaProtocol } from "./openfga.ts";

/** What a policy may judge: one request to one bucket. */
export interface AuthorizationInput {
  /** The verified JWT payload; `{}` on a public bucket. */
  claims: Record<string, unknown>;
  /** The bucket's config name (not the S3 bucket). */
  bucket: string;
  /** full request path incl. prefix */
  path: string;
  /** The decoded object key after the prefix, without a leading "/"; "" for the bucket root. */
  key: string;
  method: string;
  /** The resolved client address; "" when unknown. */
  clientIp: string;
}

export interface AuthorizationDecision {
  allowed: boolean;
  /** For logs and the 403 message: the policy's own reason, or why no policy answer was used. */
  reason?: string;
  /**
   * "policy": the policy service answered (or the gateway decided without asking, e.g. no user
   * claim); "cache": a cached policy answer; "fail_open" / "fail_closed": the service could not
   * be used and the configured fail mode (or, for a client abort or a rejected request, a deny)
   * decided.
   */
  basis: string;
}

export interface Authorizer {
  /** Never throws and never rejects: every failure becomes a decision. */
  authorize(input: AuthorizationInput, signal?: AbortSignal): Promise<AuthorizationDecision>;
  /** Drops the decision cache; calls in flight finish, later calls are not cached. */
  close(): void;
}

export interface AuthorizerOptions {
  fetch?: typeof fetch;
  /** Monotonic milliseconds for the decision cache. Default performance.now. */
  now?: () => number;
}

/** One policy call, built by a protocol from the input. */
export interface PolicyRequest {
  /** Everything the answer depends on, as a stable string (the decision cache key). */
  cacheKey: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * How a protocol reads a response:
 * - `answer`: the policy decided (cached, fail mode irrelevant);
 * - `reject`: the service refused to judge this input (deny whatever the fail mode, not cached);
 * - `outage`: no usable answer (the fail mode decides, not cached).
 */
export type PolicyAnswer =
  | { kind: "answer"; allowed: boolean; reason?: string }
  | { kind: "reject"; reason: string }
  | { kind: "outage"; reason: string };

/** A policy service's wire format; the engine around it is the same for every service. */
export interface PolicyProtocol {
  /** For reasons: "OPA", "OpenFGA". */
  readonly service: string;
  readonly timeoutMs: number;
  readonly cacheTtlSeconds: number;
  readonly failMode: "open" | "closed";
  /** The call to make, or a decision reached without one (for example: no user claim). */
  prepare(input: AuthorizationInput): PolicyRequest | AuthorizationDecision;
  /**
   * Reads a response. `body` is the parsed JSON, or undefined when the body is not JSON (JSON.parse
   * never yields undefined). `detail` is ": code: message" from a `{"code","message"}` error body
   * (the shape OPA and OpenFGA share), clipped for logs, or "".
   */
  interpret(status: number, body: unknown, detail: string): PolicyAnswer;
}

/** The Authorizer for one bucket's `authorization` block. */
export function createAuthorizer(
  config: AuthorizationConfig,
  options: AuthorizerOptions = {},
): Authorizer {
  const protocol = config.type === "opa"
    ? createOpaProtocol(config)
    : createOpenFgaProtocol(config);
  return new RemoteAuthorizer(protocol, options);
}

/** Cuts a service-supplied string down to something fit for a log line. */
function clip(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > max ? oneLine.slice(0, max) + "…" : oneLine;
}

/** ": code: message" from a `{"code","message"}` error body, or "". */
function describeErrorBody(body: unknown): string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "";
  const { code, message } = body as Record<string, unknown>;
  const parts = [code, message].filter((part): part is string => typeof part === "string");
  return parts.length === 0 ? "" : ": " + clip(parts.join(": "));
}

type CallOutcome = PolicyAnswer | { kind: "aborted" };

class RemoteAuthorizer implements Authorizer {
  readonly #protocol: PolicyProtocol;
  readonly #fetch: typeof fetch;
  readonly #cache: DecisionCache;
  #closed = false;

  constructor(protocol: PolicyProtocol, options: AuthorizerOptions) {
    this.#protocol = protocol;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#cache = new DecisionCache({
      ttlMs: protocol.cacheTtlSeconds * 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  async authorize(input: AuthorizationInput, signal?: AbortSignal): Promise<AuthorizationDecision> {
    const service = this.#protocol.service;
    let request: PolicyRequest | AuthorizationDecision;
    try {
      request = this.#protocol.prepare(input);
    } catch (error) {
      // Claims the JSON model cannot carry (cycles, BigInt). Verified JWT payloads never are; deny
      // rather than fail open on input the policy never saw.
      return {
        allowed: false,
        basis: "fail_closed",
        reason: `the request could not be put to ${service} (${describeError(error)})`,
      };
    }
    if ("allowed" in request) return request;

    const cached = this.#cache.get(request.cacheKey);
    if (cached !== undefined) {
      return cached.reason === undefined
        ? { allowed: cached.allowed, basis: "cache" }
        : { allowed: cached.allowed, reason: cached.reason, basis: "cache" };
    }

    const outcome = await this.#call(request, signal);
    switch (outcome.kind) {
      case "answer": {
        const decision: AuthorizationDecision = { allowed: outcome.allowed, basis: "policy" };
        if (outcome.reason !== undefined) decision.reason = outcome.reason;
        if (!this.#closed) this.#cache.set(request.cacheKey, decision);
        return decision;
      }
      case "reject":
        return { allowed: false, basis: "fail_closed", reason: outcome.reason };
      case "aborted":
        return {
          allowed: false,
          basis: "fail_closed",
          reason: `the request was aborted before ${service} answered`,
        };
      case "outage":
        return this.#protocol.failMode === "open"
          ? {
            allowed: true,
            basis: "fail_open",
            reason: `${service} was unreachable (${outcome.reason}); failing open`,
          }
          : {
            allowed: false,
            basis: "fail_closed",
            reason: `${service} was unreachable (${outcome.reason}); failing closed`,
          };
    }
  }

  close(): void {
    this.#closed = true;
    this.#cache.clear();
  }

  async #call(request: PolicyRequest, signal: AbortSignal | undefined): Promise<CallOutcome> {
    if (signal?.aborted) return { kind: "aborted" };
    const { timeoutMs } = this.#protocol;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
      // The body is read under the same timeout and abort signal.
      const text = await response.text();
      let body: unknown = undefined;
      try {
        body = JSON.parse(text);
      } catch {
        // Left undefined: the protocol decides what a non-JSON body means.
      }
      return this.#protocol.interpret(response.status, body, describeErrorBody(body));
    } catch (error) {
      if (timedOut) return { kind: "outage", reason: `no answer within ${timeoutMs} ms` };
      if (signal?.aborted) return { kind: "aborted" };
      return { kind: "outage", reason: `request failed: ${describeError(error)}` };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return clip(`${error.name}: ${error.message}`);
  return clip(String(error));
}
