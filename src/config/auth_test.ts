// Owns the unit tests of the authentication/authorization config: jwt, buckets[].auth,
// authorization (OPA/OpenFGA), signed_urls and admin: every rule, message, default and position.

import assert from "node:assert/strict";
import { formatIssue, loadConfigFile, parseConfig } from "./load.ts";
import {
  authWithoutJwtMessage,
  claimValueProblem,
  configSchema,
  keyMaterialProblem,
  policyPathProblem,
  serviceUrlProblem,
  unusedKeyMaterial,
} from "./schema.ts";
import type { JwtConfig } from "./types.ts";
import {
  assertOne,
  assertOneError,
  DELETE,
  errors,
  fixture,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  twoRawBuckets,
} from "./_test_support.ts";

/** A 35-character HMAC secret (long enough: no warning). */
const SECRET = "0123456789abcdef0123456789abcdef-hs";
const SIGNING = "signed-url-secret-0123456789abcdef-0123";

/** A valid config with a top-level jwt and one auth-enabled bucket, fresh for each test. */
function authRaw(): Record<string, unknown> {
  const [publicAssets, privateData] = twoRawBuckets();
  return {
    buckets: [publicAssets, { ...privateData, auth: { enabled: true } }],
    jwt: { secret: SECRET },
  };
}

/** Sets (or deletes) `path` ("buckets[0].auth.jwt") in `root`, by default a fresh authRaw(). */
function rawWith(path: string, value: unknown, root = authRaw()): Record<string, unknown> {
  return setPath(root, path, value);
}

/**
 * The resolved JWT for `jwt: {secret: SECRET}`: every default applied. Spelled out, not built
 * with tests/support/jwt_config.ts: it is the expected value of the parser's defaults, and must
 * not move when the test builder's conveniences do.
 */
function defaultJwt(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return {
    algorithm: "HS256",
    secret: SECRET,
    rsaPublicKeyPath: undefined,
    ecdsaPublicKeyPath: undefined,
    keys: [],
    jwksUrl: undefined,
    jwksRefreshIntervalSecs: 300,
    issuer: undefined,
    audience: undefined,
    leewaySeconds: 60,
    tokenSources: [{ type: "bearer", name: undefined, prefix: undefined }],
    claims: [],
    adminClaims: [],
    ...overrides,
  };
}

const MAKE = "make one with `openssl rand -base64 48`";
const ALGORITHMS = '"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", ' +
  '"PS512", "ES256", "ES384", "ES512", "EdDSA"';

// ---- defaults and resolution ----------------------------------------------------------------

Deno.test("auth: a top-level jwt gets every default and guards the auth-enabled buckets", () => {
  const config = ok(parseRaw(authRaw()));
  assert.deepEqual(config.jwt, defaultJwt());
  // The bucket shares the top-level object (one verifier for both).
  assert.equal(config.buckets[1]?.jwt, config.jwt);
  // A public bucket has no jwt at all (not even an undefined one).
  assert.ok(!("jwt" in (config.buckets[0] ?? {})));
  assert.ok(!("admin" in config));
  assert.ok(!("authorization" in (config.buckets[1] ?? {})));
  assert.ok(!("signedUrls" in (config.buckets[1] ?? {})));
});

Deno.test("auth: a bucket's own jwt overrides the top-level one", () => {
  const own = { algorithm: "RS256", rsa_public_key_path: "/etc/keys/own.pem", leeway_seconds: 5 };
  const raw = rawWith("buckets[0].auth", { enabled: true, jwt: own });
  const config = ok(parseRaw(raw));
  assert.deepEqual(
    config.buckets[0]?.jwt,
    defaultJwt({
      algorithm: "RS256",
      secret: undefined,
      rsaPublicKeyPath: "/etc/keys/own.pem",
      leewaySeconds: 5,
    }),
  );
  assert.deepEqual(config.buckets[1]?.jwt, defaultJwt());
  assert.deepEqual(config.jwt, defaultJwt());
});

Deno.test("auth: a bucket's own jwt works without a top-level jwt", () => {
  const raw = rawWith("buckets[1].auth.jwt", { jwks_url: "https://idp/jwks", algorithm: "ES256" });
  delete raw.jwt;
  const config = ok(parseRaw(raw));
  assert.equal(config.jwt, undefined);
  assert.equal(config.buckets[1]?.jwt?.jwksUrl, "https://idp/jwks");
  assert.equal(config.buckets[1]?.jwt?.algorithm, "ES256");
});

Deno.test("auth: jwt.enabled: false leaves Config.jwt out", () => {
  const raw = rawWith("jwt.enabled", false);
  rawWith("buckets[1].auth.enabled", false, raw);
  const config = ok(parseRaw(raw));
  assert.ok(!("jwt" in config));
  assert.ok(config.buckets.every((bucket) => bucket.jwt === undefined));
  // A disabled jwt needs no key material (it guards nothing)...
  ok(parseRaw(rawWith("jwt", { enabled: false }, rawWith("buckets[1].auth", DELETE))));
  // ...but its keys are still checked: a typo is still an error.
  const typo = parseRaw(
    rawWith("jwt", { enabled: false, secrt: "x" }, rawWith("buckets[1].auth", DELETE)),
  );
  assertOne(errors(typo), "jwt.secrt", "unknown key `secrt`; did you mean `secret`?");
});

Deno.test("auth: `auth: {enabled: false, jwt}` is public, with a warning that the jwt is ignored", () => {
  const raw = rawWith("buckets[0].auth", { enabled: false, jwt: { secret: SECRET } });
  const result = parseRaw(raw);
  const config = ok(result);
  assert.equal(config.buckets[0]?.jwt, undefined);
  assertOne(
    result.warnings,
    "buckets[0].auth.jwt",
    "`jwt` is ignored because `auth.enabled` is false (the bucket is public); set `enabled: true` " +
      "to protect the bucket with it",
  );
});

Deno.test("auth: empty sections: `jwt:` needs a key, lists default", () => {
  assertOne(
    errors(parseRaw(rawWith("jwt", null))),
    "jwt",
    "algorithm HS256 (the default) needs a key: set `secret` (at least 32 characters; " +
      `${MAKE}) or \`keys\``,
  );
  const lists = ok(parseRaw(rawWith("jwt", {
    secret: SECRET,
    token_sources: null,
    claims: null,
    admin_claims: null,
    keys: null,
  })));
  assert.deepEqual(lists.jwt, defaultJwt());
  // Empty optional values mean "not set".
  const empty = ok(parseRaw(rawWith("jwt", {
    secret: SECRET,
    issuer: "",
    audience: null,
    rsa_public_key_path: "",
    jwks_url: "",
  })));
  assert.deepEqual(empty.jwt, defaultJwt());
});

const ADMIN_IGNORED = "`allow_unauthenticated` has no effect: with a top-level `jwt`, admin " +
  "routes need a token that passes `jwt.admin_claims`";

Deno.test("auth: `admin:` empty or `{}` is all defaults; absent leaves Config.admin out", () => {
  for (const value of [null, {}]) {
    const result = parseRaw(rawWith("admin", value));
    assert.deepEqual(ok(result).admin, { allowUnauthenticated: false }, JSON.stringify(value));
    assert.deepEqual(result.warnings, []);
  }
  assert.ok(!("admin" in ok(parseRaw(authRaw()))));
});

