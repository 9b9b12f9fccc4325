// Integration: prewarm tasks through the admin API list a prefix on a real s3rver and fill the cache.

import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { startS3Server, type TestS3Server } from "../support/s3_server.ts";

type Gateway = Awaited<ReturnType<typeof buildTestApp>>;
const BUCKET = "warm-bucket";

async function withGateway(run: (gw: Gateway, s3: TestS3Server) => Promise<void>) {
  const s3 = await startS3Server({ buckets: [BUCKET] });
  const config: Config = {
    ...testConfig([
      bucketConfig({ name: "w", pathPrefix: "/w", bucket: BUCKET, endpoint: s3.endpoint }),
    ]),
    cache: testCacheConfig(
      { maxItemBytes: 1 << 20, maxCacheBytes: 16 << 20, defaultTtlSeconds: 600 },
      { warming: { concurrency: 3, rateLimit: 1000 } },
    ),
  };
  const gw = await buildTestApp(config);
  try {
    await run(gw, s3);
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await s3.close();
  }
}

async function finished(gw: Gateway, id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const task = await (await gw.request(`/admin/cache/prewarm/status/${id}`)).json();
    if (!["pending", "running"].includes(task.status)) return task;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`prewarm task ${id} did not finish`);
}

async function create(gw: Gateway, body: unknown): Promise<Response> {
  return await gw.request("/admin/cache/prewarm", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("prewarm: a task lists the prefix and every object is then a HIT", async () => {
  await withGateway(async (gw, s3) => {
    const keys = ["pre/a.txt", "pre/b ü.txt", "pre/deep/c.txt", "pre/deep/er/d.txt", "pre/e+f.txt"];
    for (const key of keys) await s3.putObject(BUCKET, key, `body of ${key}`);
    await s3.putObject(BUCKET, "other/x.txt", "not warmed");
    const created = await create(gw, { bucket: "w", path: "pre/" });
    assert.equal(created.status, 201);
    const { task_id: id, status } = await created.json();
    assert.equal(status, "success");
    const task = await finished(gw, id);
    assert.equal(task.status, "completed");
    assert.equal(task.files_cached, 5);
    assert.equal(task.files_failed, 0);
    assert.equal(
      task.bytes_cached,
      keys.reduce((sum, key) => sum + new TextEncoder().encode(`body of ${key}`).length, 0),
    );
    const before = s3.requests().length;
    for (const key of keys) {
      const path = "/w/" + key.split("/").map(encodeURIComponent).join("/");
      const response = await gw.request(path);
      assert.equal(response.headers.get("x-cache"), "HIT", key);
      assert.equal(await response.text(), `body of ${key}`);
    }
    assert.equal(s3.requests().length, before, "every warmed object came from the cache");
    const other = await gw.request("/w/other/x.txt");
    assert.equal(other.headers.get("x-cache"), "MISS");
    await other.body?.cancel();

    const list = await (await gw.request("/admin/cache/prewarm/tasks")).json();
    assert.deepEqual(list.tasks.map((t: { id: string }) => t.id), [id]);
    const cancel = await gw.request(`/admin/cache/prewarm/${id}`, { method: "DELETE" });
    assert.equal(cancel.status, 409, "a finished task cannot be cancelled");
    await cancel.body?.cancel();
  });
});

Deno.test("prewarm: max_files and recursive:false bound the task; errors are clear", async () => {
  await withGateway(async (gw, s3) => {
    for (const key of ["m/1.txt", "m/2.txt", "m/3.txt", "m/sub/4.txt"]) {
      await s3.putObject(BUCKET, key, key);
    }
    const capped = await (await create(gw, { bucket: "w", path: "m/", max_files: 2 })).json();
    assert.equal((await finished(gw, capped.task_id)).files_cached, 2);
    const flat = await (await create(gw, { bucket: "w", path: "m/", recursive: false })).json();
    assert.equal((await finished(gw, flat.task_id)).files_cached, 3);

    const unknown = await create(gw, { bucket: "nope", path: "" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const bad = await gw.request("/admin/cache/prewarm", { method: "POST", body: "{not json" });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const missing = await gw.request(
      "/admin/cache/prewarm/status/00000000-0000-4000-8000-000000000000",
    );
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});
