// Replica sets end to end: failover when the primary dies under load, and return after it recovers.

import assert from "node:assert/strict";
import { bucketConfig, buildTestApp, testConfig } from "../support/app_harness.ts";
import { eventually } from "../support/eventually.ts";
import type { BucketConfig, ReplicaConfig } from "../../src/config/types.ts";

const BUCKET = "replicated";

/** An S3 stand-in on a fixed port that can be stopped and started again on the same port. */
class Upstream {
  objectGets = 0;
  #controller: AbortController | undefined;
  #server: Deno.HttpServer | undefined;
  port = 0;

  async start(port = 0): Promise<void> {
    this.#controller = new AbortController();
    const listening = Promise.withResolvers<number>();
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      signal: this.#controller.signal,
      onListen: (addr) => listening.resolve(addr.port),
    }, (request) => {
      const path = new URL(request.url).pathname;
      if (path === `/${BUCKET}`) return new Response(null, { status: 200 }); // HeadBucket
      const key = path.slice(BUCKET.length + 2);
      if (!key.startsWith("obj-")) {
        return new Response(
          "<Error><Code>NoSuchKey</Code><Message>missing</Message></Error>",
          { status: 404, headers: { "content-type": "application/xml" } },
        );
      }
      this.objectGets++;
      return new Response(`body of ${key}`, { headers: { "content-type": "text/plain" } });
    });
    this.port = await listening.promise;
  }

  async stop(): Promise<void> {
    this.#controller?.abort();
    await this.#server?.finished;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

function replica(name: string, priority: number, endpoint: string): ReplicaConfig {
  return {
    name,
    priority,
    bucket: BUCKET,
    region: "us-east-1",
    endpoint,
    accessKey: `key-${name}`,
    secretKey: `secret-${name}`,
    sessionToken: undefined,
    timeout: 5,
  };
}

function replicatedBucket(primary: string, secondary: string): BucketConfig {
  const bucket = bucketConfig({
    name: "data",
    pathPrefix: "/data",
    bucket: BUCKET,
    endpoint: primary,
  });
  bucket.s3.replicas = [replica("primary", 1, primary), replica("secondary", 2, secondary)];
  return bucket;
}

async function readyBody(
  request: (path: string) => Promise<Response>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await request("/ready");
  return { status: response.status, body: await response.json() };
}

Deno.test("replicas: primary killed under load fails over to the secondary, then traffic returns", async () => {
  const primary = new Upstream();
  const secondary = new Upstream();
  await primary.start();
  await secondary.start();
  const gateway = await buildTestApp(
    testConfig([replicatedBucket(primary.endpoint, secondary.endpoint)]),
    { replicaProbeIntervalMs: 50 },
  );
  try {
    const ready = await readyBody(gateway.request);
    assert.equal(ready.status, 200);
    assert.deepEqual((ready.body.backends as Record<string, unknown>).data, {
      ...(ready.body.backends as Record<string, Record<string, unknown>>).data,
      status: "ready",
      replicas: { primary: "healthy", secondary: "healthy" },
    });

    const total = 2000;
    const concurrency = 20;
    let next = 0;
    let done = 0;
    const failures: string[] = [];
    let killed: Promise<void> | undefined;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === 500) killed = primary.stop();
        const response = await gateway.request(`/data/obj-${i % 37}`);
        const body = await response.text();
        if (response.status !== 200 || body !== `body of obj-${i % 37}`) {
          failures.push(`${i}: ${response.status} ${body.slice(0, 200)}`);
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await killed;
    assert.equal(done, total);
    assert.deepEqual(failures, []);
    assert.ok(primary.objectGets >= 400, `primary served ${primary.objectGets}`);
    assert.ok(secondary.objectGets >= 1400, `secondary served ${secondary.objectGets}`);
    assert.equal(primary.objectGets + secondary.objectGets, total);

    const degraded = await readyBody(gateway.request);
    assert.equal(degraded.status, 200);
    const data = (degraded.body.backends as Record<string, Record<string, unknown>>).data!;
    assert.equal(data.status, "degraded");
    assert.deepEqual(data.replicas, { primary: "unhealthy", secondary: "healthy" });
    assert.equal(degraded.body.status, "ready");

    // The primary comes back on the same port: the background probe closes its breaker.
    await primary.start(primary.port);
    await eventually(async () => {
      const { body } = await readyBody(gateway.request);
      const bucket = (body.backends as Record<string, Record<string, unknown>>).data!;
      return bucket.status === "ready";
    }, "the primary to be probed healthy again");
    const before = { primary: primary.objectGets, secondary: secondary.objectGets };
    for (let i = 0; i < 50; i++) {
      const response = await gateway.request(`/data/obj-${i}`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `body of obj-${i}`);
    }
    assert.equal(primary.objectGets - before.primary, 50);
    assert.equal(secondary.objectGets - before.secondary, 0);
    await gateway.logger.flush();
    assert.ok(gateway.log.text.includes('"replica failover"'));
  } finally {
    await gateway.app.close();
    await primary.stop();
    await secondary.stop();
  }
});

Deno.test("replicas: a 4xx is the answer (no failover); both down is 503 and /ready unavailable", async () => {
  const primary = new Upstream();
  const secondary = new Upstream();
  await primary.start();
  await secondary.start();
  const gateway = await buildTestApp(
    testConfig([replicatedBucket(primary.endpoint, secondary.endpoint)]),
    { replicaProbeIntervalMs: 50 },
  );
  try {
    const missing = await gateway.request("/data/nope");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    assert.equal(secondary.objectGets, 0);

    await primary.stop();
    await secondary.stop();
    for (let i = 0; i < 6; i++) {
      const response = await gateway.request(`/data/obj-${i}`);
      assert.ok(response.status >= 500, `got ${response.status}`);
      await response.body?.cancel();
    }
    const down = await readyBody(gateway.request);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, "unavailable");
    const data = (down.body.backends as Record<string, Record<string, unknown>>).data!;
    assert.equal(data.status, "unavailable");
    assert.deepEqual(data.replicas, { primary: "unhealthy", secondary: "unhealthy" });
  } finally {
    await gateway.app.close();
  }
});
