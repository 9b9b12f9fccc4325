// Owns the Redis tier and purge bus tests against a real redis-server: round trips, exact purges, TTLs, outages.

import assert from "node:assert/strict";
import type { CachedObject } from "../../src/cache/cached_object.ts";
import { buildCacheKey } from "../../src/cache/key.ts";
import { RedisPurgeBus } from "../../src/cache/purge_bus.ts";
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
  RedisStore,
  type RedisStoreOptions,
} from "../../src/cache/redis_store.ts";
import type { PurgeSelector } from "../../src/cache/tier.ts";
import type { RedisCacheConfig } from "../../src/config/types.ts";
import { type RedisServer, startRedisServer } from "../support/redis_server.ts";

const encoder = new TextEncoder();

function configFor(
  server: RedisServer,
  overrides: Partial<RedisCacheConfig> = {},
): RedisCacheConfig {
  return {
    url: server.url,
    password: undefined,
    db: 0,
    keyPrefix: "yatagarasu:",
    ttlSeconds: 3600,
    ...overrides,
  };
}

function entry(body: string, expiresInMs = 60_000, now = Date.now()): CachedObject {
  return {
    headers: new Headers({
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "public, max-age=60",
      "x-amz-meta-note": "ünïcödé",
    }),
    body: encoder.encode(body),
    etag: '"0123456789abcdef"',
    lastModifiedMs: 1_700_000_000_000,
    storedAt: now,
    expiresAt: now + expiresInMs,
  };
}

/** Polls `check` until it holds; fails the test with `what` after `timeoutMs`. */
async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function openStore(
  server: RedisServer,
  overrides: Partial<RedisCacheConfig> = {},
  options: RedisStoreOptions = {},
): Promise<RedisStore> {
  const store = new RedisStore(configFor(server, overrides), options);
  await waitFor("the store to connect", () => store.connected);
  return store;
}

/** A plain client for checks the tier does not expose (PTTL, raw values, PUBSUB NUMSUB). */
async function rawClient(server: RedisServer, password?: string): Promise<RedisClient> {
  const client = createRedisClient(configFor(server, { password }), { commandTimeoutMs: 2_000 });
  await waitFor("the raw client to connect", () => client.status === "ready");
  return client;
}

async function timed<T>(operation: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await operation();
  return { result, ms: performance.now() - start };
}

Deno.test("redis tier: an entry round-trips with its bytes, headers and validators", async () => {
  await using server = await startRedisServer();
  const store = await openStore(server);
  try {
    const key = buildCacheKey("photos", "2024/a.jpg", undefined);
    const body = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    const value: CachedObject = { ...entry(""), body };
    await store.set(key, value);

    const got = await store.get(key, Date.now());
    assert.ok(got);
    assert.deepEqual(got.body, body);
    assert.deepEqual([...got.headers], [...value.headers]);
    assert.equal(got.etag, value.etag);
    assert.equal(got.lastModifiedMs, value.lastModifiedMs);
    assert.equal(got.storedAt, value.storedAt);
    assert.equal(got.expiresAt, value.expiresAt);

    assert.equal(
      await store.get(buildCacheKey("photos", "2024/b.jpg", undefined), Date.now()),
      undefined,
    );
    const stats = store.stats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 1);
    assert.equal(stats.errors, 0);

    // The Redis key is readable (bucket:key), with the configured prefix.
    const raw = await rawClient(server);
    try {
      assert.equal(await raw.exists("yatagarasu:photos:2024/a.jpg"), 1);
    } finally {
      await closeRedisClient(raw);
    }

    assert.deepEqual(await store.refreshUsage(), {
      items: 1,
      bytes: (await store.usage({ kind: "object", bucket: "photos", key: "2024/a.jpg" })).bytes,
    });
    assert.equal(store.stats().items, 1);
    assert.ok(store.stats().bytes > body.byteLength);
  } finally {
    await store.close();
  }
});

