// Tests of bench's load loop against a real local Deno.serve: counts, bytes, statuses, TTFB vs latency, deadline, errors.

import assert from "node:assert/strict";
import { errorKind, probe, runLoad } from "./bench_load.ts";

const BODY = new Uint8Array(3000).fill(120);

function serve(handler: (request: Request) => Response | Promise<Response>) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
}

Deno.test("runLoad: every completed response is counted once, by status, with its body bytes", async () => {
  let served = 0;
  await using server = serve((request) => {
    served++;
    if (new URL(request.url).pathname === "/missing") return new Response("no", { status: 404 });
    return new Response(BODY);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const result = await runLoad({
    url: new URL(`${base}/ok`),
    method: "GET",
    headers: new Headers(),
    concurrency: 3,
    durationMs: 300,
  });
  assert.ok(result.requests > 10, `only ${result.requests} requests`);
  assert.deepEqual(Object.keys(result.status), ["200"]);
  assert.equal(result.status["200"], result.requests);
  assert.equal(result.bytes, result.requests * BODY.length);
  assert.equal(result.errors, 0);
  // The server saw every counted request, and at most the few aborted at the deadline (one
  // aborted before its request reached the handler is never seen there).
  assert.ok(
    served >= result.requests && served <= result.requests + result.unfinished,
    `served ${served}, counted ${result.requests} + ${result.unfinished} unfinished`,
  );
  assert.ok(result.unfinished <= 3);
  assert.ok(result.elapsedMs >= 300 && result.elapsedMs < 2_000, `elapsed ${result.elapsedMs}`);
  const l = result.latencyMs;
  assert.ok(l.min > 0 && l.min <= l.p50 && l.p50 <= l.p75 && l.p75 <= l.p90);
  assert.ok(l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
  // TTFB is a part of each request's latency.
  assert.ok(result.ttfbMs.p50 <= l.p50 * 1.01 && result.ttfbMs.max <= l.max * 1.01);
  assert.equal(result.histogram.reduce((s, b) => s + b.count, 0), result.requests);
  assert.ok(
    Math.abs(result.requestsPerSecond - result.requests / (result.elapsedMs / 1000)) < 1e-6,
  );

  const missing = await runLoad({
    url: new URL(`${base}/missing`),
    method: "HEAD",
    headers: new Headers(),
    concurrency: 1,
    durationMs: 150,
  });
  assert.deepEqual(Object.keys(missing.status), ["404"]);
  assert.equal(missing.bytes, 0, "HEAD has no body");
});

Deno.test("runLoad: headers are sent on every request; a slow response is cut at the deadline", async () => {
  const seen = new Set<string | null>();
  await using server = serve(async (request) => {
    seen.add(request.headers.get("x-bench"));
    // Answers after 5 s, or never once the client gives up (so the server can close at once).
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      request.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    return new Response("late");
  });
  const started = performance.now();
  const result = await runLoad({
    url: new URL(`http://127.0.0.1:${server.addr.port}/slow`),
    method: "GET",
    headers: new Headers({ "X-Bench": "yes" }),
    concurrency: 2,
    durationMs: 200,
  });
  assert.ok(performance.now() - started < 2_000, "the run ends on time");
  assert.equal(result.requests, 0);
  assert.equal(result.unfinished, 2);
  assert.deepEqual([...seen], ["yes"]);
  assert.equal(result.latencyMs.p99, 0);
});

Deno.test("probe and errorKind: a closed port is reported as connection refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const url = new URL(`http://127.0.0.1:${port}/`);
  const probed = await probe({
    url,
    method: "GET",
    headers: new Headers(),
    concurrency: 1,
    durationMs: 100,
  });
  assert.equal(probed.ok, false);
  assert.match(!probed.ok ? probed.error : "", /refused/i);
  const result = await runLoad({
    url,
    method: "GET",
    headers: new Headers(),
    concurrency: 2,
    durationMs: 150,
  });
  assert.equal(result.requests, 0);
  assert.ok(result.errors > 0);
  assert.deepEqual(Object.keys(result.errorKinds), ["connection refused"]);
  assert.equal(errorKind(new Error("weird"), "body"), "body cut short");
});
