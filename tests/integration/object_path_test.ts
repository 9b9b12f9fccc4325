// Integration: createApp against a real s3rver (which verifies SigV4) — reads, keys, headers, errors, probes.

import assert from "node:assert/strict";
import { bucketConfig, buildTestApp, testConfig } from "../support/app_harness.ts";
import { startS3Server } from "../support/s3_server.ts";

const TEXT = "hello, gateway\n";
const AWKWARD_KEYS = [
  "with space.txt",
  "plus+sign.txt",
  "percent%25literal%.txt",
  "tilde~file.txt",
  "eq=and&amp.txt",
  "quote'apostrophe.txt",
  "unicode/日本語 ✓ é.txt",
  "nested/a/b/c/deep.txt",
  "semi;colon,comma.txt",
];

Deno.test("gateway serves a real s3rver", async (t) => {
  const s3 = await startS3Server({ buckets: ["assets", "other"] });
  const put = await s3.putObject("assets", "docs/hello.txt", TEXT, {
    contentType: "text/plain",
    metadata: { owner: "team-a" },
  });
  for (const key of AWKWARD_KEYS) await s3.putObject("assets", key, `body of ${key}`);
  await s3.putObject("other", "x.json", '{"a":1}', { contentType: "application/json" });

  const config = testConfig([
    bucketConfig({
      name: "public",
      pathPrefix: "/public",
      bucket: "assets",
      endpoint: s3.endpoint,
    }),
    bucketConfig({
      name: "nested",
      pathPrefix: "/public/other",
      bucket: "other",
      endpoint: s3.endpoint,
    }),
    bucketConfig({
      name: "wrong-key",
      pathPrefix: "/wrong",
      bucket: "assets",
      endpoint: s3.endpoint,
      secretKey: "not-the-secret",
    }),
  ]);
  const gw = await buildTestApp(config);
  const encode = (key: string) => key.split("/").map(encodeURIComponent).join("/");

  try {
    await t.step("GET streams the object with S3's headers", async () => {
      const res = await gw.request("/public/docs/hello.txt");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), TEXT);
      assert.equal(res.headers.get("content-type"), "text/plain");
      assert.equal(res.headers.get("content-length"), String(TEXT.length));
      assert.equal(res.headers.get("etag"), put.etag);
      assert.match(res.headers.get("etag")!, /^"[0-9a-f]{32}"$/, "ETag stays quoted");
      assert.ok(res.headers.get("last-modified"));
      assert.equal(res.headers.get("accept-ranges"), "bytes");
      assert.equal(res.headers.get("x-amz-meta-owner"), "team-a");
      assert.match(res.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
      assert.equal(res.headers.get("x-amz-request-id"), null, "S3 internals stay behind");
    });

    await t.step("HEAD answers headers only", async () => {
      const res = await gw.request("/public/docs/hello.txt", { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(TEXT.length));
      assert.equal(res.headers.get("etag"), put.etag);
      assert.equal(res.body, null);
    });

    await t.step("awkward keys round-trip exactly", async () => {
      for (const key of AWKWARD_KEYS) {
        const res = await gw.request("/public/" + encode(key));
        assert.equal(res.status, 200, `key ${key}`);
        assert.equal(await res.text(), `body of ${key}`);
      }
    });

    await t.step("the longest prefix wins on a segment boundary", async () => {
      const res = await gw.request("/public/other/x.json");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { a: 1 });
      const miss = await gw.request("/publicity/x.json");
      assert.equal(miss.status, 404);
      assert.equal((await miss.json()).code, "route_not_found");
    });

    await t.step("Range requests are forwarded and 206 passes through", async () => {
      const res = await gw.request("/public/docs/hello.txt", { headers: { range: "bytes=0-4" } });
      assert.equal(res.status, 206);
      assert.equal(await res.text(), "hello");
      assert.equal(res.headers.get("content-range"), `bytes 0-4/${TEXT.length}`);
      const open = await gw.request("/public/docs/hello.txt", { headers: { range: "bytes=7-" } });
      assert.equal(open.status, 206);
      assert.equal(await open.text(), TEXT.slice(7));
    });

    await t.step("an unsatisfiable Range gives 416 with the JSON error", async () => {
      const res = await gw.request("/public/docs/hello.txt", {
        headers: { range: "bytes=1000-2000" },
      });
      assert.equal(res.status, 416);
      assert.equal(res.headers.get("content-range"), `bytes */${TEXT.length}`);
      const body = await res.json();
      assert.equal(body.code, "range_not_satisfiable");
      assert.equal(body.s3_error_code, "InvalidRange");
    });

    await t.step("If-None-Match and If-Modified-Since give S3's 304", async () => {
      const inm = await gw.request("/public/docs/hello.txt", {
        headers: { "if-none-match": put.etag },
      });
      assert.equal(inm.status, 304);
      assert.equal(inm.body, null);
      const ims = await gw.request("/public/docs/hello.txt", {
        headers: { "if-modified-since": new Date(Date.now() + 86400_000).toUTCString() },
      });
      assert.equal(ims.status, 304);
      const changed = await gw.request("/public/docs/hello.txt", {
        headers: { "if-none-match": '"other"' },
      });
      assert.equal(changed.status, 200);
      await changed.body?.cancel();
    });

    await t.step("response-* query overrides are forwarded, signed", async () => {
      const res = await gw.request(
        "/public/docs/hello.txt?response-content-type=text%2Fcsv&token=secret",
      );
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/csv");
      await res.body?.cancel();
    });

    await t.step("a missing key is 404 object_not_found with S3's code", async () => {
      const res = await gw.request("/public/nope.txt");
      assert.equal(res.status, 404);
      const body = await res.json();
      assert.equal(body.code, "object_not_found");
      assert.equal(body.error, "Not Found");
      assert.equal(body.s3_error_code, "NoSuchKey");
      assert.equal(body.request_id, res.headers.get("x-request-id"));
      const head = await gw.request("/public/nope.txt", { method: "HEAD" });
      assert.equal(head.status, 404);
      assert.equal(head.body, null);
    });

    await t.step("a wrong secret key gives 403 SignatureDoesNotMatch", async () => {
      const res = await gw.request("/wrong/docs/hello.txt");
      assert.equal(res.status, 403);
      const body = await res.json();
      assert.equal(body.code, "access_denied");
      assert.equal(body.s3_error_code, "SignatureDoesNotMatch");
      assert.match(body.message, /secret_key/);
    });

    await t.step("the bucket root without a key is 404 with a hint", async () => {
      const res = await gw.request("/public/");
      assert.equal(res.status, 404);
      assert.match((await res.json()).message, /add the object key/);
    });

    await t.step("other methods get 405 with Allow; OPTIONS gets 204", async () => {
      for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
        const res = await gw.request("/public/docs/hello.txt", { method });
        assert.equal(res.status, 405);
        assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
        assert.equal((await res.json()).code, "method_not_allowed");
      }
      const options = await gw.request("/public/docs/hello.txt", { method: "OPTIONS" });
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("allow"), "GET, HEAD, OPTIONS");
    });

    await t.step("an incoming sane X-Request-ID is kept", async () => {
      const res = await gw.request("/public/docs/hello.txt", {
        headers: { "x-request-id": "trace-42" },
      });
      assert.equal(res.headers.get("x-request-id"), "trace-42");
      await res.body?.cancel();
    });

    await t.step("/health answers liveness", async () => {
      const res = await gw.request("/health");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.status, "healthy");
      assert.equal(typeof body.uptime_seconds, "number");
      assert.match(body.version, /^\d+\.\d+\.\d+/);
    });

    await t.step("/ready probes each bucket and reports the broken one", async () => {
      const res = await gw.request("/ready");
      assert.equal(res.status, 503, "the wrong-key bucket is unreachable");
      const body = await res.json();
      assert.equal(body.status, "unavailable");
      assert.equal(body.backends.public.status, "ready");
      assert.equal(body.backends.nested.status, "ready");
      assert.equal(body.backends["wrong-key"].status, "unavailable");
      assert.match(body.backends["wrong-key"].detail, /403/);
    });

    await t.step("the access log has one line per request, without query or secrets", async () => {
      await gw.request("/public/docs/hello.txt?token=supersecret").then((r) => r.body?.cancel());
      await gw.logger.flush();
      const lines = gw.log.entries().filter((e) => e.msg === "request");
      const last = lines.at(-1)!;
      assert.equal(last.path, "/public/docs/hello.txt");
      assert.equal(last.method, "GET");
      assert.equal(last.bucket, "public");
      assert.equal(last.status, 200);
      assert.equal(last.client_ip, "127.0.0.1");
      assert.equal(last.bytes, TEXT.length);
      assert.equal(typeof last.duration_ms, "number");
      assert.match(String(last.request_id), /^[0-9a-f-]{36}$/);
      assert.ok(!gw.log.text.includes("supersecret"));
      assert.ok(!gw.log.text.includes("not-the-secret"));
    });
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await s3.close();
  }
});
