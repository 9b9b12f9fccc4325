// Tests JwtAuthenticator: 401 missing/invalid, 403 on claims, token sources, admin claims, query scrubbing.

import assert from "node:assert/strict";
import type { ClaimRule, JwtConfig, TokenSourceConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { JwtAuthenticator } from "./jwt_authenticator.ts";
import { removeQueryParams } from "./token_sources.ts";
import { signHs256, TEST_JWT_SECRET, testJwtConfig } from "../../tests/support/jwt_config.ts";

const NOW_S = 1_750_000_000;
const now = () => NOW_S * 1000;

const SOURCES: TokenSourceConfig[] = [
  { type: "bearer", name: undefined, prefix: undefined },
  { type: "header", name: "X-Auth-Token", prefix: undefined },
  { type: "query", name: "token", prefix: undefined },
  { type: "cookie", name: "jwt", prefix: undefined },
  { type: "query", name: "access_token", prefix: undefined },
];

function config(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return testJwtConfig({
    tokenSources: SOURCES,
    claims: [{ claim: "role", operator: "in", value: ["viewer", "editor"] }],
    adminClaims: [{ claim: "realm.roles", operator: "contains", value: "gateway-admin" }],
    ...overrides,
  });
}

function request(headers: Record<string, string> = {}): Request {
  return new Request("http://gw/private/a.txt", { headers });
}

async function expectError(
  promise: Promise<unknown>,
  code: string,
  status: number,
  check?: (error: ProxyError) => void,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.equal(error.source, "client");
    check?.(error);
    return true;
  });
}

Deno.test("a valid token passing the claims is authenticated, from each source", async () => {
  const auth = await JwtAuthenticator.create(config(), { now });
  const jwt = await signHs256({ sub: "alice", role: "viewer", exp: NOW_S + 60 });
  const cases: Array<[Request, string, string]> = [
    [request({ authorization: `Bearer ${jwt}` }), "", "bearer"],
    [request({ "x-auth-token": jwt }), "", "header:X-Auth-Token"],
    [request(), `a=1&token=${jwt}`, "query:token"],
    [request({ cookie: `theme=dark; jwt=${jwt}` }), "", "cookie:jwt"],
    [request(), `access_token=${jwt}`, "query:access_token"],
  ];
  for (const [req, rawQuery, source] of cases) {
    const who = await auth.authenticate(req, rawQuery);
    assert.equal(who.subject, "alice");
    assert.equal(who.source, source);
    assert.equal(who.claims.role, "viewer");
    assert.equal(who.expiresAtMs, (NOW_S + 60) * 1000);
  }
  const noSub = await auth.authenticate(
    request({ authorization: `Bearer ${await signHs256({ role: "editor", sub: 7 })}` }),
    "",
  );
  assert.equal(noSub.subject, undefined);
  await auth.close();
});

Deno.test("no token: 401 token_missing with WWW-Authenticate: Bearer and how to send one", async () => {
  const auth = await JwtAuthenticator.create(config(), { now });
  for (
    const [req, rawQuery] of [
      [request(), ""],
      [request({ authorization: "Basic dXNlcjpwYXNz" }), "token="],
      [request({ authorization: "Bearer " }), "other=1"],
    ] as const
  ) {
    await expectError(auth.authenticate(req, rawQuery), "token_missing", 401, (error) => {
      assert.equal(error.headers?.["www-authenticate"], "Bearer");
      assert.match(error.message, /Authorization: Bearer/);
      assert.match(error.message, /"token" query parameter/);
      assert.match(error.message, /"jwt" cookie/);
    });
  }
  await auth.close();
});

Deno.test("a bad token: 401 token_invalid; the message never echoes the token", async () => {
  const auth = await JwtAuthenticator.create(config(), { now });
  const forged = await signHs256({ sub: "mallory", role: "viewer" }, "another-secret");
  const expired = await signHs256({ sub: "alice", role: "viewer", exp: NOW_S - 3600 });
  for (const jwt of [forged, expired, "not-a-jwt"]) {
    await expectError(
      auth.authenticate(request({ authorization: `Bearer ${jwt}` }), ""),
      "token_invalid",
      401,
      (error) => {
        assert.match(error.headers?.["www-authenticate"] ?? "", /^Bearer error="invalid_token"/);
        assert.ok(!error.message.includes(jwt));
        assert.ok(!error.message.includes(TEST_JWT_SECRET));
      },
    );
  }
  await auth.close();
});

