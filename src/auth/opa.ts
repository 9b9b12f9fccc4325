// Owns the OPA wire format: POST {url}/v1/data/{policy_path} with the original's input document.

import type { OpaConfig } from "../config/types.ts";
import type {
  AuthorizationInput,
  PolicyAnswer,
  PolicyProtocol,
  PolicyRequest,
} from "./authorizer.ts";
import { canonicalJson } from "./decision_cache.ts";

/**
 * The OPA Data API (`POST /v1/data/{path}`, body `{"input": ...}`) with the original's input
 * document: `{"jwt_claims", "bucket", "path", "method", "client_ip"}`.
 *
 * - `jwt_claims` is the verified payload as it is (`{}` on a public bucket). The original
 *   serialised a struct that added `sub/exp/iat/nbf/iss: null` when absent; we send no invented
 *   nulls, so `input.jwt_claims.sub` is simply undefined when the token has no `sub`.
 * - `client_ip` is left out when the address is unknown (""), as the original left it out when
 *   there was no X-Forwarded-For.
 * - Answers: `{"result": true|false}` or `{"result": {"allow": bool, "reason"?: string}}`.
 *   Any other 2xx JSON object is still the policy's answer and denies: `{}` (the rule is undefined
 *   for this input, as with `allow if {...}` and no default, or the policy path does not exist),
 *   `{"result": "yes"}`, `{"result": {"allow": "true"}}`... These are cached like any answer: they
 *   are deterministic for the input, and OPA was up, so the fail mode does not apply.
 * - Outages (fail mode): non-2xx (OPA's 400/404/500 `{"code","message"}`), a body that is not JSON
 *   or not a JSON object (then it is not OPA speaking), timeouts and network errors.
 */
export function createOpaProtocol(config: OpaConfig): PolicyProtocol {
  const policyPath = config.policyPath.replace(/^\/+|\/+$/g, "");
  const url = `${config.url.replace(/\/+$/, "")}/v1/data/${policyPath}`;
  const headers = { "content-type": "application/json", accept: "application/json" };
  return {
    service: "OPA",
    timeoutMs: config.timeoutMs,
    cacheTtlSeconds: config.cacheTtlSeconds,
    failMode: config.failMode,
    prepare(input: AuthorizationInput): PolicyRequest {
      const document: Record<string, unknown> = {
        jwt_claims: isRecord(input.claims) ? input.claims : {},
        bucket: input.bucket,
        path: input.path,
        method: input.method,
      };
      if (input.clientIp !== "") document.client_ip = input.clientIp;
      // One canonical serialisation is both the cache key and the request body.
      const cacheKey = canonicalJson(document);
      return { cacheKey, url, headers, body: `{"input":${cacheKey}}` };
    },
    interpret(status: number, body: unknown, detail: string): PolicyAnswer {
      if (status < 200 || status > 299) {
        return { kind: "outage", reason: `HTTP ${status}${detail}` };
      }
      if (body === undefined) return { kind: "outage", reason: "the answer was not JSON" };
      if (!isRecord(body)) return { kind: "outage", reason: "the answer was not a JSON object" };
      return readResult(body.result, policyPath);
    },
  };
}

function readResult(result: unknown, policyPath: string): PolicyAnswer {
  if (typeof result === "boolean") {
    return result
      ? { kind: "answer", allowed: true }
      : { kind: "answer", allowed: false, reason: `denied by OPA policy ${policyPath}` };
  }
  if (isRecord(result) && typeof result.allow === "boolean") {
    const reason = typeof result.reason === "string" && result.reason !== ""
      ? result.reason
      : result.allow
      ? undefined
      : `denied by OPA policy ${policyPath}`;
    return reason === undefined
      ? { kind: "answer", allowed: result.allow }
      : { kind: "answer", allowed: result.allow, reason };
  }
  const what = result === undefined
    ? "no result: the rule is undefined for this input, or opa_policy_path names no rule"
    : `a result of the wrong shape (${shapeOf(result)}; expected true/false or {"allow": bool})`;
  return {
    kind: "answer",
    allowed: false,
    reason: `OPA policy ${policyPath} answered nothing usable (${what})`,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shapeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isRecord(value)) return "an object without a boolean allow";
  return `a ${typeof value}`;
}