Deno.test("auth: admin.allow_unauthenticated true and false", () => {
  // true without a top-level jwt: what it is for, no warning.
  const raw = rawWith("admin", { allow_unauthenticated: true });
  delete raw.jwt;
  rawWith("buckets[1].auth.enabled", false, raw);
  const result = parseRaw(raw);
  assert.deepEqual(ok(result).admin, { allowUnauthenticated: true });
  assert.deepEqual(result.warnings, []);
  // true next to a disabled top-level jwt: no warning either (the jwt guards nothing).
  const disabled = rawWith("jwt.enabled", false, rawWith("admin", { allow_unauthenticated: true }));
  rawWith("buckets[1].auth.enabled", false, disabled);
  const quiet = parseRaw(disabled);
  assert.deepEqual(ok(quiet).admin, { allowUnauthenticated: true });
  assert.deepEqual(quiet.warnings, []);
  // false next to a top-level jwt: no warning.
  const off = parseRaw(rawWith("admin", { allow_unauthenticated: false }));
  assert.deepEqual(ok(off).admin, { allowUnauthenticated: false });
  assert.deepEqual(off.warnings, []);
});

Deno.test("auth: allow_unauthenticated next to a top-level jwt warns at the key's line", () => {
  const text = [
    "buckets:", //                                                          1
    "  - name: a", //                                                       2
    "    path_prefix: /a", //                                               3
    "    s3: {bucket: abc, access_key: k, secret_key: s}", //               4
    "jwt:", //                                                              5
    `  secret: ${SECRET}`, //                                               6
    "admin:", //                                                            7
    "  allow_unauthenticated: true", //                                     8
  ].join("\n");
  const result = parseConfig(text, { env: {} });
  assert.deepEqual(ok(result).admin, { allowUnauthenticated: true });
  assert.deepEqual(result.warnings.map((warning) => formatIssue("c", warning)), [
    `c:8:3 admin.allow_unauthenticated: ${ADMIN_IGNORED}`,
  ]);
});

Deno.test("auth: authorization and signed_urls resolve with their defaults", () => {
  const opa = ok(parseRaw(rawWith("buckets[1].authorization", {
    type: "opa",
    opa_url: "http://OPA.internal:8181/",
    opa_policy_path: "/yatagarasu/authz/allow",
  })));
  assert.deepEqual(opa.buckets[1]?.authorization, {
    type: "opa",
    url: "http://opa.internal:8181",
    policyPath: "yatagarasu/authz/allow",
    timeoutMs: 100,
    cacheTtlSeconds: 60,
    failMode: "closed",
  });
  const fga = ok(parseRaw(rawWith("buckets[0].authorization", {
    type: "openfga",
    openfga_endpoint: "https://fga.example.com/base/",
    openfga_store_id: "01HVMMBCMGZNT3SED4Z17ECXCA",
  })));
  assert.deepEqual(fga.buckets[0]?.authorization, {
    type: "openfga",
    endpoint: "https://fga.example.com/base",
    storeId: "01HVMMBCMGZNT3SED4Z17ECXCA",
    authorizationModelId: undefined,
    apiToken: undefined,
    timeoutMs: 100,
    cacheTtlSeconds: 60,
    failMode: "closed",
    userClaim: "sub",
  });
  const signed = ok(parseRaw(rawWith("buckets[0].signed_urls", {
    keys: [{ id: "k1", secret: SIGNING }],
  })));
  assert.deepEqual(signed.buckets[0]?.signedUrls, {
    keys: [{ id: "k1", secret: SIGNING }],
    maxExpirySeconds: 604_800,
  });
});

Deno.test("auth: valid-auth.yaml resolves every key", async () => {
  const env = {
    OPENFGA_TOKEN: "fga-token",
    SIGNED_URL_SECRET: "s".repeat(40),
    JWT_SECRET: "j".repeat(64),
    JWT_LEGACY_SECRET: "l".repeat(32),
  };
  const result = await loadConfigFile(fixture("valid-auth.yaml"), { env });
  const config = ok(result);
  const top: JwtConfig = {
    algorithm: "HS512",
    secret: "j".repeat(64),
    rsaPublicKeyPath: undefined,
    ecdsaPublicKeyPath: undefined,
    keys: [
      {
        id: "rsa-2024",
        algorithm: "PS256",
        secret: undefined,
        path: "/etc/yatagarasu/rsa-2024.pem",
      },
      { id: "legacy", algorithm: "HS256", secret: "l".repeat(32), path: undefined },
      { id: "ed", algorithm: "EdDSA", secret: undefined, path: "./keys/ed25519.pem" },
    ],
    jwksUrl: "http://127.0.0.1:5556/jwks",
    jwksRefreshIntervalSecs: 60,
    issuer: "https://idp.example.com/",
    audience: "yatagarasu",
    leewaySeconds: 0,
    tokenSources: [
      { type: "bearer", name: undefined, prefix: undefined },
      { type: "header", name: "X-Auth-Token", prefix: "Token " },
      { type: "query", name: "token", prefix: undefined },
    ],
    claims: [
      { claim: "role", operator: "in", value: ["viewer", "admin"] },
      { claim: "realm.level", operator: "gte", value: 2 },
      { claim: "email", operator: "regex", value: "@example\\.com$" },
      { claim: "groups", operator: "contains", value: "staff" },
      { claim: "verified", operator: "equals", value: true },
    ],
    adminClaims: [
      { claim: "role", operator: "equals", value: "admin" },
      { claim: "age", operator: "lt", value: 3.5 },
    ],
  };
  assert.deepEqual(config.jwt, top);
  const [open, shared, own] = config.buckets;
  assert.equal(open?.jwt, undefined);
  assert.equal(shared?.jwt, config.jwt);
  assert.deepEqual(shared?.authorization, {
    type: "opa",
    url: "http://opa.internal:8181",
    policyPath: "yatagarasu/authz/allow",
    timeoutMs: 250,
    cacheTtlSeconds: 0,
    failMode: "open",
  });
  assert.deepEqual(own?.jwt, {
    ...defaultJwt(),
    algorithm: "ES384",
    secret: undefined,
    jwksUrl: "https://idp.example.com/.well-known/jwks.json",
    tokenSources: [{ type: "cookie", name: "session", prefix: undefined }],
  });
  assert.deepEqual(own?.authorization, {
    type: "openfga",
    endpoint: "https://fga.example.com",
    storeId: "01HVMMBCMGZNT3SED4Z17ECXCA",
    authorizationModelId: "01HVMMBCMGZNT3SED4Z17ECXCB",
    apiToken: "fga-token",
    timeoutMs: 500,
    cacheTtlSeconds: 30,
    failMode: "closed",
    userClaim: "user.email",
  });
  assert.deepEqual(own?.signedUrls, {
    keys: [
      { id: "2024-06", secret: "s".repeat(40) },
      { id: "old.key_1", secret: "0123456789abcdef0123456789abcdef" },
    ],
    maxExpirySeconds: 3600,
  });
  assert.deepEqual(config.admin, { allowUnauthenticated: true });
  // allow_unauthenticated is set next to a top-level jwt: the one warning of this file.
  assert.deepEqual(result.warnings.map((warning) => formatIssue("f", warning)), [
    `f:99:3 admin.allow_unauthenticated: ${ADMIN_IGNORED}`,
  ]);
});

