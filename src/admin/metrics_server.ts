// Owns the metrics listener: GET /metrics (Prometheus text) on `metrics.address:metrics.port`,
// separate from the proxy port so that it can be bound where only the scraper reaches it.

import type { Logger } from "../observe/log.ts";
import type { GatewayMetrics } from "../observe/metrics.ts";
import { errorMessage } from "../errors.ts";

export interface MetricsServerOptions {
  hostname: string;
  port: number;
  logger: Logger;
}

export interface MetricsServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Stops listening; a scrape in progress finishes first. */
  close(): Promise<void>;
}

/** The metrics listener's answer to one request (exported for tests without a socket). */
export async function metricsResponse(
  metrics: GatewayMetrics,
  request: Request,
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname !== "/metrics") {
    return json(404, {
      error: "Not Found",
      message: `This is the metrics listener; scrape GET /metrics (not ${pathname}).`,
      status: 404,
    });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json(405, {
      error: "Method Not Allowed",
      message: `/metrics answers GET and HEAD, not ${request.method}.`,
      status: 405,
    }, { allow: "GET, HEAD" });
  }
  const text = await metrics.text();
  return new Response(request.method === "HEAD" ? null : text, {
    status: 200,
    headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
  });
}

/** Starts the metrics listener and resolves once its socket is bound (rejects if it cannot bind). */
export async function startMetricsServer(
  metrics: GatewayMetrics,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const { logger } = options;
  const controller = new AbortController();
  let resolveAddr!: (addr: Deno.NetAddr) => void;
  const bound = new Promise<Deno.NetAddr>((resolve) => resolveAddr = resolve);
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: controller.signal,
    onListen: resolveAddr,
    onError(error) {
      logger.error("metrics scrape failed", { error: errorMessage(error) });
      return json(500, {
        error: "Internal Server Error",
        message: "Collecting the metrics failed; the gateway log says why.",
        status: 500,
      });
    },
  }, (request) => metricsResponse(metrics, request));
  // Deno.serve throws synchronously (address in use, permission) before onListen.
  const addr = await bound;
  return {
    addr,
    async close() {
      controller.abort();
      await server.finished;
    },
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
