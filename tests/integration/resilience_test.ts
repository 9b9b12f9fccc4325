// Integration: timeouts, retries and the circuit breaker against a fault-injecting raw TCP upstream
// (resets, stalls before headers and mid-body, truncation, S3 500/503 SlowDown), through createApp.

import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import type { BucketConfig, CircuitBreakerConfig, RetryConfig } from "../../src/config/types.ts";
import { ProxyError } from "../../src/errors.ts";
import { Logger } from "../../src/observe/log.ts";
import { DeadlineSweeper } from "../../src/origin/deadlines.ts";
import { type Connector, S3Origin } from "../../src/origin/s3_origin.ts";
import { readableBody } from "../../src/origin/origin.ts";
import {
  bucketConfig,
  buildTestApp,
  MemoryLog,
  serveTestApp,
  type TestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { deadUrl } from "../support/fake_upstream.ts";
import {
  type Fault,
  type FaultRequest,
  type FaultUpstream,
  startFaultUpstream,
} from "../support/fault_upstream.ts";

const BODY = "0123456789abcdefghijklmnopqrstuvwxyz";
const OK: Fault = { kind: "ok", body: BODY };
/** Over 64 KiB: bodies this size are watched for idle gaps (smaller ones are piped natively). */
const WATCHED = "w".repeat(80 * 1024);
const SLOW_DOWN: Fault = { kind: "error", status: 503, code: "SlowDown" };
const INTERNAL: Fault = { kind: "error", status: 500, code: "InternalError" };

/** Retries with small, fixed-width backoffs so timing can be bounded. */
const RETRY_3: RetryConfig = { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 200 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Setup {
  retry?: RetryConfig;
  circuitBreaker?: CircuitBreakerConfig;
  timeout?: number;
  connectTimeout?: number;
  idleTimeout?: number;
  requestTimeout?: number;
  cache?: boolean;
}

function bucket(endpoint: string, setup: Setup): BucketConfig {
  return bucketConfig({
    name: "b",
    pathPrefix: "/b",
    bucket: "bk",
    endpoint,
    timeout: setup.timeout ?? 2,
    connectTimeout: setup.connectTimeout ?? 5,
    idleTimeout: setup.idleTimeout,
    retry: setup.retry,
    circuitBreaker: setup.circuitBreaker,
  });
}

/** A gateway in front of a fault upstream running `script`; `run` gets both, then all is closed. */
async function withFaults(
  script: (n: number, request: FaultRequest) => Fault,
  setup: Setup,
  run: (gw: TestApp, upstream: FaultUpstream) => Promise<void>,
): Promise<void> {
  const upstream = startFaultUpstream(script);
  const config = testConfig([bucket(upstream.endpoint, setup)], setup.requestTimeout ?? 10);
  if (setup.cache) {
    config.cache = testCacheConfig({
      maxItemBytes: 1024 * 1024,
      maxCacheBytes: 8 * 1024 * 1024,
      defaultTtlSeconds: 60,
    });
  }
  const gw = await buildTestApp(config);
  try {
    await run(gw, upstream);
    // Nothing the gateway opened is left open at the upstream.
    assert.ok(await upstream.allClosed(), `${upstream.openSockets} upstream socket(s) left open`);
  } finally {
    await gw.app.close();
    await upstream.close();
  }
}

/** The n-th fault of `list`, its last one repeating. */
const seq = (...list: Fault[]) => (n: number): Fault => list[Math.min(n, list.length - 1)]!;

/** Gaps in ms between the upstream's successive requests. */
function gaps(upstream: FaultUpstream): number[] {
  return upstream.requests.slice(1).map((r, i) => r.at - upstream.requests[i]!.at);
}

// ---- retries --------------------------------------------------------------------------------

Deno.test("503 SlowDown and 500 are retried with growing, jittered backoff, then served", async () => {
  await withFaults(seq(SLOW_DOWN, INTERNAL, OK), { retry: RETRY_3 }, async (gw, upstream) => {
    const res = await gw.request("/b/k.txt");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BODY);
    assert.equal(upstream.requests.length, 3);
    const [first, second] = gaps(upstream);
    // Retry 1 waits 50-100 ms, retry 2 100-200 ms (plus a request's own time on loopback).
    assert.ok(first! >= 48 && first! < 100 + 150, `first backoff ${first} ms`);
    assert.ok(second! >= 98 && second! < 200 + 150, `second backoff ${second} ms`);
  });
});

Deno.test("retries stop after max_attempts; the client gets the last error and the count", async () => {
  await withFaults(() => SLOW_DOWN, { retry: RETRY_3 }, async (gw, upstream) => {
    const res = await gw.request("/b/k.txt");
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.code, "upstream_error");
    assert.equal(body.s3_error_code, "SlowDown");
    assert.equal(body.s3_status, 503);
    assert.equal(body.attempts, 3);
    assert.match(body.message, /\(3 attempts\)$/);
    assert.equal(upstream.requests.length, 3);
  });
});

