// Owns the schema of authorization: `buckets[].authorization` (OPA, OpenFGA) and `admin`.

import { z } from "zod";
import type { AdminConfig, AuthorizationConfig } from "./types.ts";
import {
  describeValue,
  expecting,
  isMapping,
  MAX_SECONDS,
  nonEmptyString,
  oneOf,
  optional,
  seconds,
  serviceUrl,
} from "./schema_support.ts";

// ---- authorization --------------------------------------------------------------------------

/** Why a policy path (the part of the OPA URL after /v1/data/) is unusable, if it is. */
export function policyPathProblem(path: string): string | undefined {
  const shown = JSON.stringify(path);
  const example = '"yatagarasu/authz/allow"';
  const stripped = path.replace(/^\/+/, "");
  if (stripped.trim() === "") {
    return `expected a policy path like ${example}, got ${describeValue(path)}`;
  }
  if (/^v1\/data(\/|$)/.test(stripped)) {
    return `${shown} includes the API prefix: write only the part after /v1/data/ (like ${example})`;
  }
  if (!stripped.includes("/") && stripped.includes(".")) {
    return `${shown} is written like a Rego package; write it with "/": ${
      JSON.stringify(stripped.replaceAll(".", "/"))
    }`;
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what we reject
  if (/[\s\x00-\x1f\x7f?#%]/.test(stripped)) {
    return `${shown} must not contain spaces, control characters, "?", "#" or "%"`;
  }
  if (stripped.endsWith("/")) {
    return `${shown} must not end with "/": it names one rule, like ${example}`;
  }
  const segments = stripped.split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    return `${shown} must not contain empty, "." or ".." segments`;
  }
  return undefined;
}

/** A base URL: normalised, without a trailing "/" (paths are appended to it). */
function baseUrl(example: string) {
  return serviceUrl({ example, query: false })
    .transform((value) => new URL(value).href.replace(/\/+$/, ""));
}

function milliseconds(defaultValue: number) {
  const max = MAX_SECONDS * 1000;
  const error = expecting(`a whole number of milliseconds from 1 to ${max}`);
  return z.int({ error }).min(1, { error }).max(max, { error }).default(defaultValue);
}

const FAIL_MODES = ["closed", "open"] as const;
const failMode = z.enum(FAIL_MODES, { error: expecting(oneOf(FAIL_MODES)) }).default("closed");

/** An OpenFGA id (store or model): it goes into the request path, so URL-safe characters only. */
function openFgaId(what: string) {
  const expected =
    `an OpenFGA ${what} like "01HVMMBCMGZNT3SED4Z17ECXCA" (letters, digits, "_" and "-")`;
  const error = expecting(expected, { text: true });
  return z.string({ error }).regex(/^[A-Za-z0-9_-]+$/, { error });
}

export const OPA_SHAPE = {
  type: z.literal("opa"),
  opa_url: baseUrl("http://127.0.0.1:8181"),
  opa_policy_path: z.string({ error: expecting('a policy path like "yatagarasu/authz/allow"') })
    .superRefine((value, ctx) => {
      const problem = policyPathProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    // "/yatagarasu/authz/allow" mirrors the URL path people see; the leading "/" is dropped.
    .transform((value) => value.replace(/^\/+/, "")),
  opa_timeout_ms: milliseconds(100),
  opa_cache_ttl_seconds: seconds({ min: "zero", default: 60 }),
  opa_fail_mode: failMode,
};

export const OPENFGA_SHAPE = {
  type: z.literal("openfga"),
  openfga_endpoint: baseUrl("http://127.0.0.1:8080"),
  openfga_store_id: openFgaId("store id"),
  openfga_authorization_model_id: optional(openFgaId("authorization model id")),
  openfga_api_token: optional(nonEmptyString({ secret: true })),
  openfga_timeout_ms: milliseconds(100),
  openfga_cache_ttl_seconds: seconds({ min: "zero", default: 60 }),
  openfga_fail_mode: failMode,
  openfga_user_claim: nonEmptyString().default("sub"),
};

const AUTHORIZATION_TYPES = ["opa", "openfga"] as const;

function authorizationError(issue: { code?: string; input?: unknown }): string {
  // A `type` that matches no variant: say which types there are.
  if (issue.code === "invalid_union" && isMapping(issue.input)) {
    return expecting(oneOf(AUTHORIZATION_TYPES), { text: true })({ input: issue.input.type });
  }
  return expecting("a mapping with `type: opa` or `type: openfga`")(issue);
}

export const authorizationSchema = z.discriminatedUnion("type", [
  z.strictObject(OPA_SHAPE, { error: authorizationError }),
  z.strictObject(OPENFGA_SHAPE, { error: authorizationError }),
], { error: authorizationError }).transform((raw): AuthorizationConfig =>
  raw.type === "opa"
    ? {
      type: "opa",
      url: raw.opa_url,
      policyPath: raw.opa_policy_path,
      timeoutMs: raw.opa_timeout_ms,
      cacheTtlSeconds: raw.opa_cache_ttl_seconds,
      failMode: raw.opa_fail_mode,
    }
    : {
      type: "openfga",
      endpoint: raw.openfga_endpoint,
      storeId: raw.openfga_store_id,
      authorizationModelId: raw.openfga_authorization_model_id,
      apiToken: raw.openfga_api_token,
      timeoutMs: raw.openfga_timeout_ms,
      cacheTtlSeconds: raw.openfga_cache_ttl_seconds,
      failMode: raw.openfga_fail_mode,
      userClaim: raw.openfga_user_claim,
    }
);

// ---- admin ----------------------------------------------------------------------------------

export const ADMIN_SHAPE = {
  allow_unauthenticated: z.boolean({ error: expecting("true or false") }).default(false),
};

export const adminSchema = z.strictObject(ADMIN_SHAPE, {
  error: expecting("a mapping like {allow_unauthenticated: false}"),
}).transform((raw): AdminConfig => ({ allowUnauthenticated: raw.allow_unauthenticated }));
