// Tests the disk tier: round trip, restart, LRU by size, refusal, purge, damage and crash leftovers, concurrency.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { CachedObject } from "./cached_object.ts";
import { DiskStore } from "./disk_store.ts";
import { encodeEntry } from "./entry_codec.ts";
import { buildCacheKey } from "./key.ts";

function entry(body: string | number, expiresAt = 10_000, storedAt = 0): CachedObject {
  const bytes = typeof body === "number"
    ? new Uint8Array(body).fill(7)
    : new TextEncoder().encode(body);
  return {
    headers: new Headers({ "content-type": "text/plain", etag: '"e"' }),
    body: bytes,
    etag: '"e"',
    lastModifiedMs: 1_700_000_000_000,
    storedAt,
    expiresAt,
  };
}

/** A temp cache dir, removed when the test ends (the store is closed first). */
async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "disk_store_test_" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entryPath(dir: string, key: string): string {
  return join(dir, "entries", createHash("sha256").update(key).digest("hex") + ".entry");
}

async function listEntries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(join(dir, "entries"))) names.push(item.name);
  return names.sort();
}

const text = (value: CachedObject | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value.body);

Deno.test("DiskStore round-trips an entry: body, headers and metadata", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const key = buildCacheKey("b", "a/b.txt", undefined);
    await store.set(key, entry("hello", 5000, 1000));
    const got = await store.get(key, 4000);
    assert.equal(text(got), "hello");
    assert.equal(got?.headers.get("content-type"), "text/plain");
    assert.equal(got?.etag, '"e"');
    assert.equal(got?.lastModifiedMs, 1_700_000_000_000);
    assert.equal(got?.storedAt, 1000);
    assert.equal(got?.expiresAt, 5000);
    assert.equal(await store.get(buildCacheKey("b", "other", undefined), 4000), undefined);
    const stats = store.stats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 1);
    assert.equal(stats.items, 1);
    assert.equal(stats.bytes, (await Deno.stat(entryPath(dir, key))).size);
    assert.equal(stats.bytes, encodeEntry(key, entry("hello", 5000, 1000)).byteLength);
    assert.equal(stats.maxBytes, 1_000_000);
    assert.equal(stats.errors, 0);
    await store.close();
  });
});

Deno.test("DiskStore entries survive a reopen with the same bytes and headers", async () => {
  await withDir(async (dir) => {
    const first = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const a = buildCacheKey("b", "a", undefined);
    const v = buildCacheKey("b", "a", [["versionId", "v1"]]);
    await first.set(a, entry("alpha", 9000, 1));
    await first.set(v, entry("versioned", 9000, 2));
    const before = first.stats();
    await first.close();

    const events: string[] = [];
    const second = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 }, {
      log: (event) => events.push(event),
    });
    assert.deepEqual(events, ["cache.disk.opened"]);
    assert.equal(second.stats().items, 2);
    assert.equal(second.stats().bytes, before.bytes);
    const got = await second.get(a, 0);
    assert.equal(text(got), "alpha");
    assert.equal(got?.headers.get("etag"), '"e"');
    assert.equal(got?.storedAt, 1);
    assert.equal(text(await second.get(v, 0)), "versioned");
    await second.close();
  });
});

Deno.test("DiskStore evicts the least recently used by size", async () => {
  await withDir(async (dir) => {
    const [a, b, c] = ["a", "b", "c"].map((k) => buildCacheKey("bk", k, undefined)) as [
      string,
      string,
      string,
    ];
    const size = encodeEntry(a, entry(1000)).byteLength;
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 2 * size + size / 2 });
    await store.set(a, entry(1000));
    await store.set(b, entry(1000));
    assert.ok(await store.get(a, 0)); // a is now more recent than b
    await store.set(c, entry(1000));
    await store.close(); // eviction deletes files in the background
    assert.equal(store.stats().evictions, 1);
    assert.equal(store.stats().items, 2);
    assert.ok(store.stats().bytes <= store.stats().maxBytes);
    assert.ok(await store.get(a, 0));
    assert.equal(await store.get(b, 0), undefined);
    assert.ok(await store.get(c, 0));
    await assert.rejects(Deno.stat(entryPath(dir, b)), Deno.errors.NotFound);
    assert.equal((await listEntries(dir)).length, 2);
  });
});

