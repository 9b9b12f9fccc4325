// Owns anchor C of the load comparison: the smallest honest Deno fetch-and-stream proxy (no signing, no checks).
// PORT: where to listen; ORIGIN: base URL the request path is appended to (e.g. http://127.0.0.1:9000).
const port = Number(Deno.env.get("PORT") ?? "8001");
const origin = Deno.env.get("ORIGIN") ?? "http://127.0.0.1:9000";

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) =>
    console.log(`deno passthrough on ${hostname}:${port} -> ${origin}`),
}, async (request) => {
  const url = new URL(request.url);
  const upstream = await fetch(origin + url.pathname + url.search, { method: request.method });
  // The body streams through untouched; this is the ceiling any fetch-based gateway can reach.
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});
