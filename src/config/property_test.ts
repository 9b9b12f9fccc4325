// Owns the fast-check property tests of config loading: it never throws, and valid configs round-trip.

import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "yaml";
import { type ConfigResult, formatIssue, parseConfig } from "./load.ts";
import { CLAIM_OPERATORS, JWT_ALGORITHMS, LOG_LEVELS } from "./types.ts";
import type {
  AdminConfig,
  AuthorizationConfig,
  BucketCacheConfig,
  BucketConfig,
  ClaimRule,
  Config,
  JwtAlgorithm,
  JwtConfig,
  SignedUrlsConfig,
  TokenSourceConfig,
} from "./types.ts";

/** A ConfigResult of the right shape, with no internal error, and every issue well formed. */
function assertWellFormed(result: ConfigResult) {
  assert.equal(typeof result.ok, "boolean");
  const issues = result.ok ? result.warnings : [...result.errors, ...result.warnings];
  if (!result.ok) assert.ok(result.errors.length > 0, "an invalid config has at least one error");
  for (const issue of issues) {
    assert.equal(typeof issue.path, "string");
    assert.equal(typeof issue.message, "string");
    assert.ok(issue.message.length > 0);
    assert.ok(!issue.message.startsWith("internal error"), formatIssue("fuzz", issue));
    // Every issue about a place in the document says where it is.
    if (issue.path !== "") assert.ok((issue.line ?? 0) >= 1, formatIssue("fuzz", issue));
  }
}

/** Pieces that make text look like a config, so the fuzzer reaches past the YAML parser. */
const TOKENS = [
  "server:",
  "buckets:",
  "logging:",
  "s3:",
  "  ",
  "    ",
  "- ",
  "\n",
  ": ",
  "port: ",
  "name: ",
  "path_prefix: ",
  "bucket: ",
  "access_key: ",
  "secret_key: ",
  "endpoint: ",
  "${",
  "}",
  "$${",
  "${X:-",
  ":-",
  "[",
  "]",
  "{",
  "}",
  ",",
  '"',
  "'",
  "#",
  "&a ",
  "*a",
  "<<: ",
  "!!str ",
  "---\n",
  "~",
  "8080",
  "-1",
  "/a",
  "/",
  "abc",
  "true",
  "1e400",
  "0x1F",
  "\t",
  "__proto__",
  "constructor",
];

const yamlish = fc.array(
  fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })),
  { maxLength: 60 },
).map((parts) => parts.join(""));

const ENV = { X: "1", PORT: "8080", EMPTY: "", WEIRD: "a: [b" };

Deno.test("parseConfig() never throws on random YAML-ish text", () => {
  fc.assert(
    fc.property(yamlish, (text) => {
      assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseConfig() never throws on arbitrary strings", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 1000 },
  );
});

/** Serialises a random value; values yaml cannot write are skipped. */
function serialise(value: unknown): string | undefined {
  try {
    return stringify(value);
  } catch {
    return undefined;
  }
}

const any = fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true });

/** A jwt mapping with the right keys and random values (valid or not). */
const jwtish = fc.record({
  enabled: fc.oneof(any, fc.boolean()),
  algorithm: fc.oneof(any, fc.constantFrom(...JWT_ALGORITHMS)),
  secret: any,
  rsa_public_key_path: any,
  ecdsa_public_key_path: any,
  keys: fc.oneof(
    any,
    fc.array(fc.record({
      id: any,
      algorithm: fc.oneof(any, fc.constantFrom(...JWT_ALGORITHMS)),
      secret: any,
      path: any,
    }, { requiredKeys: [] })),
  ),
  jwks_url: any,
  token_sources: fc.oneof(
    any,
    fc.array(fc.record({
      type: fc.oneof(any, fc.constantFrom("bearer", "header", "query", "cookie")),
      name: any,
      prefix: any,
    }, { requiredKeys: [] })),
  ),
  claims: fc.oneof(
    any,
    fc.array(fc.record({
      claim: any,
      operator: fc.oneof(any, fc.constantFrom(...CLAIM_OPERATORS)),
      value: any,
    }, { requiredKeys: [] })),
  ),
}, { requiredKeys: [] });

const cacheish = fc.record({
  enabled: fc.oneof(any, fc.boolean()),
  cache_layers: fc.oneof(any, fc.array(fc.oneof(any, fc.constantFrom("memory", "disk", "redis")))),
  memory: fc.oneof(
    any,
    fc.record({
      max_item_size_mb: fc.oneof(any, fc.double()),
      max_cache_size_mb: fc.oneof(any, fc.double()),
      default_ttl_seconds: any,
    }, { requiredKeys: [] }),
  ),
  redis: any,
  warming: any,
}, { requiredKeys: [] });

const bucketCacheish = fc.record({
  enabled: fc.oneof(any, fc.boolean()),
  ttl_seconds: any,
  max_item_size_mb: fc.oneof(any, fc.double()),
}, { requiredKeys: [] });

