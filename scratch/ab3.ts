import * as nodeCrypto from "node:crypto";
import { sha256 } from "npm:@noble/hashes@2.4.0/sha2.js";
import { hmac } from "npm:@noble/hashes@2.4.0/hmac.js";
const mode = Deno.env.get("MODE")!;
const port = Number(Deno.env.get("PORT"));
const origin = "http://127.0.0.1:19000";
// deno-lint-ignore no-explicit-any
const oneShot = (nodeCrypto as any).hash as (a: string, d: string | Uint8Array, e: string) => string;
const key = new Uint8Array(32).fill(7);
const enc = new TextEncoder();
const ipad = new Uint8Array(64).map((_, i) => (key[i] ?? 0) ^ 0x36);
const opad = new Uint8Array(64).map((_, i) => (key[i] ?? 0) ^ 0x5c);
const msg = "GET\n/bench-bucket/small-1k.bin\n\nhost:127.0.0.1:19000\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20150830T123600Z\n\nhost;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
function work() {
  if (mode === "node3") {
    const h = nodeCrypto.createHash("sha256").update(msg).digest("hex");
    const i = nodeCrypto.createHash("sha256").update(ipad).update(h).digest();
    return nodeCrypto.createHash("sha256").update(opad).update(i).digest("hex");
  }
  if (mode === "oneshot") {
    const h = oneShot("sha256", msg, "hex");
    const m = enc.encode(h);
    const buf = new Uint8Array(64 + m.length); buf.set(ipad); buf.set(m, 64);
    const inner = oneShot("sha256", buf, "buffer") as unknown as Uint8Array;
    const buf2 = new Uint8Array(96); buf2.set(opad); buf2.set(inner, 64);
    return oneShot("sha256", buf2, "hex");
  }
  if (mode === "noble") {
    const h = sha256(enc.encode(msg));
    return hmac(sha256, key, h);
  }
}
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
  const path = request.url.slice(request.url.indexOf("/", 8));
  work();
  const upstream = await fetch(origin + path);
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});