// ---- auth.enabled without a JWT: an error, never an open bucket ----------------------------

Deno.test("auth: auth.enabled: true without any JWT is an error naming the bucket", () => {
  assertOne(
    errors(parseRaw(rawWith("jwt", DELETE))),
    "buckets[1].auth.enabled",
    'bucket "private" has auth.enabled: true but no JWT config: add a top-level `jwt` or ' +
      "`buckets[1].auth.jwt`",
  );
  assertOne(
    errors(parseRaw(rawWith("jwt.enabled", false))),
    "buckets[1].auth.enabled",
    'bucket "private" has auth.enabled: true but no JWT config: the top-level `jwt` has ' +
      "`enabled: false`; enable it or add `buckets[1].auth.jwt`",
  );
  // Every auth-enabled bucket gets its own error.
  const both = rawWith("buckets[0].auth", { enabled: true }, rawWith("jwt", DELETE));
  assert.deepEqual(errors(parseRaw(both)).map((issue) => issue.path), [
    "buckets[0].auth.enabled",
    "buckets[1].auth.enabled",
  ]);
});

Deno.test("auth: the schema alone never yields an auth-enabled bucket without a JWT", () => {
  // The backstop: even without load.ts's check, configSchema rejects the config.
  const parsed = configSchema.safeParse(rawWith("jwt", DELETE));
  assert.equal(parsed.success, false);
  assert.deepEqual(parsed.error?.issues.map((issue) => [issue.path, issue.message]), [
    [
      ["buckets", 1, "auth", "enabled"],
      authWithoutJwtMessage("private", 1, "absent"),
    ],
  ]);
  // A bucket's own jwt with enabled: false is not a JWT either.
  const disabled = rawWith("buckets[1].auth.jwt", { enabled: false, secret: SECRET });
  delete disabled.jwt;
  assert.equal(configSchema.safeParse(disabled).success, false);
});

Deno.test("authWithoutJwtMessage() names the bucket, or its index when it has no name", () => {
  assert.equal(
    authWithoutJwtMessage(undefined, 3, "absent"),
    "buckets[3] has auth.enabled: true but no JWT config: add a top-level `jwt` or `buckets[3].auth.jwt`",
  );
});

// ---- one rule, one message ------------------------------------------------------------------

