// End-to-end: the real CLI serving a real s3rver — requests, constant-memory streaming, graceful SIGTERM.

import assert from "node:assert/strict";
import { procStatusBytes, resetPeakRss, runCli, startGateway } from "../support/cli_process.ts";
import { startFakeUpstream } from "../support/fake_upstream.ts";
import { largeBody, startS3Server } from "../support/s3_server.ts";

const MiB = 1024 * 1024;

function gatewayYaml(endpoint: string, bucket: string, extra = ""): string {
  return `
server:
  address: 127.0.0.1
  port: 0
  shutdown_timeout: 10
buckets:
  - name: files
    path_prefix: /files
    s3:
      bucket: ${bucket}
      region: us-east-1
      endpoint: "${endpoint}"
      access_key: S3RVER
      secret_key: \${E2E_SECRET:-S3RVER}
${extra}
logging:
  level: info
  format: json
`;
}

Deno.test("serve: curl-style requests, then 50 MiB streamed at constant memory", async () => {
  const s3 = await startS3Server({ buckets: ["e2e"] });
  const big = largeBody(50 * MiB);
  await s3.putObject("e2e", "hello.txt", "hi there", { contentType: "text/plain" });
  await s3.putObject("e2e", "big.bin", big, { contentType: "application/octet-stream" });
  const gw = await startGateway(gatewayYaml(s3.endpoint, "e2e"));
  try {
    const hello = await fetch(`${gw.url}/files/hello.txt`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "hi there");
    const head = await fetch(`${gw.url}/files/big.bin`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(50 * MiB));
    await head.body?.cancel();
    const missing = await fetch(`${gw.url}/nowhere`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).code, "route_not_found");
    const health = await fetch(`${gw.url}/health`);
    assert.equal((await health.json()).status, "healthy");
    const ready = await fetch(`${gw.url}/ready`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();

    // Warm the path with one large read, then measure the peak RSS of a full 50 MiB stream.
    const warm = await fetch(`${gw.url}/files/big.bin`, { headers: { range: "bytes=0-4194303" } });
    await warm.arrayBuffer();
    const before = await procStatusBytes(gw.pid, "VmRSS");
    await resetPeakRss(gw.pid);
    const res = await fetch(`${gw.url}/files/big.bin`);
    assert.equal(res.status, 200);
    let received = 0;
    let mismatch = -1;
    for await (const chunk of res.body!) {
      if (mismatch === -1) {
        for (let i = 0; i < chunk.length; i += 4099) {
          if (chunk[i] !== big[received + i]) {
            mismatch = received + i;
            break;
          }
        }
      }
      received += chunk.length;
    }
    const peak = await procStatusBytes(gw.pid, "VmHWM");
    assert.equal(received, 50 * MiB);
    assert.equal(mismatch, -1, "the streamed bytes are the object's bytes");
    const growth = peak - before;
    console.log(`gateway RSS growth over a 50 MiB stream: ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(growth < 16 * MiB, `gateway RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  } finally {
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    await s3.close();
  }
  const access = gw.logLines().filter((l) => l.msg === "request");
  assert.ok(access.some((l) => l.path === "/files/big.bin" && l.bytes === 50 * MiB));
  assert.ok(gw.logLines().some((l) => l.msg === "stopped" && l.drained === true));
});

Deno.test("serve: SIGTERM during a slow download lets it complete, then exits 0", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(7);
  const chunks = 30; // ~1.5 s at one chunk per 50 ms
  const upstream = await startFakeUpstream(() => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.enqueue(chunk);
        if (++sent === chunks) controller.close();
      },
    });
    return new Response(body, { headers: { "content-length": String(chunk.length * chunks) } });
  });
  const gw = await startGateway(gatewayYaml(upstream.endpoint, "slow-bucket"));
  try {
    const res = await fetch(`${gw.url}/files/slow.bin`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let received = (await reader.read()).value?.length ?? 0;
    gw.kill("SIGTERM");
    // Give the signal time to land, then check that no new request is accepted.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await fetch(`${gw.url}/health`).then((r) => r.body?.cancel(), (e) => e);
    assert.ok(refused instanceof TypeError, "new connections are refused while draining");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
    assert.equal(received, chunk.length * chunks, "the in-flight download completed");
    assert.equal(await gw.exited, 0);
    const lines = gw.logLines();
    assert.ok(lines.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"));
    assert.ok(lines.some((l) => l.msg === "stopped" && l.drained === true));
  } finally {
    await upstream.close();
  }
});

Deno.test("serve: a JWT key file that cannot be read stops start-up with exit 2 and names it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      `
server: { address: 127.0.0.1, port: 0 }
jwt:
  algorithm: RS256
  rsa_public_key_path: ${dir}/missing.pem
buckets:
  - name: p
    path_prefix: /p
    s3: { bucket: pbucket, endpoint: "http://127.0.0.1:9", access_key: a, secret_key: b }
    auth: { enabled: true }
`,
    );
    const result = await runCli(["serve", "--config", `${dir}/config.yaml`]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /jwt\.rsa_public_key_path: cannot read the PEM file ".*missing\.pem"/,
    );
    assert.match(result.stderr, /the gateway did not start/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a second signal during the drain stops at once", async () => {
  const chunk = new Uint8Array(64 * 1024);
  const upstream = await startFakeUpstream(() => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (sent++ === 200) controller.close(); // ~10 s: far longer than this test waits
        else controller.enqueue(chunk);
      },
    });
    return new Response(body);
  });
  const gw = await startGateway(gatewayYaml(upstream.endpoint, "slow-bucket"));
  try {
    const res = await fetch(`${gw.url}/files/slow.bin`);
    const reader = res.body!.getReader();
    await reader.read();
    const started = performance.now();
    gw.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 300));
    gw.kill("SIGINT");
    assert.equal(await gw.exited, 0);
    assert.ok(performance.now() - started < 3000, "stopped without waiting for the download");
    await reader.cancel().catch(() => {});
    const lines = gw.logLines();
    assert.ok(lines.some((l) => l.msg === "shutting down" && l.signal === "SIGINT"));
    assert.ok(lines.some((l) => String(l.msg).startsWith("stopped with requests still in flight")));
  } finally {
    await upstream.close();
  }
});
