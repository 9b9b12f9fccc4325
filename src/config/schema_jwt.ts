// Owns the schema of authentication: `jwt` (algorithms, keys, token sources, claims) and
// `buckets[].auth`, with the key-material rules shared with load.ts.

import { z } from "zod";
import type {
  ClaimRule,
  JwtAlgorithm,
  JwtConfig,
  JwtKeyConfig,
  TokenSourceConfig,
} from "./types.ts";
import { CLAIM_OPERATORS, JWT_ALGORITHMS, TOKEN_SOURCE_TYPES } from "./types.ts";
import {
  describeValue,
  expecting,
  list,
  MAKE_SECRET,
  MIN_SECRET_LENGTH,
  nonEmptyString,
  oneOf,
  optional,
  present,
  seconds,
  serviceUrl,
} from "./schema_support.ts";
import { errorMessage } from "../errors.ts";

// ---- jwt ------------------------------------------------------------------------------------

export function isJwtAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === "string" && (JWT_ALGORITHMS as readonly string[]).includes(value);
}

/** The key family of an algorithm: which key material verifies it. */
export function algorithmFamily(algorithm: JwtAlgorithm): "hmac" | "rsa" | "ecdsa" | "eddsa" {
  if (algorithm.startsWith("HS")) return "hmac";
  if (algorithm.startsWith("RS") || algorithm.startsWith("PS")) return "rsa";
  if (algorithm.startsWith("ES")) return "ecdsa";
  return "eddsa";
}

function algorithmError(issue: { input?: unknown }): string {
  const expected = oneOf(JWT_ALGORITHMS);
  if (typeof issue.input === "string") {
    const input = issue.input;
    if (input.toLowerCase() === "none") {
      return `"${input}" is never accepted: unsigned tokens would let anyone in; use ${expected}`;
    }
    const match = JWT_ALGORITHMS.find((name) => name.toLowerCase() === input.toLowerCase());
    if (match) {
      return `expected ${expected}, got ${
        JSON.stringify(input)
      } (algorithm names are case-sensitive: write "${match}")`;
    }
  }
  return expecting(expected, { text: true })(issue);
}

const algorithm = z.enum(JWT_ALGORITHMS, { error: algorithmError });

export const JWT_KEY_SHAPE = {
  id: nonEmptyString(),
  algorithm,
  // Which of the two a key needs depends on its algorithm: load.ts checks that.
  secret: optional(nonEmptyString({ secret: true })),
  path: optional(nonEmptyString()),
};

const jwtKeySchema = z.strictObject(JWT_KEY_SHAPE, {
  error: expecting("a key mapping with id, algorithm and secret or path"),
}).transform((raw): JwtKeyConfig => ({
  id: raw.id,
  algorithm: raw.algorithm,
  secret: raw.secret,
  path: raw.path,
}));

export const TOKEN_SOURCE_SHAPE = {
  type: z.enum(TOKEN_SOURCE_TYPES, { error: expecting(oneOf(TOKEN_SOURCE_TYPES)) }),
  // Required for header/query/cookie: load.ts checks that.
  name: optional(nonEmptyString()),
  prefix: optional(z.string({ error: expecting("a string", { text: true }) })),
};

const tokenSourceSchema = z.strictObject(TOKEN_SOURCE_SHAPE, {
  error: expecting("a token source mapping like {type: bearer} or {type: query, name: token}"),
}).transform((raw): TokenSourceConfig => ({
  type: raw.type,
  name: raw.name,
  prefix: raw.prefix,
}));

export const CLAIM_SHAPE = {
  claim: nonEmptyString(),
  operator: z.enum(CLAIM_OPERATORS, { error: expecting(oneOf(CLAIM_OPERATORS)) }),
  // What it must be depends on the operator: load.ts checks it with claimValueProblem.
  value: z.unknown(),
};

const claimSchema = z.strictObject(CLAIM_SHAPE, {
  error: expecting("a claim rule mapping like {claim: role, operator: equals, value: viewer}"),
}).transform((raw): ClaimRule => ({
  claim: raw.claim,
  operator: raw.operator,
  value: raw.value,
}));

const claimList = list(claimSchema, {
  expected: "a list of claim rules like [{claim: role, operator: equals, value: viewer}]",
  fallback: () => [],
});

