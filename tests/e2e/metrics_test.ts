// End-to-end: `serve` with a `metrics` block opens the metrics listener beside the proxy, counts
// real traffic, and refuses to start when the metrics port is taken.

import assert from "node:assert/strict";
import { startGateway } from "../support/cli_process.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";
import { parsePrometheusText } from "../support/prometheus_text.ts";

function yaml(endpoint: string, metrics: string): string {
  return `
server:
  address: 127.0.0.1
  port: 0
  shutdown_timeout: 5
buckets:
  - name: files
    path_prefix: /files
    s3:
      bucket: e2e
      endpoint: "${endpoint}"
      access_key: AKID
      secret_key: SECRET
cache:
  memory:
    max_cache_size_mb: 16
${metrics}
logging:
  level: info
  format: json
`;
}

Deno.test("serve: metrics on their own port count the proxy's traffic, with process metrics", async () => {
  const upstream = await startFakeUpstream(() =>
    new Response("x".repeat(1024), {
      headers: { "content-type": "text/plain", "content-length": "1024" },
    })
  );
  const gw = await startGateway(
    yaml(upstream.endpoint, "metrics:\n  address: 127.0.0.1\n  port: 0"),
  );
  try {
    const line = gw.logLines().find((l) => l.msg === "metrics listening");
    assert.ok(line, "a 'metrics listening' line");
    assert.notEqual(line.port, Number(new URL(gw.url).port));
    const metricsUrl = `http://127.0.0.1:${line.port}/metrics`;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${gw.url}/files/a.txt`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    const response = await fetch(metricsUrl);
    assert.equal(response.status, 200);
    const s = parsePrometheusText(await response.text());
    assert.equal(
      s.value("http_requests_total", { bucket: "files", method: "GET", status: "200" }),
      3,
    );
    assert.equal(s.value("yatagarasu_cache_hits_total"), 2);
    assert.equal(s.value("yatagarasu_cache_misses_total"), 1);
    assert.equal(s.value("bytes_sent_total", { bucket: "files" }), 3 * 1024);
    assert.equal(s.value("http_request_duration_seconds_count", { bucket: "files" }), 3);
    assert.equal(
      s.value("s3_operations_total", { bucket: "files", replica: "default", operation: "GET" }),
      1,
    );
    assert.ok((s.value("process_resident_memory_bytes") ?? 0) > 0);
    assert.ok(s.samples.some((x) => x.name === "yatagarasu_build_info"));
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    // The listener went with the gateway.
    await assert.rejects(fetch(metricsUrl));
  } finally {
    try {
      gw.kill("SIGKILL"); // only when an assertion failed before the SIGTERM
    } catch {
      // already exited
    }
    await gw.exited;
    await upstream.close();
  }
});

Deno.test("serve: a taken metrics port stops the start with a message naming the keys", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    await assert.rejects(
      startGateway(yaml("http://127.0.0.1:9", `metrics:\n  address: 127.0.0.1\n  port: ${port}`)),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `Cannot listen on 127\\.0\\.0\\.1:${port} for metrics: .*Change metrics\\.address/metrics\\.port, set metrics\\.enabled: false`,
          ),
        );
        return true;
      },
    );
  } finally {
    taken.close();
  }
});
