// Integration: concurrent misses of one key share one upstream fetch; followers get the leader's bytes or its error.

import assert from "node:assert/strict";
import type { Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";

/** 5 chunks of 15,000: over 64 KiB, so the body streams (smaller ones are read whole first). */
const CHUNK = "x".repeat(15_000);
const CHUNKS = 5;

async function withSlowUpstream(
  answer: (path: string) => Response | Promise<Response>,
  run: (gw: Awaited<ReturnType<typeof buildTestApp>>, hits: Map<string, number>) => Promise<void>,
) {
  const hits = new Map<string, number>();
  const upstream = await startFakeUpstream((request) => {
    const path = new URL(request.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    return answer(path);
  });
  const config: Config = {
    ...testConfig([
      bucketConfig({ name: "b", pathPrefix: "/b", bucket: "bkt", endpoint: upstream.endpoint }),
    ]),
    cache: testCacheConfig({
      maxItemBytes: 100_000,
      maxCacheBytes: 1 << 20,
      defaultTtlSeconds: 60,
    }),
  };
  const gw = await buildTestApp(config);
  try {
    await run(gw, hits);
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await upstream.close();
  }
}

/** A body that arrives in CHUNKS pieces, 30 ms apart; `failAfter` chunks then an error, if set. */
function slowBody(failAfter?: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const bytes = new TextEncoder().encode(CHUNK);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      if (failAfter !== undefined && sent === failAfter) {
        controller.error(new Error("upstream reset"));
        return;
      }
      controller.enqueue(bytes);
      if (++sent === CHUNKS) controller.close();
    },
  });
}

Deno.test("concurrent misses share one fetch and all get the whole body", async () => {
  await withSlowUpstream(
    () =>
      new Response(slowBody(), { headers: { "content-length": String(CHUNK.length * CHUNKS) } }),
    async (gw, hits) => {
      const responses = await Promise.all(
        Array.from(
          { length: 6 },
          () => gw.request("/b/hot.bin").then(async (r) => [r, await r.text()] as const),
        ),
      );
      for (const [response, text] of responses) {
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-cache"), "MISS");
        assert.equal(text, CHUNK.repeat(CHUNKS));
      }
      assert.equal(hits.get("/bkt/hot.bin"), 1, "one upstream fetch for six requests");
      await new Promise((resolve) => setTimeout(resolve, 20));
      const later = await gw.request("/b/hot.bin");
      assert.equal(later.headers.get("x-cache"), "HIT");
      await later.text();
    },
  );
});

Deno.test("when the leader fails before headers, every follower gets the error, not a hang", async () => {
  await withSlowUpstream(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return new Response("<Error><Code>InternalError</Code></Error>", { status: 500 });
    },
    async (gw, hits) => {
      const statuses = await Promise.all(
        Array.from(
          { length: 4 },
          () => gw.request("/b/down.bin").then(async (r) => (await r.body?.cancel(), r.status)),
        ),
      );
      assert.deepEqual(statuses, [502, 502, 502, 502]);
      assert.equal(hits.get("/bkt/down.bin"), 1);
    },
  );
});

Deno.test("when the leader's body breaks, followers' bodies break too and nothing is cached", async () => {
  await withSlowUpstream(
    () =>
      new Response(slowBody(2), { headers: { "content-length": String(CHUNK.length * CHUNKS) } }),
    async (gw, hits) => {
      const outcomes = await Promise.all(
        Array.from(
          { length: 3 },
          () =>
            gw.request("/b/broken.bin").then((r) => r.text()).then(
              () => "complete",
              () => "broken",
            ),
        ),
      );
      assert.deepEqual(outcomes, ["broken", "broken", "broken"]);
      assert.equal(hits.get("/bkt/broken.bin"), 1);
      const again = await gw.request("/b/broken.bin");
      assert.equal(again.headers.get("x-cache"), "MISS", "a broken fill never enters the cache");
      await again.body?.cancel();
    },
  );
});

Deno.test("an object too large to cache is fetched by each request on its own", async () => {
  await withSlowUpstream(
    () => new Response("y".repeat(200_000)),
    async (gw, hits) => {
      await Promise.all(
        Array.from({ length: 3 }, () => gw.request("/b/large.bin").then((r) => r.text())),
      );
      assert.equal(hits.get("/bkt/large.bin"), 3);
    },
  );
});
