import { SigV4Signer, encodeS3Key } from "../src/origin/sigv4.ts";
const mode = Deno.env.get("MODE")!;
const port = Number(Deno.env.get("PORT"));
const signer = new SigV4Signer({ credentials: { accessKeyId: "AK", secretAccessKey: "SK" }, region: "us-east-1" });
const origin = "http://127.0.0.1:19000";
const fixed = { "x-amz-date": "20150830T123600Z", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" };
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request, info) => {
  const path = request.url.slice(request.url.indexOf("/", 8));
  let headers: Record<string, string> | undefined;
  if (mode === "sign" || mode === "signsend") headers = signer.sign({ method: "GET", host: "127.0.0.1:19000", canonicalUri: "/bench-bucket/" + encodeS3Key(path.slice(14)) }, Date.now());
  if (mode === "fixedsend") headers = fixed;
  if (mode === "signal") request.signal;
  if (mode === "completed") info.completed.then(() => {});
  const upstream = await fetch(origin + path, { headers: mode === "signsend" || mode === "fixedsend" ? headers : undefined });
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});