const RULES: RuleCase[] = [
  // jwt: values
  {
    name: "jwt not a mapping",
    path: "jwt",
    value: "on",
    message: 'expected a jwt mapping like {algorithm: HS256, secret: ...}, got "on"',
  },
  {
    name: "jwt.enabled not a boolean",
    path: "jwt.enabled",
    value: "yes",
    message: 'expected true or false, got "yes"',
  },
  {
    name: "algorithm lower case",
    path: "jwt.algorithm",
    value: "hs256",
    message:
      `expected one of ${ALGORITHMS}, got "hs256" (algorithm names are case-sensitive: write "HS256")`,
  },
  {
    name: "algorithm none",
    path: "jwt.algorithm",
    value: "none",
    message:
      `"none" is never accepted: unsigned tokens would let anyone in; use one of ${ALGORITHMS}`,
  },
  {
    name: "algorithm unknown",
    path: "jwt.algorithm",
    value: "HS1024",
    message: `expected one of ${ALGORITHMS}, got "HS1024"`,
  },
  {
    name: "secret a number",
    path: "jwt.secret",
    value: 12345,
    message: "expected a non-empty string, got a number (quote it to make it a string)",
  },
  {
    name: "secret blank",
    path: "jwt.secret",
    value: "   ",
    message: "expected a non-empty string, got a string",
  },
  {
    name: "rsa_public_key_path blank",
    path: "jwt.rsa_public_key_path",
    value: " ",
    message: 'expected a non-empty string, got " "',
  },
  {
    name: "jwks_url scheme",
    path: "jwt.jwks_url",
    value: "ftp://idp/jwks",
    message: '"ftp://idp/jwks" must use http:// or https://',
  },
  {
    name: "jwks_url not a URL",
    path: "jwt.jwks_url",
    value: "idp/jwks",
    message:
      'expected an http:// or https:// URL like "https://idp.example.com/.well-known/jwks.json", got "idp/jwks"',
  },
  {
    name: "jwks_url with credentials",
    path: "jwt.jwks_url",
    value: "https://user:pw@idp/jwks",
    message: "the URL must not contain a user name or password (URLs show up in logs)",
  },
  {
    name: "jwks_refresh_interval_secs zero",
    path: "jwt.jwks_refresh_interval_secs",
    value: 0,
    message: "expected a number of seconds greater than 0 and at most 86400, got 0",
  },
  {
    name: "leeway_seconds negative",
    path: "jwt.leeway_seconds",
    value: -1,
    message: "expected a number of seconds from 0 to 86400, got -1",
  },
  {
    name: "issuer a number",
    path: "jwt.issuer",
    value: 5,
    message: "expected a non-empty string, got 5 (quote it to make it a string)",
  },
  {
    name: "misspelt jwt key (no second error about the key it names)",
    path: "jwt",
    value: { secrett: SECRET },
    errorPath: "jwt.secrett",
    message: "unknown key `secrett`; did you mean `secret`?",
  },
  // jwt: key material for the algorithm
  {
    name: "HS256 without a key",
    path: "jwt.secret",
    value: DELETE,
    errorPath: "jwt",
    message: "algorithm HS256 (the default) needs a key: set `secret` (at least 32 characters; " +
      `${MAKE}) or \`keys\``,
  },
  {
    name: "HS384 with only a JWKS",
    path: "jwt",
    value: { algorithm: "HS384", jwks_url: "https://idp/jwks" },
    message: "algorithm HS384 needs a key: set `secret` (at least 32 characters; " +
      `${MAKE}) or \`keys\` (a JWKS only serves public keys: set \`algorithm\` to the algorithm ` +
      "of its keys, like RS256)",
  },
  {
    name: "HS256 with only an RSA key",
    path: "jwt",
    value: { rsa_public_key_path: "/k.pem" },
    message: /needs a key: .* \(`rsa_public_key_path` is set: did you mean `algorithm: RS256`\?\)$/,
  },
  {
    name: "RS256 with only a secret",
    path: "jwt.algorithm",
    value: "RS256",
    errorPath: "jwt",
    message: "algorithm RS256 needs a public key: set `rsa_public_key_path` (a PEM file), `keys` " +
      "or `jwks_url` (`secret` is for HS256, HS384 and HS512)",
  },
  {
    name: "PS512 without a key",
    path: "jwt",
    value: { algorithm: "PS512" },
    message: "algorithm PS512 needs a public key: set `rsa_public_key_path` (a PEM file), `keys` " +
      "or `jwks_url`",
  },
  {
    name: "ES256 with only an RSA key",
    path: "jwt",
    value: { algorithm: "ES256", rsa_public_key_path: "/k.pem" },
    message: "algorithm ES256 needs a public key: set `ecdsa_public_key_path` (a PEM file), " +
      "`keys` or `jwks_url` (`rsa_public_key_path` is set: did you mean `algorithm: RS256`?)",
  },
  {
    name: "EdDSA with a PEM path",
    path: "jwt",
    value: { algorithm: "EdDSA", ecdsa_public_key_path: "/k.pem" },
    message: "algorithm EdDSA needs a public key: set `keys` (entries with algorithm EdDSA and a " +
      "PEM `path`) or `jwks_url` (`ecdsa_public_key_path` is set: did you mean `algorithm: ES256`?)",
  },
  // jwt.keys
  {
    name: "keys not a list",
    path: "jwt.keys",
    value: "main",
    message:
      'expected a list of keys like [{id: main, algorithm: RS256, path: /etc/keys/main.pem}], got "main"',
  },
  {
    name: "HS key without a secret",
    path: "jwt.keys",
    value: [{ id: "a", algorithm: "HS256" }],
    errorPath: "jwt.keys[0].secret",
    message: `a key with algorithm HS256 needs \`secret\` (at least 32 characters; ${MAKE})`,
  },
  {
    name: "RS key with a secret instead of a path",
    path: "jwt.keys",
    value: [{ id: "a", algorithm: "RS256", secret: SECRET }],
    errorPath: "jwt.keys[0].path",
    message: "a key with algorithm RS256 needs `path` (a PEM file with its public key or " +
      "certificate), not `secret` (which is for HS256, HS384 and HS512 keys)",
  },
  {
    name: "HS key with a path instead of a secret",
    path: "jwt.keys",
    value: [{ id: "a", algorithm: "HS512", path: "/k.pem" }],
    errorPath: "jwt.keys[0].secret",
    message: /needs `secret` .*, not `path` \(which is for RS\*, PS\*, ES\* and EdDSA keys\)$/,
  },
  {
    name: "EdDSA key with both",
    path: "jwt.keys",
    value: [{ id: "a", algorithm: "EdDSA", path: "/k.pem", secret: SECRET }],
    errorPath: "jwt.keys[0].secret",
    message: "a key with algorithm EdDSA uses `path`, not `secret`; remove `secret`",
  },
  {
    name: "key ids not unique",
    path: "jwt.keys",
    value: [
      { id: "a", algorithm: "RS256", path: "/a.pem" },
      { id: "a", algorithm: "ES256", path: "/b.pem" },
    ],
    errorPath: "jwt.keys[1].id",
    message: /^duplicate key id "a" \(keys\[0\] on line \d+ uses it too\); key ids must be unique$/,
  },
  {
    name: "key without an id",
    path: "jwt.keys",
    value: [{ algorithm: "RS256", path: "/a.pem" }],
    errorPath: "jwt.keys[0].id",
    message: "missing required key `id`; add `id: ...` under `jwt.keys[0]`",
  },
  {
    name: "key with kid instead of id",
    path: "jwt.keys",
    value: [{ kid: "a", algorithm: "RS256", path: "/a.pem" }],
    errorPath: "jwt.keys[0].kid",
    message: "unknown key `kid`; did you mean `id`?",
  },
  // jwt.token_sources
  {
    name: "no token source",
    path: "jwt.token_sources",
    value: [],
    message:
      "at least one token source is needed; remove `token_sources` to read `Authorization: Bearer <token>`",
  },
  {
    name: "token source type unknown",
    path: "jwt.token_sources",
    value: [{ type: "form" }],
    errorPath: "jwt.token_sources[0].type",
    message: 'expected one of "bearer", "header", "query", "cookie", got "form"',
  },
  {
    name: "header source without a name",
    path: "jwt.token_sources",
    value: [{ type: "header" }],
    errorPath: "jwt.token_sources[0].name",
    message: "a `header` token source needs `name`: the header to read, like X-Auth-Token",
  },
  {
    name: "query source without a name",
    path: "jwt.token_sources",
    value: [{ type: "bearer" }, { type: "query", name: "" }],
    errorPath: "jwt.token_sources[1].name",
    message: "a `query` token source needs `name`: the query parameter to read, like token",
  },
  {
    name: "cookie source without a name",
    path: "jwt.token_sources",
    value: [{ type: "cookie" }],
    errorPath: "jwt.token_sources[0].name",
    message: "a `cookie` token source needs `name`: the cookie to read, like session",
  },
  {
    name: "header name with a space",
    path: "jwt.token_sources",
    value: [{ type: "header", name: "X Token" }],
    errorPath: "jwt.token_sources[0].name",
    message: '"X Token" is not a valid header name: use letters, digits and ' +
      '!#$%&\'*+-.^_`|~ (no spaces or ":")',
  },
  {
    name: "misspelt name (no second error about the missing name)",
    path: "jwt.token_sources",
    value: [{ type: "query", nmae: "token" }],
    errorPath: "jwt.token_sources[0].nmae",
    message: "unknown key `nmae`; did you mean `name`?",
  },
  // jwt.claims / admin_claims
  {
    name: "in without a list",
    path: "jwt.claims",
    value: [{ claim: "role", operator: "in", value: "admin" }],
    errorPath: "jwt.claims[0].value",
    message: 'the `in` operator needs a list of values, like [admin, editor], got "admin"',
  },
  {
    name: "in with an empty list",
    path: "jwt.claims",
    value: [{ claim: "role", operator: "in", value: [] }],
    errorPath: "jwt.claims[0].value",
    message: "the `in` operator needs at least one value: [] never matches",
  },
  {
    name: "gt with a quoted number",
    path: "jwt.claims",
    value: [{ claim: "level", operator: "gt", value: "5" }],
    errorPath: "jwt.claims[0].value",
    message: 'the `gt` operator needs a number, got "5" (a string; remove the quotes)',
  },
  {
    name: "lte with infinity",
    path: "jwt.admin_claims",
    value: [{ claim: "level", operator: "lte", value: Infinity }],
    errorPath: "jwt.admin_claims[0].value",
    message: "the `lte` operator needs a number, got Infinity",
  },
  {
    name: "regex not a string",
    path: "jwt.claims",
    value: [{ claim: "email", operator: "regex", value: 5 }],
    errorPath: "jwt.claims[0].value",
    message: "the `regex` operator needs a regular expression string, got 5",
  },
  {
    name: "regex that does not compile",
    path: "jwt.claims",
    value: [{ claim: "email", operator: "regex", value: "(a" }],
    errorPath: "jwt.claims[0].value",
    message: /^the `regex` value does not compile: Invalid regular expression: \/\(a\/.*$/,
  },
  {
    name: "contains a mapping",
    path: "jwt.claims",
    value: [{ claim: "groups", operator: "contains", value: { a: 1 } }],
    errorPath: "jwt.claims[0].value",
    message: "the `contains` operator needs a string or number to look for, got a mapping",
  },
  {
    name: "equals an empty value",
    path: "jwt.claims",
    value: [{ claim: "role", operator: "equals", value: null }],
    errorPath: "jwt.claims[0].value",
    message: "the `equals` operator needs a value to compare the claim with, got an empty value",
  },
  {
    name: "claim rule without a value",
    path: "jwt.admin_claims",
    value: [{ claim: "role", operator: "equals" }],
    errorPath: "jwt.admin_claims[0].value",
    message: "missing required key `value`; add `value: ...` under `jwt.admin_claims[0]`",
  },
  {
    name: "operator unknown",
    path: "jwt.claims",
    value: [{ claim: "role", operator: "like", value: "a" }],
    errorPath: "jwt.claims[0].operator",
    message:
      'expected one of "equals", "in", "contains", "gt", "lt", "gte", "lte", "regex", got "like"',
  },
  {
    name: "claim empty",
    path: "jwt.claims",
    value: [{ claim: "", operator: "equals", value: "a" }],
    errorPath: "jwt.claims[0].claim",
    message: 'expected a non-empty string, got an empty string ""',
  },
  // buckets[].auth
  {
    name: "auth.jwt without auth.enabled",
    path: "buckets[0].auth",
    value: { jwt: { secret: SECRET } },
    errorPath: "buckets[0].auth.enabled",
    message: "`auth.jwt` is set but `auth.enabled` is not: add `enabled: true` to protect the " +
      "bucket with this jwt (or `enabled: false` to make it public)",
  },
  {
    name: "a bucket's jwt disabled",
    path: "buckets[0].auth",
    value: { enabled: true, jwt: { enabled: false, secret: SECRET } },
    errorPath: "buckets[0].auth.jwt.enabled",
    message: "a bucket's jwt cannot be disabled: to make the bucket public set " +
      "`auth.enabled: false`; to use the top-level jwt remove `auth.jwt`",
  },
  {
    name: "a bucket's empty jwt",
    path: "buckets[0].auth",
    value: { enabled: true, jwt: null },
    errorPath: "buckets[0].auth.jwt",
    message: /^algorithm HS256 \(the default\) needs a key: /,
  },
  {
    name: "a bucket's jwt without a key",
    path: "buckets[0].auth",
    value: { enabled: true, jwt: { algorithm: "RS384" } },
    errorPath: "buckets[0].auth.jwt",
    message: /^algorithm RS384 needs a public key: /,
  },
  {
    name: "misspelt key in a bucket's jwt",
    path: "buckets[0].auth",
    value: { enabled: true, jwt: { secret: SECRET, audiance: "x" } },
    errorPath: "buckets[0].auth.jwt.audiance",
    message: "unknown key `audiance`; did you mean `audience`?",
  },
  {
    name: "misspelt auth key",
    path: "buckets[0].auth",
    value: { enabeld: true },
    errorPath: "buckets[0].auth.enabeld",
    message: "unknown key `enabeld`; did you mean `enabled`?",
  },
  // buckets[].authorization
  {
    name: "authorization type unknown",
    path: "buckets[0].authorization",
    value: { type: "rbac" },
    errorPath: "buckets[0].authorization.type",
    message: 'expected one of "opa", "openfga", got "rbac"',
  },
  {
    name: "authorization without a type",
    path: "buckets[0].authorization",
    value: { opa_url: "http://opa:8181", opa_policy_path: "a/b" },
    errorPath: "buckets[0].authorization.type",
    message: "missing required key `type`; add `type: ...` under `buckets[0].authorization`",
  },
  {
    name: "authorization left empty",
    path: "buckets[0].authorization",
    value: null,
    errorPath: "buckets[0].authorization.type",
    message: 'expected one of "opa", "openfga", got an empty value',
  },
  {
    name: "authorization a list",
    path: "buckets[0].authorization",
    value: ["opa"],
    message: "expected a mapping with `type: opa` or `type: openfga`, got a list",
  },
  {
    name: "opa without a url",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_policy_path: "a/b" },
    errorPath: "buckets[0].authorization.opa_url",
    message: "missing required key `opa_url`; add `opa_url: ...` under `buckets[0].authorization`",
  },
  {
    name: "opa_url scheme",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "grpc://opa", opa_policy_path: "a/b" },
    errorPath: "buckets[0].authorization.opa_url",
    message: '"grpc://opa" must use http:// or https://',
  },
  {
    name: "opa_url with a query",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa?x=1", opa_policy_path: "a/b" },
    errorPath: "buckets[0].authorization.opa_url",
    message:
      '"http://opa?x=1" must not have a query string: it is a base URL that paths are added to',
  },
  {
    name: "opa_policy_path with the API prefix",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "/v1/data/authz/allow" },
    errorPath: "buckets[0].authorization.opa_policy_path",
    message: '"/v1/data/authz/allow" includes the API prefix: write only the part after ' +
      '/v1/data/ (like "yatagarasu/authz/allow")',
  },
  {
    name: "opa_policy_path with dots",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "authz.allow" },
    errorPath: "buckets[0].authorization.opa_policy_path",
    message: '"authz.allow" is written like a Rego package; write it with "/": "authz/allow"',
  },
  {
    name: "opa_policy_path with a trailing /",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "authz/" },
    errorPath: "buckets[0].authorization.opa_policy_path",
    message: '"authz/" must not end with "/": it names one rule, like "yatagarasu/authz/allow"',
  },
  {
    name: "opa_timeout_ms zero",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "a", opa_timeout_ms: 0 },
    errorPath: "buckets[0].authorization.opa_timeout_ms",
    message: "expected a whole number of milliseconds from 1 to 86400000, got 0",
  },
  {
    name: "opa_timeout_ms fractional",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "a", opa_timeout_ms: 1.5 },
    errorPath: "buckets[0].authorization.opa_timeout_ms",
    message: "expected a whole number of milliseconds from 1 to 86400000, got 1.5",
  },
  {
    name: "opa_cache_ttl_seconds negative",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "a", opa_cache_ttl_seconds: -5 },
    errorPath: "buckets[0].authorization.opa_cache_ttl_seconds",
    message: "expected a number of seconds from 0 to 86400, got -5",
  },
  {
    name: "opa_fail_mode unknown",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "a", opa_fail_mode: "deny" },
    errorPath: "buckets[0].authorization.opa_fail_mode",
    message: 'expected one of "closed", "open", got "deny"',
  },
  {
    name: "an openfga key in an opa authorization",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_url: "http://opa", opa_policy_path: "a", openfga_store_id: "x" },
    errorPath: "buckets[0].authorization.openfga_store_id",
    message: "`openfga_store_id` is a key of `type: openfga`, and this mapping has `type: opa`; " +
      "its keys are `type`, `opa_url`, `opa_policy_path`, `opa_timeout_ms`, " +
      "`opa_cache_ttl_seconds`, `opa_fail_mode`",
  },
  {
    name: "an opa key in an openfga authorization",
    path: "buckets[0].authorization",
    value: {
      type: "openfga",
      openfga_endpoint: "http://fga",
      openfga_store_id: "s1",
      opa_fail_mode: "open",
    },
    errorPath: "buckets[0].authorization.opa_fail_mode",
    message: /^`opa_fail_mode` is a key of `type: opa`, and this mapping has `type: openfga`; /,
  },
  {
    name: "misspelt opa key",
    path: "buckets[0].authorization",
    value: { type: "opa", opa_urll: "http://opa", opa_policy_path: "a" },
    errorPath: "buckets[0].authorization.opa_urll",
    message: "unknown key `opa_urll`; did you mean `opa_url`?",
  },
  {
    name: "openfga without a store",
    path: "buckets[0].authorization",
    value: { type: "openfga", openfga_endpoint: "http://fga" },
    errorPath: "buckets[0].authorization.openfga_store_id",
    message:
      "missing required key `openfga_store_id`; add `openfga_store_id: ...` under `buckets[0].authorization`",
  },
  {
    name: "openfga_store_id with a slash",
    path: "buckets[0].authorization",
    value: { type: "openfga", openfga_endpoint: "http://fga", openfga_store_id: "a/b" },
    errorPath: "buckets[0].authorization.openfga_store_id",
    message: 'expected an OpenFGA store id like "01HVMMBCMGZNT3SED4Z17ECXCA" (letters, digits, ' +
      '"_" and "-"), got "a/b"',
  },
  {
    name: "openfga_endpoint with credentials",
    path: "buckets[0].authorization",
    value: { type: "openfga", openfga_endpoint: "http://u:p@fga", openfga_store_id: "s" },
    errorPath: "buckets[0].authorization.openfga_endpoint",
    message: "the URL must not contain a user name or password (URLs show up in logs)",
  },
  {
    name: "openfga_api_token a number",
    path: "buckets[0].authorization",
    value: {
      type: "openfga",
      openfga_endpoint: "http://fga",
      openfga_store_id: "s",
      openfga_api_token: 424242,
    },
    errorPath: "buckets[0].authorization.openfga_api_token",
    message: "expected a non-empty string, got a number (quote it to make it a string)",
  },
  {
    name: "openfga_user_claim empty",
    path: "buckets[0].authorization",
    value: {
      type: "openfga",
      openfga_endpoint: "http://fga",
      openfga_store_id: "s",
      openfga_user_claim: "",
    },
    errorPath: "buckets[0].authorization.openfga_user_claim",
    message: 'expected a non-empty string, got an empty string ""',
  },
  // buckets[].signed_urls
  {
    name: "signed_urls without keys",
    path: "buckets[0].signed_urls",
    value: { max_expiry_seconds: 60 },
    errorPath: "buckets[0].signed_urls.keys",
    message: "missing required key `keys`; add `keys: ...` under `buckets[0].signed_urls`",
  },
  {
    name: "signed_urls with no key",
    path: "buckets[0].signed_urls",
    value: { keys: [] },
    errorPath: "buckets[0].signed_urls.keys",
    message: 'at least one key is needed, like [{id: "2024-06", secret: "${SIGNED_URL_SECRET}"}] ' +
      `(${MAKE})`,
  },
  {
    name: "signed-URL secret too short",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "k1", secret: "short" }] },
    errorPath: "buckets[0].signed_urls.keys[0].secret",
    message: `the secret is shorter than 32 characters; ${MAKE}`,
  },
  {
    name: "signed-URL secret a number",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "k1", secret: 12345 }] },
    errorPath: "buckets[0].signed_urls.keys[0].secret",
    message: `expected a secret of at least 32 characters (${MAKE}), got a number (quote it to ` +
      "make it a string)",
  },
  {
    name: "signed-URL key id with a space",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "key 1", secret: SIGNING }] },
    errorPath: "buckets[0].signed_urls.keys[0].id",
    message: 'expected a key id of letters, digits, ".", "_", "~" and "-" (it is part of every ' +
      'signed URL), got "key 1"',
  },
  {
    name: "signed-URL key ids not unique",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "k1", secret: SIGNING }, { id: "k1", secret: SIGNING }] },
    errorPath: "buckets[0].signed_urls.keys[1].id",
    message:
      /^duplicate key id "k1" \(keys\[0\] on line \d+ uses it too\); key ids must be unique$/,
  },
  {
    name: "max_expiry_seconds zero",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "k1", secret: SIGNING }], max_expiry_seconds: 0 },
    errorPath: "buckets[0].signed_urls.max_expiry_seconds",
    message: "expected a whole number of seconds from 1 to 31536000 (a year), got 0",
  },
  {
    name: "max_expiry_seconds over a year",
    path: "buckets[0].signed_urls",
    value: { keys: [{ id: "k1", secret: SIGNING }], max_expiry_seconds: 31_536_001 },
    errorPath: "buckets[0].signed_urls.max_expiry_seconds",
    message: /from 1 to 31536000 \(a year\), got 31536001$/,
  },
  // admin
  {
    name: "allow_unauthenticated not a boolean",
    path: "admin.allow_unauthenticated",
    value: "yes",
    message: 'expected true or false, got "yes"',
  },
  {
    name: "admin a list",
    path: "admin",
    value: [],
    message: "expected a mapping like {allow_unauthenticated: false}, got a list",
  },
  {
    name: "misspelt admin key",
    path: "admin.allow_unauthenticate",
    value: true,
    message: "unknown key `allow_unauthenticate`; did you mean `allow_unauthenticated`?",
  },
];

