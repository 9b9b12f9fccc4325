// Integration: the memory cache through createApp — hits, RFC 9110 semantics from cached bytes, what is never stored.

import assert from "node:assert/strict";
import type { BucketConfig, Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";

const BODY = "0123456789abcdefghijklmnopqrstuvwxyz";
const ETAG = '"5d41402abc4b2a76b9719d911017c592"';
const LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT";

interface FakeObject {
  body: string;
  headers?: Record<string, string>;
  /** Send only this many bytes of the body, then fail the stream (a truncated upstream). */
  truncateAt?: number;
  /** Answer 304 to an If-None-Match carrying the ETag (S3 does; the others here ignore it). */
  revalidates?: boolean;
}

Deno.test("memory cache: hits, semantics and what is never stored", async (t) => {
  const objects = new Map<string, FakeObject>([
    ["/bkt/a.txt", { body: BODY }],
    ["/bkt/no-store.txt", { body: BODY, headers: { "cache-control": "no-store" } }],
    ["/bkt/private.txt", { body: BODY, headers: { "cache-control": "private, max-age=60" } }],
    ["/bkt/short.txt", { body: BODY, headers: { "cache-control": "max-age=1" } }],
    ["/bkt/big.bin", { body: "x".repeat(4096) }],
    ["/bkt/truncated.txt", { body: BODY, truncateAt: 10 }],
    ["/bkt/ranged.txt", { body: BODY }],
    ["/bkt/secret.txt", { body: "for viewers" }],
    ["/bkt/nocache.txt", { body: BODY }],
    ["/bkt/revalidate.txt", {
      body: BODY,
      headers: { "cache-control": "max-age=1" },
      revalidates: true,
    }],
    ["/bkt/fragile.txt", {
      body: BODY,
      headers: { "cache-control": "max-age=1, stale-if-error=60" },
    }],
    ["/bkt/fragile-strict.txt", { body: BODY, headers: { "cache-control": "max-age=1" } }],
  ]);
  /** Paths S3 answers with 500 from now on (an outage). */
  const failing = new Set<string>();
  const hits = new Map<string, number>();
  const revalidations: string[] = [];
  const upstream = await startFakeUpstream((request) => {
    const path = new URL(request.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const object = objects.get(path);
    if (object === undefined) {
      return new Response("<Error><Code>NoSuchKey</Code></Error>", { status: 404 });
    }
    if (failing.has(path)) {
      return new Response("<Error><Code>InternalError</Code></Error>", { status: 500 });
    }
    const headers = {
      "content-type": "text/plain",
      "content-length": String(object.body.length),
      etag: ETAG,
      "last-modified": LAST_MODIFIED,
      ...object.headers,
    };
    if (object.revalidates && request.headers.get("if-none-match") === ETAG) {
      revalidations.push(path);
      return new Response(null, {
        status: 304,
        headers: { etag: ETAG, "cache-control": "max-age=60" },
      });
    }
    const range = request.headers.get("range");
    if (range === "bytes=0-1") {
      return new Response(object.body.slice(0, 2), {
        status: 206,
        headers: {
          ...headers,
          "content-length": "2",
          "content-range": `bytes 0-1/${object.body.length}`,
        },
      });
    }
    if (object.truncateAt !== undefined) {
      const bytes = new TextEncoder().encode(object.body.slice(0, object.truncateAt));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.error(new Error("upstream connection reset"));
        },
      });
      return new Response(stream, { headers });
    }
    return new Response(object.body, { headers });
  });
  const jwt = testJwtConfig({
    tokenSources: [{ type: "bearer", name: undefined, prefix: undefined }],
    claims: [],
  });
  const bucket = (
    name: string,
    prefix: string,
    extra: Partial<BucketConfig> = {},
  ): BucketConfig => ({
    ...bucketConfig({ name, pathPrefix: prefix, bucket: "bkt", endpoint: upstream.endpoint }),
    ...extra,
  });
  const config: Config = {
    ...testConfig([
      bucket("public", "/pub"),
      bucket("private", "/priv", { jwt }),
      bucket("opted-out", "/out", {
        cache: { enabled: false, ttlSeconds: undefined, maxItemBytes: undefined },
      }),
    ]),
    cache: testCacheConfig({
      maxItemBytes: 1024,
      maxCacheBytes: 1024 * 1024,
      defaultTtlSeconds: 60,
    }),
  };
  const gw = await buildTestApp(config);
  // Stores happen in the background as the body streams; give them a tick.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  const get = async (path: string, init?: RequestInit) => {
    const res = await gw.request(path, init);
    const text = await res.text();
    await settle();
    return { res, text };
  };
  try {
    await t.step("a miss is fetched and stored; the next GET is a HIT without S3", async () => {
      const first = await get("/pub/a.txt");
      assert.equal(first.res.headers.get("x-cache"), "MISS");
      assert.equal(first.text, BODY);
      const second = await get("/pub/a.txt");
      assert.equal(second.res.status, 200);
      assert.equal(second.res.headers.get("x-cache"), "HIT");
      assert.equal(second.text, BODY);
      assert.equal(second.res.headers.get("etag"), ETAG, "the quoted ETag is kept exactly");
      assert.equal(second.res.headers.get("last-modified"), LAST_MODIFIED);
      assert.equal(second.res.headers.get("content-length"), String(BODY.length));
      assert.match(second.res.headers.get("age")!, /^\d+$/);
      assert.match(second.res.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
      assert.equal(hits.get("/bkt/a.txt"), 1);
      await gw.logger.flush();
      const logged = gw.log.entries().filter((e) => e.msg === "request" && e.path === "/pub/a.txt");
      assert.deepEqual(logged.map((e) => e.cache), ["MISS", "HIT"], "the access log says HIT/MISS");
    });

    await t.step("HEAD is answered from the cache with headers only", async () => {
      const head = await gw.request("/pub/a.txt", { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("x-cache"), "HIT");
      assert.equal(head.headers.get("content-length"), String(BODY.length));
      assert.equal(head.body, null);
      assert.equal(hits.get("/bkt/a.txt"), 1);
    });

    await t.step(
      "If-None-Match (exact, weak, list, *) and If-Modified-Since give 304 from the cache",
      async () => {
        for (const inm of [ETAG, `W/${ETAG}`, `"other", ${ETAG}`, "*"]) {
          const res = await gw.request("/pub/a.txt", { headers: { "if-none-match": inm } });
          assert.equal(res.status, 304, inm);
          assert.equal(res.headers.get("etag"), ETAG);
          assert.equal(res.headers.get("x-cache"), "HIT");
          assert.equal(
            res.headers.get("content-type"),
            null,
            "a 304 carries only validator headers",
          );
          assert.equal(await res.text(), "");
        }
        const ims = await gw.request("/pub/a.txt", {
          headers: { "if-modified-since": LAST_MODIFIED },
        });
        assert.equal(ims.status, 304);
        const older = await get("/pub/a.txt", {
          headers: { "if-modified-since": "Tue, 20 Oct 2015 07:28:00 GMT" },
        });
        assert.equal(older.res.status, 200);
        const both = await get("/pub/a.txt", {
          headers: { "if-none-match": '"other"', "if-modified-since": LAST_MODIFIED },
        });
        assert.equal(both.res.status, 200, "If-None-Match wins over If-Modified-Since (§13.2.2)");
        assert.equal(hits.get("/bkt/a.txt"), 1);
      },
    );

    await t.step("If-Match and If-Unmodified-Since failures are 412", async () => {
      const im = await gw.request("/pub/a.txt", { headers: { "if-match": '"other"' } });
      assert.equal(im.status, 412);
      assert.equal((await im.json()).code, "precondition_failed");
      const weak = await gw.request("/pub/a.txt", { headers: { "if-match": `W/${ETAG}` } });
      assert.equal(weak.status, 412, "a weak tag never satisfies If-Match");
      await weak.body?.cancel();
      const ius = await gw.request("/pub/a.txt", {
        headers: { "if-unmodified-since": "Tue, 20 Oct 2015 07:28:00 GMT" },
      });
      assert.equal(ius.status, 412);
      await ius.body?.cancel();
      const ok = await get("/pub/a.txt", { headers: { "if-match": ETAG } });
      assert.equal(ok.res.status, 200);
    });

    await t.step(
      "Range (single, open-ended, suffix, If-Range) is served from the cached bytes",
      async () => {
        const cases: Array<[string, string, string]> = [
          ["bytes=0-4", "01234", `bytes 0-4/${BODY.length}`],
          ["bytes=30-", BODY.slice(30), `bytes 30-35/${BODY.length}`],
          ["bytes=-6", BODY.slice(-6), `bytes 30-35/${BODY.length}`],
          ["bytes=10-1000", BODY.slice(10), `bytes 10-35/${BODY.length}`],
        ];
        for (const [range, body, contentRange] of cases) {
          const res = await gw.request("/pub/a.txt", { headers: { range } });
          assert.equal(res.status, 206, range);
          assert.equal(res.headers.get("content-range"), contentRange);
          assert.equal(res.headers.get("content-length"), String(body.length));
          assert.equal(await res.text(), body);
        }
        const unsatisfiable = await gw.request("/pub/a.txt", { headers: { range: "bytes=100-" } });
        assert.equal(unsatisfiable.status, 416);
        assert.equal(unsatisfiable.headers.get("content-range"), `bytes */${BODY.length}`);
        await unsatisfiable.body?.cancel();
        const ifRangeOk = await gw.request("/pub/a.txt", {
          headers: { range: "bytes=0-1", "if-range": ETAG },
        });
        assert.equal(ifRangeOk.status, 206);
        await ifRangeOk.body?.cancel();
        const ifRangeStale = await get("/pub/a.txt", {
          headers: { range: "bytes=0-1", "if-range": '"changed"' },
        });
        assert.equal(ifRangeStale.res.status, 200, "a stale If-Range gets the whole object");
        assert.equal(ifRangeStale.text, BODY);
        assert.equal(hits.get("/bkt/a.txt"), 1);
        // The access log says what the answers say: HIT on the 206s, nothing on the 416.
        await gw.logger.flush();
        const byStatus = new Map<unknown, unknown[]>();
        for (const entry of gw.log.entries().slice(-8)) {
          if (entry.msg !== "request") continue;
          byStatus.set(entry.status, [...byStatus.get(entry.status) ?? [], entry.cache]);
        }
        assert.deepEqual(byStatus.get(206), ["HIT", "HIT", "HIT", "HIT", "HIT"]);
        assert.deepEqual(byStatus.get(416), [undefined]);
        // A miss that fails (S3's 404) logs no cache status either, though `fetch` had set MISS.
        const missing = await gw.request("/pub/missing.txt");
        assert.equal(missing.status, 404);
        assert.equal(missing.headers.get("x-cache"), null);
        await missing.body?.cancel();
        await gw.logger.flush();
        const missed = gw.log.entries().filter((e) => e.path === "/pub/missing.txt");
        assert.deepEqual(missed.map((e) => [e.status, e.cache]), [[404, undefined]]);
      },
    );

    await t.step("a Range request on a miss is forwarded and not stored", async () => {
      const res = await get("/pub/ranged.txt", { headers: { range: "bytes=0-1" } });
      assert.equal(res.res.status, 206);
      assert.equal(res.text, "01");
      const full = await get("/pub/ranged.txt");
      assert.equal(full.res.headers.get("x-cache"), "MISS");
      assert.equal(hits.get("/bkt/ranged.txt"), 2);
    });

    await t.step(
      "no-store, private, oversize and truncated bodies never enter the cache",
      async () => {
        for (const key of ["no-store.txt", "private.txt", "big.bin"]) {
          await get(`/pub/${key}`);
          const again = await get(`/pub/${key}`);
          assert.equal(again.res.headers.get("x-cache"), "MISS", key);
          assert.equal(hits.get(`/bkt/${key}`), 2, key);
        }
        await gw.request("/pub/truncated.txt").then((r) => r.text()).catch(() => "");
        await settle();
        await gw.request("/pub/truncated.txt").then((r) => r.text()).catch(() => "");
        assert.equal(hits.get("/bkt/truncated.txt"), 2, "a truncated body was not cached");
      },
    );

    await t.step("max-age from S3 bounds the entry's life", async () => {
      await get("/pub/short.txt");
      assert.equal((await get("/pub/short.txt")).res.headers.get("x-cache"), "HIT");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal((await get("/pub/short.txt")).res.headers.get("x-cache"), "MISS");
      assert.equal(hits.get("/bkt/short.txt"), 2);
    });

    await t.step(
      "an expired entry is revalidated with If-None-Match; S3's 304 renews it",
      async () => {
        await get("/pub/revalidate.txt");
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const renewed = await get("/pub/revalidate.txt");
        assert.equal(renewed.res.status, 200);
        assert.equal(renewed.res.headers.get("x-cache"), "HIT");
        assert.equal(renewed.text, BODY);
        assert.deepEqual(revalidations, ["/bkt/revalidate.txt"]);
        const after = await get("/pub/revalidate.txt");
        assert.equal(after.res.headers.get("x-cache"), "HIT", "the 304's max-age=60 renewed it");
        assert.equal(hits.get("/bkt/revalidate.txt"), 2);
      },
    );

    await t.step(
      "stale-if-error serves the old copy when S3 fails; without it the error passes",
      async () => {
        await get("/pub/fragile.txt");
        await get("/pub/fragile-strict.txt");
        await new Promise((resolve) => setTimeout(resolve, 1100));
        failing.add("/bkt/fragile.txt");
        failing.add("/bkt/fragile-strict.txt");
        const stale = await get("/pub/fragile.txt");
        assert.equal(stale.res.status, 200);
        assert.equal(stale.res.headers.get("x-cache"), "STALE");
        assert.equal(stale.text, BODY);
        const strict = await gw.request("/pub/fragile-strict.txt");
        assert.equal(strict.status, 502);
        assert.equal((await strict.json()).code, "upstream_error");
      },
    );

    await t.step("a cached private object still needs a token on every request", async () => {
      const token = await signHs256({ role: "viewer" });
      const first = await get("/priv/secret.txt", {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(first.res.status, 200);
      const second = await get("/priv/secret.txt", {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(second.res.headers.get("x-cache"), "HIT");
      const anonymous = await gw.request("/priv/secret.txt");
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();
      assert.equal(hits.get("/bkt/secret.txt"), 1);
    });

    await t.step("a bucket that opts out says BYPASS and is not cached", async () => {
      const first = await get("/out/nocache.txt");
      assert.equal(first.res.headers.get("x-cache"), "BYPASS");
      await get("/out/nocache.txt");
      assert.equal(hits.get("/bkt/nocache.txt"), 2);
    });
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await upstream.close();
  }
});
