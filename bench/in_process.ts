// Owns what the in-process benches share: an S3 answering from memory, a logger whose lines go
// nowhere, and the client address app.handle is given.

import type { LogLevel } from "../src/config/types.ts";
import { Logger } from "../src/observe/log.ts";

/** A fetch that answers every request with `body` and `headers`, as S3 would, without a socket. */
export function memoryS3(
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
): typeof fetch {
  return () => Promise.resolve(new Response(body, { status: 200, headers }));
}

/** A JSON logger at `level` that drops its lines (a bench must not measure a terminal). */
export function discardingLogger(level: LogLevel): Logger {
  return new Logger({
    level,
    format: "json",
    sink: { write: (bytes) => Promise.resolve(bytes.length) },
  });
}

/** The ServeHandlerInfo a loopback client would bring. */
export const LOOPBACK_CLIENT = {
  remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 5000 },
};
