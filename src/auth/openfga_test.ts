// Tests the OpenFGA authorizer against an in-test OpenFGA Check API: contract, answers, outages, cache.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { OpenFgaConfig } from "../config/types.ts";
import {
  type AuthorizationDecision,
  type AuthorizationInput,
  createAuthorizer,
} from "./authorizer.ts";
import { claimAt, objectFor } from "./openfga.ts";
import {
  assertRefusedDecidesByFailMode,
  assertTimeoutDecidesByFailMode,
  FakePolicyServer,
  type ScriptedAnswer,
  withServer,
} from "./_policy_test_server.ts";

// ---------------------------------------------------------------------------------------------
// A fake OpenFGA: POST /stores/{store_id}/check as documented. It validates like OpenFGA (ULID
// store and model ids, the tuple key's patterns, the preshared bearer token, unknown fields),
// answers {"allowed": bool, "resolution": ""} from its tuples, and OpenFGA's error JSON
// {"code","message"} with 400/401/404; it can also be told to stall or answer something else.

const STORE = "01HZX6Q5T6V6W8Y9Z0ABCDEFGH";
const MODEL = "01J1AAAABBBBCCCCDDDDEEEEFF";
const TOKEN = "fga-secret-token";
const ULID = /^[ABCDEFGHJKMNPQRSTVWXYZ0-9]{26}$/;
const PATTERNS = {
  user: /^[^\s]{2,512}$/,
  relation: /^[^:#@\s]{1,50}$/,
  object: /^[^\s]{2,256}$/,
} as const;
const TYPES = new Set(["user", "bucket", "folder", "file"]);

class FakeOpenFga extends FakePolicyServer {
  /** `user#relation@object` tuples of STORE. */
  readonly tuples = new Set<string>();
  /** The preshared key; undefined = authn "none". */
  token: string | undefined = TOKEN;

  grant(user: string, object: string) {
    this.tuples.add(`${user}#viewer@${object}`);
  }

  protected override answer(request: Request, url: URL, body: string): Response {
    const match = /^\/stores\/([^/]+)\/check$/.exec(url.pathname);
    if (match === null || request.method !== "POST") {
      return fgaError(404, "undefined_endpoint", "Not Found");
    }
    if (this.token !== undefined) {
      const header = request.headers.get("authorization");
      if (header === null) return fgaError(401, "bearer_token_missing", "missing bearer token");
      if (header !== `Bearer ${this.token}`) {
        return fgaError(401, "unauthenticated", "unauthenticated");
      }
    }
    const storeId = decodeURIComponent(match[1]!);
    if (!ULID.test(storeId)) {
      return validation(
        `invalid CheckRequest.StoreId: value does not match regex pattern "${ULID.source}"`,
      );
    }
    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(body);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error();
      parsed = value as Record<string, unknown>;
    } catch {
      return validation("invalid request body: not a JSON object");
    }
    for (const field of Object.keys(parsed)) {
      const known = [
        "tuple_key",
        "contextual_tuples",
        "authorization_model_id",
        "trace",
        "context",
        "consistency",
      ];
      if (!known.includes(field)) return validation(`unknown field "${field}"`);
    }
    const tupleKey = parsed.tuple_key as Record<string, unknown> | undefined;
    if (typeof tupleKey !== "object" || tupleKey === null) {
      return validation("invalid CheckRequest.TupleKey: value is required");
    }
    for (const [field, pattern] of Object.entries(PATTERNS)) {
      const value = tupleKey[field];
      if (typeof value !== "string" || !pattern.test(value)) {
        const name = field[0]!.toUpperCase() + field.slice(1);
        return validation(
          "invalid CheckRequest.TupleKey: embedded message failed validation | caused by: " +
            `invalid CheckRequestTupleKey.${name}: value does not match regex pattern "${pattern.source}"`,
        );
      }
    }
    if (storeId !== STORE) return fgaError(404, "store_id_not_found", "store not found");
    const modelId = parsed.authorization_model_id;
    if (modelId !== undefined) {
      if (typeof modelId !== "string" || !ULID.test(modelId)) {
        return validation(
          "invalid CheckRequest.AuthorizationModelId: value does not match regex pattern",
        );
      }
      if (modelId !== MODEL) {
        return fgaError(
          400,
          "authorization_model_not_found",
          `Authorization Model '${modelId}' not found`,
        );
      }
    }
    const { user, relation, object } = tupleKey as Record<string, string>;
    const type = object!.split(":")[0]!;
    if (!TYPES.has(type)) return validation(`type '${type}' not found`);
    if (relation !== "viewer") return validation(`relation '${type}#${relation}' not found`);
    const allowed = this.tuples.has(`${user}#viewer@${object}`) ||
      this.tuples.has(`user:*#viewer@${object}`);
    return Response.json({ allowed, resolution: "" });
  }
}

