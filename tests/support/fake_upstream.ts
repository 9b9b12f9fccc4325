// Owns a scriptable upstream HTTP server for tests: records what the gateway sends, and can stall;
// and deadUrl(), an upstream where nothing listens.

export interface RecordedRequest {
  method: string;
  /** Path and query exactly as received. */
  target: string;
  headers: Record<string, string>;
}

export type UpstreamHandler = (
  request: Request,
  recorded: RecordedRequest,
) => Response | Promise<Response>;

export interface FakeUpstream {
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Starts a Deno.serve on loopback that records every request, then answers with `handler`. */
export function startFakeUpstream(handler: UpstreamHandler): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const controller = new AbortController();
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: (addr) => {
        resolve({
          endpoint: `http://127.0.0.1:${addr.port}`,
          requests,
          close: async () => {
            controller.abort();
            await server.finished;
          },
        });
      },
    }, (request) => {
      // Sliced from request.url, not parsed with new URL(), which would resolve "." and ".."
      // segments: a test must see what the gateway really sent.
      const url = request.url;
      const recorded: RecordedRequest = {
        method: request.method,
        target: url.slice(url.indexOf("/", url.indexOf("//") + 2)),
        headers: Object.fromEntries(request.headers),
      };
      requests.push(recorded);
      return handler(request, recorded);
    });
  });
}

/** `http://127.0.0.1:<port>` of a loopback port nothing listens on now (connection refused). */
export function deadUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}