const authorizationish = fc.record({
  type: fc.oneof(any, fc.constantFrom("opa", "openfga")),
  opa_url: any,
  opa_policy_path: any,
  opa_fail_mode: any,
  openfga_endpoint: any,
  openfga_store_id: any,
  openfga_api_token: any,
}, { requiredKeys: [] });

Deno.test("parseConfig() never throws on random objects, anywhere in the tree", () => {
  const near = fc.record(
    {
      server: fc.oneof(
        any,
        fc.record({ port: any, address: any, threads: any }, { requiredKeys: [] }),
      ),
      buckets: fc.oneof(
        any,
        fc.array(
          fc.record({
            name: any,
            path_prefix: any,
            auth: fc.oneof(
              any,
              fc.record({ enabled: any, jwt: fc.oneof(any, jwtish) }, { requiredKeys: [] }),
            ),
            authorization: fc.oneof(any, authorizationish),
            cache: fc.oneof(any, bucketCacheish),
            signed_urls: fc.oneof(
              any,
              fc.record({ keys: fc.oneof(any, fc.array(any)), max_expiry_seconds: any }, {
                requiredKeys: [],
              }),
            ),
            s3: fc.oneof(
              any,
              fc.record(
                { bucket: any, endpoint: any, access_key: any, secret_key: any, timeout: any },
                { requiredKeys: [] },
              ),
            ),
          }, { requiredKeys: [] }),
          { maxLength: 3 },
        ),
      ),
      logging: any,
      cache: fc.oneof(any, cacheish),
      jwt: fc.oneof(any, jwtish),
      admin: fc.oneof(any, fc.record({ allow_unauthenticated: any }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(any, near), (value) => {
      const text = serialise(value);
      if (text !== undefined) assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 1500 },
  );
});

// ---- valid configs round-trip ---------------------------------------------------------------

/** `${` in a generated value is written `$${` so that it survives substitution unchanged. */
// (A function replacement: in a replacement *string*, "$$" would stand for one "$".)
const escape = (value: string) => value.replaceAll("${", () => "$${");

/** Any string with something other than whitespace (credentials must not be blank). */
const credential = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" })
  .filter((value) => value.trim() !== "");

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);

const bucketName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/);

const prefix = fc.array(fc.stringMatching(/^[A-Za-z0-9_~-]{1,8}$/), { maxLength: 3 })
  .chain((segments) =>
    fc.constantFrom("", "/").map((trailing) => ({
      written: `/${segments.join("/")}${segments.length > 0 ? trailing : ""}`,
      normal: `/${segments.join("/")}`,
    }))
  );

const seconds = fc.oneof(
  fc.integer({ min: 1, max: 86_400 }),
  fc.double({ min: 0.001, max: 86_400, noNaN: true }),
);

const endpoint = fc.option(
  fc.record({
    scheme: fc.constantFrom("http", "https"),
    // A host label must start with a letter: an all-digit host is read as an IPv4 number. An
    // "xn--" label is punycode, and most random ones do not decode: not a valid host.
    host: fc.oneof(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/).filter((h) => !h.startsWith("xn--")),
      fc.constant("127.0.0.1"),
    ),
    port: fc.option(fc.integer({ min: 1, max: 65535 })),
    slash: fc.boolean(),
  }),
  { nil: undefined },
);

// ---- random valid authentication configs ----

/** A secret of at least 32 characters (no warning) with something other than whitespace. */
const secret = fc.string({ minLength: 32, maxLength: 64, unit: "grapheme" })
  .filter((value) => value.trim() !== "");

/** Text that is not blank (claims, names, issuers...). */
const text = fc.string({ minLength: 1, maxLength: 20 }).filter((value) => value.trim() !== "");

const pemPath = fc.stringMatching(/^(\/etc\/keys|\.\/keys)\/[a-z0-9-]{1,12}\.pem$/);

/** A JWKS URL that raises no warning: https anywhere, or http on loopback. */
const jwksUrl = fc.oneof(
  fc.stringMatching(/^https:\/\/[a-z][a-z0-9-]{0,10}\.example\.com(\/[a-z.-]{1,12}){0,2}$/),
  fc.integer({ min: 1, max: 65535 }).map((port) => `http://127.0.0.1:${port}/jwks`),
);

type Family = "hmac" | "rsa" | "ecdsa" | "eddsa";
const familyOf = (algorithm: JwtAlgorithm): Family =>
  algorithm.startsWith("HS")
    ? "hmac"
    : algorithm.startsWith("RS") || algorithm.startsWith("PS")
    ? "rsa"
    : algorithm.startsWith("ES")
    ? "ecdsa"
    : "eddsa";

const jwtKey = fc.constantFrom(...JWT_ALGORITHMS).chain((algorithm) =>
  fc.record({
    id: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
    algorithm: fc.constant(algorithm),
    // Each key has exactly the material its algorithm uses.
    material: familyOf(algorithm) === "hmac"
      ? secret.map((value) => ({ secret: value }))
      : pemPath.map((path) => ({ path })),
  })
);