for (const rule of RULES) {
  Deno.test(`auth rule: ${rule.name}`, () => {
    assertOneError(
      parseRaw(rawWith(rule.path, rule.value)),
      rule.errorPath ?? rule.path,
      rule.message,
    );
  });
}

// ---- warnings -------------------------------------------------------------------------------

interface WarningCase {
  name: string;
  path: string;
  value: unknown;
  warningPath: string;
  message: string;
}

const WARNINGS: WarningCase[] = [
  {
    name: "a short HMAC secret",
    path: "jwt.secret",
    value: "only-20-characters!!",
    warningPath: "jwt.secret",
    message: "the secret is shorter than 32 characters, so tokens signed with it can be " +
      `brute-forced; use at least 32 (${MAKE})`,
  },
  {
    name: "a short HMAC key in keys",
    path: "jwt.keys",
    value: [{ id: "a", algorithm: "HS384", secret: "short" }],
    warningPath: "jwt.keys[0].secret",
    message: "the secret is shorter than 32 characters, so tokens signed with it can be " +
      `brute-forced; use at least 32 (${MAKE})`,
  },
  {
    name: "a secret next to an RSA algorithm",
    path: "jwt",
    value: { algorithm: "RS256", rsa_public_key_path: "/k.pem", secret: SECRET },
    warningPath: "jwt.secret",
    message:
      "`secret` is ignored with algorithm RS256 (it is the key of HS256, HS384 and HS512); " +
      "remove it or change `algorithm`",
  },
  {
    name: "an ECDSA key next to HS256",
    path: "jwt.ecdsa_public_key_path",
    value: "/k.pem",
    warningPath: "jwt.ecdsa_public_key_path",
    message: "`ecdsa_public_key_path` is ignored with algorithm HS256 (it is the key of ES256, " +
      "ES384 and ES512); remove it or change `algorithm`",
  },
  {
    name: "a JWKS over http to another host",
    path: "jwt",
    value: { algorithm: "RS256", jwks_url: "http://idp.example.com/jwks" },
    warningPath: "jwt.jwks_url",
    message: "`jwks_url` uses http://: anyone on the network path could swap the keys and forge " +
      "tokens; use https://",
  },
  {
    name: "a bearer source with a name",
    path: "jwt.token_sources",
    value: [{ type: "bearer", name: "Authorization" }],
    warningPath: "jwt.token_sources[0].name",
    message: "`name` is ignored: a `bearer` source always reads the Authorization header",
  },
  {
    name: "a query source with a prefix",
    path: "jwt.token_sources",
    value: [{ type: "query", name: "t", prefix: "x" }],
    warningPath: "jwt.token_sources[0].prefix",
    message: "`prefix` is ignored: only `header` sources use it",
  },
  {
    name: "the Authorization header as a header source without a prefix",
    path: "jwt.token_sources",
    value: [{ type: "header", name: "authorization" }],
    warningPath: "jwt.token_sources[0].name",
    message: 'the Authorization header holds "Bearer <token>": use `type: bearer`, or set ' +
      '`prefix: "Bearer "`',
  },
  {
    name: "allow_unauthenticated next to a top-level jwt",
    path: "admin",
    value: { allow_unauthenticated: true },
    warningPath: "admin.allow_unauthenticated",
    message: ADMIN_IGNORED,
  },
];

