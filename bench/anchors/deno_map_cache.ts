// Owns anchor E of the load comparison: the smallest honest Deno caching proxy (a Map of complete bodies, no checks).
// PORT: where to listen; ORIGIN: base URL the request path is appended to (e.g. http://127.0.0.1:9000).
const port = Number(Deno.env.get("PORT") ?? "8003");
const origin = Deno.env.get("ORIGIN") ?? "http://127.0.0.1:9000";

/** Path -> the origin's 200 answer, kept whole: what a hit replays. */
const cache = new Map<string, { body: Uint8Array<ArrayBuffer>; headers: Headers }>();

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) =>
    console.log(`deno map-cache proxy on ${hostname}:${port} -> ${origin}`),
}, async (request) => {
  const url = new URL(request.url);
  const key = url.pathname + url.search;
  const hit = cache.get(key);
  if (hit !== undefined) {
    const response = new Response(hit.body, { headers: hit.headers });
    response.headers.set("x-cache", "HIT");
    return response;
  }
  const upstream = await fetch(origin + key);
  const body = new Uint8Array(await upstream.arrayBuffer());
  if (upstream.status === 200) cache.set(key, { body, headers: new Headers(upstream.headers) });
  const response = new Response(body, { status: upstream.status, headers: upstream.headers });
  response.headers.set("x-cache", "MISS");
  return response;
});
