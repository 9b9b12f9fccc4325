// Tests the OPA authorizer against an in-test OPA Data API: contract, answers, outages, cache.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { OpaConfig } from "../config/types.ts";
import {
  type AuthorizationDecision,
  type AuthorizationInput,
  createAuthorizer,
} from "./authorizer.ts";
import {
  assertRefusedDecidesByFailMode,
  assertTimeoutDecidesByFailMode,
  FakePolicyServer,
  type ScriptedAnswer,
  withServer,
} from "./_policy_test_server.ts";

// ---------------------------------------------------------------------------------------------
// A fake OPA: the Data API as documented (POST /v1/data/{path} with {"input": ...} -> {"result"}
// or {} when the document is undefined; 400 invalid_parameter on a malformed body; gorilla mux's
// text 404 off the API), plus switches to stall or to answer something else instead.

class FakeOpa extends FakePolicyServer {
  /** Rules by data path (what follows /v1/data/): input -> document, undefined = undefined. */
  readonly rules = new Map<string, (input: unknown) => unknown>();

  protected override answer(request: Request, url: URL, body: string): Response {
    if (url.pathname !== "/v1/data" && !url.pathname.startsWith("/v1/data/")) {
      return new Response("404 page not found\n", {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (request.method !== "POST") return new Response(null, { status: 405 });
    let document: unknown = {};
    try {
      if (body !== "") document = JSON.parse(body);
      if (typeof document !== "object" || document === null || Array.isArray(document)) {
        throw new Error("json: cannot unmarshal into Go value of type types.DataRequestV1");
      }
    } catch (error) {
      return json(400, {
        code: "invalid_parameter",
        message: `body contains malformed input document: ${(error as Error).message}`,
      });
    }
    const request_ = document as Record<string, unknown>;
    const rule = this.rules.get(url.pathname.slice("/v1/data/".length));
    const result = rule?.(request_.input);
    const answer: Record<string, unknown> = {};
    if (result !== undefined) answer.result = result;
    if (!("input" in request_)) {
      answer.warning = {
        code: "api_usage_warning",
        message: "'input' key missing from the request",
      };
    }
    return json(200, answer);
  }
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

const POLICY = "yatagarasu/authz/allow";

function opaConfig(url: string, over: Partial<OpaConfig> = {}): OpaConfig {
  return {
    type: "opa",
    url,
    policyPath: POLICY,
    timeoutMs: 2000,
    cacheTtlSeconds: 60,
    failMode: "closed",
    ...over,
  };
}

const INPUT: AuthorizationInput = {
  claims: { sub: "alice", role: "viewer", groups: ["eng"], exp: 2_000_000_000 },
  bucket: "private",
  path: "/private/docs/a.txt",
  key: "docs/a.txt",
  method: "GET",
  clientIp: "203.0.113.7",
};

function withOpa(name: string, fn: (opa: FakeOpa) => Promise<void>) {
  Deno.test(name, withServer(() => new FakeOpa(), fn));
}

// ---------------------------------------------------------------------------------------------
// The fake itself behaves like OPA.

withOpa("fake OPA answers like the OPA Data API", async (opa) => {
  opa.rules.set("a/b", (input) => (input as { x?: number } | undefined)?.x === 1);
  const post = async (path: string, body: string) => {
    const response = await fetch(opa.url + path, { method: "POST", body });
    return { status: response.status, text: await response.text() };
  };
  assert.deepEqual(await post("/v1/data/a/b", '{"input":{"x":1}}'), {
    status: 200,
    text: '{"result":true}',
  });
  assert.deepEqual(await post("/v1/data/no/such", '{"input":{}}'), { status: 200, text: "{}" });
  const malformed = await post("/v1/data/a/b", '{"input": @}');
  assert.equal(malformed.status, 400);
  assert.equal(JSON.parse(malformed.text).code, "invalid_parameter");
  assert.match(
    JSON.parse(await post("/v1/data/a/b", "{}").then((r) => r.text)).warning.message,
    /input/,
  );
  assert.deepEqual(await post("/v2/data/a/b", "{}"), { status: 404, text: "404 page not found\n" });
});

// ---------------------------------------------------------------------------------------------
// The request contract.

withOpa("OPA: POSTs the original's input document to /v1/data/{policy_path}", async (opa) => {
  opa.rules.set(POLICY, () => true);
  const authorizer = createAuthorizer(opaConfig(opa.url));
  assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
  assert.equal(opa.calls.length, 1);
  const call = opa.calls[0]!;
  assert.equal(call.method, "POST");
  assert.equal(call.path, `/v1/data/${POLICY}`);
  assert.equal(call.contentType, "application/json");
  assert.deepEqual(JSON.parse(call.body), {
    input: {
      jwt_claims: { sub: "alice", role: "viewer", groups: ["eng"], exp: 2_000_000_000 },
      bucket: "private",
      path: "/private/docs/a.txt",
      method: "GET",
      client_ip: "203.0.113.7",
    },
  });
  authorizer.close();
});

withOpa(
  "OPA: public bucket sends jwt_claims {} and no client_ip when it is unknown",
  async (opa) => {
    let seen: unknown;
    opa.rules.set(POLICY, (input) => {
      seen = input;
      return true;
    });
    // Slashes around the URL and the policy path are normalised.
    const config = opaConfig(opa.url + "/", { policyPath: `/${POLICY}/` });
    const decision = await createAuthorizer(config).authorize({
      ...INPUT,
      claims: {},
      method: "HEAD",
      clientIp: "",
    });
    assert.equal(decision.allowed, true);
    assert.equal(opa.calls[0]!.path, `/v1/data/${POLICY}`);
    assert.deepEqual(seen, {
      jwt_claims: {},
      bucket: "private",
      path: "/private/docs/a.txt",
      method: "HEAD",
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Policy answers.

withOpa("OPA: result false denies on the policy's word", async (opa) => {
  opa.rules.set(POLICY, () => false);
  const decision = await createAuthorizer(opaConfig(opa.url, { failMode: "open" })).authorize(
    INPUT,
  );
  assert.deepEqual(decision, {
    allowed: false,
    basis: "policy",
    reason: `denied by OPA policy ${POLICY}`,
  });
});

withOpa("OPA: result {allow, reason} passes the policy's reason on", async (opa) => {
  const answers: unknown[] = [
    { allow: false, reason: "not in group eng" },
    { allow: true, reason: "owner" },
    { allow: true },
    { allow: false },
  ];
  opa.rules.set(POLICY, () => answers.shift());
  const authorizer = createAuthorizer(opaConfig(opa.url, { cacheTtlSeconds: 0 }));
  assert.deepEqual(await authorizer.authorize(INPUT), {
    allowed: false,
    basis: "policy",
    reason: "not in group eng",
  });
  assert.deepEqual(await authorizer.authorize(INPUT), {
    allowed: true,
    basis: "policy",
    reason: "owner",
  });
  assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
  assert.deepEqual(await authorizer.authorize(INPUT), {
    allowed: false,
    basis: "policy",
    reason: `denied by OPA policy ${POLICY}`,
  });
});

withOpa("OPA: an undefined result ({}) denies as a policy answer, fail mode aside", async (opa) => {
  // No rule at the path: OPA answers 200 {} (undefined document), as for `allow if {...}` with no
  // default. OPA is up, so fail mode open must not turn this into an allow.
  const authorizer = createAuthorizer(
    opaConfig(opa.url, { policyPath: "no/such/rule", failMode: "open" }),
  );
  const decision = await authorizer.authorize(INPUT);
  assert.equal(decision.allowed, false);
  assert.equal(decision.basis, "policy");
  assert.match(decision.reason!, /answered nothing usable \(no result/);
  assert.match(decision.reason!, /opa_policy_path/);
  assert.equal((await authorizer.authorize(INPUT)).basis, "cache", "a policy answer is cached");
  assert.equal(opa.calls.length, 1);
});

withOpa("OPA: results of any other shape deny as policy answers", async (opa) => {
  const shapes: unknown[] = ["yes", 1, null, [true], { allow: "true" }, { allowed: true }, {}];
  for (const shape of shapes) {
    opa.rules.set(POLICY, () => shape);
    const authorizer = createAuthorizer(opaConfig(opa.url, { failMode: "open" }));
    const decision = await authorizer.authorize(INPUT);
    assert.equal(decision.allowed, false, JSON.stringify(shape));
    assert.equal(decision.basis, "policy");
    assert.match(decision.reason!, /answered nothing usable \(a result of the wrong shape/);
  }
});

// ---------------------------------------------------------------------------------------------
// Outages: the fail mode decides.

const OUTAGES: { name: string; override?: ScriptedAnswer; path?: string; reason: RegExp }[] = [
  {
    name: "500 internal_error",
    override: {
      status: 500,
      body: JSON.stringify({
        code: "internal_error",
        message:
          "1 error occurred: policy.rego:5: eval_conflict_error: complete rules must not produce multiple outputs",
      }),
    },
    reason: /HTTP 500: internal_error: 1 error occurred/,
  },
  {
    name: "400 invalid_parameter",
    override: {
      status: 400,
      body: JSON.stringify({
        code: "invalid_parameter",
        message: "body contains malformed input document",
      }),
    },
    reason: /HTTP 400: invalid_parameter/,
  },
  { name: "404 off the API (wrong opa_url)", path: "/opa", reason: /HTTP 404\)/ },
  { name: "503 without a body", override: { status: 503, body: "" }, reason: /HTTP 503\)/ },
  {
    name: "200 that is not JSON",
    override: { status: 200, body: "<html>proxy</html>", contentType: "text/html" },
    reason: /not JSON/,
  },
  {
    name: "200 with a JSON array",
    override: { status: 200, body: "[true]" },
    reason: /not a JSON object/,
  },
  {
    name: "200 with JSON true",
    override: { status: 200, body: "true" },
    reason: /not a JSON object/,
  },
];

for (const outage of OUTAGES) {
  withOpa(`OPA outage (${outage.name}): closed denies, open allows, never cached`, async (opa) => {
    opa.rules.set(POLICY, () => true);
    for (const failMode of ["closed", "open"] as const) {
      if (outage.override !== undefined) opa.overrides.push(outage.override);
      const authorizer = createAuthorizer(
        opaConfig(opa.url + (outage.path ?? ""), { failMode }),
      );
      const decision = await authorizer.authorize(INPUT);
      assert.equal(decision.allowed, failMode === "open");
      assert.equal(decision.basis, failMode === "open" ? "fail_open" : "fail_closed");
      assert.match(decision.reason!, /^OPA was unreachable \(/);
      assert.match(decision.reason!, outage.reason);
      assert.match(decision.reason!, failMode === "open" ? /failing open$/ : /failing closed$/);
      if (outage.path === undefined) {
        // The outage was not cached: the next call asks again and gets the real answer.
        assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
      }
    }
  });
}

withOpa("OPA outage (timeout): the call is aborted after timeoutMs", async (opa) => {
  await assertTimeoutDecidesByFailMode(opa, (over) => opaConfig(opa.url, over), INPUT);
});

Deno.test("OPA outage (connection refused): fail mode decides", async () => {
  await assertRefusedDecidesByFailMode(
    "OPA",
    (url, failMode) => opaConfig(url, { failMode }),
    INPUT,
  );
});

withOpa("OPA: a client abort ends the call and denies, even with fail mode open", async (opa) => {
  opa.overrides.push("stall");
  const authorizer = createAuthorizer(opaConfig(opa.url, { failMode: "open", timeoutMs: 5000 }));
  const controller = new AbortController();
  const started = performance.now();
  const pending = authorizer.authorize(INPUT, controller.signal);
  setTimeout(() => controller.abort(), 30);
  const decision = await pending;
  assert.ok(performance.now() - started < 2000);
  assert.deepEqual(decision, {
    allowed: false,
    basis: "fail_closed",
    reason: "the request was aborted before OPA answered",
  });
  // An already-aborted signal makes no call at all.
  const calls = opa.calls.length;
  const again = await authorizer.authorize(INPUT, AbortSignal.abort());
  assert.equal(again.basis, "fail_closed");
  assert.equal(opa.calls.length, calls);
});

// ---------------------------------------------------------------------------------------------
// The decision cache.

withOpa("OPA cache: hit, keyed by the whole input, expires after the TTL", async (opa) => {
  opa.rules.set(POLICY, (input) => (input as { path: string }).path.startsWith("/private/docs/"));
  const clock = { t: 0 };
  const authorizer = createAuthorizer(opaConfig(opa.url, { cacheTtlSeconds: 30 }), {
    now: () => clock.t,
  });
  assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "policy" });
  assert.deepEqual(await authorizer.authorize(INPUT), { allowed: true, basis: "cache" });
  // The same claims in another key order are the same input.
  const reordered = {
    ...INPUT,
    claims: Object.fromEntries(Object.entries(INPUT.claims).reverse()),
  };
  assert.equal((await authorizer.authorize(reordered)).basis, "cache");
  assert.equal(opa.calls.length, 1);

  const other = { ...INPUT, path: "/private/secret.txt", key: "secret.txt" };
  const denied = await authorizer.authorize(other);
  assert.equal(denied.basis, "policy");
  assert.equal(denied.allowed, false);
  const deniedAgain = await authorizer.authorize(other);
  assert.equal(deniedAgain.basis, "cache", "denials are cached too");
  assert.equal(deniedAgain.reason, denied.reason);
  assert.equal(
    (await authorizer.authorize({ ...INPUT, clientIp: "198.51.100.1" })).basis,
    "policy",
  );
  assert.equal(opa.calls.length, 3);

  clock.t = 29_999;
  assert.equal((await authorizer.authorize(INPUT)).basis, "cache");
  clock.t = 30_000;
  assert.equal((await authorizer.authorize(INPUT)).basis, "policy", "expired after 30 s");
  assert.equal(opa.calls.length, 4);
});

withOpa(
  "OPA cache: TTL 0 disables it; each authorizer has its own; close() empties it",
  async (opa) => {
    opa.rules.set(POLICY, () => true);
    const uncached = createAuthorizer(opaConfig(opa.url, { cacheTtlSeconds: 0 }));
    await uncached.authorize(INPUT);
    assert.equal((await uncached.authorize(INPUT)).basis, "policy");
    assert.equal(opa.calls.length, 2);

    const a = createAuthorizer(opaConfig(opa.url));
    const b = createAuthorizer(opaConfig(opa.url, { cacheTtlSeconds: 1 }));
    await a.authorize(INPUT);
    assert.equal((await b.authorize(INPUT)).basis, "policy", "b does not see a's cache");
    assert.equal((await a.authorize(INPUT)).basis, "cache");
    a.close();
    assert.equal((await a.authorize(INPUT)).basis, "policy", "closed: cache dropped");
    assert.equal((await a.authorize(INPUT)).basis, "policy", "and nothing cached after close");
    b.close();
  },
);

withOpa("OPA: claims JSON cannot carry deny without a call", async (opa) => {
  opa.rules.set(POLICY, () => true);
  const cyclic: Record<string, unknown> = { sub: "alice" };
  cyclic.self = cyclic;
  const authorizer = createAuthorizer(opaConfig(opa.url, { failMode: "open" }));
  for (const claims of [cyclic, { big: 1n }]) {
    const decision = await authorizer.authorize({ ...INPUT, claims });
    assert.equal(decision.allowed, false);
    assert.equal(decision.basis, "fail_closed");
    assert.match(decision.reason!, /could not be put to OPA \(TypeError/);
  }
  assert.equal(opa.calls.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Property: random claims and paths only ever produce decisions, and the body keeps its shape.

const BASES = new Set(["policy", "cache", "fail_open", "fail_closed"]);

function assertDecision(decision: AuthorizationDecision) {
  assert.equal(typeof decision.allowed, "boolean");
  assert.ok(BASES.has(decision.basis), decision.basis);
  if (decision.reason !== undefined) assert.equal(typeof decision.reason, "string");
}

withOpa("OPA: property: random claims and paths never make authorize() throw", async (opa) => {
  opa.rules.set(POLICY, (input) => {
    const claims = (input as { jwt_claims: Record<string, unknown> }).jwt_claims;
    return claims.role === "admin" ? true : { allow: false, reason: "not admin" };
  });
  const authorizer = createAuthorizer(opaConfig(opa.url, { cacheTtlSeconds: 1 }));
  const claims = fc.oneof(
    fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }),
    fc.object({
      maxDepth: 3,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      claims,
      fc.string(),
      fc.string(),
      fc.constantFrom("GET", "HEAD", "POST", "get"),
      fc.oneof(fc.constant(""), fc.string()),
      async (claims, path, bucket, method, clientIp) => {
        const before = opa.calls.length;
        const decision = await authorizer.authorize({
          claims: claims as Record<string, unknown>,
          bucket,
          path,
          key: path.replace(/^\/[^/]*\/?/, ""),
          method,
          clientIp,
        });
        assertDecision(decision);
        if (opa.calls.length > before) {
          const sent = JSON.parse(opa.calls.at(-1)!.body) as { input: Record<string, unknown> };
          assert.deepEqual(
            Object.keys(sent.input).sort(),
            clientIp === ""
              ? ["bucket", "jwt_claims", "method", "path"]
              : ["bucket", "client_ip", "jwt_claims", "method", "path"],
          );
          assert.equal(sent.input.path, path);
        }
      },
    ),
    { numRuns: 150 },
  );
  assert.ok(opa.calls.length >= 30, `the property reached the server ${opa.calls.length} times`);
});