Deno.test("claims rules: 403 forbidden naming the claim and operator, not the rule's value", async () => {
  const rules: ClaimRule[] = [
    { claim: "role", operator: "equals", value: "super-secret-group" },
    { claim: "level", operator: "gte", value: 3 },
  ];
  const auth = await JwtAuthenticator.create(config({ claims: rules }), { now });
  const send = async (claims: Record<string, unknown>) =>
    auth.authenticate(request({ authorization: `Bearer ${await signHs256(claims)}` }), "");
  await expectError(send({ role: "viewer", level: 5 }), "forbidden", 403, (error) => {
    assert.match(error.message, /"role" \(equals\)/);
    assert.ok(!error.message.includes("super-secret-group"));
    assert.equal(error.headers, undefined);
  });
  await expectError(send({ role: "super-secret-group" }), "forbidden", 403, (error) => {
    assert.match(error.message, /"level" \(gte\): the claim is missing/);
  });
  assert.equal((await send({ role: "super-secret-group", level: "3" })).claims.level, "3");
  await auth.close();
});

Deno.test("admin: checkAdmin / authenticateAdmin use admin_claims only; none configured = nobody", async () => {
  const auth = await JwtAuthenticator.create(config(), { now });
  const adminJwt = await signHs256({ sub: "ops", realm: { roles: ["gateway-admin"] } });
  const viewerJwt = await signHs256({ sub: "v", role: "viewer", realm: { roles: ["reader"] } });
  const admin = await auth.authenticateAdmin(request({ authorization: `Bearer ${adminJwt}` }), "");
  assert.equal(admin.subject, "ops");
  assert.equal(auth.checkAdmin(admin.claims), true);
  // The admin token does not pass the bucket claims (no role): bucket access is a separate question.
  await expectError(
    auth.authenticate(request({ authorization: `Bearer ${adminJwt}` }), ""),
    "forbidden",
    403,
  );
  await expectError(
    auth.authenticateAdmin(request({ authorization: `Bearer ${viewerJwt}` }), ""),
    "forbidden",
    403,
    (error) => assert.match(error.message, /admin_claims rule on "realm\.roles" \(contains\)/),
  );
  await expectError(auth.authenticateAdmin(request(), ""), "token_missing", 401);
  const viewer = await auth.authenticate(request({ authorization: `Bearer ${viewerJwt}` }), "");
  assert.equal(auth.checkAdmin(viewer.claims), false);
  await auth.close();

  const noAdmins = await JwtAuthenticator.create(config({ adminClaims: [] }), { now });
  assert.equal(noAdmins.checkAdmin(admin.claims), false);
  await expectError(
    noAdmins.authenticateAdmin(request({ authorization: `Bearer ${adminJwt}` }), ""),
    "forbidden",
    403,
    (error) => assert.match(error.message, /admin_claims/),
  );
  await noAdmins.close();
});

Deno.test("tokenQueryParams lists the query sources, for scrubbing before S3 and logs", async () => {
  const auth = await JwtAuthenticator.create(config(), { now });
  assert.deepEqual(auth.tokenQueryParams, ["token", "access_token"]);
  const jwt = await signHs256({ role: "viewer" });
  const raw = `versionId=3&token=${jwt}&response-content-type=text%2Fplain&access_token=${jwt}`;
  assert.equal(
    removeQueryParams(raw, auth.tokenQueryParams),
    "versionId=3&response-content-type=text%2Fplain",
  );
  await auth.close();
  const bearerOnly = await JwtAuthenticator.create(
    config({ tokenSources: [{ type: "bearer", name: undefined, prefix: undefined }] }),
  );
  assert.deepEqual(bearerOnly.tokenQueryParams, []);
  await bearerOnly.close();
});

Deno.test("create() rejects broken rules with a TypeError naming them", async () => {
  await assert.rejects(
    JwtAuthenticator.create(config({ claims: [{ claim: "sub", operator: "regex", value: "(" }] })),
    (error: Error) => error instanceof TypeError && /jwt\.claims\[0\]/.test(error.message),
  );
  await assert.rejects(
    JwtAuthenticator.create(
      config({ adminClaims: [{ claim: "lvl", operator: "gt", value: "high" }] }),
      { configPath: "buckets[0].auth.jwt" },
    ),
    /buckets\[0\]\.auth\.jwt\.admin_claims\[0\]/,
  );
});