/** Why a claim rule's `value` does not fit its operator, if it does not. */
export function claimValueProblem(
  operator: typeof CLAIM_OPERATORS[number],
  value: unknown,
): string | undefined {
  const got = describeValue(value);
  if (value === null || value === undefined) {
    return `the \`${operator}\` operator needs a value to compare the claim with, got ${got}`;
  }
  switch (operator) {
    case "equals":
      return undefined;
    case "in":
      if (!Array.isArray(value)) {
        return `the \`in\` operator needs a list of values, like [admin, editor], got ${got}`;
      }
      if (value.length === 0) return "the `in` operator needs at least one value: [] never matches";
      return undefined;
    case "contains":
      if (typeof value === "object") {
        return `the \`contains\` operator needs a string or number to look for, got ${got}`;
      }
      return undefined;
    case "gt":
    case "lt":
    case "gte":
    case "lte":
      if (typeof value !== "number" || !Number.isFinite(value)) {
        const hint = typeof value === "string" && /^[-+]?[0-9.]+$/.test(value)
          ? " (a string; remove the quotes)"
          : "";
        return `the \`${operator}\` operator needs a number, got ${got}${hint}`;
      }
      return undefined;
    case "regex":
      if (typeof value !== "string") {
        return `the \`regex\` operator needs a regular expression string, got ${got}`;
      }
      try {
        new RegExp(value);
      } catch (error) {
        return `the \`regex\` value does not compile: ${errorMessage(error)}`;
      }
      return undefined;
  }
}

/** Which key material a JWT config has (a value whose substitution failed counts as given). */
export interface KeyMaterial {
  secret: boolean;
  rsaPublicKeyPath: boolean;
  ecdsaPublicKeyPath: boolean;
  keys: boolean;
  jwksUrl: boolean;
}

/** Why a JWT config cannot verify any token with its algorithm, if it cannot. */
export function keyMaterialProblem(
  algorithm: JwtAlgorithm,
  defaulted: boolean,
  has: KeyMaterial,
): string | undefined {
  const named = `algorithm ${algorithm}${defaulted ? " (the default)" : ""}`;
  const family = algorithmFamily(algorithm);
  const hints: string[] = [];
  let problem: string | undefined;
  if (family === "hmac" && !has.secret && !has.keys) {
    problem = `${named} needs a key: set \`secret\` (at least ${MIN_SECRET_LENGTH} characters; ` +
      `${MAKE_SECRET}) or \`keys\``;
    if (has.jwksUrl) {
      hints.push(
        "a JWKS only serves public keys: set `algorithm` to the algorithm of its keys, like RS256",
      );
    }
  } else if (family === "rsa" && !has.rsaPublicKeyPath && !has.keys && !has.jwksUrl) {
    problem =
      `${named} needs a public key: set \`rsa_public_key_path\` (a PEM file), \`keys\` or \`jwks_url\``;
  } else if (family === "ecdsa" && !has.ecdsaPublicKeyPath && !has.keys && !has.jwksUrl) {
    problem =
      `${named} needs a public key: set \`ecdsa_public_key_path\` (a PEM file), \`keys\` or \`jwks_url\``;
  } else if (family === "eddsa" && !has.keys && !has.jwksUrl) {
    problem =
      `${named} needs a public key: set \`keys\` (entries with algorithm EdDSA and a PEM \`path\`) or \`jwks_url\``;
  }
  if (problem === undefined) return undefined;
  if (has.secret && family !== "hmac") hints.push("`secret` is for HS256, HS384 and HS512");
  if (has.rsaPublicKeyPath && family !== "rsa") {
    hints.push("`rsa_public_key_path` is set: did you mean `algorithm: RS256`?");
  }
  if (has.ecdsaPublicKeyPath && family !== "ecdsa") {
    hints.push("`ecdsa_public_key_path` is set: did you mean `algorithm: ES256`?");
  }
  return hints.length === 0 ? problem : `${problem} (${hints.join("; ")})`;
}

/** Key material set next to an algorithm that does not use it: ignored (a warning each). */
export function unusedKeyMaterial(
  algorithm: JwtAlgorithm,
  has: KeyMaterial,
): { key: string; message: string }[] {
  const family = algorithmFamily(algorithm);
  const out: { key: string; message: string }[] = [];
  const ignored = (key: string, usedBy: string) =>
    out.push({
      key,
      message: `\`${key}\` is ignored with algorithm ${algorithm} (it is the key of ${usedBy}); ` +
        "remove it or change `algorithm`",
    });
  if (has.secret && family !== "hmac") ignored("secret", "HS256, HS384 and HS512");
  if (has.rsaPublicKeyPath && family !== "rsa") {
    ignored("rsa_public_key_path", "RS256, RS384, RS512, PS256, PS384 and PS512");
  }
  if (has.ecdsaPublicKeyPath && family !== "ecdsa") {
    ignored("ecdsa_public_key_path", "ES256, ES384 and ES512");
  }
  return out;
}