const tokenSource: fc.Arbitrary<TokenSourceConfig> = fc.oneof(
  fc.constant<TokenSourceConfig>({ type: "bearer", name: undefined, prefix: undefined }),
  fc.record({
    type: fc.constant("header" as const),
    // Never `Authorization` without a prefix (that is a warning).
    name: fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/),
    prefix: fc.option(text, { nil: undefined }),
  }),
  fc.record({
    type: fc.constant("query" as const),
    name: text,
    prefix: fc.constant(undefined),
  }),
  fc.record({
    type: fc.constant("cookie" as const),
    name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
    prefix: fc.constant(undefined),
  }),
);

const scalar = fc.oneof(text, fc.integer(), fc.boolean());
const regexSource = fc.constantFrom("^a+$", "@example\\.com$", "", "(admin|editor)", "[0-9]{3}");

const claimRule: fc.Arbitrary<ClaimRule> = fc.record({
  claim: fc.stringMatching(/^[a-z_]{1,8}(\.[a-z_]{1,8}){0,2}$/),
  rule: fc.oneof(
    fc.record({
      operator: fc.constant("equals" as const),
      value: fc.oneof(scalar, fc.array(scalar)),
    }),
    fc.record({ operator: fc.constant("in" as const), value: fc.array(scalar, { minLength: 1 }) }),
    fc.record({ operator: fc.constant("contains" as const), value: fc.oneof(text, fc.integer()) }),
    fc.record({
      operator: fc.constantFrom("gt" as const, "lt" as const, "gte" as const, "lte" as const),
      value: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    }),
    fc.record({ operator: fc.constant("regex" as const), value: regexSource }),
  ),
}).map(({ claim, rule }) => ({ claim, operator: rule.operator, value: rule.value }));

/** A valid jwt: some key material that fits the algorithm, never any that does not (warnings). */
const jwt = fc.record({
  algorithm: fc.option(fc.constantFrom(...JWT_ALGORITHMS), { nil: undefined }),
  keys: fc.uniqueArray(jwtKey, { maxLength: 3, selector: (key) => key.id }),
  secret,
  path: pemPath,
  jwksUrl: fc.option(jwksUrl, { nil: undefined }),
  single: fc.boolean(),
  jwksRefreshIntervalSecs: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
  issuer: fc.option(text, { nil: undefined }),
  audience: fc.option(text, { nil: undefined }),
  leewaySeconds: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
  tokenSources: fc.option(fc.array(tokenSource, { minLength: 1, maxLength: 4 }), {
    nil: undefined,
  }),
  claims: fc.option(fc.array(claimRule, { maxLength: 3 }), { nil: undefined }),
  adminClaims: fc.option(fc.array(claimRule, { maxLength: 2 }), { nil: undefined }),
}).filter((j) => {
  // At least one source of keys the algorithm can use.
  const family = familyOf(j.algorithm ?? "HS256");
  const jwks = family !== "hmac" && j.jwksUrl !== undefined;
  return j.keys.length > 0 || (j.single && family !== "eddsa") || jwks;
});

type GeneratedJwt = typeof jwt extends fc.Arbitrary<infer T> ? T : never;

/** The snake_case mapping of a generated jwt; `enabled` is written when given. */
function jwtRaw(j: GeneratedJwt, enabled?: boolean): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (enabled !== undefined) raw.enabled = enabled;
  const family = familyOf(j.algorithm ?? "HS256");
  if (j.algorithm !== undefined) raw.algorithm = j.algorithm;
  if (j.single && family === "hmac") raw.secret = escape(j.secret);
  if (j.single && family === "rsa") raw.rsa_public_key_path = j.path;
  if (j.single && family === "ecdsa") raw.ecdsa_public_key_path = j.path;
  if (j.keys.length > 0) {
    raw.keys = j.keys.map((key) => ({
      id: key.id,
      algorithm: key.algorithm,
      ...("secret" in key.material
        ? { secret: escape(key.material.secret) }
        : { path: key.material.path }),
    }));
  }
  // A JWKS next to an HS* algorithm is fine only with a key; it is never a warning.
  if (j.jwksUrl !== undefined && family !== "hmac") raw.jwks_url = j.jwksUrl;
  if (j.jwksRefreshIntervalSecs !== undefined) {
    raw.jwks_refresh_interval_secs = j.jwksRefreshIntervalSecs;
  }
  if (j.issuer !== undefined) raw.issuer = escape(j.issuer);
  if (j.audience !== undefined) raw.audience = escape(j.audience);
  if (j.leewaySeconds !== undefined) raw.leeway_seconds = j.leewaySeconds;
  if (j.tokenSources !== undefined) {
    raw.token_sources = j.tokenSources.map((source) => {
      const out: Record<string, unknown> = { type: source.type };
      if (source.name !== undefined) out.name = escape(source.name);
      if (source.prefix !== undefined) out.prefix = escape(source.prefix);
      return out;
    });
  }
  const rules = (list: ClaimRule[]) =>
    list.map((rule) => ({
      claim: rule.claim,
      operator: rule.operator,
      value: escapeDeep(rule.value),
    }));
  if (j.claims !== undefined) raw.claims = rules(j.claims);
  if (j.adminClaims !== undefined) raw.admin_claims = rules(j.adminClaims);
  return raw;
}