Deno.test("redis tier: a value that is not a frame, or framed for another key, is a miss and an error", async () => {
  await using server = await startRedisServer();
  const store = await openStore(server);
  const raw = await rawClient(server);
  try {
    const a = buildCacheKey("b", "a", undefined);
    const b = buildCacheKey("b", "b", undefined);
    await raw.set("yatagarasu:b:a", "not a frame");
    assert.equal(await store.get(a, Date.now()), undefined);
    // Copy a's valid frame under b's Redis key.
    await store.set(a, entry("aaa"));
    await raw.copy("yatagarasu:b:a", "yatagarasu:b:b");
    assert.equal(await store.get(b, Date.now()), undefined);
    assert.deepEqual(
      { hits: store.stats().hits, misses: store.stats().misses, errors: store.stats().errors },
      { hits: 0, misses: 2, errors: 2 },
    );
  } finally {
    await closeRedisClient(raw);
    await store.close();
  }
});

Deno.test("redis tier: an expired entry is returned for revalidation but counted as a miss", async () => {
  await using server = await startRedisServer();
  const store = await openStore(server);
  try {
    const key = buildCacheKey("b", "old.txt", undefined);
    const now = Date.now();
    await store.set(key, entry("old", -5_000, now - 10_000));
    const got = await store.get(key, now);
    assert.ok(got);
    assert.equal(new TextDecoder().decode(got.body), "old");
    assert.ok(got.expiresAt <= now);
    assert.equal(store.stats().hits, 0);
    assert.equal(store.stats().misses, 1);
  } finally {
    await store.close();
  }
});

Deno.test("redis tier: TTL is the entry's lifetime plus the stale window, capped by ttl_seconds, at least 1 s", async () => {
  await using server = await startRedisServer();
  const store = await openStore(server, { ttlSeconds: 60 }, { retainStaleMs: 5_000 });
  const raw = await rawClient(server);
  try {
    await store.set(buildCacheKey("b", "short", undefined), entry("x", 10_000));
    await store.set(buildCacheKey("b", "long", undefined), entry("x", 3_600_000));
    await store.set(buildCacheKey("b", "gone", undefined), entry("x", -3_600_000));

    const short = await raw.pttl("yatagarasu:b:short");
    assert.ok(short > 14_000 && short <= 15_000, `short PTTL ${short}`);
    const long = await raw.pttl("yatagarasu:b:long");
    assert.ok(long > 59_000 && long <= 60_000, `long PTTL ${long}`);
    const gone = await raw.pttl("yatagarasu:b:gone");
    assert.ok(gone > 0 && gone <= 1_000, `gone PTTL ${gone}`);
  } finally {
    await closeRedisClient(raw);
    await store.close();
  }
});

Deno.test("redis tier: purges select exactly, whatever glob characters or unicode the keys hold", async () => {
  await using server = await startRedisServer();
  // Glob specials in the key prefix and bucket too: they must be escaped in every pattern.
  const store = await openStore(server, { keyPrefix: "y[*]?:" });
  const raw = await rawClient(server);
  try {
    const keys = [
      "a*",
      "a*/x",
      "ab",
      "a?c",
      "abc",
      "[x]",
      "x",
      "back\\slash",
      "backslash",
      "ünï cödé/空白 file.txt",
      "ünï cödé/other",
    ];
    const bucket = "b*k";
    for (const k of keys) await store.set(buildCacheKey(bucket, k, undefined), entry(k));
    await store.set(buildCacheKey("bak", "a*", undefined), entry("other bucket"));
    await raw.set("unrelated", "kept");

    const present = async (k: string, b = bucket) =>
      (await store.get(buildCacheKey(b, k, undefined), Date.now())) !== undefined;

    assert.equal(await store.purge({ kind: "prefix", bucket, prefix: "a*" }), 2);
    assert.deepEqual(
      [await present("a*"), await present("a*/x"), await present("ab"), await present("abc")],
      [false, false, true, true],
    );
    assert.equal(await store.purge({ kind: "prefix", bucket, prefix: "a?" }), 1);
    assert.deepEqual([await present("a?c"), await present("abc")], [false, true]);
    assert.equal(await store.purge({ kind: "object", bucket, key: "[x]" }), 1);
    assert.deepEqual([await present("[x]"), await present("x")], [false, true]);
    assert.equal(await store.purge({ kind: "object", bucket, key: "back\\slash" }), 1);
    assert.equal(await present("backslash"), true);
    assert.equal(await store.purge({ kind: "prefix", bucket, prefix: "ünï cödé/空" }), 1);
    assert.deepEqual(
      [await present("ünï cödé/空白 file.txt"), await present("ünï cödé/other")],
      [false, true],
    );
    // The bucket "b*k" must not reach the bucket "bak".
    assert.equal(await store.purge({ kind: "bucket", bucket }), 5);
    assert.equal(await present("a*", "bak"), true);
    assert.equal(await raw.get("unrelated"), "kept");
  } finally {
    await closeRedisClient(raw);
    await store.close();
  }
});

