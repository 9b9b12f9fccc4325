// Owns anchor D of the load comparison: Deno.serve answering a fixed in-memory body (the runtime ceiling).
// PORT: where to listen; SIZE: body bytes (default 1024, the size of the 1 KiB miss test).
// S3_HEADERS=1: answer with the headers S3 sends for a GET (validators, Accept-Ranges, its request
// ids, Server), for the benches that use it as an origin: what a cache stores and replays then is
// what it would store from S3 (the gateway drops the ids and Server; a Map-cache replays them).
const port = Number(Deno.env.get("PORT") ?? "8002");
const size = Number(Deno.env.get("SIZE") ?? "1024");
const body = new Uint8Array(size).fill(0x61);
const headers: Record<string, string> = Deno.env.get("S3_HEADERS") === "1"
  ? {
    "content-type": "application/octet-stream",
    "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
    etag: '"0123456789abcdef0123456789abcdef"',
    "accept-ranges": "bytes",
    "x-amz-request-id": "4442587FB7D0A2F9",
    "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
    server: "AmazonS3",
  }
  : { "content-type": "application/octet-stream" };

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ hostname, port }) =>
    console.log(`deno fixed body (${size} B) on ${hostname}:${port}`),
}, () => new Response(body, { headers }));