Deno.test("DiskStore rebuilds recency by storedAt and honours a lowered bound at open", async () => {
  await withDir(async (dir) => {
    const [old, mid, young] = ["old", "mid", "young"].map((k) => buildCacheKey("bk", k, undefined));
    const first = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    // Written out of storedAt order: the rebuild must order by storedAt, not by write or name.
    await first.set(young as string, entry(500, 10_000, 300));
    await first.set(old as string, entry(500, 10_000, 100));
    await first.set(mid as string, entry(500, 10_000, 200));
    await first.close();

    const kept = encodeEntry(mid as string, entry(500, 10_000, 200)).byteLength +
      encodeEntry(young as string, entry(500, 10_000, 300)).byteLength;
    const second = await DiskStore.open({ cacheDir: dir, maxBytes: kept });
    await second.close();
    assert.equal(second.stats().evictions, 1);
    assert.equal(await second.get(old as string, 0), undefined);
    assert.ok(await second.get(mid as string, 0));
    assert.ok(await second.get(young as string, 0));
    assert.equal((await listEntries(dir)).length, 2);
  });
});

Deno.test("DiskStore refuses an entry larger than the whole tier", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 2000 });
    const small = buildCacheKey("b", "small", undefined);
    const huge = buildCacheKey("b", "huge", undefined);
    await store.set(small, entry(10));
    await store.set(huge, entry(2000));
    assert.equal(await store.get(huge, 0), undefined);
    assert.ok(await store.get(small, 0), "a refused entry evicts nothing");
    assert.equal(store.stats().evictions, 0);
    assert.equal(store.stats().items, 1);

    // Replacing a stored entry with one too large drops the older copy: it is no longer current.
    await store.set(small, entry(5000));
    assert.equal(await store.get(small, 0), undefined);
    assert.equal(store.stats().items, 0);
    assert.deepEqual(await listEntries(dir), []);
    await store.close();
  });
});

Deno.test("DiskStore returns expired entries but counts them as misses", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const key = buildCacheKey("b", "k", undefined);
    await store.set(key, entry("x", 5000));
    assert.equal(text(await store.get(key, 4999)), "x");
    const expired = await store.get(key, 5000);
    assert.equal(text(expired), "x", "an expired entry is returned for revalidation");
    assert.equal(expired?.expiresAt, 5000);
    assert.deepEqual(
      { hits: store.stats().hits, misses: store.stats().misses },
      { hits: 1, misses: 1 },
    );
    await store.close();
  });
});

Deno.test("DiskStore purges all, a bucket, a prefix and an object with its variants", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const keys = {
      img1: buildCacheKey("b1", "img/1.png", undefined),
      img1v: buildCacheKey("b1", "img/1.png", [["versionId", "v2"]]),
      img1r: buildCacheKey("b1", "img/1.png", [["response-content-type", "image/webp"]]),
      img10: buildCacheKey("b1", "img/10.png", undefined),
      doc: buildCacheKey("b1", "doc/a.txt", undefined),
      other: buildCacheKey("b2", "img/1.png", undefined),
      other2: buildCacheKey("b2", "x", undefined),
    };
    for (const key of Object.values(keys)) await store.set(key, entry(key));

    assert.deepEqual(await store.usage({ kind: "bucket", bucket: "b1" }), {
      items: 5,
      bytes: [keys.img1, keys.img1v, keys.img1r, keys.img10, keys.doc]
        .reduce((sum, k) => sum + encodeEntry(k, entry(k)).byteLength, 0),
    });

    // One object: every variant, but not img/10.png (which only shares a prefix) nor bucket b2.
    assert.equal(await store.purge({ kind: "object", bucket: "b1", key: "img/1.png" }), 3);
    assert.equal(await store.get(keys.img1, 0), undefined);
    assert.equal(await store.get(keys.img1v, 0), undefined);
    assert.equal(await store.get(keys.img1r, 0), undefined);
    assert.ok(await store.get(keys.img10, 0));
    assert.ok(await store.get(keys.other, 0));
    for (const key of [keys.img1, keys.img1v, keys.img1r]) {
      await assert.rejects(Deno.stat(entryPath(dir, key)), Deno.errors.NotFound);
    }

    assert.equal(await store.purge({ kind: "prefix", bucket: "b1", prefix: "img/" }), 1);
    assert.ok(await store.get(keys.doc, 0));

    assert.equal(await store.purge({ kind: "bucket", bucket: "b1" }), 1);
    assert.deepEqual(await store.usage({ kind: "bucket", bucket: "b1" }), { items: 0, bytes: 0 });
    assert.equal((await store.usage({ kind: "all" })).items, 2);

    assert.equal(await store.purge({ kind: "all" }), 2);
    assert.deepEqual(await store.usage({ kind: "all" }), { items: 0, bytes: 0 });
    assert.equal(store.stats().bytes, 0);
    assert.deepEqual(await listEntries(dir), []);
    await store.close();
  });
});

Deno.test("DiskStore purge also removes an entry whose write is still in flight", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const key = buildCacheKey("b", "k", undefined);
    const writing = store.set(key, entry(100_000));
    assert.equal(await store.purge({ kind: "bucket", bucket: "b" }), 1);
    await writing;
    assert.equal(await store.get(key, 0), undefined);
    assert.deepEqual(await listEntries(dir), []);
    await store.close();
  });
});

