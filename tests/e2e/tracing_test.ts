// End-to-end: the real CLI with Deno's OpenTelemetry on (OTEL_DENO=true) exporting OTLP/HTTP JSON
// to an in-test receiver: request spans carry the request id, the outcome and the object path's
// stage events, and the S3 fetch is a child span of the request that caused it.

import assert from "node:assert/strict";
import { eventually } from "../support/eventually.ts";
import { spawnGateway } from "../support/observed_gateway.ts";
import { startS3Server } from "../support/s3_server.ts";

/** An OTLP span as the JSON encoding writes it (only the fields read here). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 2 = server, 3 = client. */
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; timeUnixNano: string }[];
}

function attribute(span: OtlpSpan, key: string): unknown {
  const found = span.attributes?.find((a) => a.key === key);
  return found === undefined ? undefined : Object.values(found.value)[0];
}

/** A receiver of OTLP/HTTP JSON exports (POST /v1/traces, /v1/metrics, /v1/logs). */
function startOtlpReceiver() {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.text();
    contentTypes.add(request.headers.get("content-type") ?? "");
    if (new URL(request.url).pathname === "/v1/traces") {
      const exported = JSON.parse(body);
      for (const resource of exported.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
    }
    return Response.json({});
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans,
    contentTypes,
    close: () => server.shutdown(),
  };
}

Deno.test("tracing: OTLP spans carry the request id and the stage events; the S3 fetch is a child", async () => {
  const s3 = await startS3Server({ buckets: ["traced"] });
  await s3.putObject("traced", "hello.txt", "hello traces", { contentType: "text/plain" });
  const receiver = startOtlpReceiver();
  const gw = await spawnGateway(
    (port) => `
server: {address: 127.0.0.1, port: ${port}, shutdown_timeout: 10}
buckets:
  - name: files
    path_prefix: /files
    s3: {bucket: traced, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER}
cache:
  cache_layers: [memory]
logging: {level: info, format: json}
`,
    {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: "yatagarasu-e2e",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  );
  try {
    const get = async (id: string) => {
      const response = await fetch(`${gw.url}/files/hello.txt`, {
        headers: { "x-request-id": id },
      });
      assert.equal(await response.text(), "hello traces");
      return response.headers.get("x-cache");
    };
    assert.equal(await get("trace-miss"), "MISS");
    // The miss is stored in the background: repeat until the cache answers.
    let attempt = 0;
    let hitId = "";
    await eventually(async () => {
      const id = `trace-hit-${attempt++}`;
      if ((await get(id)) !== "HIT") return false;
      hitId = id;
      return true;
    }, "a cache hit");
    const missing = await fetch(`${gw.url}/files/none.txt`, {
      headers: { "x-request-id": "trace-404" },
    });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const byRequest = (id: string) =>
      receiver.spans.find((span) => attribute(span, "yatagarasu.request_id") === id);
    await eventually(
      () => Promise.resolve(["trace-miss", hitId, "trace-404"].every((id) => byRequest(id))),
      "spans of the three requests at the OTLP receiver",
      20_000,
      100,
    );
    const miss = byRequest("trace-miss")!;
    assert.equal(miss.kind, 2, "Deno's server span");
    assert.equal(attribute(miss, "yatagarasu.bucket"), "files");
    assert.equal(attribute(miss, "yatagarasu.cache"), "MISS");
    assert.deepEqual(miss.events?.map((e) => e.name), [
      "accept",
      "route",
      "lookup",
      "fetch",
      "respond",
      "store",
    ]);
    const times = miss.events!.map((e) => BigInt(e.timeUnixNano));
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!), "events in time order");
    const hit = byRequest(hitId)!;
    assert.equal(attribute(hit, "yatagarasu.cache"), "HIT");
    assert.deepEqual(hit.events?.map((e) => e.name), ["accept", "route", "lookup"]);
    const notFound = byRequest("trace-404")!;
    assert.equal(attribute(notFound, "yatagarasu.error_code"), "object_not_found");
    // The upstream GET to S3 is a client span in the request's trace, under its server span.
    await eventually(
      () =>
        Promise.resolve(
          receiver.spans.some((span) => span.kind === 3 && span.traceId === miss.traceId),
        ),
      "the S3 fetch span",
      20_000,
      100,
    );
    const fetchSpan = receiver.spans.find((span) =>
      span.kind === 3 && span.traceId === miss.traceId
    )!;
    assert.equal(fetchSpan.parentSpanId, miss.spanId);
    assert.match(String(attribute(fetchSpan, "url.full")), /\/traced\/hello\.txt$/);
    assert.ok(receiver.contentTypes.has("application/json"), [...receiver.contentTypes].join());
    // The gateway says once that Deno's own span attributes hold query strings.
    assert.match(gw.stdout(), /Deno's server spans record url\.full and url\.query/);
  } finally {
    gw.kill("SIGTERM");
    await gw.exited;
    await gw.cleanup();
    await receiver.close();
    await s3.close();
  }
});
