// Integration: path and request-size hardening through the served gateway and a real s3rver:
// traversal in any spelling never reaches S3, ordinary odd keys do, and 414/431/413 limits.

import assert from "node:assert/strict";
import {
  bucketConfig,
  buildTestApp,
  serveTestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { rawRequest, type RawResponse } from "../support/raw_http.ts";
import { startS3Server } from "../support/s3_server.ts";

/** Keys the original's keyword blocklists refused; S3 and this gateway serve them. */
const ORDINARY_KEYS = [
  "user's report.pdf",
  "it's o'clock.txt",
  "select * from users.csv",
  "union select password.txt",
  "drop table students; --.txt",
  "' or '1'='1.txt",
  "0x41 or 1=1.txt",
  "a+b=c&d;e f.txt",
  "100% done.txt",
  "über/日本語/ファイル ✓.txt",
  ".well-known/security.txt",
  "dots/.../a..b/c../..d.txt",
  "backslash\\in\\key.txt",
];

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function assertProblem(res: RawResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, res.body);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const body = JSON.parse(res.body);
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(typeof body.request_id, "string");
  if (message !== undefined) assert.match(body.message, message);
}

Deno.test("hardening through the served gateway and s3rver", async (t) => {
  const s3 = await startS3Server({ buckets: ["assets", "secrets"] });
  for (const key of ORDINARY_KEYS) await s3.putObject("assets", key, `body of ${key}`);
  await s3.putObject("assets", "docs/hello.txt", "hello");
  await s3.putObject("secrets", "secret.txt", "top secret");
  const config = testConfig([
    bucketConfig({
      name: "public",
      pathPrefix: "/public",
      bucket: "assets",
      endpoint: s3.endpoint,
    }),
    bucketConfig({
      name: "private",
      pathPrefix: "/private",
      bucket: "secrets",
      endpoint: s3.endpoint,
    }),
  ]);
  config.server.securityLimits = { maxUriLength: 2048, maxHeaderSize: 4096, maxBodySize: 64 };
  config.cache = testCacheConfig({
    maxItemBytes: 1024 * 1024,
    maxCacheBytes: 8 * 1024 * 1024,
    defaultTtlSeconds: 60,
  });
  const gw = await buildTestApp(config);
  const served = await serveTestApp(gw);
  const get = (target: string, options?: Parameters<typeof rawRequest>[2]) =>
    rawRequest(served.url, target, options);
  try {
    await t.step(
      "keys with apostrophes, SQL words, + = & ; spaces and unicode are served",
      async () => {
        for (const key of ORDINARY_KEYS) {
          const res = await get("/public/" + encodeKey(key));
          assert.equal(res.status, 200, `${key}: ${res.body}`);
          assert.equal(res.body, `body of ${key}`);
        }
        // Unencoded, as curl sends most of them (a raw "\" excepted, see below).
        const raw = await get("/public/user's report.pdf".replaceAll(" ", "%20"));
        assert.equal(raw.status, 200);
        const sql = await get(
          "/public/select%20*%20from%20users.csv?x=' or 1=1".replaceAll(" ", "+"),
        );
        assert.equal(sql.status, 200, "the query is not inspected");
      },
    );

    const before = s3.requests().length;
    await t.step("traversal in every spelling is 400 and never reaches S3", async () => {
      const attacks = [
        "/public/../private/secret.txt",
        "/public/../secrets/secret.txt",
        "/public/./docs/hello.txt",
        "/public/docs/..",
        "/public/%2e%2e/private/secret.txt",
        "/public/%2E%2E/secrets/secret.txt",
        "/public/%2E./secrets/secret.txt",
        "/public/.%2e/secrets/secret.txt",
        "/public/..%2fsecrets%2fsecret.txt",
        "/public%2f..%2fprivate/secret.txt",
        "/public/..%5csecrets%5csecret.txt",
        "/public/%252e%252e/secrets/secret.txt",
        "/public/%252e%252e%252fsecrets/secret.txt",
      ];
      for (const target of attacks) {
        assertProblem(await get(target), 400, "bad_request", /"\.\." segment|double-encoded/);
      }
      assertProblem(await get("/public/..\\secrets\\secret.txt"), 400, "bad_request", /backslash/);
      assertProblem(await get("/public/a%00.txt"), 400, "bad_request", /U\+0000/);
      assertProblem(await get("/public/a%0d%0ab.txt"), 400, "bad_request", /U\+000D/);
      assertProblem(
        await get("/public/%c0%ae%c0%ae/secrets/secret.txt"),
        400,
        "bad_request",
        /overlong UTF-8 encoding of "\."/,
      );
      assertProblem(await get("/public/%zz"), 400, "bad_request", /"%zz" is not a % followed/);
      // Admin paths are guarded too.
      assertProblem(
        await get("/admin/cache/purge/public/../x", { method: "POST" }),
        400,
        "bad_request",
      );
      assert.deepEqual(s3.requests().slice(before), [], "nothing reached S3");
    });

    await t.step("HEAD gets the 400 without a body", async () => {
      const res = await get("/public/%2e%2e/x", { method: "HEAD" });
      assert.equal(res.status, 400);
      assert.equal(res.body, "");
      assert.ok(Number(res.headers.get("content-length")) > 0);
    });

    await t.step("414 past max_uri_length, the query counted", async () => {
      assert.equal((await get("/public/docs/hello.txt?" + "q".repeat(2000))).status, 200);
      assertProblem(
        await get("/public/docs/hello.txt?" + "q".repeat(2048)),
        414,
        "uri_too_long",
        /this gateway accepts at most 2048 \(server\.security_limits\.max_uri_length\)/,
      );
      assertProblem(await get("/public/" + "k".repeat(3000)), 414, "uri_too_long");
    });

    await t.step("431 past max_header_size", async () => {
      const ok = await get("/public/docs/hello.txt", { headers: [["cookie", "c".repeat(3500)]] });
      assert.equal(ok.status, 200);
      assertProblem(
        await get("/public/docs/hello.txt", { headers: [["cookie", "c".repeat(4100)]] }),
        431,
        "headers_too_large",
        /at most 4096 \(server\.security_limits\.max_header_size\).*cookies/,
      );
    });

    await t.step("413 past max_body_size on the one route that reads a body", async () => {
      assertProblem(
        await get("/admin/cache/prewarm", {
          method: "POST",
          body: JSON.stringify({ bucket: "x".repeat(80) }),
        }),
        413,
        "payload_too_large",
        /at most 64 bytes \(server\.security_limits\.max_body_size\)/,
      );
    });

    await t.step(
      "Deno still refuses request heads over ~64 KiB itself (max_header_size relies on it)",
      async () => {
        const headers: [string, string][] = [];
        for (let i = 0; i < 10; i++) headers.push([`x-big-${i}`, "v".repeat(7000)]);
        const res = await get("/public/docs/hello.txt", { headers });
        assert.ok(
          res.status === 400 || res.status === 431 || res.status === 0,
          `got ${res.status}`,
        );
        assert.equal(res.body, "", "refused by the runtime, not by the gateway");
      },
    );
  } finally {
    await served.stop();
    await s3.close();
  }
});

Deno.test("with the default limits a 64 KiB head is never summed, and a URI of 8192 passes", async () => {
  const s3 = await startS3Server({ buckets: ["assets"] });
  await s3.putObject("assets", "k", "v");
  const gw = await buildTestApp(
    testConfig([
      bucketConfig({ name: "p", pathPrefix: "/p", bucket: "assets", endpoint: s3.endpoint }),
    ]),
  );
  const served = await serveTestApp(gw);
  try {
    const target = "/p/k?" + "q".repeat(8192 - 5);
    assert.equal((await rawRequest(served.url, target)).status, 200);
    assert.equal((await rawRequest(served.url, target + "q")).status, 414);
    const headers: [string, string][] = [];
    for (let i = 0; i < 8; i++) headers.push([`x-h-${i}`, "v".repeat(7000)]);
    assert.equal((await rawRequest(served.url, "/p/k", { headers })).status, 200);
  } finally {
    await served.stop();
    await s3.close();
  }
});