function jwtExpected(j: GeneratedJwt): JwtConfig {
  const algorithm = j.algorithm ?? "HS256";
  const family = familyOf(algorithm);
  return {
    algorithm,
    secret: j.single && family === "hmac" ? j.secret : undefined,
    rsaPublicKeyPath: j.single && family === "rsa" ? j.path : undefined,
    ecdsaPublicKeyPath: j.single && family === "ecdsa" ? j.path : undefined,
    keys: j.keys.map((key) => ({
      id: key.id,
      algorithm: key.algorithm,
      secret: "secret" in key.material ? key.material.secret : undefined,
      path: "path" in key.material ? key.material.path : undefined,
    })),
    jwksUrl: j.jwksUrl !== undefined && family !== "hmac" ? new URL(j.jwksUrl).href : undefined,
    jwksRefreshIntervalSecs: j.jwksRefreshIntervalSecs ?? 300,
    issuer: j.issuer,
    audience: j.audience,
    leewaySeconds: j.leewaySeconds ?? 60,
    // Copies: fc.record may build null-prototype objects, which deepEqual tells apart.
    tokenSources: (j.tokenSources ?? [{ type: "bearer", name: undefined, prefix: undefined }])
      .map((source) => ({ type: source.type, name: source.name, prefix: source.prefix })),
    claims: j.claims ?? [],
    adminClaims: j.adminClaims ?? [],
  };
}

/** `${` in generated text inside lists and mappings too. */
function escapeDeep(value: unknown): unknown {
  if (typeof value === "string") return escape(value);
  if (Array.isArray(value)) return value.map(escapeDeep);
  return value;
}

const serviceBase = fc.record({
  scheme: fc.constantFrom("http", "https"),
  // Not "xn--" (punycode that mostly does not decode).
  host: fc.oneof(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]$/).filter((h) => !h.startsWith("xn--")),
    fc.constant("127.0.0.1"),
  ),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  path: fc.stringMatching(/^(\/[a-z0-9-]{1,8}){0,2}\/?$/),
}).map((u) => `${u.scheme}://${u.host}${u.port === undefined ? "" : `:${u.port}`}${u.path}`);

const openFgaId = fc.stringMatching(/^[0-9A-Z]{26}$/);

const authorization = fc.oneof(
  fc.record({
    type: fc.constant("opa" as const),
    url: serviceBase,
    leadingSlash: fc.boolean(),
    policy: fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}(\/[a-z_][a-z0-9_-]{0,8}){0,3}$/),
    timeoutMs: fc.option(fc.integer({ min: 1, max: 86_400_000 }), { nil: undefined }),
    cacheTtlSeconds: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
    failMode: fc.option(fc.constantFrom("open" as const, "closed" as const), { nil: undefined }),
  }),
  fc.record({
    type: fc.constant("openfga" as const),
    url: serviceBase,
    storeId: openFgaId,
    modelId: fc.option(openFgaId, { nil: undefined }),
    apiToken: fc.option(credential, { nil: undefined }),
    timeoutMs: fc.option(fc.integer({ min: 1, max: 86_400_000 }), { nil: undefined }),
    cacheTtlSeconds: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
    failMode: fc.option(fc.constantFrom("open" as const, "closed" as const), { nil: undefined }),
    userClaim: fc.option(fc.stringMatching(/^[a-z_]{1,8}(\.[a-z_]{1,8}){0,2}$/), {
      nil: undefined,
    }),
  }),
);

type GeneratedAuthorization = typeof authorization extends fc.Arbitrary<infer T> ? T : never;

function authorizationRaw(a: GeneratedAuthorization): Record<string, unknown> {
  const raw: Record<string, unknown> = { type: a.type };
  if (a.type === "opa") {
    raw.opa_url = a.url;
    raw.opa_policy_path = (a.leadingSlash ? "/" : "") + a.policy;
    if (a.timeoutMs !== undefined) raw.opa_timeout_ms = a.timeoutMs;
    if (a.cacheTtlSeconds !== undefined) raw.opa_cache_ttl_seconds = a.cacheTtlSeconds;
    if (a.failMode !== undefined) raw.opa_fail_mode = a.failMode;
  } else {
    raw.openfga_endpoint = a.url;
    raw.openfga_store_id = a.storeId;
    if (a.modelId !== undefined) raw.openfga_authorization_model_id = a.modelId;
    if (a.apiToken !== undefined) raw.openfga_api_token = escape(a.apiToken);
    if (a.timeoutMs !== undefined) raw.openfga_timeout_ms = a.timeoutMs;
    if (a.cacheTtlSeconds !== undefined) raw.openfga_cache_ttl_seconds = a.cacheTtlSeconds;
    if (a.failMode !== undefined) raw.openfga_fail_mode = a.failMode;
    if (a.userClaim !== undefined) raw.openfga_user_claim = a.userClaim;
  }
  return raw;
}