Deno.test("4xx answers are never retried", async () => {
  const faults: Fault[] = [
    { kind: "error", status: 404, code: "NoSuchKey" },
    { kind: "error", status: 403, code: "AccessDenied" },
    { kind: "error", status: 400, code: "InvalidArgument" },
    { kind: "error", status: 429, code: "TooManyRequests" },
  ];
  for (const fault of faults) {
    await withFaults(() => fault, { retry: RETRY_3 }, async (gw, upstream) => {
      const res = await gw.request("/b/k.txt");
      await res.body?.cancel();
      assert.equal(upstream.requests.length, 1, `${fault.kind} ${JSON.stringify(fault)}`);
    });
  }
});

Deno.test("501 is a failure but not worth retrying", async () => {
  await withFaults(
    () => ({ kind: "error", status: 501, code: "NotImplemented" }),
    { retry: RETRY_3 },
    async (gw, upstream) => {
      const res = await gw.request("/b/k.txt");
      assert.equal(res.status, 502);
      await res.body?.cancel();
      assert.equal(upstream.requests.length, 1);
    },
  );
});

Deno.test("a connection reset before the headers is retried; HEAD is retried too", async () => {
  await withFaults(
    seq({ kind: "reset" }, { kind: "reset" }, OK),
    { retry: RETRY_3 },
    async (gw, upstream) => {
      const res = await gw.request("/b/k.txt");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), BODY);
      assert.equal(upstream.requests.length, 3);
    },
  );
  await withFaults(seq(SLOW_DOWN, OK), { retry: RETRY_3 }, async (gw, upstream) => {
    const res = await gw.request("/b/k.txt", { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(BODY.length));
    assert.deepEqual(upstream.requests.map((r) => r.method), ["HEAD", "HEAD"]);
  });
});

Deno.test("refused connections are retried max_attempts times, then 502 origin_unavailable", async () => {
  const endpoint = deadUrl();
  let calls = 0;
  const counting: typeof fetch = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  const app = await createApp(testConfig([bucket(endpoint, { retry: RETRY_3 })]), {
    logger: new Logger({ level: "error", format: "json", sink: new MemoryLog() }),
    fetch: counting,
  });
  try {
    const started = performance.now();
    const res = await app.handle(new Request("http://gw/b/k.txt"), {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.code, "origin_unavailable");
    assert.equal(body.attempts, 3);
    assert.equal(calls, 3);
    // Two backoffs: at least 50 + 100 ms.
    assert.ok(elapsed >= 145, `answered after ${elapsed} ms`);
  } finally {
    await app.close();
  }
});

Deno.test("a stalled S3 times out per attempt, is retried, then 504 origin_timeout", async () => {
  await withFaults(
    () => ({ kind: "stall_headers" }),
    { timeout: 0.2, retry: { maxAttempts: 2, initialBackoffMs: 20, maxBackoffMs: 20 } },
    async (gw, upstream) => {
      const started = performance.now();
      const res = await gw.request("/b/k.txt");
      const elapsed = performance.now() - started;
      assert.equal(res.status, 504);
      const body = await res.json();
      assert.equal(body.code, "origin_timeout");
      assert.equal(body.attempts, 2);
      assert.equal(upstream.requests.length, 2);
      assert.ok(elapsed >= 400 && elapsed < 2000, `answered after ${elapsed} ms`);
    },
  );
});

Deno.test("server.request_timeout bounds every attempt and backoff together", async () => {
  await withFaults(
    () => ({ kind: "stall_headers" }),
    {
      timeout: 0.3,
      requestTimeout: 0.5,
      retry: { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 50 },
    },
    async (gw, upstream) => {
      const started = performance.now();
      const res = await gw.request("/b/k.txt");
      const elapsed = performance.now() - started;
      assert.equal(res.status, 504);
      await res.body?.cancel();
      // 300 ms, a 50 ms backoff, then what is left of the 500 ms; never ten attempts.
      assert.ok(elapsed < 500 + 400, `answered after ${elapsed} ms`);
      assert.ok(upstream.requests.length <= 2, `${upstream.requests.length} attempts`);
    },
  );
});

Deno.test("a client that disconnects during a backoff stops the retries", async () => {
  await withFaults(
    () => SLOW_DOWN,
    { retry: { maxAttempts: 5, initialBackoffMs: 300, maxBackoffMs: 300 } },
    async (gw, upstream) => {
      const client = new AbortController();
      const answered = gw.request("/b/k.txt", { signal: client.signal });
      // Leave during the first backoff (300 ms), once the first attempt has been answered.
      while (upstream.requests.length === 0) await sleep(5);
      await sleep(50);
      client.abort();
      const res = await answered;
      await res.body?.cancel();
      const before = upstream.requests.length;
      await sleep(500);
      assert.equal(upstream.requests.length, before, "no attempt after the client left");
      assert.equal(before, 1);
    },
  );
});

// ---- timeouts after the headers ---------------------------------------------------------------

Deno.test("S3 stalling mid-body closes the client's stream after idle_timeout; nothing is cached", async () => {
  await withFaults(
    seq({ kind: "stall_body", body: WATCHED, sent: 10 }, { kind: "ok", body: WATCHED }),
    { idleTimeout: 0.2, cache: true },
    async (gw, upstream) => {
      const served = await serveTestApp(gw);
      try {
        const started = performance.now();
        const res = await fetch(`${served.url}/b/k.txt`);
        assert.equal(res.status, 200);
        await assert.rejects(res.text(), "the body errors instead of hanging");
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 190 && elapsed < 1500, `cut after ${elapsed} ms`);
        // The truncated body did not enter the cache: the next request goes to S3 again.
        const again = await fetch(`${served.url}/b/k.txt`);
        assert.equal(again.headers.get("x-cache"), "MISS");
        assert.equal(await again.text(), WATCHED);
        assert.equal(upstream.requests.length, 2);
      } finally {
        await served.stop();
      }
    },
  );
});

