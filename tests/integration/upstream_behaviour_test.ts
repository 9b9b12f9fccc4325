// Integration: what the gateway sends upstream, and how it answers a failing, slow or vanished S3.

import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { Logger } from "../../src/observe/log.ts";
import {
  bucketConfig,
  buildTestApp,
  MemoryLog,
  serveTestApp,
  testConfig,
} from "../support/app_harness.ts";
import { deadUrl, startFakeUpstream } from "../support/fake_upstream.ts";

Deno.test("only Range, preconditions and S3 read parameters reach S3, signed", async () => {
  const upstream = await startFakeUpstream(() => new Response("ok", { status: 200 }));
  const gw = await buildTestApp(testConfig([
    bucketConfig({
      name: "b",
      pathPrefix: "/b",
      bucket: "my-bucket",
      endpoint: upstream.endpoint,
      accessKey: "AKIDBUCKETB",
      secretKey: "secret-b",
    }),
  ]));
  try {
    const res = await gw.request(
      "/b/dir/a%20b+c.txt?versionId=v1&response-content-type=text%2Fplain&token=t0k3n&x=1",
      {
        headers: {
          authorization: "Bearer client-token",
          cookie: "session=abc",
          "x-auth-token": "xyz",
          range: "bytes=0-1",
          "if-none-match": '"e1"',
          "if-match": '"e2"',
          "if-modified-since": "Wed, 21 Oct 2015 07:28:00 GMT",
          "if-unmodified-since": "Wed, 21 Oct 2015 07:28:00 GMT",
          "if-range": '"e3"',
        },
      },
    );
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const sent = upstream.requests[0]!;
    assert.equal(sent.method, "GET");
    assert.equal(
      sent.target,
      "/my-bucket/dir/a%20b%2Bc.txt?response-content-type=text%2Fplain&versionId=v1",
    );
    assert.equal(sent.headers.cookie, undefined);
    assert.equal(sent.headers["x-auth-token"], undefined);
    assert.match(sent.headers.authorization!, /^AWS4-HMAC-SHA256 Credential=AKIDBUCKETB\//);
    const signed = /SignedHeaders=([^,]+)/.exec(sent.headers.authorization!)![1]!.split(";");
    for (
      const name of [
        "host",
        "range",
        "if-none-match",
        "if-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "x-amz-date",
        "x-amz-content-sha256",
      ]
    ) assert.ok(signed.includes(name), `${name} is signed`);
    assert.equal(sent.headers.range, "bytes=0-1");
    assert.equal(sent.headers["if-range"], '"e3"');
  } finally {
    await gw.app.close();
    await upstream.close();
  }
});

Deno.test("without an endpoint the request is virtual-hosted on AWS with a session token", async () => {
  const seen: { url: string; headers: Headers }[] = [];
  const fakeFetch: typeof fetch = (input, init) => {
    seen.push({ url: String(input), headers: new Headers(init?.headers) });
    return Promise.resolve(new Response("aws", { status: 200 }));
  };
  const config = testConfig([{
    name: "aws",
    pathPrefix: "/aws",
    s3: {
      bucket: "prod-assets",
      region: "eu-west-1",
      endpoint: undefined,
      accessKey: "AKIDAWS",
      secretKey: "s",
      sessionToken: "session-123",
      timeout: 5,
      connectTimeout: 5,
      idleTimeout: 5,
      retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
      circuitBreaker: undefined,
    },
  }]);
  const app = await createApp(config, {
    logger: new Logger({ level: "error", format: "json", sink: new MemoryLog() }),
    fetch: fakeFetch,
  });
  const res = await app.handle(new Request("http://gw/aws/img/a%20b.png"), {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  });
  assert.equal(await res.text(), "aws");
  assert.equal(seen[0]!.url, "https://prod-assets.s3.eu-west-1.amazonaws.com/img/a%20b.png");
  assert.equal(seen[0]!.headers.get("x-amz-security-token"), "session-123");
  await app.close();
  assert.match(
    seen[0]!.headers.get("authorization")!,
    /Credential=AKIDAWS\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
  );
});

Deno.test("an unreachable S3 is 502 origin_unavailable with the endpoint named", async () => {
  const endpoint = deadUrl();
  const port = new URL(endpoint).port;
  const gw = await buildTestApp(testConfig([
    bucketConfig({
      name: "b",
      pathPrefix: "/b",
      bucket: "bk",
      endpoint,
    }),
  ]));
  const res = await gw.request("/b/k");
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.code, "origin_unavailable");
  assert.match(body.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  const ready = await gw.request("/ready");
  assert.equal(ready.status, 503);
  assert.equal((await ready.json()).backends.b.status, "unavailable");
  await gw.app.close();
});

Deno.test("S3 that does not answer in time is 504 origin_timeout", async () => {
  const upstream = await startFakeUpstream(async (request) => {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000);
      request.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    return new Response("late");
  });
  const gw = await buildTestApp(testConfig([
    bucketConfig({
      name: "b",
      pathPrefix: "/b",
      bucket: "bk",
      endpoint: upstream.endpoint,
      timeout: 0.3,
    }),
  ]));
  try {
    const started = performance.now();
    const res = await gw.request("/b/slow");
    const elapsed = performance.now() - started;
    assert.equal(res.status, 504);
    const body = await res.json();
    assert.equal(body.code, "origin_timeout");
    assert.match(body.message, /buckets\[\]\.s3\.timeout/);
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
  } finally {
    await gw.app.close();
    await upstream.close();
  }
});

