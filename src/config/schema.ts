// Owns the one config schema (snake_case YAML in, camelCase Config out, defaults applied) and the
// tables of keys that are not supported yet or accepted-but-ignored.

import { z } from "zod";
import type {
  AdminConfig,
  AuthorizationConfig,
  BucketCacheConfig,
  BucketConfig,
  CacheConfig,
  ClaimRule,
  Config,
  JwtAlgorithm,
  JwtConfig,
  JwtKeyConfig,
  LoggingConfig,
  MemoryCacheConfig,
  S3Config,
  ServerConfig,
  SignedUrlsConfig,
  TokenSourceConfig,
} from "./types.ts";
import { CLAIM_OPERATORS, JWT_ALGORITHMS, LOG_LEVELS, TOKEN_SOURCE_TYPES } from "./types.ts";

/** The feature that brings `cache.disk`, `cache.redis` and those names in `cache.cache_layers`. */
export const CACHE_TIERS_FEATURE = "the disk and Redis tiers of caching";

/**
 * Keys the original Yatagarasu (or DESIGN.md) defines for features this build does not have yet.
 * Rejecting them beats silently ignoring them (the original ignored unknown keys, so a config could
 * look protected while it was not). When a feature lands, delete its rows here and add its keys to
 * the schema below. `[]` in a path means "every element of this list". A row with `when` only
 * rejects values for which it returns true; `label` replaces the key name in the message.
 */
export const NOT_YET_SUPPORTED: readonly NotYetSupported[] = [
  { path: "server.max_concurrent_requests", feature: "resilience" },
  { path: "server.trusted_proxies", feature: "resilience" },
  { path: "server.security_limits", feature: "resilience" },
  { path: "server.rate_limit", feature: "resilience" },
  { path: "server.coalescing", feature: "caching" },
  { path: "buckets[].s3.retry", feature: "resilience" },
  { path: "buckets[].s3.circuit_breaker", feature: "resilience" },
  { path: "buckets[].s3.rate_limit", feature: "resilience" },
  { path: "buckets[].s3.replicas", feature: "resilience" },
  { path: "buckets[].ip_filter", feature: "resilience and protection" },
  { path: "buckets[].cors", feature: "resilience and protection" },
  { path: "cache.disk", feature: CACHE_TIERS_FEATURE },
  { path: "cache.redis", feature: CACHE_TIERS_FEATURE },
  { path: "cache.warming", feature: "cache prewarming" },
  { path: "metrics", feature: "operations" },
  { path: "audit_log", feature: "operations" },
  { path: "observability", feature: "operations" },
  { path: "image_optimization", feature: "image optimization" },
];

export interface NotYetSupported {
  path: string;
  feature: string;
  when?: (value: unknown) => boolean;
  label?: string;
  fix?: string;
}

/** Keys the original accepted that mean nothing on Deno: accepted with a warning saying why. */
export const IGNORED_KEYS: readonly { path: string; reason: string }[] = [
  {
    path: "server.threads",
    reason: "Deno serves every request on one event loop, so there are no worker threads to size",
  },
  {
    path: "buckets[].s3.connection_pool_size",
    reason: "fetch pools and reuses upstream connections itself",
  },
];

/**
 * Upper bound for every duration in seconds: one day. setTimeout silently fires at once for delays
 * above 2^31-1 ms (~24.8 days), so an unbounded timeout would turn into an immediate one.
 */
export const MAX_SECONDS = 86_400;

/** Key names whose values are credentials: never echoed in messages. */
export function isSecretKey(key: string): boolean {
  return /(^|_)(secret|password|token|access_key)(_|$)/.test(key);
}

/** How a value reads in a message ("got ..."); secrets only show their type. */
export function describeValue(value: unknown, secret = false): string {
  if (value === null || value === undefined) return "an empty value";
  if (typeof value === "string") {
    if (value === "") return 'an empty string ""';
    if (secret) return "a string";
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (secret) return `a ${typeof value}`;
  return String(value);
}

type ErrorFn = (issue: { input?: unknown }) => string;

/** The message for "wrong type or out of range": what was expected, what was found. */
function expecting(expected: string, options: { secret?: boolean; text?: boolean } = {}): ErrorFn {
  return (issue) => {
    const got = describeValue(issue.input, options.secret);
    let hint = "";
    // A quoted number is the commonest way to get a string where a number belongs...
    if (
      typeof issue.input === "string" && !options.secret && /^[-+]?[0-9.]+$/.test(issue.input) &&
      /number|integer/.test(expected)
    ) hint = " (a string; remove the quotes)";
    // ...and an unquoted number or true/false where text belongs (YAML reads `name: 2024` as a number).
    if (options.text && (typeof issue.input === "number" || typeof issue.input === "boolean")) {
      hint = " (quote it to make it a string)";
    }
    return `expected ${expected}, got ${got}${hint}`;
  };
}

/** A mapping section that may be left empty (`server:` with every key commented out) or left out. */
function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => value ?? {}, schema);
}