Deno.test("a truncated streamed body errors the client's stream and is not cached", async () => {
  // Over 64 KiB, so the body streams (a small one is read whole and retried: small_body_stall_test.ts).
  await withFaults(
    seq({ kind: "truncate", body: WATCHED, sent: 10 }, { kind: "ok", body: WATCHED }),
    { cache: true },
    async (gw, upstream) => {
      const res = await gw.request("/b/k.txt");
      assert.equal(res.status, 200);
      await assert.rejects(res.text());
      const again = await gw.request("/b/k.txt");
      assert.equal(again.headers.get("x-cache"), "MISS");
      assert.equal(await again.text(), WATCHED);
      assert.equal(upstream.requests.length, 2);
    },
  );
});

Deno.test("idle_timeout is between chunks: a slow but steady body and a slow client both finish", async () => {
  const long = "x".repeat(96 * 1024);
  await withFaults(
    () => ({ kind: "trickle", body: long, chunk: 16 * 1024, everyMs: 60 }),
    { idleTimeout: 0.3 },
    async (gw) => {
      // 6 chunks 60 ms apart: longer in total than idle_timeout, never idle that long.
      const res = await gw.request("/b/slow.txt");
      assert.equal(await res.text(), long);
      // A consumer that pauses longer than idle_timeout is backpressure, not a stalled S3.
      const paused = await gw.request("/b/slow.txt");
      const reader = paused.body!.getReader();
      let text = new TextDecoder().decode((await reader.read()).value);
      await sleep(600);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      assert.equal(text, long);
    },
  );
});

// ---- circuit breaker --------------------------------------------------------------------------

const BREAKER: CircuitBreakerConfig = {
  failureThreshold: 2,
  successThreshold: 2,
  timeoutSeconds: 0.4,
  halfOpenMaxRequests: 1,
};

/** Object reads only (/ready's probes are HEADs of the bucket itself). */
function objectReads(upstream: FaultUpstream): number {
  return upstream.requests.filter((r) => r.target.startsWith("/bk/")).length;
}

async function ready(gw: TestApp): Promise<Record<string, unknown>> {
  const res = await gw.request("/ready");
  const body = await res.json();
  return body.backends.b.circuit_breaker;
}