function fgaError(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status });
}

function validation(message: string): Response {
  return fgaError(400, "validation_error", message);
}

function fgaConfig(url: string, over: Partial<OpenFgaConfig> = {}): OpenFgaConfig {
  return {
    type: "openfga",
    endpoint: url,
    storeId: STORE,
    authorizationModelId: MODEL,
    apiToken: TOKEN,
    timeoutMs: 2000,
    cacheTtlSeconds: 60,
    failMode: "closed",
    userClaim: "sub",
    ...over,
  };
}

const INPUT: AuthorizationInput = {
  claims: { sub: "alice", iat: 1_700_000_000, exp: 2_000_000_000 },
  bucket: "docs",
  path: "/docs/reports/q1.pdf",
  key: "reports/q1.pdf",
  method: "GET",
  clientIp: "203.0.113.7",
};

function withFga(name: string, fn: (fga: FakeOpenFga) => Promise<void>) {
  Deno.test(name, withServer(() => new FakeOpenFga(), fn));
}

// ---------------------------------------------------------------------------------------------
// The fake itself behaves like OpenFGA.

withFga("fake OpenFGA answers like the OpenFGA Check API", async (fga) => {
  fga.grant("user:anne", "file:docs/a");
  const check = async (path: string, body: unknown, token: string | null = TOKEN) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await fetch(fga.url + path, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  };
  const tuple = { user: "user:anne", relation: "viewer", object: "file:docs/a" };
  const path = `/stores/${STORE}/check`;
  assert.deepEqual(await check(path, { tuple_key: tuple }), {
    status: 200,
    json: { allowed: true, resolution: "" },
  });
  assert.deepEqual(
    (await check(path, { tuple_key: { ...tuple, user: "user:bob" } })).json.allowed,
    false,
  );
  assert.equal((await check(path, { tuple_key: tuple }, null)).json.code, "bearer_token_missing");
  assert.equal((await check(path, { tuple_key: tuple }, "nope")).status, 401);
  assert.equal((await check("/stores/check", {})).json.code, "undefined_endpoint");
  assert.equal((await check(`/stores/${MODEL}/check`, { tuple_key: tuple })).status, 404);
  const badObject = await check(path, { tuple_key: { ...tuple, object: "file:docs/a b" } });
  assert.equal(badObject.status, 400);
  assert.equal(badObject.json.code, "validation_error");
  assert.match(badObject.json.message, /CheckRequestTupleKey\.Object/);
  const badModel = await check(path, { tuple_key: tuple, authorization_model_id: STORE });
  assert.equal(badModel.json.code, "authorization_model_not_found");
  assert.equal((await check(path, { tuple_key: tuple, extra: 1 })).status, 400);
});

// ---------------------------------------------------------------------------------------------
// The request contract.

withFga(
  "OpenFGA: POSTs the tuple, model id and bearer token to /stores/{id}/check",
  async (fga) => {
    fga.grant("user:alice", "file:docs/reports/q1.pdf");
    const authorizer = createAuthorizer(fgaConfig(fga.url));
    assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
    assert.equal(fga.calls.length, 1);
    const call = fga.calls[0]!;
    assert.equal(call.method, "POST");
    assert.equal(call.path, `/stores/${STORE}/check`);
    assert.equal(call.authorization, `Bearer ${TOKEN}`);
    assert.equal(call.contentType, "application/json");
    assert.deepEqual(JSON.parse(call.body), {
      tuple_key: { user: "user:alice", relation: "viewer", object: "file:docs/reports/q1.pdf" },
      authorization_model_id: MODEL,
    });
  },
);