/** An optional value where an empty value ("" or `key:`) means "not set". */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (value === null || value === "" ? undefined : value),
    schema.optional(),
  );
}

/**
 * An optional mapping section that, once written, is used even if left empty: `jwt:` with every
 * key commented out means "a jwt with the defaults", not "no jwt" (absent is `undefined`).
 */
function present<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? {} : value), schema.optional());
}

/** A list that may be left empty (`claims:`) or out: then `fallback()`. */
function list<T extends z.ZodType>(
  item: T,
  options: { expected: string; fallback: () => z.output<T>[]; empty?: string },
) {
  const error: ErrorFn = (issue) =>
    options.empty !== undefined && Array.isArray(issue.input) && issue.input.length === 0
      ? options.empty
      : expecting(options.expected)(issue);
  const array = z.array(item, { error });
  return z.preprocess(
    (value) => value ?? undefined,
    (options.empty === undefined ? array : array.min(1, { error })).default(options.fallback),
  );
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmptyString(options: { secret?: boolean } = {}) {
  const error = expecting("a non-empty string", { ...options, text: true });
  return z.string({ error }).refine((value) => value.trim() !== "", { error });
}

function seconds(options: { min: "positive" | "zero"; default: number }) {
  const expected = options.min === "positive"
    ? `a number of seconds greater than 0 and at most ${MAX_SECONDS}`
    : `a number of seconds from 0 to ${MAX_SECONDS}`;
  const error = expecting(expected);
  const base = z.number({ error });
  const bounded = options.min === "positive" ? base.gt(0, { error }) : base.min(0, { error });
  return bounded.max(MAX_SECONDS, { error }).default(options.default);
}

// ---- server ---------------------------------------------------------------------------------

/** Why `server.address` is wrong, if it is. */
export function addressProblem(address: string): string | undefined {
  if (address.trim() === "") return 'expected a host name or IP address, got an empty string ""';
  if (address.includes("://")) {
    return `${JSON.stringify(address)} is a URL; server.address is only the host (like "0.0.0.0")`;
  }
  // host:port (one colon) is what the original's example wrongly used; IPv6 has several colons.
  const hostPort = /^([^:]+):(\d+)$/.exec(address);
  if (hostPort) {
    return `${JSON.stringify(address)} includes a port; write address: ${
      JSON.stringify(hostPort[1])
    } and port: ${hostPort[2]}`;
  }
  if (/\s/.test(address)) return `${JSON.stringify(address)} must not contain spaces`;
  return undefined;
}

const SERVER_SHAPE = {
  address: z.string({ error: expecting("a host name or IP address", { text: true }) })
    .superRefine((value, ctx) => {
      const problem = addressProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .default("0.0.0.0"),
  port: z.int({ error: expecting("an integer from 0 to 65535") })
    .min(0, { error: expecting("an integer from 0 to 65535") })
    .max(65535, { error: expecting("an integer from 0 to 65535") })
    .default(8080),
  request_timeout: seconds({ min: "positive", default: 30 }),
  shutdown_timeout: seconds({ min: "zero", default: 30 }),
};

const serverSchema = section(
  z.strictObject(SERVER_SHAPE, { error: expecting("a mapping of server settings") })
    .transform((raw): ServerConfig => ({
      address: raw.address,
      port: raw.port,
      requestTimeout: raw.request_timeout,
      shutdownTimeout: raw.shutdown_timeout,
    })),
);

// ---- buckets --------------------------------------------------------------------------------

/** Why a `path_prefix` is unusable, if it is. */
export function pathPrefixProblem(prefix: string): string | undefined {
  const shown = JSON.stringify(prefix);
  if (prefix === "") return 'expected a path starting with "/", got an empty string ""';
  if (!prefix.startsWith("/")) return `${shown} must start with "/" (write "/${prefix}")`;
  if (/[?#]/.test(prefix)) {
    return `${shown} must not contain "?" or "#": a prefix matches the URL path, which has no query or fragment`;
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what we reject
  if (/[\s\x00-\x1f\x7f]/.test(prefix)) {
    return `${shown} must not contain spaces or control characters`;
  }
  if (prefix.includes("//")) return `${shown} must not contain "//" (an empty path segment)`;
  const segments = prefix.split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    return `${shown} must not contain "." or ".." segments (clients and proxies resolve them away)`;
  }
  return undefined;
}

/** "/public/" and "/public" route the same paths: one trailing "/" is dropped, except for "/". */
export function normalizePathPrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
}

/** Why a name breaks S3's bucket naming rules, if it does (only the rules that can reach S3). */
export function s3BucketNameProblem(name: string): string | undefined {
  const rules = "S3 bucket names are 3-63 characters of lowercase letters, digits, dots and " +
    "hyphens, starting and ending with a letter or digit";
  const bad = (why: string) =>
    `${JSON.stringify(name)} is not a valid S3 bucket name: ${why} (${rules})`;
  if (name.length < 3 || name.length > 63) return bad(`it is ${name.length} characters long`);
  const invalid = /[^a-z0-9.-]/.exec(name);
  if (invalid) {
    const char = invalid[0];
    return bad(
      /[A-Z]/.test(char)
        ? `it contains the uppercase letter "${char}"`
        : `it contains ${JSON.stringify(char)}`,
    );
  }
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) {
    return bad("it must start and end with a letter or digit");
  }
  if (name.includes("..")) return bad("it contains two adjacent dots");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return bad("it is formatted like an IP address");
  return undefined;
}

/** Why an S3 endpoint is unusable, if it is; the URL is not echoed when it carries credentials. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `expected an http:// or https:// URL like "http://127.0.0.1:9000", got ${
      describeValue(endpoint)
    }`;
  }
  if (url.username !== "" || url.password !== "") {
    return "the URL must not contain a user name or password; put credentials in access_key and secret_key";
  }
  const shown = JSON.stringify(endpoint);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${shown} must use http:// or https://`;
  }
  if (url.search !== "" || url.hash !== "" || endpoint.includes("?") || endpoint.includes("#")) {
    return `${shown} must not have a query string or fragment`;
  }
  if (url.pathname !== "/") {
    return `${shown} must not have a path: requests go to "<endpoint>/<bucket>/<key>" (write "${url.origin}")`;
  }
  return undefined;
}

const S3_SHAPE = {
  bucket: z.string({ error: expecting("an S3 bucket name", { text: true }) }).superRefine(
    (value, ctx) => {
      const problem = s3BucketNameProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    },
  ),
  region: nonEmptyString().default("us-east-1"),
  endpoint: optional(
    z.string({ error: expecting("an http:// or https:// URL") })
      .superRefine((value, ctx) => {
        const problem = endpointProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
      })
      // The origin has no trailing "/" and no default port; the S3 client appends "/<bucket>/<key>".
      .transform((value) => new URL(value).origin),
  ),
  access_key: nonEmptyString({ secret: true }),
  secret_key: nonEmptyString({ secret: true }),
  session_token: optional(z.string({ error: expecting("a string", { secret: true, text: true }) })),
  timeout: seconds({ min: "positive", default: 20 }),
};

const s3Schema = z.strictObject(S3_SHAPE, {
  error: expecting("a mapping with bucket, region, access_key and secret_key"),
}).transform((raw): S3Config => ({
  bucket: raw.bucket,
  region: raw.region,
  endpoint: raw.endpoint,
  accessKey: raw.access_key,
  secretKey: raw.secret_key,
  sessionToken: raw.session_token,
  timeout: raw.timeout,
}));

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

const JWT_KEY_SHAPE = {
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

const TOKEN_SOURCE_SHAPE = {
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

const CLAIM_SHAPE = {
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
        return `the \`regex\` value does not compile: ${
          error instanceof Error ? error.message : String(error)
        }`;
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

const JWT_SHAPE = {
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
interface ParsedJwt {
  enabled: boolean;
  config: JwtConfig;
}

const jwtSchema = z.strictObject(JWT_SHAPE, {
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

const AUTH_SHAPE = {
  // No default: load.ts reports `jwt` without `enabled` (fail closed: the transform protects).
  enabled: z.boolean({ error: expecting("true or false") }).optional(),
  jwt: present(jwtSchema),
};

const authSchema = z.strictObject(AUTH_SHAPE, {
  error: expecting("a mapping like {enabled: true} or {enabled: false}"),
}).transform((raw) => ({ enabled: raw.enabled ?? raw.jwt !== undefined, jwt: raw.jwt }));

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

/** Why the URL of a service (OPA, OpenFGA, a JWKS) is unusable, if it is. */
export function serviceUrlProblem(
  value: string,
  options: { example: string; query: boolean },
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an http:// or https:// URL like ${JSON.stringify(options.example)}, got ${
      describeValue(value)
    }`;
  }
  if (url.username !== "" || url.password !== "") {
    return "the URL must not contain a user name or password (URLs show up in logs)";
  }
  const shown = JSON.stringify(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${shown} must use http:// or https://`;
  }
  if (url.hash !== "" || value.includes("#")) return `${shown} must not have a fragment`;
  if (!options.query && (url.search !== "" || value.includes("?"))) {
    return `${shown} must not have a query string: it is a base URL that paths are added to`;
  }
  return undefined;
}