Deno.test("breaker: closed -> open after N failures -> 503 without S3 -> half-open probe limit -> closed", async () => {
  let failing = true;
  let slow = true;
  const script = (_n: number, request: FaultRequest): Fault => {
    if (!request.target.startsWith("/bk/")) return OK; // readiness probes
    if (failing) return INTERNAL;
    // The first half-open probe answers slowly, so a second request arrives while it holds
    // the only probe slot.
    const delayMs = slow ? 150 : 0;
    slow = false;
    return { ...OK, delayMs };
  };
  await withFaults(script, { circuitBreaker: BREAKER }, async (gw, upstream) => {
    assert.deepEqual(await ready(gw), { state: "closed", consecutive_failures: 0 });
    for (let i = 0; i < 2; i++) {
      const res = await gw.request("/b/k.txt");
      assert.equal(res.status, 502);
      await res.body?.cancel();
    }
    assert.equal(objectReads(upstream), 2);
    // Open: answered at once with 503 and the time left, S3 not contacted.
    const refused = await gw.request("/b/k.txt");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    const body = await refused.json();
    assert.equal(body.code, "circuit_open");
    assert.match(body.message, /buckets\[\]\.s3\.circuit_breaker/);
    assert.equal(objectReads(upstream), 2);
    assert.deepEqual(await ready(gw), {
      state: "open",
      consecutive_failures: 2,
      retry_after_seconds: 1,
    });
    await gw.logger.flush();
    const log = gw.log.entries().find((e) => e.msg === "circuit breaker");
    assert.equal(log?.to, "open");
    assert.equal(log?.level, "warn");

    failing = false;
    await sleep(450);
    // Half-open with one probe slot: the probe goes through, a concurrent request is refused.
    const probe = gw.request("/b/k.txt");
    await sleep(50);
    const second = await gw.request("/b/k.txt");
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "1");
    await second.body?.cancel();
    const probed = await probe;
    assert.equal(probed.status, 200);
    assert.equal(await probed.text(), BODY);
    assert.equal(objectReads(upstream), 3);
    assert.equal((await ready(gw)).state, "half_open");
    // success_threshold 2: one more successful probe closes it.
    const closing = await gw.request("/b/k.txt");
    assert.equal(await closing.text(), BODY);
    assert.deepEqual(await ready(gw), { state: "closed", consecutive_failures: 0 });
    assert.equal(objectReads(upstream), 4);
  });
});

Deno.test("breaker: a failed half-open probe opens it again for a full timeout", async () => {
  await withFaults(() => SLOW_DOWN, { circuitBreaker: BREAKER }, async (gw, upstream) => {
    for (let i = 0; i < 2; i++) await (await gw.request("/b/k.txt")).body?.cancel();
    await sleep(450);
    const probe = await gw.request("/b/k.txt");
    assert.equal(probe.status, 502);
    await probe.body?.cancel();
    assert.equal(objectReads(upstream), 3);
    const refused = await gw.request("/b/k.txt");
    assert.equal(refused.status, 503);
    await refused.body?.cancel();
    assert.equal(objectReads(upstream), 3);
    assert.equal((await ready(gw)).state, "open");
  });
});

Deno.test("breaker: 4xx answers are not failures; a success resets the count", async () => {
  const script = seq(
    INTERNAL,
    { kind: "error", status: 404, code: "NoSuchKey" },
    INTERNAL,
    OK,
    INTERNAL,
  );
  await withFaults(script, { circuitBreaker: BREAKER }, async (gw) => {
    for (let i = 0; i < 4; i++) await (await gw.request("/b/k.txt")).body?.cancel();
    assert.deepEqual(await ready(gw), { state: "closed", consecutive_failures: 0 });
    await (await gw.request("/b/k.txt")).body?.cancel();
    assert.deepEqual(await ready(gw), { state: "closed", consecutive_failures: 1 });
  });
});

Deno.test("breaker: a body that stalls after the headers counts as a failure", async () => {
  await withFaults(
    () => ({ kind: "stall_body", body: WATCHED, sent: 5 }),
    { circuitBreaker: BREAKER, idleTimeout: 0.1 },
    async (gw) => {
      const res = await gw.request("/b/k.txt");
      assert.equal(res.status, 200);
      await assert.rejects(res.text());
      assert.deepEqual(await ready(gw), { state: "closed", consecutive_failures: 1 });
    },
  );
});

