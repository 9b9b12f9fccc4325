// Tests that small bodies (up to 64 KiB), read whole before answering, never hang on a stalled S3:
// a stall or a truncation mid-body is a failed attempt (retried, then 504/502), never a cut stream.

import assert from "node:assert/strict";
import type { RetryConfig } from "../../src/config/types.ts";
import {
  bucketConfig,
  buildTestApp,
  serveTestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { type Fault, startFaultUpstream } from "../support/fault_upstream.ts";

const SMALL = "s".repeat(2 * 1024);
const NO_RETRY: RetryConfig = { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 };
const RETRY_2: RetryConfig = { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10 };

const seq = (...list: Fault[]) => (n: number): Fault => list[Math.min(n, list.length - 1)]!;

function bucket(endpoint: string, retry: RetryConfig) {
  return bucketConfig({
    name: "b",
    pathPrefix: "/b",
    bucket: "bk",
    endpoint,
    timeout: 2,
    connectTimeout: 5,
    idleTimeout: 0.3,
    retry,
  });
}

/** A served gateway (real Deno.serve) in front of a fault upstream; closed after `run`. */
async function withServed(
  script: (n: number) => Fault,
  retry: RetryConfig,
  cached: boolean,
  run: (url: string, requests: () => number) => Promise<void>,
): Promise<void> {
  const upstream = startFaultUpstream(script);
  const config = testConfig([bucket(upstream.endpoint, retry)]);
  if (cached) {
    config.cache = testCacheConfig({
      maxItemBytes: 1024 * 1024,
      maxCacheBytes: 8 * 1024 * 1024,
      defaultTtlSeconds: 60,
    });
  }
  const served = await serveTestApp(await buildTestApp(config));
  try {
    await run(served.url, () => upstream.requests.length);
    assert.ok(await upstream.allClosed(), `${upstream.openSockets} upstream socket(s) left open`);
  } finally {
    await served.stop();
    await upstream.close();
  }
}

for (const cached of [false, true]) {
  const label = `cache ${cached ? "on" : "off"}`;

  Deno.test(`a small body stalling mid-body answers 504 after idle_timeout, not a hang (${label})`, async () => {
    await withServed(
      seq({ kind: "stall_body", body: SMALL, sent: 100 }, { kind: "ok", body: SMALL }),
      NO_RETRY,
      cached,
      async (url, requests) => {
        const started = performance.now();
        const res = await fetch(`${url}/b/small.txt`);
        const elapsed = performance.now() - started;
        assert.equal(res.status, 504);
        const body = await res.json();
        assert.equal(body.code, "origin_timeout");
        assert.match(body.message, /idle_timeout/);
        assert.ok(elapsed >= 280 && elapsed < 2000, `answered after ${elapsed} ms`);
        // Nothing was stored: the next request reads S3 again and gets the whole body.
        const again = await fetch(`${url}/b/small.txt`);
        assert.equal(await again.text(), SMALL);
        if (cached) assert.equal(again.headers.get("x-cache"), "MISS");
        assert.equal(requests(), 2);
      },
    );
  });

  Deno.test(`a small body stalling or cut mid-body is retried and served whole (${label})`, async () => {
    await withServed(
      seq(
        { kind: "stall_body", body: SMALL, sent: 100 },
        { kind: "truncate", body: SMALL, sent: 100 },
        { kind: "ok", body: SMALL },
      ),
      { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 10 },
      cached,
      async (url, requests) => {
        const res = await fetch(`${url}/b/small.txt`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), SMALL);
        assert.equal(requests(), 3);
      },
    );
  });
}

Deno.test("a small body cut mid-body on the last attempt answers 502 naming the break", async () => {
  await withServed(
    () => ({ kind: "truncate", body: SMALL, sent: 100 }),
    RETRY_2,
    false,
    async (url, requests) => {
      const res = await fetch(`${url}/b/small.txt`);
      assert.equal(res.status, 502);
      const body = await res.json();
      assert.equal(body.code, "origin_unavailable");
      assert.match(body.message, /broke off the body/);
      assert.match(body.message, /2 attempts/);
      assert.equal(requests(), 2);
    },
  );
});
