// Owns the listener: Deno.serve around an App, and the graceful drain used on SIGTERM/SIGINT.

import type { App } from "./app.ts";
import { describeError, type Logger } from "./observe/log.ts";

export interface ServerOptions {
  hostname: string;
  port: number;
  logger: Logger;
}

export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets in-flight requests finish for up to `timeoutSeconds`, then returns. */
  drain(timeoutSeconds: number): Promise<{ completed: boolean; cutOff: number }>;
}

/** Starts serving `app` and resolves once the socket is bound. */
export async function startServer(app: App, options: ServerOptions): Promise<RunningServer> {
  const { logger } = options;
  let resolveAddr!: (addr: Deno.NetAddr) => void;
  const bound = new Promise<Deno.NetAddr>((resolve) => resolveAddr = resolve);
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: resolveAddr,
    onError(error) {
      // App.handle turns every error into a response; reaching here is a gateway bug.
      logger.error("unhandled error in request handler", { error: describeError(error) });
      return new Response(null, { status: 500 });
    },
  }, (request, info) => app.handle(request, info));
  const addr = await bound;

  async function drain(timeoutSeconds: number) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutSeconds * 1000);
    });
    const outcome = await Promise.race([server.shutdown().then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    return { completed: outcome === "done", cutOff: outcome === "done" ? 0 : app.inFlight };
  }

  return { addr, drain };
}