Deno.test("breaker: retries stop when it opens, with the real error; cache hits are still served", async () => {
  let failing = false;
  await withFaults(
    () => failing ? INTERNAL : OK,
    { circuitBreaker: BREAKER, retry: RETRY_3, cache: true },
    async (gw, upstream) => {
      const warm = await gw.request("/b/cached.txt");
      assert.equal(await warm.text(), BODY);
      failing = true;
      // Attempt 1 and 2 fail and open the breaker; attempt 3 is not made.
      const res = await gw.request("/b/other.txt");
      assert.equal(res.status, 502);
      const body = await res.json();
      assert.equal(body.code, "upstream_error");
      assert.equal(body.attempts, 2);
      assert.equal(objectReads(upstream), 3);
      const hit = await gw.request("/b/cached.txt");
      assert.equal(hit.status, 200);
      assert.equal(hit.headers.get("x-cache"), "HIT");
      assert.equal(await hit.text(), BODY);
      const miss = await gw.request("/b/other.txt");
      assert.equal(miss.status, 503);
      await miss.body?.cancel();
      assert.equal(objectReads(upstream), 3);
    },
  );
});

// ---- connect_timeout ------------------------------------------------------------------------

const deadlines = new DeadlineSweeper();

/** An S3Origin on `endpoint` whose connect_timeout check uses `connect`. */
function originWith(endpoint: string, setup: Setup, connect: Connector): S3Origin {
  return new S3Origin({ bucketName: "b", s3: bucket(endpoint, setup).s3, deadlines, connect });
}

/** A GET as the `fetch` stage makes it: each attempt gets `timeout` seconds for its headers. */
function read(origin: S3Origin, timeout: number): Promise<Response> {
  return origin.fetch({
    method: "GET",
    key: "k.txt",
    query: undefined,
    headers: undefined,
    signal: new AbortController().signal,
    timeoutMs: timeout * 1000,
  });
}

Deno.test("connect_timeout: an endpoint that accepts no connection fails the attempt early", async () => {
  const upstream = startFaultUpstream(() => ({ kind: "stall_headers" }));
  const dials: string[] = [];
  // A blackholed host: the connect never completes, until the check gives up.
  const blackhole: Connector = (hostname, port, signal) => {
    dials.push(`${hostname}:${port}`);
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  const origin = originWith(upstream.endpoint, { connectTimeout: 0.1, timeout: 2 }, blackhole);
  try {
    const started = performance.now();
    await assert.rejects(read(origin, 2), (error: ProxyError) => {
      assert.equal(error.code, "origin_unavailable");
      assert.match(error.message, /connect_timeout/);
      return true;
    });
    const elapsed = performance.now() - started;
    // connect_timeout without headers, then connect_timeout for the check: far below `timeout`.
    assert.ok(elapsed >= 190 && elapsed < 1500, `failed after ${elapsed} ms`);
    assert.deepEqual(dials, [new URL(upstream.endpoint).host]);
    assert.ok(await upstream.allClosed());
  } finally {
    await upstream.close();
  }
});

Deno.test("connect_timeout: a reachable but slow S3 still gets its full timeout", async () => {
  const upstream = startFaultUpstream(() => ({ kind: "stall_headers" }));
  let checks = 0;
  const real: Connector = (hostname, port, signal) => {
    checks++;
    return Deno.connect({ hostname, port, signal });
  };
  const origin = originWith(upstream.endpoint, { connectTimeout: 0.1, timeout: 0.5 }, real);
  try {
    const started = performance.now();
    await assert.rejects(read(origin, 0.5), (error: ProxyError) => error.code === "origin_timeout");
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 490 && elapsed < 1500, `timed out after ${elapsed} ms`);
    assert.equal(checks, 1);
    assert.equal(upstream.requests.length, 1);
    assert.ok(await upstream.allClosed());
  } finally {
    await upstream.close();
  }
});

Deno.test("connect_timeout: a failed check is a connection error, retried like one", async () => {
  const upstream = startFaultUpstream(seq({ kind: "stall_headers" }, OK));
  let checks = 0;
  const refusedOnce: Connector = () => {
    checks++;
    return Promise.reject(new Error("connection refused"));
  };
  const origin = originWith(
    upstream.endpoint,
    {
      connectTimeout: 0.1,
      timeout: 2,
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10 },
    },
    refusedOnce,
  );
  try {
    const res = await read(origin, 2);
    // Small bodies come back read whole (see s3_origin.ts): take them as the stages do.
    assert.equal(await new Response(readableBody(res)).text(), BODY);
    assert.equal(checks, 1);
    assert.equal(upstream.requests.length, 2);
    assert.ok(await upstream.allClosed());
  } finally {
    await upstream.close();
  }
});