function authorizationExpected(a: GeneratedAuthorization): AuthorizationConfig {
  const base = new URL(a.url).href.replace(/\/+$/, "");
  return a.type === "opa"
    ? {
      type: "opa",
      url: base,
      policyPath: a.policy,
      timeoutMs: a.timeoutMs ?? 100,
      cacheTtlSeconds: a.cacheTtlSeconds ?? 60,
      failMode: a.failMode ?? "closed",
    }
    : {
      type: "openfga",
      endpoint: base,
      storeId: a.storeId,
      authorizationModelId: a.modelId,
      apiToken: a.apiToken,
      timeoutMs: a.timeoutMs ?? 100,
      cacheTtlSeconds: a.cacheTtlSeconds ?? 60,
      failMode: a.failMode ?? "closed",
      userClaim: a.userClaim ?? "sub",
    };
}

const signedUrls = fc.record({
  keys: fc.uniqueArray(
    fc.record({ id: fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/), secret }),
    { minLength: 1, maxLength: 3, selector: (key) => key.id },
  ),
  maxExpirySeconds: fc.option(fc.integer({ min: 1, max: 31_536_000 }), { nil: undefined }),
});

// ---- random valid cache configs ----

/** A size in MiB: whole or fractional, from one byte to the 1 TiB bound. */
const megabytes = fc.oneof(
  fc.integer({ min: 1, max: 1_048_576 }),
  fc.double({ min: 1 / 1_048_576, max: 1_048_576, noNaN: true }),
);
const bytes = (mb: number) => Math.floor(mb * 1024 * 1024);
const ttl = fc.integer({ min: 0, max: 86_400 });

/** The top-level cache: `enabled` left out, true or false; each memory key written or not. */
const topCache = fc.record({
  enabled: fc.constantFrom(undefined, true, false),
  layers: fc.boolean(),
  memory: fc.option(
    fc.record({
      itemMb: fc.option(megabytes, { nil: undefined }),
      cacheMb: fc.option(megabytes, { nil: undefined }),
      ttl: fc.option(ttl, { nil: undefined }),
    }),
    { nil: undefined },
  ),
}).filter((c) => (c.memory?.itemMb ?? 10) <= (c.memory?.cacheMb ?? 1024));

type GeneratedCache = typeof topCache extends fc.Arbitrary<infer T> ? T : never;

const bucketCache = fc.record({
  enabled: fc.constantFrom(undefined, true, false),
  ttl: fc.option(ttl, { nil: undefined }),
  // Mostly below the tier's default bound (10), where a bucket's bound means something.
  itemMb: fc.option(fc.oneof(fc.double({ min: 1 / 1_048_576, max: 10, noNaN: true }), megabytes), {
    nil: undefined,
  }),
});

type GeneratedBucketCache = typeof bucketCache extends fc.Arbitrary<infer T> ? T : never;

function cacheRaw(c: GeneratedCache): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (c.enabled !== undefined) raw.enabled = c.enabled;
  if (c.layers) raw.cache_layers = ["memory"];
  if (c.memory !== undefined) {
    const memory: Record<string, unknown> = {};
    if (c.memory.itemMb !== undefined) memory.max_item_size_mb = c.memory.itemMb;
    if (c.memory.cacheMb !== undefined) memory.max_cache_size_mb = c.memory.cacheMb;
    if (c.memory.ttl !== undefined) memory.default_ttl_seconds = c.memory.ttl;
    raw.memory = memory;
  }
  return raw;
}

function bucketCacheRaw(c: GeneratedBucketCache): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (c.enabled !== undefined) raw.enabled = c.enabled;
  if (c.ttl !== undefined) raw.ttl_seconds = c.ttl;
  if (c.itemMb !== undefined) raw.max_item_size_mb = c.itemMb;
  return raw;
}

function bucketCacheExpected(c: GeneratedBucketCache): BucketCacheConfig {
  return {
    enabled: c.enabled ?? true,
    ttlSeconds: c.ttl,
    maxItemBytes: c.itemMb === undefined ? undefined : bytes(c.itemMb),
  };
}

/** `s3.retry`: initial <= 1000 <= max, so any mix with the defaults (100, 1000) stays ordered. */
const retry = fc.record({
  maxAttempts: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  initialBackoffMs: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  maxBackoffMs: fc.option(fc.integer({ min: 1000, max: 60_000 }), { nil: undefined }),
});

