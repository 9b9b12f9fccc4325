import { SigV4Signer, encodeS3Key } from "../src/origin/sigv4.ts";
import { copyResponseHeaders } from "../src/http/headers.ts";
const level = Number(Deno.env.get("LEVEL"));
const port = Number(Deno.env.get("PORT"));
const signer = new SigV4Signer({ credentials: { accessKeyId: "AK", secretAccessKey: "SK" }, region: "us-east-1" });
const origin = "http://127.0.0.1:19000";
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request, info) => {
  const pathStart = request.url.indexOf("/", 8);
  const path = request.url.slice(pathStart);
  let headers: Record<string, string> | undefined;
  if (level >= 1) headers = signer.sign({ method: "GET", host: "127.0.0.1:19000", canonicalUri: "/bench-bucket/" + encodeS3Key(path.slice(14)) }, Date.now());
  let upstream: Response;
  if (level >= 2) {
    const controller = new AbortController();
    const clientSignal = request.signal;
    const onAbort = () => controller.abort();
    clientSignal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(), 20000);
    try {
      upstream = await fetch(origin + path, { headers, signal: level >= 3 ? controller.signal : undefined });
    } finally { clearTimeout(timer); }
  } else {
    upstream = await fetch(origin + path, { headers });
  }
  let out: Response;
  if (level >= 4) {
    const h = new Headers();
    copyResponseHeaders(upstream.headers, h);
    h.set("accept-ranges", "bytes");
    h.set("x-request-id", crypto.randomUUID());
    out = new Response(upstream.body, { status: upstream.status, headers: h });
  } else out = new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  if (level >= 5) info.completed.then(() => {});
  return out;
});
