import * as nodeCrypto from "node:crypto";
import { SigV4Signer, encodeS3Key } from "../src/origin/sigv4.ts";
const { createHash } = nodeCrypto;
// deno-lint-ignore no-explicit-any
const hash = (nodeCrypto as any).hash;
console.log("hash fn:", typeof hash);
const msg = "GET\n/bench-bucket/small-1k.bin\n\nhost:127.0.0.1:19000\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20150830T123600Z\n\nhost;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
Deno.bench("createHash update digest hex", () => { createHash("sha256").update(msg).digest("hex"); });
if (hash) Deno.bench("crypto.hash one-shot", () => { hash("sha256", msg, "hex"); });
const signer = new SigV4Signer({ credentials: { accessKeyId: "AK", secretAccessKey: "SK" }, region: "us-east-1" });
Deno.bench("sign", () => { signer.sign({ method: "GET", host: "127.0.0.1:19000", canonicalUri: "/bench-bucket/" + encodeS3Key("small-1k.bin") }, Date.now()); });
