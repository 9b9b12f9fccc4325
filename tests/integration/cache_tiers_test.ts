// Integration: the disk and Redis tiers through createApp with a real s3rver and redis-server: alone, tiered, restarts, outages, overrides, revalidation, coalescing.

import assert from "node:assert/strict";
import { eventually } from "../support/eventually.ts";
import type { BucketCacheConfig, CacheConfig, Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { startRedisServer } from "../support/redis_server.ts";
import { startS3Server, type TestS3Server } from "../support/s3_server.ts";

type Gateway = Awaited<ReturnType<typeof buildTestApp>>;

const BUCKET = "tiers";
const MEMORY = { maxItemBytes: 1 << 20, maxCacheBytes: 16 << 20, defaultTtlSeconds: 60 };

function configFor(
  s3: TestS3Server,
  cache: Partial<CacheConfig>,
  bucketCache?: BucketCacheConfig,
): Config {
  const bucket = bucketConfig({
    name: "t",
    pathPrefix: "/t",
    bucket: BUCKET,
    endpoint: s3.endpoint,
  });
  if (bucketCache !== undefined) bucket.cache = bucketCache;
  return { ...testConfig([bucket]), cache: testCacheConfig(MEMORY, cache) };
}

/** GETs the upstream requests s3rver saw for one key (its GETs, not HEADs or PUTs). */
function upstreamGets(s3: TestS3Server, key: string): number {
  return s3.requests().filter((line) => line.startsWith(`GET /${BUCKET}/${key}`)).length;
}

async function get(gw: Gateway, path: string, headers?: Record<string, string>) {
  const response = await gw.request(path, { headers });
  return {
    status: response.status,
    cache: response.headers.get("x-cache"),
    headers: response.headers,
    body: await response.text(),
  };
}

/** Per-tier item counts from the admin API. */
async function tierItems(gw: Gateway): Promise<Record<string, number>> {
  const stats = await (await gw.request("/admin/cache/stats")).json();
  return Object.fromEntries(
    Object.entries(stats.data.tiers as Record<string, { current_item_count: number }>)
      .map(([name, tier]) => [name, tier.current_item_count]),
  );
}

async function withS3(run: (s3: TestS3Server) => Promise<void>) {
  const s3 = await startS3Server({ buckets: [BUCKET] });
  try {
    await run(s3);
  } finally {
    await s3.close();
  }
}

async function withApp(config: Config, run: (gw: Gateway) => Promise<void>) {
  const gw = await buildTestApp(config);
  try {
    await run(gw);
  } finally {
    await gw.app.close();
    await gw.logger.flush();
  }
}

Deno.test("disk tier alone: hits with full semantics, and entries survive a restart", async () => {
  await withS3(async (s3) => {
    await s3.putObject(BUCKET, "doc.txt", "0123456789", { contentType: "text/plain" });
    const dir = await Deno.makeTempDir({ prefix: "yatagarasu-disk-" });
    const config = configFor(s3, {
      layers: ["disk"],
      disk: { cacheDir: dir, maxBytes: 8 << 20 },
    });
    try {
      let etag = "";
      await withApp(config, async (gw) => {
        const first = await get(gw, "/t/doc.txt");
        assert.deepEqual([first.status, first.cache, first.body], [200, "MISS", "0123456789"]);
        etag = first.headers.get("etag")!;
        await eventually(async () => (await tierItems(gw)).disk === 1, "the disk write");
        const hit = await get(gw, "/t/doc.txt");
        assert.deepEqual([hit.status, hit.cache, hit.body], [200, "HIT", "0123456789"]);
        assert.equal(hit.headers.get("etag"), etag);
        assert.equal(hit.headers.get("content-type"), "text/plain");
        const range = await get(gw, "/t/doc.txt", { range: "bytes=2-4" });
        assert.deepEqual([range.status, range.cache, range.body], [206, "HIT", "234"]);
        assert.equal(range.headers.get("content-range"), "bytes 2-4/10");
        const notModified = await get(gw, "/t/doc.txt", { "if-none-match": etag });
        assert.deepEqual([notModified.status, notModified.cache], [304, "HIT"]);
      });
      assert.equal(upstreamGets(s3, "doc.txt"), 1);
      // A new process on the same directory: the index is rebuilt from the files.
      await withApp(config, async (gw) => {
        const hit = await get(gw, "/t/doc.txt");
        assert.deepEqual([hit.cache, hit.body], ["HIT", "0123456789"]);
        assert.equal(hit.headers.get("etag"), etag);
      });
      assert.equal(upstreamGets(s3, "doc.txt"), 1, "the restarted gateway did not ask S3");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("redis tier alone: hits, and a second gateway shares them", async () => {
  await using redis = await startRedisServer();
  await withS3(async (s3) => {
    await s3.putObject(BUCKET, "shared.bin", new Uint8Array([0, 1, 2, 253, 254, 255]));
    const config = configFor(s3, {
      layers: ["redis"],
      redis: { url: redis.url, password: undefined, db: 0, keyPrefix: "t1:", ttlSeconds: 600 },
    });
    await withApp(config, async (gw) => {
      assert.equal((await get(gw, "/t/shared.bin")).cache, "MISS");
      await eventually(async () => (await tierItems(gw)).redis === 1, "the Redis write");
      const hit = await gw.request("/t/shared.bin");
      assert.equal(hit.headers.get("x-cache"), "HIT");
      assert.deepEqual(
        new Uint8Array(await hit.arrayBuffer()),
        new Uint8Array([0, 1, 2, 253, 254, 255]),
      );
    });
    await withApp(config, async (other) => {
      assert.equal((await get(other, "/t/shared.bin")).cache, "HIT");
    });
    assert.equal(upstreamGets(s3, "shared.bin"), 1);
  });
});

Deno.test("tiered: a hit below memory is promoted into every faster tier", async () => {
  await using redis = await startRedisServer();
  await withS3(async (s3) => {
    await s3.putObject(BUCKET, "p.txt", "promote me");
    const diskA = await Deno.makeTempDir({ prefix: "yatagarasu-disk-" });
    const diskB = await Deno.makeTempDir({ prefix: "yatagarasu-disk-" });
    const redisConfig = {
      url: redis.url,
      password: undefined,
      db: 0,
      keyPrefix: "t2:",
      ttlSeconds: 600,
    };
    const tiered = (cacheDir: string) =>
      configFor(s3, {
        layers: ["memory", "disk", "redis"],
        disk: { cacheDir, maxBytes: 8 << 20 },
        redis: redisConfig,
      });
    try {
      await withApp(tiered(diskA), async (gw) => {
        assert.equal((await get(gw, "/t/p.txt")).cache, "MISS");
        await eventually(async () => {
          const items = await tierItems(gw);
          return items.memory === 1 && items.disk === 1 && items.redis === 1;
        }, "every tier to hold the object");
      });
      // Fresh memory, same disk: found on disk, copied into memory.
      await withApp(tiered(diskA), async (gw) => {
        assert.deepEqual(await tierItems(gw), { memory: 0, disk: 1, redis: 1 });
        assert.equal((await get(gw, "/t/p.txt")).cache, "HIT");
        assert.equal((await tierItems(gw)).memory, 1);
        const info = await (await gw.request("/admin/cache/info?key=t:p.txt")).json();
        assert.equal(info.data.tier, "memory");
      });
      // Fresh memory and an empty disk: found in Redis, copied into disk and memory.
      await withApp(tiered(diskB), async (gw) => {
        assert.equal((await get(gw, "/t/p.txt")).body, "promote me");
        await eventually(async () => {
          const items = await tierItems(gw);
          return items.memory === 1 && items.disk === 1;
        }, "promotion into memory and disk");
        const stats = await (await gw.request("/admin/cache/stats")).json();
        assert.equal(stats.data.hits, 1);
        assert.equal(stats.data.tiers.redis.hits, 1);
      });
      assert.equal(upstreamGets(s3, "p.txt"), 1);
    } finally {
      await Deno.remove(diskA, { recursive: true });
      await Deno.remove(diskB, { recursive: true });
    }
  });
});

Deno.test("redis killed mid-test: requests still succeed, and the tier comes back by itself", async () => {
  await using redis = await startRedisServer();
  await withS3(async (s3) => {
    for (const key of ["before.txt", "during.txt", "after.txt"]) {
      await s3.putObject(BUCKET, key, `body of ${key}`);
    }
    const config = configFor(s3, {
      layers: ["memory", "redis"],
      redis: { url: redis.url, password: undefined, db: 0, keyPrefix: "t3:", ttlSeconds: 600 },
    });
    await withApp(config, async (gw) => {
      assert.equal((await get(gw, "/t/before.txt")).cache, "MISS");
      await eventually(async () => (await tierItems(gw)).redis === 1, "the Redis write");
      await redis.stop();
      const started = performance.now();
      const during = await get(gw, "/t/during.txt");
      assert.deepEqual([during.status, during.body], [200, "body of during.txt"]);
      assert.ok(performance.now() - started < 2000, "a dead Redis does not stall requests");
      assert.equal((await get(gw, "/t/during.txt")).cache, "HIT", "memory still serves");
      const stats = await gw.request("/admin/cache/stats");
      assert.equal(stats.status, 200, "stats still answer while Redis is down");
      await stats.body?.cancel();
      const purge = await gw.request("/admin/cache/purge", { method: "POST" });
      assert.equal(purge.status, 502, "a purge that could not reach Redis says so");
      assert.match((await purge.json()).message, /Failed to purge cache: .*redis/i);
      await redis.restart();
      // The tier reconnects by itself: a new object reaches Redis again.
      await eventually(
        async () => {
          await get(gw, "/t/after.txt");
          return ((await tierItems(gw)).redis ?? 0) >= 1;
        },
        "Redis to come back",
        10_000,
      );
    });
  });
});

Deno.test("bucket overrides: ttl_seconds and max_item_size_mb apply per bucket", async () => {
  await withS3(async (s3) => {
    await s3.putObject(BUCKET, "small.txt", "x".repeat(100));
    await s3.putObject(BUCKET, "large.txt", "y".repeat(3000));
    const config = configFor(s3, {}, { enabled: true, ttlSeconds: 7, maxItemBytes: 2048 });
    await withApp(config, async (gw) => {
      await get(gw, "/t/small.txt");
      await get(gw, "/t/large.txt");
      assert.equal((await get(gw, "/t/small.txt")).cache, "HIT");
      assert.equal((await get(gw, "/t/large.txt")).cache, "MISS", "over the bucket's bound");
      const info = await (await gw.request("/admin/cache/info?key=t:small.txt")).json();
      assert.equal(info.data.expires_at - info.data.created_at, 7);
    });
  });
});

Deno.test("revalidation after the TTL: unchanged renews (304), changed is fetched again", async () => {
  await withS3(async (s3) => {
    await s3.putObject(BUCKET, "same.txt", "unchanged");
    await s3.putObject(BUCKET, "edit.txt", "version 1");
    const config = configFor(s3, {}, { enabled: true, ttlSeconds: 1, maxItemBytes: undefined });
    await withApp(config, async (gw) => {
      assert.equal((await get(gw, "/t/same.txt")).cache, "MISS");
      assert.equal((await get(gw, "/t/edit.txt")).body, "version 1");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await s3.putObject(BUCKET, "edit.txt", "version 2");
      const renewed = await get(gw, "/t/same.txt");
      assert.deepEqual([renewed.status, renewed.cache, renewed.body], [200, "HIT", "unchanged"]);
      const edited = await get(gw, "/t/edit.txt");
      assert.deepEqual([edited.status, edited.body], [200, "version 2"]);
      assert.equal(edited.cache, "MISS");
      assert.equal((await get(gw, "/t/edit.txt")).body, "version 2", "the new version is cached");
      assert.equal((await get(gw, "/t/edit.txt")).cache, "HIT");
    });
    assert.equal(upstreamGets(s3, "same.txt"), 2, "one fetch, one revalidation");
  });
});

Deno.test("100 concurrent misses of one key: one GET reaches s3rver", async () => {
  await withS3(async (s3) => {
    const body = "z".repeat(64 * 1024);
    await s3.putObject(BUCKET, "hot.bin", body);
    await withApp(configFor(s3, {}), async (gw) => {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => get(gw, "/t/hot.bin")),
      );
      assert.ok(answers.every((answer) => answer.status === 200 && answer.body === body));
    });
    assert.equal(upstreamGets(s3, "hot.bin"), 1);
  });
});

Deno.test("stale-if-error from the config: S3 gone after the TTL, the old copy is served as STALE", async () => {
  const s3 = await startS3Server({ buckets: [BUCKET] });
  let closed = false;
  try {
    await s3.putObject(BUCKET, "keep.txt", "still here");
    const config = configFor(
      s3,
      { staleIfErrorSeconds: 60 },
      { enabled: true, ttlSeconds: 1, maxItemBytes: undefined },
    );
    await withApp(config, async (gw) => {
      assert.equal((await get(gw, "/t/keep.txt")).cache, "MISS");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await s3.close();
      closed = true;
      const stale = await get(gw, "/t/keep.txt");
      assert.deepEqual([stale.status, stale.cache, stale.body], [200, "STALE", "still here"]);
      const never = await get(gw, "/t/never-cached.txt");
      assert.equal(never.status, 502, "without a copy the failure reaches the client");
    });
  } finally {
    if (!closed) await s3.close();
  }
});