Deno.test("redis tier: purge all, bucket, prefix and object (with its variants); usage counts what a selector names", async () => {
  await using server = await startRedisServer();
  const store = await openStore(server);
  const raw = await rawClient(server);
  try {
    const put = (bucket: string, key: string, query?: Array<[string, string]>) =>
      store.set(buildCacheKey(bucket, key, query), entry(`${bucket}/${key}`));
    await put("photos", "a.jpg");
    await put("photos", "a.jpg", [["versionId", "v1"]]);
    await put("photos", "a.jpg", [["response-content-type", "image/png"], ["versionId", "v2"]]);
    await put("photos", "a.jpg2");
    await put("photos", "dir/b.jpg");
    await put("photos", "dir/c.jpg");
    await put("docs", "a.jpg");
    await put("docs", "readme.md");
    await raw.set("someone-else:key", "kept");

    const usage = await store.usage({ kind: "object", bucket: "photos", key: "a.jpg" });
    assert.equal(usage.items, 3);
    assert.ok(usage.bytes > 0);
    assert.equal((await store.usage({ kind: "bucket", bucket: "photos" })).items, 6);
    assert.equal((await store.usage({ kind: "all" })).items, 8);

    // An object purge takes its variants but not a key that merely starts with its name.
    assert.equal(await store.purge({ kind: "object", bucket: "photos", key: "a.jpg" }), 3);
    assert.equal(
      await store.get(buildCacheKey("photos", "a.jpg", [["versionId", "v1"]]), Date.now()),
      undefined,
    );
    assert.ok(await store.get(buildCacheKey("photos", "a.jpg2", undefined), Date.now()));
    assert.ok(await store.get(buildCacheKey("docs", "a.jpg", undefined), Date.now()));

    assert.equal(await store.purge({ kind: "prefix", bucket: "photos", prefix: "dir/" }), 2);
    assert.equal((await store.usage({ kind: "bucket", bucket: "photos" })).items, 1);

    assert.equal(await store.purge({ kind: "bucket", bucket: "docs" }), 2);
    assert.equal((await store.usage({ kind: "all" })).items, 1);

    assert.equal(await store.purge({ kind: "all" }), 1);
    assert.deepEqual(await store.usage({ kind: "all" }), { items: 0, bytes: 0 });
    assert.equal(await raw.get("someone-else:key"), "kept");
  } finally {
    await closeRedisClient(raw);
    await store.close();
  }
});