for (const warning of WARNINGS) {
  Deno.test(`auth warning: ${warning.name}`, () => {
    const result = parseRaw(rawWith(warning.path, warning.value));
    ok(result);
    assertOne(result.warnings, warning.warningPath, warning.message);
  });
}

Deno.test("auth: no warning for a JWKS on loopback, or a short secret in a disabled jwt", () => {
  for (const host of ["127.0.0.1:5556", "localhost", "[::1]:80", "idp.localhost"]) {
    const raw = rawWith("jwt", { algorithm: "RS256", jwks_url: `http://${host}/jwks` });
    const result = parseRaw(raw);
    ok(result);
    assert.deepEqual(result.warnings, [], host);
  }
  const disabled = rawWith("jwt", { enabled: false, secret: "short" });
  rawWith("buckets[1].auth", DELETE, disabled);
  const result = parseRaw(disabled);
  ok(result);
  assert.deepEqual(result.warnings, []);
});

// ---- secrets never appear in messages -------------------------------------------------------

Deno.test("auth: secrets and tokens never appear in messages", () => {
  const secret = "TOP-SECRET-VALUE";
  const fga = { type: "openfga", openfga_endpoint: "http://fga", openfga_store_id: "s" };
  const raws = [
    rawWith("jwt.secret", [secret]),
    rawWith("jwt.secret", { [secret]: 1 }),
    rawWith("jwt.secret", `${secret}\${BROKEN`),
    rawWith("jwt.secret", secret), // short: a warning, without the value
    rawWith("jwt.keys", [{ id: "a", algorithm: "HS256", secret: [secret] }]),
    rawWith("jwt.keys", [{ id: "a", algorithm: "RS256", secret }]),
    rawWith("buckets[0].auth", { enabled: true, jwt: { secret: 4242 } }),
    rawWith("buckets[0].signed_urls", { keys: [{ id: "k", secret }] }),
    rawWith("buckets[0].signed_urls", { keys: [{ id: "k", secret: 4242 }] }),
    rawWith("buckets[0].signed_urls", { keys: [{ id: "k", secret: `\${${secret}-x}` }] }),
    rawWith("buckets[0].authorization", { ...fga, openfga_api_token: [secret] }),
    rawWith("buckets[0].authorization", { ...fga, openfga_api_token: 4242 }),
  ];
  for (const raw of raws) {
    const result = parseRaw(raw);
    const issues = [...(result.ok ? [] : result.errors), ...result.warnings];
    assert.ok(issues.length > 0, "each case has an issue");
    const all = issues.map((issue) => issue.message).join("\n");
    assert.ok(!all.includes(secret), `leaked in:\n${all}`);
    assert.ok(!all.includes("4242"), `leaked in:\n${all}`);
  }
});