withFga("OpenFGA: no model id and no token leave both out", async (fga) => {
  fga.token = undefined;
  fga.grant("user:alice", "file:docs/reports/q1.pdf");
  for (const empty of [undefined, ""]) {
    const config = fgaConfig(fga.url + "/", { authorizationModelId: empty, apiToken: empty });
    const decision = await createAuthorizer(config).authorize({ ...INPUT, method: "HEAD" });
    assert.equal(decision.allowed, true);
    const call = fga.calls.at(-1)!;
    assert.equal(
      call.path,
      `/stores/${STORE}/check`,
      "a trailing slash on the endpoint is dropped",
    );
    assert.equal(call.authorization, null);
    assert.deepEqual(JSON.parse(call.body), {
      tuple_key: { user: "user:alice", relation: "viewer", object: "file:docs/reports/q1.pdf" },
    });
  }
});

Deno.test("OpenFGA object mapping follows the original: bucket, folder or file", () => {
  assert.equal(objectFor("docs", ""), "bucket:docs");
  assert.equal(objectFor("docs", "reports/"), "folder:docs/reports/");
  assert.equal(objectFor("docs", "reports/2024/"), "folder:docs/reports/2024/");
  assert.equal(objectFor("docs", "reports/q1.pdf"), "file:docs/reports/q1.pdf");
  assert.equal(objectFor("docs", "a"), "file:docs/a");
});

withFga("OpenFGA: the object sent is the mapped one, with the config bucket name", async (fga) => {
  fga.grant("user:alice", "bucket:docs");
  fga.grant("user:alice", "folder:docs/reports/");
  const authorizer = createAuthorizer(fgaConfig(fga.url));
  const sentObject = () => JSON.parse(fga.calls.at(-1)!.body).tuple_key.object;
  assert.equal((await authorizer.authorize({ ...INPUT, path: "/docs", key: "" })).allowed, true);
  assert.equal(sentObject(), "bucket:docs");
  const folder = await authorizer.authorize({ ...INPUT, path: "/docs/reports/", key: "reports/" });
  assert.equal(folder.allowed, true);
  assert.equal(sentObject(), "folder:docs/reports/");
  const file = await authorizer.authorize(INPUT);
  assert.equal(sentObject(), "file:docs/reports/q1.pdf");
  assert.equal(file.allowed, false, "only the leaf is checked; inheritance is the model's job");
});

// ---------------------------------------------------------------------------------------------
// Answers and the user claim.

withFga("OpenFGA: allowed false denies on the policy's word, fail mode aside", async (fga) => {
  const decision = await createAuthorizer(fgaConfig(fga.url, { failMode: "open" })).authorize(
    INPUT,
  );
  assert.deepEqual(decision, {
    allowed: false,
    basis: "policy",
    reason: "OpenFGA: user is not a viewer of the object",
  });
});

Deno.test("OpenFGA claimAt: exact name first, then a dotted path, own properties only", () => {
  const claims = { sub: "a", profile: { id: "b", "x.y": "c" }, "urn:x.uid": "d", n: null };
  assert.equal(claimAt(claims, "sub"), "a");
  assert.equal(claimAt(claims, "profile.id"), "b");
  assert.equal(claimAt(claims, "urn:x.uid"), "d");
  assert.equal(claimAt(claims, "profile.missing"), undefined);
  assert.equal(claimAt(claims, "n.deeper"), undefined);
  assert.equal(claimAt(claims, "constructor"), undefined);
  assert.equal(claimAt(claims, "profile.toString"), undefined);
  assert.equal(claimAt(claims, "__proto__"), undefined);
});