function serviceUrl(options: { example: string; query: boolean }) {
  return z.string({ error: expecting(`an http:// or https:// URL like "${options.example}"`) })
    .superRefine((value, ctx) => {
      const problem = serviceUrlProblem(value, options);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    });
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

const OPA_SHAPE = {
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

const OPENFGA_SHAPE = {
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

const authorizationSchema = z.discriminatedUnion("type", [
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

// ---- signed URLs ----------------------------------------------------------------------------

/** The shortest secret a signed-URL key or an HS* JWT key should have. */
export const MIN_SECRET_LENGTH = 32;
export const MAKE_SECRET = "make one with `openssl rand -base64 48`";
/** Longest `signed_urls.max_expiry_seconds`: one year. */
export const MAX_EXPIRY_SECONDS = 31_536_000;

const signedUrlSecret = z.string({
  error: expecting(`a secret of at least ${MIN_SECRET_LENGTH} characters (${MAKE_SECRET})`, {
    secret: true,
    text: true,
  }),
}).superRefine((value, ctx) => {
  if (value.length >= MIN_SECRET_LENGTH) return;
  ctx.addIssue({
    code: "custom",
    message: value === ""
      ? `expected a secret of at least ${MIN_SECRET_LENGTH} characters (${MAKE_SECRET}), got an empty string ""`
      : `the secret is shorter than ${MIN_SECRET_LENGTH} characters; ${MAKE_SECRET}`,
    input: value,
  });
});

const SIGNED_URL_KEY_SHAPE = {
  id: z.string({ error: expecting('a key id like "2024-06"', { text: true }) }).regex(
    /^[A-Za-z0-9._~-]+$/,
    {
      error: expecting(
        'a key id of letters, digits, ".", "_", "~" and "-" (it is part of every signed URL)',
      ),
    },
  ),
  secret: signedUrlSecret,
};

const signedUrlKeysError: ErrorFn = (issue) =>
  Array.isArray(issue.input) && issue.input.length === 0
    ? `at least one key is needed, like [{id: "2024-06", secret: "\${SIGNED_URL_SECRET}"}] (${MAKE_SECRET})`
    : expecting("a list of keys like [{id: ..., secret: ...}]")(issue);

const SIGNED_URLS_SHAPE = {
  keys: z.array(
    z.strictObject(SIGNED_URL_KEY_SHAPE, { error: expecting("a mapping with id and secret") }),
    { error: signedUrlKeysError },
  ).min(1, { error: signedUrlKeysError }),
  max_expiry_seconds: (() => {
    const error = expecting(`a whole number of seconds from 1 to ${MAX_EXPIRY_SECONDS} (a year)`);
    return z.int({ error }).min(1, { error }).max(MAX_EXPIRY_SECONDS, { error }).default(604_800);
  })(),
};

const signedUrlsSchema = z.strictObject(SIGNED_URLS_SHAPE, {
  error: expecting("a mapping with keys and max_expiry_seconds"),
}).transform((raw): SignedUrlsConfig => ({
  keys: raw.keys.map((entry) => ({ id: entry.id, secret: entry.secret })),
  maxExpirySeconds: raw.max_expiry_seconds,
}));

// ---- cache ----------------------------------------------------------------------------------

/** Bytes in a MiB: every `*_mb` key counts in MiB (fractions allowed). */
export const MIB = 1024 * 1024;
/** Largest `*_mb` value: 1 TiB (byte counts stay exact integers far below 2^53). */
export const MAX_MEGABYTES = 1_048_576;

/** `mb` MiB in whole bytes (rounded down). */
export function megabytesToBytes(mb: number): number {
  return Math.floor(mb * MIB);
}

/** A size in MiB: > 0 (fractions allowed, at least one byte), at most MAX_MEGABYTES. */
function megabytes() {
  const expected =
    `a number of MiB greater than 0 and at most ${MAX_MEGABYTES} (1 TiB), like 10 or 0.5`;
  return z.number({ error: expecting(expected) }).superRefine((value, ctx) => {
    if (value > 0 && value <= MAX_MEGABYTES && megabytesToBytes(value) >= 1) return;
    ctx.addIssue({
      code: "custom",
      input: value,
      message: value > 0 && value <= MAX_MEGABYTES
        ? `${value} MiB is less than one byte; expected ${expected}`
        : expecting(expected)({ input: value }),
    });
  });
}

/** A cache TTL: whole seconds, 0 (never cached without S3's max-age) to MAX_SECONDS. */
function ttlSeconds() {
  const error = expecting(`a whole number of seconds from 0 to ${MAX_SECONDS}`);
  return z.int({ error }).min(0, { error }).max(MAX_SECONDS, { error });
}

/** Every layer name the original knows; only "memory" is supported so far. */
export const CACHE_LAYERS = ["memory", "disk", "redis"] as const;

/** Why an entry of `cache.cache_layers` is unusable, if it is. */
export function cacheLayerProblem(layer: string): string | undefined {
  if (layer === "memory") return undefined;
  if (layer === "disk" || layer === "redis") {
    return `\`${layer}\` is not supported yet (it lands with ${CACHE_TIERS_FEATURE}); remove it ` +
      "from cache_layers for now";
  }
  const shown = JSON.stringify(layer);
  const known = CACHE_LAYERS.find((name) => name === layer.trim().toLowerCase());
  if (known !== undefined) return `unknown cache layer ${shown}; write "${known}" (lowercase)`;
  return `unknown cache layer ${shown}; the layers are "memory", "disk" and "redis" (only ` +
    '"memory" is supported so far)';
}

const cacheLayer = z.string({
  error: expecting('a cache layer name like "memory"', { text: true }),
})
  .superRefine((value, ctx) => {
    const problem = cacheLayerProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });

const cacheLayers = list(cacheLayer, {
  expected: "a list of cache layers like [memory]",
  fallback: () => ["memory"],
  empty: "at least one layer is needed, like [memory]; to turn the cache off, set `enabled: false`",
}).superRefine((layers, ctx) => {
  const seen = new Map<string, number>();
  layers.forEach((layer, index) => {
    const first = seen.get(layer);
    if (first === undefined) {
      seen.set(layer, index);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: [index],
      input: layer,
      message: `${
        JSON.stringify(layer)
      } is listed twice (cache_layers[${first}] is the same layer); list each layer once`,
    });
  });
});

/**
 * The message for `max_item_size_mb` > `max_cache_size_mb`: shared by load.ts's check (which
 * knows which values are defaults) and the schema's backstop.
 */
export function cacheSizeProblem(
  item: number,
  cache: number,
  defaults: { item?: boolean; cache?: boolean } = {},
): string {
  const note = (isDefault: boolean | undefined) => (isDefault ? ", the default" : "");
  return `max_cache_size_mb (${cache}${note(defaults.cache)}) is smaller than max_item_size_mb ` +
    `(${item}${note(defaults.item)}): the cache must have room for its largest item; raise ` +
    "max_cache_size_mb or lower max_item_size_mb";
}

/** Defaults of `cache.memory`, in MiB and seconds as written in YAML. */
export const MEMORY_CACHE_DEFAULTS = {
  max_item_size_mb: 10,
  max_cache_size_mb: 1024,
  default_ttl_seconds: 3600,
} as const;

const MEMORY_CACHE_SHAPE = {
  max_item_size_mb: megabytes().default(MEMORY_CACHE_DEFAULTS.max_item_size_mb),
  max_cache_size_mb: megabytes().default(MEMORY_CACHE_DEFAULTS.max_cache_size_mb),
  default_ttl_seconds: ttlSeconds().default(MEMORY_CACHE_DEFAULTS.default_ttl_seconds),
};

const memoryCacheSchema = section(
  z.strictObject(MEMORY_CACHE_SHAPE, {
    error: expecting("a mapping of memory cache settings (max_item_size_mb, max_cache_size_mb...)"),
  }).superRefine((raw, ctx) => {
    // Backstop: load.ts reports this at the offending key.
    if (raw.max_item_size_mb <= raw.max_cache_size_mb) return;
    ctx.addIssue({
      code: "custom",
      message: cacheSizeProblem(raw.max_item_size_mb, raw.max_cache_size_mb),
      input: raw,
      params: { backstop: true },
    });
  }).transform((raw): MemoryCacheConfig => ({
    maxItemBytes: megabytesToBytes(raw.max_item_size_mb),
    maxCacheBytes: megabytesToBytes(raw.max_cache_size_mb),
    defaultTtlSeconds: raw.default_ttl_seconds,
  })),
);

const CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  cache_layers: cacheLayers,
  memory: memoryCacheSchema,
};

/** The top-level `cache`: undefined when `enabled: false` (its keys are still checked). */
const cacheSchema = z.strictObject(CACHE_SHAPE, {
  error: expecting("a mapping of cache settings like {cache_layers: [memory]}"),
}).transform((raw): CacheConfig | undefined => (raw.enabled ? { memory: raw.memory } : undefined));

const BUCKET_CACHE_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  ttl_seconds: optional(ttlSeconds()),
  max_item_size_mb: optional(megabytes()),
};

const bucketCacheSchema = z.strictObject(BUCKET_CACHE_SHAPE, {
  error: expecting("a mapping like {enabled: true, ttl_seconds: 3600, max_item_size_mb: 10}"),
}).transform((raw): BucketCacheConfig => ({
  enabled: raw.enabled,
  ttlSeconds: raw.ttl_seconds,
  maxItemBytes: raw.max_item_size_mb === undefined
    ? undefined
    : megabytesToBytes(raw.max_item_size_mb),
}));

// ---- bucket ---------------------------------------------------------------------------------

const BUCKET_SHAPE = {
  name: nonEmptyString(),
  path_prefix: z.string({ error: expecting('a path starting with "/"') })
    .superRefine((value, ctx) => {
      const problem = pathPrefixProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .transform(normalizePathPrefix),
  s3: s3Schema,
  auth: optional(authSchema),
  authorization: present(authorizationSchema),
  signed_urls: present(signedUrlsSchema),
  cache: present(bucketCacheSchema),
};

/** A bucket before the top-level `jwt` is known: `auth` is resolved by the root transform. */
interface ParsedBucket {
  config: BucketConfig;
  auth: { enabled: boolean; jwt: ParsedJwt | undefined };
}

const bucketSchema = z.strictObject(BUCKET_SHAPE, {
  error: expecting("a bucket mapping with name, path_prefix and s3"),
}).transform((raw): ParsedBucket => {
  const config: BucketConfig = { name: raw.name, pathPrefix: raw.path_prefix, s3: raw.s3 };
  if (raw.authorization) config.authorization = raw.authorization;
  if (raw.signed_urls) config.signedUrls = raw.signed_urls;
  if (raw.cache) config.cache = raw.cache;
  return { config, auth: raw.auth ?? { enabled: false, jwt: undefined } };
});

const bucketsError: ErrorFn = (issue) =>
  issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0)
    ? "at least one bucket is required; add an entry with name, path_prefix and s3 under `buckets:`"
    : expecting("a list of buckets (each with name, path_prefix and s3)")(issue);

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

// ---- admin ----------------------------------------------------------------------------------

const ADMIN_SHAPE = {
  allow_unauthenticated: z.boolean({ error: expecting("true or false") }).default(false),
};

const adminSchema = z.strictObject(ADMIN_SHAPE, {
  error: expecting("a mapping like {allow_unauthenticated: false}"),
}).transform((raw): AdminConfig => ({ allowUnauthenticated: raw.allow_unauthenticated }));

// ---- logging --------------------------------------------------------------------------------

const LOGGING_SHAPE = {
  level: z.enum(LOG_LEVELS, { error: expecting(oneOf(LOG_LEVELS)) }).default("info"),
  format: z.enum(["json", "pretty"], { error: expecting(oneOf(["json", "pretty"])) })
    .default("json"),
};

const loggingSchema = section(
  z.strictObject(LOGGING_SHAPE, { error: expecting("a mapping of logging settings") })
    .transform((raw): LoggingConfig => ({ level: raw.level, format: raw.format })),
);

function oneOf(values: readonly string[]): string {
  return `one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
}

// ---- root -----------------------------------------------------------------------------------

const ROOT_SHAPE = {
  server: serverSchema,
  buckets: z.array(bucketSchema, { error: bucketsError }).min(1, { error: bucketsError }),
  logging: loggingSchema,
  jwt: present(jwtSchema),
  cache: present(cacheSchema),
  admin: present(adminSchema),
};

/** The whole config: parse the YAML's plain value with it (after NOT_YET_SUPPORTED/IGNORED_KEYS). */
export const configSchema = z.strictObject(ROOT_SHAPE, {
  error: expecting("a mapping with server, buckets and logging"),
}).transform((raw, ctx): Config => {
  const top = raw.jwt?.enabled ? raw.jwt.config : undefined;
  const buckets = raw.buckets.map(({ config, auth }, index) => {
    if (!auth.enabled) return config;
    // A bucket's own jwt with `enabled: false` is an error (load.ts); it never guards anything.
    const jwt = (auth.jwt?.enabled ? auth.jwt.config : undefined) ?? top;
    if (jwt) {
      config.jwt = jwt;
    } else {
      // Backstop: load.ts reports this with a position; should the two ever disagree, the config
      // is still rejected instead of serving the bucket without authentication.
      ctx.addIssue({
        code: "custom",
        path: ["buckets", index, "auth", "enabled"],
        message: authWithoutJwtMessage(config.name, index, raw.jwt ? "disabled" : "absent"),
        input: true,
        params: { backstop: true },
      });
    }
    return config;
  });
  const config: Config = { server: raw.server, buckets, logging: raw.logging };
  if (top) config.jwt = top;
  if (raw.cache) config.cache = raw.cache;
  if (raw.admin) config.admin = raw.admin;
  return config;
});

/**
 * The keys the schema accepts in each mapping, by path pattern ("" is the root, "[]" any list
 * element): used for "did you mean" hints and to list the allowed keys.
 */
export const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(ROOT_SHAPE),
  server: Object.keys(SERVER_SHAPE),
  "buckets[]": Object.keys(BUCKET_SHAPE),
  "buckets[].s3": Object.keys(S3_SHAPE),
  "buckets[].auth": Object.keys(AUTH_SHAPE),
  ...jwtSectionKeys("buckets[].auth.jwt"),
  "buckets[].authorization": [
    ...new Set([...Object.keys(OPA_SHAPE), ...Object.keys(OPENFGA_SHAPE)]),
  ],
  "buckets[].signed_urls": Object.keys(SIGNED_URLS_SHAPE),
  "buckets[].signed_urls.keys[]": Object.keys(SIGNED_URL_KEY_SHAPE),
  "buckets[].cache": Object.keys(BUCKET_CACHE_SHAPE),
  logging: Object.keys(LOGGING_SHAPE),
  ...jwtSectionKeys("jwt"),
  cache: Object.keys(CACHE_SHAPE),
  "cache.memory": Object.keys(MEMORY_CACHE_SHAPE),
  admin: Object.keys(ADMIN_SHAPE),
};

/**
 * Mappings whose keys depend on a discriminator (`type`): an unknown key is checked against the
 * keys of the mapping's own type, and a key of another type says so.
 */
export const VARIANT_KEYS: Readonly<
  Record<string, { discriminator: string; keys: Readonly<Record<string, readonly string[]>> }>
> = {
  "buckets[].authorization": {
    discriminator: "type",
    keys: { opa: Object.keys(OPA_SHAPE), openfga: Object.keys(OPENFGA_SHAPE) },
  },
};

function jwtSectionKeys(base: string): Record<string, readonly string[]> {
  return {
    [base]: Object.keys(JWT_SHAPE),
    [`${base}.keys[]`]: Object.keys(JWT_KEY_SHAPE),
    [`${base}.token_sources[]`]: Object.keys(TOKEN_SOURCE_SHAPE),
    [`${base}.claims[]`]: Object.keys(CLAIM_SHAPE),
    [`${base}.admin_claims[]`]: Object.keys(CLAIM_SHAPE),
  };
}