Deno.test("DiskStore deletes a damaged entry file and answers a miss", async () => {
  await withDir(async (dir) => {
    const events: string[] = [];
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 }, {
      log: (event) => events.push(event),
    });
    const key = buildCacheKey("b", "k", undefined);
    await store.set(key, entry("some body bytes"));
    const path = entryPath(dir, key);
    await Deno.truncate(path, (await Deno.stat(path)).size - 3);
    assert.equal(await store.get(key, 0), undefined);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.equal(store.stats().items, 0);
    assert.equal(store.stats().bytes, 0);
    assert.equal(store.stats().errors, 1);
    assert.ok(events.includes("cache.disk.damaged"));
    await store.close();
  });
});

Deno.test("DiskStore never serves a file that holds another key", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const a = buildCacheKey("b", "a", undefined);
    const b = buildCacheKey("b", "b", undefined);
    await store.set(a, entry("A"));
    await store.set(b, entry("B"));
    // Simulates corruption: a's file now holds b's entry.
    await Deno.copyFile(entryPath(dir, b), entryPath(dir, a));
    assert.equal(await store.get(a, 0), undefined);
    assert.equal(text(await store.get(b, 0)), "B");
    await store.close();
  });
});

Deno.test("DiskStore open deletes temp leftovers, invalid and misnamed files", async () => {
  await withDir(async (dir) => {
    const first = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const good = buildCacheKey("b", "good", undefined);
    const torn = buildCacheKey("b", "torn", undefined);
    await first.set(good, entry("good"));
    await first.set(torn, entry("torn body"));
    await first.close();

    const entries = join(dir, "entries");
    // A crash between write and rename, a torn write, a foreign file and a file under the wrong name.
    await Deno.writeFile(join(entries, ".tmp-0123"), encodeEntry(good, entry("half")));
    await Deno.truncate(entryPath(dir, torn), 20);
    await Deno.writeTextFile(join(entries, "deadbeef.entry"), "not a frame at all");
    await Deno.writeFile(join(entries, "0".repeat(64) + ".entry"), encodeEntry(good, entry("x")));
    // Claims a header far larger than the file: refused without allocating it.
    await Deno.writeFile(
      join(entries, "1".repeat(64) + ".entry"),
      new Uint8Array([0x59, 0x47, 0x43, 0x31, 0xff, 0xff, 0xff, 0xff]),
    );

    const second = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    assert.deepEqual(await listEntries(dir), [entryPath(dir, good).split("/").pop()]);
    assert.equal(second.stats().items, 1);
    assert.equal(text(await second.get(good, 0)), "good");
    assert.equal(await second.get(torn, 0), undefined);
    await second.close();
  });
});

Deno.test("DiskStore open rejects a cache_dir that is a file, naming the key and path", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      DiskStore.open({ cacheDir: file, maxBytes: 1000 }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /cache\.disk\.cache_dir/);
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, /directory this process can create and write/);
        return true;
      },
    );
  });
});

Deno.test("DiskStore concurrent sets of one key end consistent", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 10_000_000 });
    const key = buildCacheKey("b", "hot", undefined);
    const other = buildCacheKey("b", "cold", undefined);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      writes.push(store.set(key, entry(`v${i}-`.padEnd(1000 * (i % 5 + 1), "x"))));
      if (i % 10 === 0) writes.push(store.set(other, entry(`o${i}`)));
    }
    await Promise.all(writes);
    const got = text(await store.get(key, 0));
    assert.ok(got?.startsWith("v29-"), "the last call wins");
    assert.equal(text(await store.get(other, 0)), "o20");
    assert.equal(store.stats().items, 2);
    const onDisk = (await Deno.stat(entryPath(dir, key))).size +
      (await Deno.stat(entryPath(dir, other))).size;
    assert.equal(store.stats().bytes, onDisk);
    assert.equal((await listEntries(dir)).length, 2, "no temp files left behind");
    assert.equal(store.stats().errors, 0);
    await store.close();

    const reopened = await DiskStore.open({ cacheDir: dir, maxBytes: 10_000_000 });
    assert.equal(reopened.stats().bytes, onDisk);
    assert.ok(text(await reopened.get(key, 0))?.startsWith("v29-"));
    await reopened.close();
  });
});

Deno.test("DiskStore ignores sets after close and close waits for pending writes", async () => {
  await withDir(async (dir) => {
    const store = await DiskStore.open({ cacheDir: dir, maxBytes: 1_000_000 });
    const key = buildCacheKey("b", "k", undefined);
    const pending = store.set(key, entry(50_000));
    await store.close();
    assert.equal((await listEntries(dir)).length, 1);
    await pending;
    await store.set(buildCacheKey("b", "late", undefined), entry("late"));
    assert.equal(store.stats().items, 1);
  });
});
