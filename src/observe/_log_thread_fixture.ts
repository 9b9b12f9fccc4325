// Owns the child process of log_thread_test: a log thread given stdout lines and requests, then closed, as `serve` does.
// Usage: deno run -A _log_thread_fixture.ts <audit file path> <format json|pretty>

import { Logger } from "./log.ts";
import { LogOutputError, LogThread } from "./log_thread.ts";
import { openRequestLog, requestLinesFor } from "./request_log.ts";
import type { AuditLogConfig } from "../config/types.ts";

const [auditPath, format] = Deno.args as [string, "json" | "pretty"];
const audit: AuditLogConfig = {
  outputs: ["file"],
  file: { path: auditPath, maxFileBytes: 1 << 20, maxBackupFiles: 1, rotation: "size" },
  bufferBytes: 1 << 16,
};
const logging = { level: "info" as const, format };
let thread: LogThread;
try {
  thread = await LogThread.start({ lines: requestLinesFor(logging, audit), format, audit });
} catch (error) {
  console.error(
    `${error instanceof LogOutputError ? "output" : "start"}: ${(error as Error).message}`,
  );
  Deno.exit(3);
}
const logger = new Logger({ ...logging, sink: thread.textSink });
const requests = await openRequestLog(audit, logger, thread);
logger.info("first");
for (let i = 0; i < 500; i++) {
  requests!.record({
    requestId: `req-${i}`,
    clientIp: "127.0.0.1",
    method: "GET",
    path: "/b/ключ",
    bucket: "b",
    status: 200,
    bytes: i,
    cache: "MISS",
    durationMs: 0.5,
    code: undefined,
    interrupted: false,
    user: undefined,
    key: "ключ",
    userAgent: "fixture",
    referer: null,
  });
}
await requests!.close();
logger.info("last");
await logger.flush();
await thread.close();