function retryRaw(r: typeof retry extends fc.Arbitrary<infer T> ? T : never): unknown {
  const raw: Record<string, unknown> = {};
  if (r.maxAttempts !== undefined) raw.max_attempts = r.maxAttempts;
  if (r.initialBackoffMs !== undefined) raw.initial_backoff_ms = r.initialBackoffMs;
  if (r.maxBackoffMs !== undefined) raw.max_backoff_ms = r.maxBackoffMs;
  // An empty block (`retry:`) means the defaults.
  return Object.keys(raw).length === 0 ? null : raw;
}

const circuitBreaker = fc.record({
  failureThreshold: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
  successThreshold: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
  timeoutSeconds: fc.option(seconds, { nil: undefined }),
  halfOpenMaxRequests: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
});

function circuitBreakerRaw(
  c: typeof circuitBreaker extends fc.Arbitrary<infer T> ? T : never,
): unknown {
  const raw: Record<string, unknown> = {};
  if (c.failureThreshold !== undefined) raw.failure_threshold = c.failureThreshold;
  if (c.successThreshold !== undefined) raw.success_threshold = c.successThreshold;
  if (c.timeoutSeconds !== undefined) raw.timeout_seconds = c.timeoutSeconds;
  if (c.halfOpenMaxRequests !== undefined) raw.half_open_max_requests = c.halfOpenMaxRequests;
  // An empty block (`circuit_breaker:`) is a breaker with the defaults.
  return Object.keys(raw).length === 0 ? null : raw;
}

/** How a bucket is authenticated: public, by the top-level jwt, or by its own. */
const bucketAuth = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.constant({ kind: "public" as const }),
  fc.constant({ kind: "top" as const }),
  jwt.map((own) => ({ kind: "own" as const, own })),
);

const bucket = fc.record({
  name: label,
  prefix,
  bucket: bucketName,
  region: fc.option(label, { nil: undefined }),
  endpoint,
  accessKey: credential,
  secretKey: credential,
  sessionToken: fc.option(credential, { nil: undefined }),
  timeout: fc.option(seconds, { nil: undefined }),
  connectTimeout: fc.option(seconds, { nil: undefined }),
  idleTimeout: fc.option(seconds, { nil: undefined }),
  retry: fc.option(retry, { nil: undefined }),
  circuitBreaker: fc.option(circuitBreaker, { nil: undefined }),
  auth: bucketAuth,
  authorization: fc.option(authorization, { nil: undefined }),
  signedUrls: fc.option(signedUrls, { nil: undefined }),
  cache: fc.option(bucketCache, { nil: undefined }),
});

const validConfig = fc.record({
  address: fc.option(fc.constantFrom("0.0.0.0", "127.0.0.1", "::", "localhost"), {
    nil: undefined,
  }),
  port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  requestTimeout: fc.option(seconds, { nil: undefined }),
  shutdownTimeout: fc.option(fc.oneof(fc.constant(0), seconds), { nil: undefined }),
  level: fc.option(fc.constantFrom(...LOG_LEVELS), { nil: undefined }),
  format: fc.option(fc.constantFrom("json" as const, "pretty" as const), { nil: undefined }),
  buckets: fc.uniqueArray(bucket, {
    minLength: 1,
    maxLength: 4,
    selector: (b) => b.name,
  }).filter((list) => new Set(list.map((b) => b.prefix.normal)).size === list.length),
  /** The top-level jwt: absent, or present with `enabled` left out, true or false. */
  jwt: fc.option(
    fc.record({ config: jwt, enabled: fc.constantFrom(undefined, true, false) }),
    { nil: undefined },
  ),
  cache: fc.option(topCache, { nil: undefined }),
  /** `admin`: absent (null), empty `admin:` (undefined), or with allow_unauthenticated set. */
  admin: fc.option(fc.option(fc.boolean(), { nil: undefined }), { nil: null }),
}).filter((g) => {
  const top = g.jwt !== undefined && g.jwt.enabled !== false;
  // Buckets that use the top-level jwt need one; allow_unauthenticated next to it is a warning.
  return (top || g.buckets.every((b) => b.auth.kind !== "top")) && !(top && g.admin === true);
}).filter((g) => {
  // No warnings: a bucket's cache is off and has no settings, or has a top-level cache to use and
  // an item bound that the tier's does not override.
  const cacheOn = g.cache !== undefined && g.cache.enabled !== false;
  const tierItem = g.cache?.memory?.itemMb ?? 10;
  return g.buckets.every((b) =>
    b.cache === undefined ||
    (b.cache.enabled === false
      ? b.cache.ttl === undefined && b.cache.itemMb === undefined
      : cacheOn && (b.cache.itemMb ?? 0) <= tierItem)
  );
});

type Generated = typeof validConfig extends fc.Arbitrary<infer T> ? T : never;

