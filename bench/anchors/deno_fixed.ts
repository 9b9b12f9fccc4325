// Owns anchor D of the load comparison: Deno.serve answering a fixed in-memory body (the runtime ceiling).
// PORT: where to listen; SIZE: body bytes (default 1024, the size of the 1 KiB miss test).
const port = Number(Deno.env.get("PORT") ?? "8002");
const size = Number(Deno.env.get("SIZE") ?? "1024");
const body = new Uint8Array(size).fill(0x61);

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) =>
    console.log(`deno fixed body (${size} B) on ${hostname}:${port}`),
}, () => new Response(body, { headers: { "content-type": "application/octet-stream" } }));
