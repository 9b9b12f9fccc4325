// Owns the OpenFGA wire format: POST {endpoint}/stores/{store_id}/check for one leaf object.

import type { OpenFgaConfig } from "../config/types.ts";
import type {
  AuthorizationDecision,
  AuthorizationInput,
  PolicyAnswer,
  PolicyProtocol,
  PolicyRequest,
} from "./authorizer.ts";

/** The relation checked for reads; the gateway is read-only, so it is the only one. */
export const READ_RELATION = "viewer";

/**
 * The OpenFGA Check API with the original's tuple:
 * - user `user:<claim>`, the claim found by `openfga_user_claim` (a claim whose name is exactly
 *   that string first, then a dotted path through nested objects, own properties only). It must
 *   be a non-empty string. When it is missing the request is denied without a call, whatever the
 *   fail mode (the original allowed it with fail mode open, which opened the bucket to anyone
 *   without that claim, including every anonymous caller).
 * - relation `viewer` for GET and HEAD; any other method is denied without a call.
 * - object, as the original maps it, from the bucket's config name (not the S3 bucket) and the
 *   decoded key: `bucket:<name>` for the empty key (the bucket root), `folder:<name>/<key>` when
 *   the key ends in "/", else `file:<name>/<key>`. Only the leaf object is checked: inheritance
 *   from folders and the bucket must come from the model (`parent` tuple-to-userset). Keys are
 *   sent verbatim so tuples written for the original keep matching; OpenFGA rejects identifiers
 *   with whitespace or over 256 characters (400), and such objects are then denied.
 * - `authorization_model_id` only when configured; `Authorization: Bearer` only when a token is.
 *
 * Answers: 2xx `{"allowed": bool}` is the answer (cached per (user, relation, object), so any
 * tokens of the same user share it). Failures:
 * - 400 (OpenFGA's `validation_error`, `authorization_model_not_found`, ...): OpenFGA refused to
 *   judge this tuple, often because of the input itself (a key with a space). Denied whatever the
 *   fail mode: failing open here would let through exactly the requests the service cannot judge.
 *   Not cached (a fixed model id or store takes effect at once).
 * - other non-2xx (401 token, 404 store or endpoint, 429, 5xx), a 2xx without a boolean `allowed`
 *   (OpenFGA always emits it, false included), a non-JSON body, timeouts and network errors are
 *   outages: the fail mode decides.
 */
export function createOpenFgaProtocol(config: OpenFgaConfig): PolicyProtocol {
  const url = `${config.endpoint.replace(/\/+$/, "")}/stores/${
    encodeURIComponent(config.storeId)
  }/check`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
  };
  if (config.apiToken !== undefined && config.apiToken !== "") {
    headers.authorization = `Bearer ${config.apiToken}`;
  }
  const modelId = config.authorizationModelId === "" ? undefined : config.authorizationModelId;
  return {
    service: "OpenFGA",
    timeoutMs: config.timeoutMs,
    cacheTtlSeconds: config.cacheTtlSeconds,
    failMode: config.failMode,
    prepare(input: AuthorizationInput): PolicyRequest | AuthorizationDecision {
      const method = input.method.toUpperCase();
      if (method !== "GET" && method !== "HEAD") {
        return { allowed: false, basis: "policy", reason: `method ${method} is not a read` };
      }
      const claims = isRecord(input.claims) ? input.claims : {};
      const user = claimAt(claims, config.userClaim);
      if (typeof user !== "string" || user === "") {
        const problem = user === undefined ? "is missing" : "is not a non-empty string";
        return {
          allowed: false,
          basis: "policy",
          reason: `the user claim ${JSON.stringify(config.userClaim)} ${problem}, ` +
            "so OpenFGA cannot be asked who the caller is",
        };
      }
      const tupleKey = {
        user: `user:${user}`,
        relation: READ_RELATION,
        object: objectFor(input.bucket, input.key),
      };
      const body = JSON.stringify(
        modelId === undefined
          ? { tuple_key: tupleKey }
          : { tuple_key: tupleKey, authorization_model_id: modelId },
      );
      const cacheKey = JSON.stringify([tupleKey.user, tupleKey.relation, tupleKey.object]);
      return { cacheKey, url, headers, body };
    },
    interpret(status: number, body: unknown, detail: string): PolicyAnswer {
      if (status === 400) {
        return { kind: "reject", reason: `OpenFGA refused the check (HTTP 400${detail})` };
      }
      if (status < 200 || status > 299) {
        return { kind: "outage", reason: `HTTP ${status}${detail}` };
      }
      if (body === undefined) return { kind: "outage", reason: "the answer was not JSON" };
      if (!isRecord(body) || typeof body.allowed !== "boolean") {
        return { kind: "outage", reason: 'the answer had no boolean "allowed"' };
      }
      return body.allowed ? { kind: "answer", allowed: true } : {
        kind: "answer",
        allowed: false,
        reason: `OpenFGA: user is not a ${READ_RELATION} of the object`,
      };
    },
  };
}

/** The original's object for a key in a bucket (config name): bucket, folder or file. */
export function objectFor(bucket: string, key: string): string {
  if (key === "") return `bucket:${bucket}`;
  return key.endsWith("/") ? `folder:${bucket}/${key}` : `file:${bucket}/${key}`;
}

/** The claim named exactly `path`, else the dotted path through nested objects (own keys only). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let current: unknown = claims;
  for (const segment of path.split(".")) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