export const JWT_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  algorithm: algorithm.default("HS256"),
  secret: optional(nonEmptyString({ secret: true })),
  // PEM files are read by the verifier (a missing file is reported when serving starts).
  rsa_public_key_path: optional(nonEmptyString()),
  ecdsa_public_key_path: optional(nonEmptyString()),
  keys: list(jwtKeySchema, {
    expected: "a list of keys like [{id: main, algorithm: RS256, path: /etc/keys/main.pem}]",
    fallback: () => [],
  }),
  jwks_url: optional(
    serviceUrl({ example: "https://idp.example.com/.well-known/jwks.json", query: true })
      .transform((value) => new URL(value).href),
  ),
  jwks_refresh_interval_secs: seconds({ min: "positive", default: 300 }),
  issuer: optional(nonEmptyString()),
  audience: optional(nonEmptyString()),
  leeway_seconds: seconds({ min: "zero", default: 60 }),
  token_sources: list(tokenSourceSchema, {
    expected: "a list of token sources like [{type: bearer}, {type: query, name: token}]",
    fallback: (): TokenSourceConfig[] => [{ type: "bearer", name: undefined, prefix: undefined }],
    empty:
      "at least one token source is needed; remove `token_sources` to read `Authorization: Bearer <token>`",
  }),
  claims: claimList,
  admin_claims: claimList,
};

/** A parsed `jwt` block; `enabled: false` is kept so that the root can leave it out. */
export interface ParsedJwt {
  enabled: boolean;
  config: JwtConfig;
}

export const jwtSchema = z.strictObject(JWT_SHAPE, {
  error: expecting("a jwt mapping like {algorithm: HS256, secret: ...}"),
}).transform((raw): ParsedJwt => ({
  enabled: raw.enabled,
  config: {
    algorithm: raw.algorithm,
    secret: raw.secret,
    rsaPublicKeyPath: raw.rsa_public_key_path,
    ecdsaPublicKeyPath: raw.ecdsa_public_key_path,
    keys: raw.keys,
    jwksUrl: raw.jwks_url,
    jwksRefreshIntervalSecs: raw.jwks_refresh_interval_secs,
    issuer: raw.issuer,
    audience: raw.audience,
    leewaySeconds: raw.leeway_seconds,
    tokenSources: raw.token_sources,
    claims: raw.claims,
    adminClaims: raw.admin_claims,
  },
}));

// ---- bucket auth ----------------------------------------------------------------------------

export const AUTH_SHAPE = {
  // No default: load.ts reports `jwt` without `enabled` (fail closed: the transform protects).
  enabled: z.boolean({ error: expecting("true or false") }).optional(),
  jwt: present(jwtSchema),
};

export const authSchema = z.strictObject(AUTH_SHAPE, {
  error: expecting("a mapping like {enabled: true} or {enabled: false}"),
}).transform((raw) => ({ enabled: raw.enabled ?? raw.jwt !== undefined, jwt: raw.jwt }));

/**
 * The message for a bucket with `auth.enabled: true` and no JWT to check: shared by load.ts's
 * check and the schema's backstop, so that the two agree word for word.
 */
export function authWithoutJwtMessage(
  bucket: unknown,
  index: number,
  topLevel: "absent" | "disabled",
): string {
  const name = typeof bucket === "string" && bucket.trim() !== ""
    ? `bucket ${JSON.stringify(bucket)}`
    : `buckets[${index}]`;
  const fix = topLevel === "absent"
    ? `add a top-level \`jwt\` or \`buckets[${index}].auth.jwt\``
    : `the top-level \`jwt\` has \`enabled: false\`; enable it or add \`buckets[${index}].auth.jwt\``;
  return `${name} has auth.enabled: true but no JWT config: ${fix}`;
}

export function jwtSectionKeys(base: string): Record<string, readonly string[]> {
  return {
    [base]: Object.keys(JWT_SHAPE),
    [`${base}.keys[]`]: Object.keys(JWT_KEY_SHAPE),
    [`${base}.token_sources[]`]: Object.keys(TOKEN_SOURCE_SHAPE),
    [`${base}.claims[]`]: Object.keys(CLAIM_SHAPE),
    [`${base}.admin_claims[]`]: Object.keys(CLAIM_SHAPE),
  };
}