/** The YAML-side (snake_case) object for a generated config; absent optionals are left out. */
function toRaw(generated: Generated): unknown {
  const server: Record<string, unknown> = {};
  if (generated.address !== undefined) server.address = generated.address;
  if (generated.port !== undefined) server.port = generated.port;
  if (generated.requestTimeout !== undefined) server.request_timeout = generated.requestTimeout;
  if (generated.shutdownTimeout !== undefined) server.shutdown_timeout = generated.shutdownTimeout;
  const logging: Record<string, unknown> = {};
  if (generated.level !== undefined) logging.level = generated.level;
  if (generated.format !== undefined) logging.format = generated.format;
  const root: Record<string, unknown> = {
    server,
    buckets: generated.buckets.map((b) => {
      const s3: Record<string, unknown> = {
        bucket: b.bucket,
        access_key: escape(b.accessKey),
        secret_key: escape(b.secretKey),
      };
      if (b.region !== undefined) s3.region = b.region;
      if (b.endpoint !== undefined) {
        s3.endpoint = endpointUrl(b.endpoint) + (b.endpoint.slash ? "/" : "");
      }
      if (b.sessionToken !== undefined) s3.session_token = escape(b.sessionToken);
      if (b.timeout !== undefined) s3.timeout = b.timeout;
      if (b.connectTimeout !== undefined) s3.connect_timeout = b.connectTimeout;
      if (b.idleTimeout !== undefined) s3.idle_timeout = b.idleTimeout;
      if (b.retry !== undefined) s3.retry = retryRaw(b.retry);
      if (b.circuitBreaker !== undefined) s3.circuit_breaker = circuitBreakerRaw(b.circuitBreaker);
      const out: Record<string, unknown> = { name: b.name, path_prefix: b.prefix.written, s3 };
      if (b.auth.kind === "public") out.auth = { enabled: false };
      if (b.auth.kind === "top") out.auth = { enabled: true };
      if (b.auth.kind === "own") out.auth = { enabled: true, jwt: jwtRaw(b.auth.own) };
      if (b.authorization !== undefined) out.authorization = authorizationRaw(b.authorization);
      if (b.signedUrls !== undefined) {
        const signed: Record<string, unknown> = {
          keys: b.signedUrls.keys.map((key) => ({ id: key.id, secret: escape(key.secret) })),
        };
        if (b.signedUrls.maxExpirySeconds !== undefined) {
          signed.max_expiry_seconds = b.signedUrls.maxExpirySeconds;
        }
        out.signed_urls = signed;
      }
      if (b.cache !== undefined) out.cache = bucketCacheRaw(b.cache);
      return out;
    }),
    logging,
  };
  if (generated.jwt !== undefined) root.jwt = jwtRaw(generated.jwt.config, generated.jwt.enabled);
  if (generated.cache !== undefined) root.cache = cacheRaw(generated.cache);
  if (generated.admin !== null) {
    root.admin = generated.admin === undefined ? null : { allow_unauthenticated: generated.admin };
  }
  return root;
}

function endpointUrl(e: { scheme: string; host: string; port: number | null }): string {
  return `${e.scheme}://${e.host}${e.port === null ? "" : `:${e.port}`}`;
}

