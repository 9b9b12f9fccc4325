import { createApp } from "../src/app.ts";
import type { Config } from "../src/config/types.ts";
import { Logger } from "../src/observe/log.ts";
const body = new Uint8Array(1024);
const upstreamHeaders = { "content-type": "application/octet-stream", "content-length": "1024", etag: '"0123456789abcdef0123456789abcdef"', "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT", "x-amz-request-id": "REQ", server: "AmazonS3" };
const memoryFetch: typeof fetch = () => Promise.resolve(new Response(body, { status: 200, headers: upstreamHeaders }));
const config: Config = { server: { address: "127.0.0.1", port: 0, requestTimeout: 30, shutdownTimeout: 5 }, buckets: [{ name: "b", pathPrefix: "/b", s3: { bucket: "bucket", region: "us-east-1", endpoint: "http://127.0.0.1:9000", accessKey: "AK", secretKey: "SK", sessionToken: undefined, timeout: 20 } }], logging: { level: "info", format: "json" } };
const discard = { write: (bytes: Uint8Array) => Promise.resolve(bytes.length) };
const level = (Deno.env.get("LEVEL") ?? "info") as "info";
const app = createApp(config, { logger: new Logger({ level, format: "json", sink: discard }), fetch: memoryFetch });
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 5000 } };
const N = 200000;
for (let round = 0; round < 3; round++) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = await app.handle(new Request("http://gw/b/photos/2026/cat.jpg"), info);
    await r.body?.cancel();
  }
  console.log(`${((performance.now() - t0) * 1000 / N).toFixed(2)} µs/req`);
}
const t0 = performance.now();
for (let i = 0; i < N; i++) { new Request("http://gw/b/photos/2026/cat.jpg"); const r = await memoryFetch("x"); await r.body?.cancel(); }
console.log(`baseline ${((performance.now() - t0) * 1000 / N).toFixed(2)} µs/req`);
