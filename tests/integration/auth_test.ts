// Integration: the authenticate/authorize stages through createApp — JWT, claims, OPA, signed URLs.

import assert from "node:assert/strict";
import { signPath } from "../../src/auth/signed_url.ts";
import type { BucketConfig } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testConfig } from "../support/app_harness.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";
import { signHs256, TEST_JWT_SECRET, testJwtConfig } from "../support/jwt_config.ts";

const SIGNING_KEY = { id: "k1", secret: "signed-url-secret-that-is-long-enough-1234" };

/** A user-1 token, issued now, expiring in `expiresIn`. */
function token(
  claims: Record<string, unknown>,
  expiresIn = "5m",
  secret = TEST_JWT_SECRET,
): Promise<string> {
  return signHs256({ ...claims, sub: "user-1" }, secret, { issuedAt: true, expiresIn });
}

Deno.test("authentication and authorization through the object path", async (t) => {
  const upstream = await startFakeUpstream(() => new Response("object body"));
  let opaAllows = true;
  const opaInputs: unknown[] = [];
  const opa = await startFakeUpstream(async (request) => {
    opaInputs.push((await request.json()).input);
    return Response.json({ result: { allow: opaAllows, reason: opaAllows ? "ok" : "not yours" } });
  });
  const jwt = testJwtConfig({
    leewaySeconds: 0,
    tokenSources: [
      { type: "bearer", name: undefined, prefix: undefined },
      { type: "query", name: "token", prefix: undefined },
    ],
    claims: [{ claim: "role", operator: "in", value: ["viewer", "admin"] }],
  });
  const bucket = (name: string, extra: Partial<BucketConfig>): BucketConfig => ({
    ...bucketConfig({
      name,
      pathPrefix: `/${name}`,
      bucket: `${name}-bucket`,
      endpoint: upstream.endpoint,
    }),
    ...extra,
  });
  const gw = await buildTestApp(testConfig([
    bucket("public", {}),
    bucket("private", { jwt }),
    bucket("policy", {
      jwt,
      authorization: {
        type: "opa",
        url: opa.endpoint,
        policyPath: "yatagarasu/allow",
        timeoutMs: 500,
        cacheTtlSeconds: 0,
        failMode: "closed",
      },
    }),
    bucket("links", { signedUrls: { keys: [SIGNING_KEY], maxExpirySeconds: 3600 } }),
  ]));
  try {
    await t.step("a public bucket needs no token", async () => {
      const res = await gw.request("/public/a.txt");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "object body");
    });

    await t.step("a missing token is 401 with WWW-Authenticate: Bearer", async () => {
      const res = await gw.request("/private/a.txt");
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
      assert.equal((await res.json()).code, "token_missing");
    });

    await t.step("a bad token is 401 invalid_token", async () => {
      for (
        const bad of [
          "not-a-jwt",
          await token({ role: "viewer" }, "5m", "another-secret-of-32-characters!!"),
        ]
      ) {
        const res = await gw.request("/private/a.txt", {
          headers: { authorization: `Bearer ${bad}` },
        });
        assert.equal(res.status, 401);
        assert.match(res.headers.get("www-authenticate")!, /error="invalid_token"/);
        assert.equal((await res.json()).code, "token_invalid");
      }
      const expired = await token({ role: "viewer" }, "-1m");
      const res = await gw.request("/private/a.txt", {
        headers: { authorization: `Bearer ${expired}` },
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });

    await t.step("a valid token passes; its claims are checked (403 otherwise)", async () => {
      const ok = await gw.request("/private/a.txt", {
        headers: { authorization: `Bearer ${await token({ role: "viewer" })}` },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const denied = await gw.request("/private/a.txt", {
        headers: { authorization: `Bearer ${await token({ role: "guest" })}` },
      });
      assert.equal(denied.status, 403);
      const body = await denied.json();
      assert.equal(body.code, "forbidden");
      assert.match(body.message, /role/);
    });

    await t.step("a token in the query is accepted and never reaches S3 or the log", async () => {
      const secretToken = await token({ role: "viewer" });
      const res = await gw.request(`/private/q.txt?token=${secretToken}&versionId=v1`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const sent = upstream.requests.at(-1)!;
      assert.equal(sent.target, "/private-bucket/q.txt?versionId=v1");
      assert.equal(sent.headers.authorization?.startsWith("AWS4-HMAC-SHA256"), true);
      await gw.logger.flush();
      assert.ok(!gw.log.text.includes(secretToken));
    });

    await t.step("the client's Authorization never reaches S3", async () => {
      const bearer = await token({ role: "viewer" });
      const res = await gw.request("/private/h.txt", {
        headers: { authorization: `Bearer ${bearer}` },
      });
      await res.body?.cancel();
      assert.ok(!upstream.requests.at(-1)!.headers.authorization!.includes(bearer));
    });

    await t.step("OPA sees the claims and decides", async () => {
      const bearer = await token({ role: "viewer" });
      const allowed = await gw.request("/policy/doc.pdf", {
        headers: { authorization: `Bearer ${bearer}` },
      });
      assert.equal(allowed.status, 200);
      await allowed.body?.cancel();
      const input = opaInputs.at(-1) as Record<string, unknown>;
      assert.equal(input.bucket, "policy");
      assert.equal(input.path, "/policy/doc.pdf");
      assert.equal(input.method, "GET");
      assert.equal((input.jwt_claims as Record<string, unknown>).role, "viewer");
      opaAllows = false;
      const denied = await gw.request("/policy/doc.pdf", {
        headers: { authorization: `Bearer ${bearer}` },
      });
      assert.equal(denied.status, 403);
      assert.match((await denied.json()).message, /not yours/);
    });

    await t.step(
      "a signed URL opens a signed-urls bucket; tampered or expired ones do not",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        const good = signPath({ path: "/links/report.pdf", expiresAt: now + 60, key: SIGNING_KEY });
        const res = await gw.request(good);
        assert.equal(res.status, 200);
        await res.body?.cancel();
        assert.equal(
          upstream.requests.at(-1)!.target,
          "/links-bucket/report.pdf",
          "no signing params upstream",
        );
        const tampered = await gw.request(good.replace("report.pdf", "other.pdf"));
        assert.equal(tampered.status, 403);
        assert.equal((await tampered.json()).code, "signed_url_invalid");
        const expired = signPath({
          path: "/links/report.pdf",
          expiresAt: now - 5,
          key: SIGNING_KEY,
        });
        const late = await gw.request(expired);
        assert.equal(late.status, 403);
        const lateBody = await late.json();
        assert.equal(lateBody.code, "signed_url_expired");
        assert.match(lateBody.message, /expired/);
        const unsigned = await gw.request("/links/report.pdf");
        assert.equal(unsigned.status, 403);
        assert.match((await unsigned.json()).message, /signed URLs/);
      },
    );
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await upstream.close();
    await opa.close();
  }
});