Deno.test("redis tier: a password-protected server works with the password; a wrong one degrades to misses", async () => {
  await using server = await startRedisServer({ password: "s3cret pass" });
  const good = await openStore(server, { password: "s3cret pass" });
  const events: string[] = [];
  const bad = new RedisStore(
    configFor(server, {
      password: "wrong",
      url: server.url.replace("redis://", "redis://user:hidden@"),
    }),
    { log: (event) => events.push(event) },
  );
  try {
    const key = buildCacheKey("b", "k", undefined);
    await good.set(key, entry("secret"));
    assert.ok(await good.get(key, Date.now()));

    await waitFor("the failed AUTH to be reported", () => events.length > 0);
    assert.equal(bad.connected, false);
    assert.equal(await bad.get(key, Date.now()), undefined);
    await bad.set(key, entry("never stored"));
    assert.equal(bad.stats().errors, 2);
    assert.equal(bad.stats().misses, 1);
    await assert.rejects(bad.purge({ kind: "all" }), (error: Error) => {
      assert.match(error.message, /Redis at redis:\/\/user@127\.0\.0\.1:\d+ is unreachable/);
      assert.doesNotMatch(error.message, /hidden|wrong/);
      return true;
    });
    // Reconnect attempts keep failing, but the outage is logged once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(events, ["cache.redis_unavailable"]);
    assert.equal(new TextDecoder().decode((await good.get(key, Date.now()))?.body), "secret");
  } finally {
    await bad.close();
    await good.close();
  }
});

Deno.test("redis tier: an outage fails fast without throwing, and the tier recovers by itself", async () => {
  await using server = await startRedisServer();
  const events: Array<[string, Record<string, unknown>]> = [];
  const store = await openStore(server, {}, {
    log: (event, fields) => events.push([event, fields]),
  });
  try {
    const key = buildCacheKey("b", "k", undefined);
    await store.set(key, entry("before"));
    assert.ok(await store.get(key, Date.now()));

    await server.stop();
    for (let i = 0; i < 3; i++) {
      const got = await timed(() => store.get(key, Date.now()));
      assert.equal(got.result, undefined);
      assert.ok(got.ms < 1_000, `get took ${got.ms} ms`);
      const set = await timed(() => store.set(key, entry("during")));
      assert.ok(set.ms < 1_000, `set took ${set.ms} ms`);
    }
    await waitFor("the store to notice the outage", () => !store.connected, 1_000);
    await assert.rejects(
      store.purge({ kind: "all" }),
      /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );
    await assert.rejects(store.usage({ kind: "all" }), /is unreachable/);
    await assert.rejects(store.refreshUsage(), /is unreachable/);
    assert.ok(store.stats().errors >= 6);

    await server.restart();
    await waitFor("the store to reconnect", () => store.connected, 5_000);
    // The restarted server is empty; the tier works again without any help.
    assert.equal(await store.get(key, Date.now()), undefined);
    await store.set(key, entry("after"));
    assert.equal(new TextDecoder().decode((await store.get(key, Date.now()))?.body), "after");

    assert.deepEqual(events.map(([event]) => event), [
      "cache.redis_unavailable",
      "cache.redis_recovered",
    ]);
    assert.equal(events[0]?.[1].url, server.url);
  } finally {
    await store.close();
  }
});

Deno.test("redis tier: a store whose Redis never came up closes cleanly", async () => {
  await using server = await startRedisServer();
  await server.stop();
  const store = new RedisStore(configFor(server));
  try {
    assert.equal(await store.get(buildCacheKey("b", "k", undefined), Date.now()), undefined);
    await store.set(buildCacheKey("b", "k", undefined), entry("x"));
    assert.equal(store.connected, false);
  } finally {
    await store.close();
  }
});

/** Waits until `count` connections subscribe to `channel`, so a publish cannot race a SUBSCRIBE. */
async function waitForSubscribers(raw: RedisClient, channel: string, count: number): Promise<void> {
  await waitFor(`${count} subscribers on ${channel}`, async () => {
    try {
      const reply = (await raw.pubsub("NUMSUB", channel)) as [string, number];
      return reply[1] >= count;
    } catch {
      return false;
    }
  });
}

