// Owns the in-process bench of the request log: what audit lines cost the request thread on a 1 KiB cache hit, formatted in this thread or by the log thread.

import { createApp } from "../src/app.ts";
import type { AuditLogConfig, Config } from "../src/config/types.ts";
import { Logger } from "../src/observe/log.ts";
import { LogThread } from "../src/observe/log_thread.ts";
import { requestLinesFor } from "../src/observe/request_log.ts";
import { bucketConfig, testCacheConfig, testConfig } from "../tests/support/app_harness.ts";
import { discardingLogger, LOOPBACK_CLIENT, memoryS3 } from "./in_process.ts";

const body = new Uint8Array(1024);
const memoryFetch = memoryS3(body, {
  "content-type": "application/octet-stream",
  "content-length": "1024",
  etag: '"0123456789abcdef0123456789abcdef"',
  "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
});

const dir = await Deno.makeTempDir({ prefix: "yatagarasu-request-log-bench-" });
const audit: AuditLogConfig = {
  outputs: ["file"],
  file: { path: `${dir}/audit.log`, maxFileBytes: 50 << 20, maxBackupFiles: 1, rotation: "size" },
  bufferBytes: 1 << 20,
};

function config(withAudit: boolean): Config {
  const bucket = bucketConfig({
    name: "bench",
    pathPrefix: "/bench",
    bucket: "bench",
    endpoint: "http://127.0.0.1:9000",
  });
  return {
    ...testConfig([bucket]),
    cache: testCacheConfig({
      maxItemBytes: 1 << 20,
      maxCacheBytes: 64 << 20,
      defaultTtlSeconds: 3600,
    }),
    auditLog: withAudit ? audit : undefined,
  };
}

const url = "http://gw/bench/object-1k.bin";

async function warmed(app: Awaited<ReturnType<typeof createApp>>) {
  await (await app.handle(new Request(url), LOOPBACK_CLIENT)).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 20)); // the background store
  return app;
}

const quiet = await warmed(
  await createApp(config(false), { logger: discardingLogger("warn"), fetch: memoryFetch }),
);
// Audit lines to a file, formatted in this thread. Access lines stay off in all three: the log
// thread's would go to the bench's own stdout.
const inThread = await warmed(
  await createApp(config(true), { logger: discardingLogger("warn"), fetch: memoryFetch }),
);
// The same, formatted and written by the log thread.
const thread = await LogThread.start({
  lines: requestLinesFor({ level: "warn", format: "json" }, audit),
  format: "json",
  audit,
});
const threaded = await warmed(
  await createApp(config(true), {
    logger: new Logger({ level: "warn", format: "json", sink: thread.textSink }),
    fetch: memoryFetch,
    logThread: thread,
  }),
);

for (
  const [name, app, baseline] of [
    ["1 KiB hit, audit log off", quiet, true],
    ["1 KiB hit, audit lines formatted in this thread", inThread, false],
    ["1 KiB hit, audit lines handed to the log thread", threaded, false],
  ] as const
) {
  Deno.bench({
    name,
    group: "request log",
    baseline,
    async fn() {
      await (await app.handle(new Request(url), LOOPBACK_CLIENT)).arrayBuffer();
    },
  });
}

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
