// Integration: server.max_concurrent_requests bounds requests until their body is delivered; over it, 503 with Retry-After.

import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, serveTestApp, testConfig } from "../support/app_harness.ts";
import { eventually } from "../support/eventually.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";

Deno.test("max_concurrent_requests: streaming bodies hold their slot; the next request is 503 until one ends", async () => {
  const releases: Array<() => void> = [];
  const upstream = await startFakeUpstream((request) => {
    if (!new URL(request.url).pathname.endsWith("/slow.bin")) return new Response("quick");
    // Headers at once, then one chunk, then the rest only when the test releases it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    releases.push(release);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new Uint8Array(100 * 1024));
        await released;
        controller.enqueue(new Uint8Array(100 * 1024));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-length": String(200 * 1024) } });
  });
  const config: Config = testConfig([
    bucketConfig({ name: "b", pathPrefix: "/b", bucket: "bk", endpoint: upstream.endpoint }),
  ]);
  config.server.maxConcurrentRequests = 2;
  const gw = await buildTestApp(config);
  const served = await serveTestApp(gw);
  try {
    const first = await fetch(`${served.url}/b/slow.bin`);
    const second = await fetch(`${served.url}/b/slow.bin`);
    assert.deepEqual([first.status, second.status], [200, 200]);
    // Both bodies are still streaming: a third request is over the bound.
    const third = await fetch(`${served.url}/b/quick.txt`);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "1");
    const problem = await third.json();
    assert.equal(problem.code, "overloaded");
    assert.match(problem.message, /server\.max_concurrent_requests/);
    // One body ends: its slot is free again.
    releases[0]!();
    assert.equal((await first.arrayBuffer()).byteLength, 200 * 1024);
    await eventually(
      async () => {
        const again = await fetch(`${served.url}/b/quick.txt`);
        await again.body?.cancel();
        return again.status === 200;
      },
      "a free slot after the first body was delivered",
      3000,
    );
    releases[1]!();
    assert.equal((await second.arrayBuffer()).byteLength, 200 * 1024);
  } finally {
    for (const release of releases) release();
    await served.stop();
    await upstream.close();
  }
});

Deno.test("max_concurrent_requests: default 1000; 0 is an error naming the range", async () => {
  const { parseConfig } = await import("../../src/config/load.ts");
  const base = "buckets:\n  - name: a\n    path_prefix: /a\n" +
    "    s3: {bucket: abc, access_key: k, secret_key: s}\n";
  const parsed = parseConfig(base, { env: {} });
  assert.ok(parsed.ok);
  assert.equal(parsed.config.server.maxConcurrentRequests, 1000);
  const zero = parseConfig(base + "server:\n  max_concurrent_requests: 0\n", { env: {} });
  assert.ok(!zero.ok);
  assert.deepEqual(zero.errors.map((e) => [e.path, e.message]), [[
    "server.max_concurrent_requests",
    "expected a whole number from 1 to 1000000, got 0",
  ]]);
});