// ---- environment substitution in secrets ----------------------------------------------------

Deno.test("auth: ${VAR} in jwt secrets, tokens and signed-URL secrets", () => {
  const long = "x".repeat(48);
  const raw = rawWith("jwt", {
    secret: "${JWT_SECRET}",
    keys: [{ id: "k", algorithm: "HS256", secret: "${KEY_SECRET:-" + "d".repeat(32) + "}" }],
  });
  rawWith("buckets[0].auth", { enabled: true, jwt: { secret: "${BUCKET_SECRET}" } }, raw);
  rawWith("buckets[0].signed_urls", { keys: [{ id: "k", secret: "${SIGNED}" }] }, raw);
  rawWith("buckets[1].authorization", {
    type: "openfga",
    openfga_endpoint: "${FGA_URL:-http://127.0.0.1:8080}",
    openfga_store_id: "${FGA_STORE}",
    openfga_api_token: "${FGA_TOKEN}",
  }, raw);
  const env = {
    JWT_SECRET: long,
    // Digits only: YAML would read a number, but a secret is always text.
    BUCKET_SECRET: "1234567890".repeat(4),
    SIGNED: long,
    FGA_STORE: "01HVMMBCMGZNT3SED4Z17ECXCA",
    FGA_TOKEN: "true",
  };
  const config = ok(parseRaw(raw, env));
  assert.equal(config.jwt?.secret, long);
  assert.equal(config.jwt?.keys[0]?.secret, "d".repeat(32));
  assert.equal(config.buckets[0]?.jwt?.secret, "1234567890".repeat(4));
  assert.equal(config.buckets[0]?.signedUrls?.keys[0]?.secret, long);
  const authorization = config.buckets[1]?.authorization;
  assert.equal(authorization?.type, "openfga");
  if (authorization?.type === "openfga") {
    assert.equal(authorization.endpoint, "http://127.0.0.1:8080");
    assert.equal(authorization.apiToken, "true");
  }
});

Deno.test("auth: an unset secret variable is one error, with no 'needs a key' error after it", () => {
  assertOne(
    errors(parseRaw(rawWith("jwt.secret", "${JWT_SECRET}"))),
    "jwt.secret",
    "environment variable JWT_SECRET is not set (use ${JWT_SECRET:-default} to give a default)",
  );
  assertOne(
    errors(parseRaw(rawWith("jwt.keys", [{ id: "a", algorithm: "HS256", secret: "${K}" }]))),
    "jwt.keys[0].secret",
    "environment variable K is not set (use ${K:-default} to give a default)",
  );
  // ${VAR:-} with VAR unset is an empty value: no secret, so the key is missing.
  assertOne(
    errors(parseRaw(rawWith("jwt.secret", "${JWT_SECRET:-}"))),
    "jwt",
    /^algorithm HS256 \(the default\) needs a key: /,
  );
  // A substituted value that is too short is checked like a literal one.
  const short = parseRaw(rawWith("jwt.secret", "${JWT_SECRET}"), { JWT_SECRET: "abc" });
  ok(short);
  assertOne(short.warnings, "jwt.secret", /^the secret is shorter than 32 characters/);
  // auth.enabled itself may come from the environment.
  const fromEnv = rawWith("buckets[1].auth.enabled", "${AUTH_ON:-true}", rawWith("jwt", DELETE));
  assertOne(errors(parseRaw(fromEnv)), "buckets[1].auth.enabled", /^bucket "private" has auth/);
  ok(parseRaw(fromEnv, { AUTH_ON: "false" }));
});

// ---- positions ------------------------------------------------------------------------------

