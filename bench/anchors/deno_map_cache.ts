// Owns anchor E of the load comparison: the smallest honest Deno caching proxy (a Map of complete bodies, no checks).
// PORT: where to listen; ORIGIN: base URL the request path is appended to (e.g. http://127.0.0.1:9000).
// ACCESS_LOG=1: also write one JSON access line per request to stdout, batched every 20 ms (the
// least an access log costs in Deno; bench/cpu_per_request.sh MODE=hit measures it).
const port = Number(Deno.env.get("PORT") ?? "8003");
const origin = Deno.env.get("ORIGIN") ?? "http://127.0.0.1:9000";
const accessLog = Deno.env.get("ACCESS_LOG") === "1";

/** Path -> the origin's 200 answer, kept whole: what a hit replays. */
const cache = new Map<string, { body: Uint8Array<ArrayBuffer>; headers: Headers }>();

let pending = "";
let flushing = false;
const encoder = new TextEncoder();
let isoMs = 0;
let iso = "";
function logLine(
  method: string,
  path: string,
  info: Deno.ServeHandlerInfo,
  status: number,
  cache: string,
) {
  const now = Date.now();
  // Formatted once per millisecond, as the gateway's logger does.
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  const address = info.remoteAddr as Deno.NetAddr;
  pending +=
    `{"ts":"${iso}","msg":"request","client_ip":"${address.hostname}","method":"${method}",` +
    `"path":${JSON.stringify(path)},"status":${status},"cache":"${cache}"}\n`;
  if (!flushing) {
    flushing = true;
    setTimeout(async () => {
      const text = pending;
      pending = "";
      await Deno.stdout.write(encoder.encode(text));
      flushing = false;
    }, 20);
  }
}

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) =>
    console.error(`deno map-cache proxy on ${hostname}:${port} -> ${origin}`),
}, async (request, info) => {
  const url = new URL(request.url);
  const key = url.pathname + url.search;
  const hit = cache.get(key);
  if (hit !== undefined) {
    const response = new Response(hit.body, { headers: hit.headers });
    response.headers.set("x-cache", "HIT");
    if (accessLog) logLine(request.method, url.pathname, info, 200, "HIT");
    return response;
  }
  const upstream = await fetch(origin + key);
  const body = new Uint8Array(await upstream.arrayBuffer());
  if (upstream.status === 200) cache.set(key, { body, headers: new Headers(upstream.headers) });
  const response = new Response(body, { status: upstream.status, headers: upstream.headers });
  response.headers.set("x-cache", "MISS");
  if (accessLog) logLine(request.method, url.pathname, info, upstream.status, "MISS");
  return response;
});