withFga("OpenFGA: the user comes from openfga_user_claim (dotted path allowed)", async (fga) => {
  fga.grant("user:bob", "file:docs/reports/q1.pdf");
  const authorizer = createAuthorizer(fgaConfig(fga.url, { userClaim: "profile.id" }));
  const decision = await authorizer.authorize({
    ...INPUT,
    claims: { sub: "alice", profile: { id: "bob" } },
  });
  assert.equal(decision.allowed, true);
  assert.equal(JSON.parse(fga.calls[0]!.body).tuple_key.user, "user:bob");
});

withFga(
  "OpenFGA: a missing or unusable user claim denies without a call, in both modes",
  async (fga) => {
    fga.grant("user:*", "file:docs/reports/q1.pdf");
    for (const failMode of ["closed", "open"] as const) {
      const authorizer = createAuthorizer(fgaConfig(fga.url, { failMode }));
      for (const claims of [{}, { sub: "" }, { sub: 42 }, { sub: ["alice"] }, { sub: null }]) {
        const decision = await authorizer.authorize({ ...INPUT, claims });
        assert.equal(decision.allowed, false, JSON.stringify(claims));
        assert.equal(decision.basis, "policy");
        assert.match(
          decision.reason!,
          /^the user claim "sub" (is missing|is not a non-empty string)/,
        );
      }
    }
    assert.equal(fga.calls.length, 0);
  },
);

withFga("OpenFGA: methods other than GET and HEAD are denied without a call", async (fga) => {
  const authorizer = createAuthorizer(fgaConfig(fga.url, { failMode: "open" }));
  for (const method of ["PUT", "DELETE", "POST"]) {
    const decision = await authorizer.authorize({ ...INPUT, method });
    assert.deepEqual(decision, {
      allowed: false,
      basis: "policy",
      reason: `method ${method} is not a read`,
    });
  }
  fga.grant("user:alice", "file:docs/reports/q1.pdf");
  assert.equal((await authorizer.authorize({ ...INPUT, method: "get" })).allowed, true);
  assert.equal(fga.calls.length, 1);
});

// ---------------------------------------------------------------------------------------------
// 400: OpenFGA refused to judge this tuple; denied whatever the fail mode, never cached.