Deno.test("auth: errors point at the line and column to fix", () => {
  const text = [
    "jwt:", //                                                    1
    "  algorithm: RS256", //                                      2
    "  claims:", //                                               3
    "    - claim: role", //                                       4
    "      operator: in", //                                      5
    "      value: admin", //                                      6
    "  token_sources:", //                                        7
    "    - type: header", //                                      8
    "  keys:", //                                                 9
    "    - { id: a, algorithm: RS256, path: /a.pem }", //         10
    "    - { id: a, algorithm: RS256, path: /b.pem }", //         11
    "buckets:", //                                                12
    "  - name: a", //                                             13
    "    path_prefix: /a", //                                     14
    "    s3: {bucket: abc, access_key: k, secret_key: s}", //     15
    "    authorization:", //                                      16
    "      type: opa", //                                         17
    "      opa_url: http://opa", //                               18
    "      opa_policy_path: a/b", //                              19
    "      openfga_store_id: x", //                               20
    "  - name: b", //                                             21
    "    path_prefix: /b", //                                     22
    "    s3: {bucket: abc, access_key: k, secret_key: s}", //     23
    "    auth: {enabled: true, jwt: {algorithm: ES256}}", //      24
    "  - name: c", //                                             25
    "    path_prefix: /c", //                                     26
    "    s3: {bucket: abc, access_key: k, secret_key: s}", //     27
    "    auth:", //                                               28
    "      enabled: true", //                                     29
  ].join("\n");
  const found = errors(parseConfig(text, { env: {} }));
  assert.deepEqual(found.map((issue) => formatIssue("c", issue)), [
    "c:6:14 jwt.claims[0].value: the `in` operator needs a list of values, like [admin, editor], " +
    'got "admin"',
    "c:8:7 jwt.token_sources[0].name: a `header` token source needs `name`: the header to read, " +
    "like X-Auth-Token",
    'c:11:13 jwt.keys[1].id: duplicate key id "a" (keys[0] on line 10 uses it too); key ids must ' +
    "be unique",
    "c:20:7 buckets[0].authorization.openfga_store_id: `openfga_store_id` is a key of `type: " +
    "openfga`, and this mapping has `type: opa`; its keys are `type`, `opa_url`, " +
    "`opa_policy_path`, `opa_timeout_ms`, `opa_cache_ttl_seconds`, `opa_fail_mode`",
    "c:24:27 buckets[1].auth.jwt: algorithm ES256 needs a public key: set " +
    "`ecdsa_public_key_path` (a PEM file), `keys` or `jwks_url`",
  ]);
  // Without a usable top-level jwt, the `enabled: true` value is what is pointed at.
  const noTop = text.replace("  algorithm: RS256", "  enabled: false\n  algorithm: RS256");
  const enabled = errors(parseConfig(noTop, { env: {} }))
    .filter((issue) => issue.path === "buckets[2].auth.enabled");
  assert.deepEqual(enabled.map((issue) => [issue.line, issue.column]), [[30, 16]]);
});

Deno.test("auth-errors.yaml: every error with its line", async () => {
  const found = errors(await loadConfigFile(fixture("auth-errors.yaml"), { env: {} }));
  assert.deepEqual(found.map((issue) => formatIssue("f", issue)), [
    'f:8:16 buckets[0].auth.enabled: bucket "private" has auth.enabled: true but no JWT config: ' +
    "add a top-level `jwt` or `buckets[0].auth.jwt`",
    "f:12:19 buckets[0].signed_urls.keys[0].secret: the secret is shorter than 32 characters; " +
    `${MAKE} (the value came from \${SIGNED_URL_SECRET})`,
    "f:22:49 buckets[1].auth.jwt.claims[0].value: the `in` operator needs a list of values, like " +
    '[admin, editor], got "admin"',
  ]);
});

// ---- the pure helpers -----------------------------------------------------------------------

Deno.test("policyPathProblem() accepts rule paths and explains the usual mistakes", () => {
  for (const good of ["a", "yatagarasu/authz/allow", "/yatagarasu/authz/allow", "a/b-c/d_e"]) {
    assert.equal(policyPathProblem(good), undefined, good);
  }
  const cases: [string, RegExp][] = [
    ["", /^expected a policy path like "yatagarasu\/authz\/allow", got an empty string ""$/],
    ["/", /got "\/"$/],
    ["v1/data", /includes the API prefix/],
    ["a.b.c", /write it with "\/": "a\/b\/c"$/],
    ["a b", /must not contain spaces/],
    ["a?x", /"\?"/],
    ["a%2Fb", /"%"/],
    ["a//b", /empty, "\." or "\.\." segments/],
    ["a/../b", /empty, "\." or "\.\." segments/],
    ["a/", /must not end with "\/"/],
  ];
  for (const [path, message] of cases) assert.match(policyPathProblem(path) ?? "", message, path);
});

Deno.test("serviceUrlProblem() allows paths, and a query only where asked", () => {
  const base = { example: "http://x", query: false };
  assert.equal(serviceUrlProblem("http://opa:8181/prefix/", base), undefined);
  assert.match(serviceUrlProblem("http://opa#x", base) ?? "", /fragment/);
  assert.match(serviceUrlProblem("http://opa/?a=1", base) ?? "", /query string/);
  assert.equal(serviceUrlProblem("https://idp/jwks?tenant=a", { ...base, query: true }), undefined);
  assert.match(serviceUrlProblem("file:///etc/jwks", base) ?? "", /must use http/);
});

Deno.test("claimValueProblem() fits each operator", () => {
  const fits: [Parameters<typeof claimValueProblem>[0], unknown][] = [
    ["equals", "a"],
    ["equals", 0],
    ["equals", false],
    ["equals", ["a", "b"]],
    ["in", ["a"]],
    ["contains", "a"],
    ["contains", 3],
    ["gt", 0],
    ["lt", -1.5],
    ["gte", 10],
    ["lte", 1e9],
    ["regex", "^a+$"],
    ["regex", ""],
  ];
  for (const [operator, value] of fits) {
    assert.equal(claimValueProblem(operator, value), undefined, `${operator} ${value}`);
  }
  assert.match(claimValueProblem("gte", NaN) ?? "", /needs a number, got NaN/);
  assert.match(claimValueProblem("in", { a: 1 }) ?? "", /got a mapping/);
  assert.match(claimValueProblem("regex", "[") ?? "", /does not compile/);
  assert.match(claimValueProblem("contains", undefined) ?? "", /got an empty value/);
});

Deno.test("keyMaterialProblem() knows which key each algorithm family needs", () => {
  const none = {
    secret: false,
    rsaPublicKeyPath: false,
    ecdsaPublicKeyPath: false,
    keys: false,
    jwksUrl: false,
  };
  const cases: [Parameters<typeof keyMaterialProblem>[0], keyof typeof none][] = [
    ["HS256", "secret"],
    ["HS512", "keys"],
    ["RS384", "rsaPublicKeyPath"],
    ["PS256", "keys"],
    ["RS512", "jwksUrl"],
    ["ES384", "ecdsaPublicKeyPath"],
    ["ES512", "jwksUrl"],
    ["EdDSA", "keys"],
    ["EdDSA", "jwksUrl"],
  ];
  for (const [algorithm, enough] of cases) {
    assert.ok(keyMaterialProblem(algorithm, false, none), `${algorithm} with nothing`);
    assert.equal(keyMaterialProblem(algorithm, false, { ...none, [enough]: true }), undefined);
  }
  // A key of another family is never enough.
  assert.ok(keyMaterialProblem("HS256", false, { ...none, jwksUrl: true }));
  assert.ok(keyMaterialProblem("ES256", false, { ...none, rsaPublicKeyPath: true }));
  assert.ok(keyMaterialProblem("EdDSA", false, { ...none, ecdsaPublicKeyPath: true }));
  assert.ok(keyMaterialProblem("RS256", false, { ...none, secret: true }));
  assert.deepEqual(
    unusedKeyMaterial("HS256", { ...none, secret: true, rsaPublicKeyPath: true }).map((u) => u.key),
    ["rsa_public_key_path"],
  );
  assert.deepEqual(unusedKeyMaterial("PS384", { ...none, rsaPublicKeyPath: true }), []);
});
