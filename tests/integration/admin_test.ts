// Integration: the cache admin API (purge, stats, info) and who may use it (admin_claims, loopback, opt-in).

import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";

const CACHE = testCacheConfig({
  maxItemBytes: 1 << 20,
  maxCacheBytes: 8 << 20,
  defaultTtlSeconds: 60,
});
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function withGateway(
  overrides: Partial<Config>,
  run: (gw: Awaited<ReturnType<typeof buildTestApp>>) => Promise<void>,
) {
  const upstream = await startFakeUpstream((request) =>
    new Response(`body of ${new URL(request.url).pathname}`, {
      headers: { etag: '"abc"', "content-type": "text/plain" },
    })
  );
  const gw = await buildTestApp({
    ...testConfig([
      bucketConfig({
        name: "a",
        pathPrefix: "/a",
        bucket: "bucket-a",
        endpoint: upstream.endpoint,
      }),
      bucketConfig({
        name: "b",
        pathPrefix: "/b",
        bucket: "bucket-b",
        endpoint: upstream.endpoint,
      }),
    ]),
    ...overrides,
  });
  try {
    await run(gw);
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await upstream.close();
  }
}

async function fill(gw: Awaited<ReturnType<typeof buildTestApp>>, paths: string[]) {
  for (const path of paths) await (await gw.request(path)).text();
  await settle();
}

Deno.test("cache admin API: stats, info and every purge scope", async () => {
  await withGateway({ cache: CACHE }, async (gw) => {
    await fill(gw, ["/a/img/1.png", "/a/img/2.png", "/a/doc.txt", "/b/x.txt"]);
    const stats = await (await gw.request("/admin/cache/stats")).json();
    assert.equal(stats.status, "success");
    assert.equal(stats.data.current_item_count, 4);
    assert.equal(stats.data.misses, 4);
    assert.equal(stats.data.hit_rate, "0.0000");
    assert.equal(typeof stats.timestamp, "number");
    const bucketStats = await (await gw.request("/admin/cache/stats/a")).json();
    assert.deepEqual(
      { bucket: bucketStats.bucket, items: bucketStats.data.current_item_count },
      { bucket: "a", items: 3 },
    );
    const info = await (await gw.request("/admin/cache/info?key=a:img/1.png")).json();
    assert.equal(info.data.object_key, "img/1.png");
    assert.equal(info.data.etag, '"abc"');
    assert.equal(info.data.content_type, "text/plain");
    assert.ok(info.data.expires_at > info.data.created_at);

    const one = await (await gw.request("/admin/cache/purge/a/img/1.png", { method: "POST" }))
      .json();
    assert.deepEqual([one.deleted, one.message], [true, "Cache entry purged"]);
    const again = await gw.request("/a/img/1.png");
    assert.equal(again.headers.get("x-cache"), "MISS", "a purged key is fetched again");
    await again.text();
    await settle();

    const prefix = await (await gw.request("/admin/cache/purge/a?prefix=img/", { method: "POST" }))
      .json();
    assert.equal(prefix.entries_deleted, 2);
    assert.equal((await gw.request("/a/doc.txt")).headers.get("x-cache"), "HIT");
    const bucket = await (await gw.request("/admin/cache/purge/a", { method: "POST" })).json();
    assert.equal(bucket.entries_deleted, 1);
    assert.equal(
      (await (await gw.request("/admin/cache/stats")).json()).data.current_item_count,
      1,
    );
    const all = await (await gw.request("/admin/cache/purge", { method: "POST" })).json();
    assert.equal(all.message, "Cache purged successfully");
    assert.equal(
      (await (await gw.request("/admin/cache/stats")).json()).data.current_item_count,
      0,
    );
  });
});

Deno.test("cache admin API: clear errors for wrong methods, buckets and keys", async () => {
  await withGateway({ cache: CACHE }, async (gw) => {
    const wrongMethod = await gw.request("/admin/cache/purge");
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    await wrongMethod.body?.cancel();
    const unknown = await gw.request("/admin/cache/purge/nope", { method: "POST" });
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).message, /No bucket named "nope"/);
    const badInfo = await gw.request("/admin/cache/info?key=no-colon");
    assert.equal(badInfo.status, 400);
    await badInfo.body?.cancel();
    const missing = await gw.request("/admin/cache/info?key=a:never.txt");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const other = await gw.request("/admin/restart", { method: "POST" });
    assert.equal(other.status, 404);
    assert.equal((await other.json()).code, "route_not_found");
  });
  await withGateway({}, async (gw) => {
    const disabled = await gw.request("/admin/cache/stats");
    assert.equal(disabled.status, 404);
    assert.equal((await disabled.json()).code, "cache_disabled");
  });
});

Deno.test("admin routes without JWT: loopback only, unless allow_unauthenticated", async () => {
  const remote = { remoteAddr: { transport: "tcp" as const, hostname: "10.1.2.3", port: 5000 } };
  await withGateway({ cache: CACHE }, async (gw) => {
    const res = await gw.app.handle(new Request("http://gw/admin/cache/stats"), remote);
    assert.equal(res.status, 403);
    assert.match((await res.json()).message, /loopback/);
  });
  await withGateway({ cache: CACHE, admin: { allowUnauthenticated: true } }, async (gw) => {
    const res = await gw.app.handle(new Request("http://gw/admin/cache/stats"), remote);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("admin routes with a top-level JWT need a token passing admin_claims", async () => {
  const jwt = testJwtConfig({
    claims: [],
    adminClaims: [{ claim: "role", operator: "equals", value: "admin" }],
  });
  await withGateway({ cache: CACHE, jwt }, async (gw) => {
    const none = await gw.request("/admin/cache/stats");
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate")!, /^Bearer/);
    await none.body?.cancel();
    const viewer = await gw.request("/admin/cache/stats", {
      headers: { authorization: `Bearer ${await signHs256({ role: "viewer" })}` },
    });
    assert.equal(viewer.status, 403);
    await viewer.body?.cancel();
    const admin = await gw.request("/admin/cache/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${await signHs256({ role: "admin" })}` },
    });
    assert.equal(admin.status, 200);
    await admin.body?.cancel();
  });
});

Deno.test("admin routes with JWT only on buckets are refused, saying what to add", async () => {
  const upstream = await startFakeUpstream(() => new Response("x"));
  const gw = await buildTestApp({
    ...testConfig([]),
    buckets: [{
      ...bucketConfig({ name: "p", pathPrefix: "/p", bucket: "pb", endpoint: upstream.endpoint }),
      jwt: testJwtConfig(),
    }],
    cache: CACHE,
  });
  try {
    const res = await gw.request("/admin/cache/stats");
    assert.equal(res.status, 403);
    assert.match((await res.json()).message, /top-level `jwt` with `admin_claims`/);
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await upstream.close();
  }
});