withFga(
  "OpenFGA 400 (a key OpenFGA rejects) denies in both modes and is not cached",
  async (fga) => {
    const input = { ...INPUT, path: "/docs/my report.pdf", key: "my report.pdf" };
    for (const failMode of ["closed", "open"] as const) {
      const authorizer = createAuthorizer(fgaConfig(fga.url, { failMode }));
      for (let i = 0; i < 2; i++) {
        const decision = await authorizer.authorize(input);
        assert.equal(decision.allowed, false);
        assert.equal(decision.basis, "fail_closed");
        assert.match(
          decision.reason!,
          /^OpenFGA refused the check \(HTTP 400: validation_error: invalid CheckRequest\.TupleKey/,
        );
      }
    }
    assert.equal(fga.calls.length, 4, "every attempt asked again");
  },
);

withFga("OpenFGA 400 (unknown authorization model) denies in both modes", async (fga) => {
  fga.grant("user:alice", "file:docs/reports/q1.pdf");
  for (const failMode of ["closed", "open"] as const) {
    const config = fgaConfig(fga.url, { failMode, authorizationModelId: STORE });
    const decision = await createAuthorizer(config).authorize(INPUT);
    assert.equal(decision.allowed, false);
    assert.equal(decision.basis, "fail_closed");
    assert.match(decision.reason!, /HTTP 400: authorization_model_not_found/);
  }
});

// ---------------------------------------------------------------------------------------------
// Outages: the fail mode decides, and nothing is cached.

const OUTAGES: {
  name: string;
  override?: ScriptedAnswer;
  config?: Partial<OpenFgaConfig>;
  reason: RegExp;
}[] = [
  {
    name: "500 internal_error",
    override: {
      status: 500,
      body: JSON.stringify({ code: "internal_error", message: "Internal Server Error" }),
    },
    reason: /HTTP 500: internal_error: Internal Server Error/,
  },
  {
    name: "401 wrong token",
    config: { apiToken: "wrong" },
    reason: /HTTP 401: unauthenticated/,
  },
  {
    name: "401 missing token",
    config: { apiToken: undefined },
    reason: /HTTP 401: bearer_token_missing/,
  },
  {
    name: "404 unknown store",
    config: { storeId: "01HZX6Q5T6V6W8Y9Z0ABCDEFGJ" },
    reason: /HTTP 404: store_id_not_found/,
  },
  {
    name: "429 rate limited",
    override: {
      status: 429,
      body: JSON.stringify({ code: "rate_limit_exceeded", message: "too many requests" }),
    },
    reason: /HTTP 429: rate_limit_exceeded/,
  },
  {
    name: '200 {"allowed":"true"}',
    override: { status: 200, body: '{"allowed":"true","resolution":""}' },
    reason: /no boolean "allowed"/,
  },
  { name: "200 {}", override: { status: 200, body: "{}" }, reason: /no boolean "allowed"/ },
  { name: "200 [true]", override: { status: 200, body: "[true]" }, reason: /no boolean "allowed"/ },
  {
    name: "200 not JSON",
    override: { status: 200, body: "ok", contentType: "text/plain" },
    reason: /not JSON/,
  },
];

for (const outage of OUTAGES) {
  withFga(`OpenFGA outage (${outage.name}): closed denies, open allows`, async (fga) => {
    fga.grant("user:alice", "file:docs/reports/q1.pdf");
    for (const failMode of ["closed", "open"] as const) {
      if (outage.override !== undefined) fga.overrides.push(outage.override);
      const authorizer = createAuthorizer(fgaConfig(fga.url, { failMode, ...outage.config }));
      const decision = await authorizer.authorize(INPUT);
      assert.equal(decision.allowed, failMode === "open");
      assert.equal(decision.basis, `fail_${failMode}`);
      assert.match(decision.reason!, /^OpenFGA was unreachable \(/);
      assert.match(decision.reason!, outage.reason);
      assert.match(decision.reason!, new RegExp(`failing ${failMode}$`));
      assert.doesNotMatch(decision.reason!, new RegExp(TOKEN), "the token never shows");
      if (outage.config === undefined) {
        assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
      }
    }
  });
}

withFga("OpenFGA outage (timeout): the call is aborted after timeoutMs", async (fga) => {
  await assertTimeoutDecidesByFailMode(fga, (over) => fgaConfig(fga.url, over), INPUT);
});

Deno.test("OpenFGA outage (connection refused): fail mode decides", async () => {
  await assertRefusedDecidesByFailMode(
    "OpenFGA",
    (url, failMode) => fgaConfig(url, { failMode }),
    INPUT,
  );
});

withFga(
  "OpenFGA: a client abort ends the call and denies, even with fail mode open",
  async (fga) => {
    fga.overrides.push("stall");
    const authorizer = createAuthorizer(fgaConfig(fga.url, { failMode: "open", timeoutMs: 5000 }));
    const controller = new AbortController();
    const pending = authorizer.authorize(INPUT, controller.signal);
    setTimeout(() => controller.abort(new Error("client gone")), 30);
    assert.deepEqual(await pending, {
      allowed: false,
      basis: "fail_closed",
      reason: "the request was aborted before OpenFGA answered",
    });
    const calls = fga.calls.length;
    assert.equal((await authorizer.authorize(INPUT, AbortSignal.abort())).allowed, false);
    assert.equal(fga.calls.length, calls, "an aborted signal makes no call");
  },
);

// ---------------------------------------------------------------------------------------------
// The decision cache.

withFga("OpenFGA cache: keyed by the tuple, shared by tokens of one user, expires", async (fga) => {
  fga.grant("user:alice", "file:docs/reports/q1.pdf");
  const clock = { t: 5_000 };
  const authorizer = createAuthorizer(fgaConfig(fga.url, { cacheTtlSeconds: 10 }), {
    now: () => clock.t,
  });
  assert.equal((await authorizer.authorize(INPUT)).basis, "policy");
  // Another token of alice (other iat/exp, another client) is the same tuple.
  const otherToken = { ...INPUT, claims: { sub: "alice", iat: 1, exp: 3 }, clientIp: "10.0.0.1" };
  assert.deepEqual(await authorizer.authorize(otherToken), { allowed: true, basis: "cache" });
  assert.equal(fga.calls.length, 1);

  const bob = { ...INPUT, claims: { sub: "bob" } };
  assert.equal((await authorizer.authorize(bob)).basis, "policy");
  const bobAgain = await authorizer.authorize(bob);
  assert.deepEqual(bobAgain, {
    allowed: false,
    basis: "cache",
    reason: "OpenFGA: user is not a viewer of the object",
  });
  assert.equal((await authorizer.authorize({ ...INPUT, key: "other.pdf" })).basis, "policy");
  assert.equal(fga.calls.length, 3);

  fga.tuples.clear(); // revoked: visible once the TTL has run out
  clock.t = 14_999;
  assert.equal((await authorizer.authorize(INPUT)).allowed, true);
  clock.t = 15_000;
  assert.deepEqual((await authorizer.authorize(INPUT)).basis, "policy");
  assert.equal((await authorizer.authorize(INPUT)).allowed, false);
  authorizer.close();
});

withFga("OpenFGA cache: TTL 0 disables it", async (fga) => {
  fga.grant("user:alice", "file:docs/reports/q1.pdf");
  const authorizer = createAuthorizer(fgaConfig(fga.url, { cacheTtlSeconds: 0 }));
  await authorizer.authorize(INPUT);
  assert.equal((await authorizer.authorize(INPUT)).basis, "policy");
  assert.equal(fga.calls.length, 2);
});

// ---------------------------------------------------------------------------------------------
// Property: random claims, keys and paths only ever produce decisions.

const BASES = new Set(["policy", "cache", "fail_open", "fail_closed"]);

function assertDecision(decision: AuthorizationDecision) {
  assert.equal(typeof decision.allowed, "boolean");
  assert.ok(BASES.has(decision.basis), decision.basis);
  if (decision.reason !== undefined) assert.equal(typeof decision.reason, "string");
}

withFga("OpenFGA: property: random claims and paths never make authorize() throw", async (fga) => {
  fga.grant("user:*", "bucket:docs");
  const authorizer = createAuthorizer(
    fgaConfig(fga.url, { userClaim: "user.id", cacheTtlSeconds: 1 }),
  );
  const claimValue = fc.oneof(fc.string(), fc.jsonValue(), fc.anything({ withBigInt: true }));
  // Weighted towards claims that name a user, so that a good share of runs reach the server (the
  // assertion after the property); the other arms keep the junk inputs coming.
  const claims = fc.oneof(
    fc.dictionary(fc.string(), claimValue, { maxKeys: 5 }),
    fc.record({ user: fc.oneof(fc.record({ id: claimValue }), claimValue) }),
    { arbitrary: fc.record({ "user.id": fc.string({ minLength: 1 }) }), weight: 3 },
  );
  await fc.assert(
    fc.asyncProperty(
      claims,
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.constantFrom("GET", "HEAD", "GET", "HEAD", "OPTIONS"),
      async (claims, bucket, key, method) => {
        const before = fga.calls.length;
        const decision = await authorizer.authorize({
          claims: claims as Record<string, unknown>,
          bucket,
          path: `/${bucket}/${key}`,
          key,
          method,
          clientIp: "",
        });
        assertDecision(decision);
        if (fga.calls.length > before) {
          const sent = JSON.parse(fga.calls.at(-1)!.body);
          assert.deepEqual(Object.keys(sent).sort(), ["authorization_model_id", "tuple_key"]);
          assert.equal(sent.tuple_key.relation, "viewer");
          assert.equal(sent.tuple_key.object, objectFor(bucket, key));
          assert.match(sent.tuple_key.user, /^user:./);
        }
      },
    ),
    { numRuns: 150 },
  );
  assert.ok(fga.calls.length >= 30, `the property reached the server ${fga.calls.length} times`);
});
