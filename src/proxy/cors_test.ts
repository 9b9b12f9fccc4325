// Unit tests of a bucket's CORS policy: preflight answers, actual-response headers, Vary.

import assert from "node:assert/strict";
import type { CorsConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { CorsPolicy, requestedHeaders, varyOnOrigin } from "./cors.ts";

const ORIGIN = "https://app.example.com";

function policy(overrides: Partial<CorsConfig> = {}): CorsPolicy {
  return new CorsPolicy("assets", {
    allowedOrigins: [ORIGIN, "http://localhost:3000"],
    allowedMethods: ["GET", "HEAD"],
    allowedHeaders: ["authorization", "range"],
    exposedHeaders: ["ETag", "X-Amz-Meta-Author"],
    maxAgeSeconds: 600,
    allowCredentials: false,
    ...overrides,
  });
}

function preflight(cors: CorsPolicy, headers: Record<string, string>): Response {
  return cors.options(new Request("http://gw/assets/a", { method: "OPTIONS", headers }), "rid");
}

function refusal(run: () => unknown): ProxyError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ProxyError);
    return error;
  }
  assert.fail("expected a refusal");
}

Deno.test("varyOnOrigin() adds Origin once, keeping what is there", () => {
  const cases: [string | null, string][] = [
    [null, "Origin"],
    ["Accept-Encoding", "Accept-Encoding, Origin"],
    ["accept-encoding, origin", "accept-encoding, origin"],
    ["Origin", "Origin"],
    ["*", "*"],
    ["X-Origin-Thing", "X-Origin-Thing, Origin"],
  ];
  for (const [before, after] of cases) {
    const headers = new Headers(before === null ? {} : { vary: before });
    varyOnOrigin(headers);
    assert.equal(headers.get("vary"), after, String(before));
  }
});

Deno.test("requestedHeaders() lowercases, trims and drops empties and repeats", () => {
  assert.deepEqual(requestedHeaders(null), []);
  assert.deepEqual(requestedHeaders("Authorization, RANGE,,range , x-a"), [
    "authorization",
    "range",
    "x-a",
  ]);
});

Deno.test("decorate(): an allowed origin gets Allow-Origin and Expose-Headers, others only Vary", () => {
  const cors = policy();
  const allowed = new Headers();
  cors.decorate(allowed, new Headers({ origin: ORIGIN }), "GET");
  assert.equal(allowed.get("access-control-allow-origin"), ORIGIN);
  assert.equal(allowed.get("access-control-expose-headers"), "ETag, X-Amz-Meta-Author");
  assert.equal(allowed.get("access-control-allow-credentials"), null);
  assert.equal(allowed.get("vary"), "Origin");

  for (const request of [new Headers({ origin: "https://evil.example" }), new Headers()]) {
    const headers = new Headers();
    cors.decorate(headers, request, "GET");
    assert.deepEqual([...headers], [["vary", "Origin"]]);
  }
  // Origins compare exactly, as browsers serialize them.
  const upper = new Headers();
  cors.decorate(upper, new Headers({ origin: "https://APP.example.com" }), "GET");
  assert.equal(upper.get("access-control-allow-origin"), null);
  // A method outside allowed_methods gets no CORS headers.
  const head = new Headers();
  policy({ allowedMethods: ["GET"] }).decorate(head, new Headers({ origin: ORIGIN }), "HEAD");
  assert.equal(head.get("access-control-allow-origin"), null);
  // OPTIONS responses are made whole by options(); decorate() leaves them alone.
  const options = new Headers();
  cors.decorate(options, new Headers({ origin: ORIGIN }), "OPTIONS");
  assert.deepEqual([...options], []);
});

Deno.test("decorate(): '*' answers '*', credentials echo the origin", () => {
  const any = new Headers();
  policy({ allowedOrigins: ["*"] }).decorate(any, new Headers({ origin: "https://x.test" }), "GET");
  assert.equal(any.get("access-control-allow-origin"), "*");
  const creds = new Headers();
  policy({ allowCredentials: true }).decorate(creds, new Headers({ origin: ORIGIN }), "HEAD");
  assert.equal(creds.get("access-control-allow-origin"), ORIGIN);
  assert.equal(creds.get("access-control-allow-credentials"), "true");
  const none = new Headers();
  policy({ exposedHeaders: [] }).decorate(none, new Headers({ origin: ORIGIN }), "GET");
  assert.equal(none.get("access-control-expose-headers"), null);
});

Deno.test("options(): an allowed preflight gets 204 and the Access-Control-Allow-* headers", () => {
  const res = preflight(policy({ allowCredentials: true }), {
    origin: ORIGIN,
    "access-control-request-method": "HEAD",
    "access-control-request-headers": "Range, authorization",
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  assert.equal(res.headers.get("access-control-allow-methods"), "GET, HEAD");
  assert.equal(res.headers.get("access-control-allow-headers"), "range, authorization");
  assert.equal(res.headers.get("access-control-max-age"), "600");
  assert.equal(
    res.headers.get("vary"),
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  );
  assert.equal(res.headers.get("x-request-id"), "rid");
  // No requested headers: no Allow-Headers. max_age 0 is sent (browsers then do not cache).
  const plain = preflight(policy({ maxAgeSeconds: 0 }), {
    origin: ORIGIN,
    "access-control-request-method": "GET",
  });
  assert.equal(plain.headers.get("access-control-allow-headers"), null);
  assert.equal(plain.headers.get("access-control-max-age"), "0");
  // "*" admits any header; the names are echoed (a literal "*" would not cover Authorization).
  const star = preflight(policy({ allowedHeaders: ["*"] }), {
    origin: ORIGIN,
    "access-control-request-method": "GET",
    "access-control-request-headers": "authorization,x-whatever",
  });
  assert.equal(star.headers.get("access-control-allow-headers"), "authorization, x-whatever");
});

Deno.test("options(): a refused preflight is 403 cors_forbidden saying what to configure", () => {
  const cors = policy();
  const origin = refusal(() =>
    preflight(cors, { origin: "https://evil.example", "access-control-request-method": "GET" })
  );
  assert.equal(origin.code, "cors_forbidden");
  assert.equal(origin.status, 403);
  assert.equal(
    origin.message,
    'The origin https://evil.example is not in the allowed_origins of the cors settings of bucket "assets"; add it there to let pages of that origin read this bucket.',
  );
  assert.match(origin.headers?.vary ?? "", /^Origin, /);
  const method = refusal(() =>
    preflight(cors, { origin: ORIGIN, "access-control-request-method": "DELETE" })
  );
  assert.match(method.message, /^The method DELETE is not in the allowed_methods .* \(GET, HEAD\)/);
  const header = refusal(() =>
    preflight(cors, {
      origin: ORIGIN,
      "access-control-request-method": "GET",
      "access-control-request-headers": "range, x-custom",
    })
  );
  assert.match(header.message, /^The request header x-custom is not in the allowed_headers/);
});

Deno.test("options(): OPTIONS without Origin or a requested method is not a preflight", () => {
  const cases: Record<string, string>[] = [
    {},
    { origin: ORIGIN },
    { "access-control-request-method": "GET" },
  ];
  for (const headers of cases) {
    const res = preflight(policy(), headers);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    assert.equal(res.headers.get("vary"), "Origin");
  }
});