/** What parseConfig must give for a generated config. */
function expected(generated: Generated): Config {
  const top = generated.jwt !== undefined && generated.jwt.enabled !== false
    ? jwtExpected(generated.jwt.config)
    : undefined;
  const config: Config = {
    server: {
      address: generated.address ?? "0.0.0.0",
      port: generated.port ?? 8080,
      requestTimeout: generated.requestTimeout ?? 30,
      shutdownTimeout: generated.shutdownTimeout ?? 30,
      securityLimits: { maxUriLength: 8192, maxHeaderSize: 65_536, maxBodySize: 10_485_760 },
      maxConcurrentRequests: 1000,
    },
    buckets: generated.buckets.map((b) => {
      const out: BucketConfig = {
        name: b.name,
        pathPrefix: b.prefix.normal,
        s3: {
          bucket: b.bucket,
          region: b.region ?? "us-east-1",
          // The URL parser drops default ports; the origin never ends in "/".
          endpoint: b.endpoint === undefined ? undefined : new URL(endpointUrl(b.endpoint)).origin,
          accessKey: b.accessKey,
          secretKey: b.secretKey,
          sessionToken: b.sessionToken,
          timeout: b.timeout ?? 20,
          connectTimeout: b.connectTimeout ?? 5,
          idleTimeout: b.idleTimeout ?? b.timeout ?? 20,
          retry: {
            maxAttempts: b.retry?.maxAttempts ?? 3,
            initialBackoffMs: b.retry?.initialBackoffMs ?? 100,
            maxBackoffMs: b.retry?.maxBackoffMs ?? 1000,
          },
          circuitBreaker: b.circuitBreaker === undefined ? undefined : {
            failureThreshold: b.circuitBreaker.failureThreshold ?? 5,
            successThreshold: b.circuitBreaker.successThreshold ?? 2,
            timeoutSeconds: b.circuitBreaker.timeoutSeconds ?? 60,
            halfOpenMaxRequests: b.circuitBreaker.halfOpenMaxRequests ?? 3,
          },
        },
      };
      if (b.auth.kind === "top") out.jwt = top;
      if (b.auth.kind === "own") out.jwt = jwtExpected(b.auth.own);
      if (b.authorization !== undefined) out.authorization = authorizationExpected(b.authorization);
      if (b.signedUrls !== undefined) {
        const signed: SignedUrlsConfig = {
          keys: b.signedUrls.keys.map((key) => ({ id: key.id, secret: key.secret })),
          maxExpirySeconds: b.signedUrls.maxExpirySeconds ?? 604_800,
        };
        out.signedUrls = signed;
      }
      if (b.cache !== undefined) out.cache = bucketCacheExpected(b.cache);
      return out;
    }),
    logging: {
      level: generated.level ?? "info",
      format: generated.format ?? "json",
      writer: "auto",
    },
  };
  if (top !== undefined) config.jwt = top;
  const cache = generated.cache;
  if (cache !== undefined && cache.enabled !== false) {
    config.cache = {
      layers: ["memory"],
      memory: {
        maxItemBytes: bytes(cache.memory?.itemMb ?? 10),
        maxCacheBytes: bytes(cache.memory?.cacheMb ?? 1024),
        defaultTtlSeconds: cache.memory?.ttl ?? 3600,
      },
      disk: undefined,
      redis: undefined,
      warming: { concurrency: 10, rateLimit: 100 },
      staleIfErrorSeconds: 0,
    };
  }
  if (generated.admin !== null) {
    const admin: AdminConfig = { allowUnauthenticated: generated.admin ?? false };
    config.admin = admin;
  }
  return config;
}

Deno.test("parseConfig() round-trips random valid configs serialised with yaml", () => {
  fc.assert(
    fc.property(validConfig, (generated) => {
      const result = parseConfig(stringify(toRaw(generated)), { env: {} });
      if (!result.ok) {
        assert.fail(result.errors.map((issue) => formatIssue("generated", issue)).join("\n"));
      }
      assert.deepEqual(result.warnings, []);
      assert.deepEqual(result.config, expected(generated));
      // Buckets on the top-level jwt share its object (app.ts tells them apart by identity).
      result.config.buckets.forEach((b, index) => {
        if (generated.buckets[index]?.auth.kind === "top") assert.equal(b.jwt, result.config.jwt);
      });
    }),
    { numRuns: 500 },
  );
});

Deno.test("parseConfig() never serves an auth-enabled bucket without a jwt", () => {
  // Random (often broken) jwt blocks at both levels: whatever loads, auth-enabled buckets have one.
  const maybeJwt = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    any,
    jwtish,
    jwt.map((j) => jwtRaw(j)),
    jwt.map((j) => jwtRaw(j, false)),
  );
  fc.assert(
    fc.property(
      maybeJwt,
      fc.array(fc.tuple(fc.boolean(), maybeJwt), { minLength: 1, maxLength: 3 }),
      (top, auths) => {
        const raw: Record<string, unknown> = {
          buckets: auths.map(([enabled, own], index) => {
            const auth: Record<string, unknown> = { enabled };
            if (own !== undefined) auth.jwt = own;
            return {
              name: `b${index}`,
              path_prefix: `/b${index}`,
              s3: { bucket: "abc", access_key: "k", secret_key: "s" },
              auth,
            };
          }),
        };
        if (top !== undefined) raw.jwt = top;
        const text = serialise(raw);
        if (text === undefined) return;
        const result = parseConfig(text, { env: ENV });
        assertWellFormed(result);
        if (!result.ok) return;
        result.config.buckets.forEach((b, index) => {
          if (auths[index]?.[0]) assert.ok(b.jwt !== undefined, `bucket ${index} has no jwt`);
          else assert.equal(b.jwt, undefined);
        });
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("parseConfig() round-trips values through ${VAR} and ${VAR:-default}", () => {
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
  fc.assert(
    fc.property(name, credential, fc.boolean(), (variable, value, viaDefault) => {
      const reference = viaDefault ? `\${${variable}:-${value}}` : `\${${variable}}`;
      // A default ends at the first "}", so such values can only come from the variable.
      fc.pre(!viaDefault || !value.includes("}"));
      const env = viaDefault ? {} : { [variable]: value };
      const raw = {
        buckets: [{
          name: "a",
          path_prefix: "/a",
          s3: { bucket: "abc", access_key: "k", secret_key: reference },
        }],
      };
      const result = parseConfig(stringify(raw), { env });
      if (!result.ok) assert.fail(result.errors.map((i) => formatIssue("g", i)).join("\n"));
      assert.equal(result.config.buckets[0]?.s3.secretKey, value);
    }),
    { numRuns: 500 },
  );
});