Deno.test("purge bus: a publish reaches the other instance, not the sender; bad messages are dropped", async () => {
  await using server = await startRedisServer();
  const config = configFor(server);
  const gotA: PurgeSelector[] = [];
  const gotB: PurgeSelector[] = [];
  const logB: string[] = [];
  const a = RedisPurgeBus.create(config, { instanceId: "a", onPurge: (s) => gotA.push(s) });
  const b = RedisPurgeBus.create(config, {
    instanceId: "b",
    onPurge: (s) => gotB.push(s),
    log: (event) => logB.push(event),
  });
  const raw = await rawClient(server);
  try {
    assert.equal(a.channel, "yatagarasu:purge");
    await waitForSubscribers(raw, a.channel, 2);
    await waitFor("the publisher to connect", () => a.connected);

    const selectors: PurgeSelector[] = [
      { kind: "all" },
      { kind: "bucket", bucket: "photos" },
      { kind: "prefix", bucket: "photos", prefix: "a*[?]/ünï " },
      { kind: "object", bucket: "photos", key: "dir/a.jpg" },
    ];
    for (const selector of selectors) await a.publish(selector);
    await waitFor("B to receive every purge", () => gotB.length === selectors.length);
    assert.deepEqual(gotB, selectors);

    // Malformed, foreign-version and loosely shaped messages never reach onPurge.
    const bad = [
      "not json",
      JSON.stringify({ v: 2, from: "c", selector: { kind: "all" } }),
      JSON.stringify({ v: 1, selector: { kind: "all" } }),
      JSON.stringify({ v: 1, from: "c", selector: { kind: "everything" } }),
      JSON.stringify({ v: 1, from: "c", selector: { kind: "bucket" } }),
      JSON.stringify({ v: 1, from: "c", selector: { kind: "bucket", bucket: "" } }),
      JSON.stringify({ v: 1, from: "c", selector: { kind: "object", bucket: "b", key: 3 } }),
      JSON.stringify({ v: 1, from: "c", selector: { kind: "all", bucket: "extra" } }),
    ];
    for (const text of bad) await raw.publish(a.channel, text);
    // One more valid message after them: once it arrives, every bad one has been handled.
    await a.publish({ kind: "bucket", bucket: "last" });
    await waitFor("the last purge", () => gotB.length === selectors.length + 1);
    assert.deepEqual(gotB.at(-1), { kind: "bucket", bucket: "last" });
    assert.equal(logB.filter((e) => e === "cache.purge_bus_invalid_message").length, bad.length);
    assert.deepEqual(gotA, []);
  } finally {
    await closeRedisClient(raw);
    await a.close();
    await b.close();
  }
});

Deno.test("purge bus: publishing fails clearly while Redis is down, and the bus works again after a restart", async () => {
  await using server = await startRedisServer();
  const config = configFor(server);
  const gotA: PurgeSelector[] = [];
  const gotB: PurgeSelector[] = [];
  const a = RedisPurgeBus.create(config, { instanceId: "a", onPurge: (s) => gotA.push(s) });
  const b = RedisPurgeBus.create(config, { instanceId: "b", onPurge: (s) => gotB.push(s) });
  try {
    await waitFor("both buses to connect", () => a.connected && b.connected);
    let raw = await rawClient(server);
    await waitForSubscribers(raw, a.channel, 2);
    await closeRedisClient(raw);
    await a.publish({ kind: "all" });
    await waitFor("the first purge", () => gotB.length === 1);

    await server.stop();
    await assert.rejects(
      a.publish({ kind: "all" }),
      /cannot announce the purge .*Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );

    await server.restart();
    raw = await rawClient(server);
    try {
      await waitForSubscribers(raw, a.channel, 2);
    } finally {
      await closeRedisClient(raw);
    }
    const selector: PurgeSelector = { kind: "object", bucket: "b", key: "k" };
    // The publisher may reconnect a little after the subscribers.
    await waitFor("a publish after the restart to succeed", async () => {
      try {
        await a.publish(selector);
        return true;
      } catch {
        return false;
      }
    });
    await waitFor("B to receive the purge after the restart", () => gotB.length === 2);
    assert.deepEqual(gotB[1], selector);
    assert.deepEqual(gotA, []);
  } finally {
    await a.close();
    await b.close();
  }
});