Deno.test("S3 5xx and NoSuchBucket are 502 upstream_error with S3's code", async () => {
  const upstream = await startFakeUpstream((request) => {
    const xml = (code: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`;
    if (request.url.includes("/missing-bucket/")) {
      return new Response(xml("NoSuchBucket"), { status: 404 });
    }
    return new Response(xml("InternalError"), { status: 500 });
  });
  const gw = await buildTestApp(testConfig([
    bucketConfig({ name: "a", pathPrefix: "/a", bucket: "bk", endpoint: upstream.endpoint }),
    bucketConfig({
      name: "m",
      pathPrefix: "/m",
      bucket: "missing-bucket",
      endpoint: upstream.endpoint,
    }),
  ]));
  try {
    const res = await gw.request("/a/k");
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.code, "upstream_error");
    assert.equal(body.s3_error_code, "InternalError");
    const missing = await gw.request("/m/k");
    assert.equal(missing.status, 502);
    const missingBody = await missing.json();
    assert.equal(missingBody.s3_error_code, "NoSuchBucket");
    assert.match(missingBody.message, /buckets\[\]\.s3\.bucket/);
  } finally {
    await gw.app.close();
    await upstream.close();
  }
});

Deno.test("a client that disconnects mid-body cancels the upstream request", async () => {
  let upstreamCancelled!: () => void;
  const cancelled = new Promise<void>((resolve) => upstreamCancelled = resolve);
  const chunk = new Uint8Array(64 * 1024);
  const upstream = await startFakeUpstream(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        // Then trickle forever: only a cancel from the gateway ends this stream.
        timer = setInterval(() => controller.enqueue(chunk), 20);
      },
      cancel() {
        clearInterval(timer);
        upstreamCancelled();
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  });
  const gw = await buildTestApp(testConfig([
    bucketConfig({ name: "b", pathPrefix: "/b", bucket: "bk", endpoint: upstream.endpoint }),
  ]));
  const served = await serveTestApp(gw);
  try {
    const client = new AbortController();
    const res = await fetch(`${served.url}/b/endless.bin`, { signal: client.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await reader.cancel().catch(() => {});
    const outcome = await Promise.race([
      cancelled.then(() => "cancelled"),
      new Promise((resolve) => setTimeout(() => resolve("still streaming"), 3000)),
    ]);
    assert.equal(outcome, "cancelled");
    await gw.logger.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = gw.log.entries().find((e) => e.msg === "request" && e.path === "/b/endless.bin");
    assert.equal(line?.interrupted, true);
  } finally {
    await served.stop();
    await upstream.close();
  }
});
