// Owns the self-check of the test S3 helper: real signed PUTs, anonymous reads, extra key pairs, clean close.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeS3Key, SigV4Signer } from "../../src/origin/sigv4.ts";
import { largeBody, startS3Server } from "./s3_server.ts";

function signedGet(
  endpoint: string,
  port: number,
  path: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<Response> {
  const signer = new SigV4Signer({ credentials, region: "us-east-1", service: "s3" });
  const payloadHash = createHash("sha256").update("").digest("hex");
  const headers = signer.sign(
    { method: "GET", host: `127.0.0.1:${port}`, canonicalUri: path, payloadHash },
    Date.now(),
  );
  return fetch(endpoint + path, { headers });
}

Deno.test("startS3Server: signed PUT, anonymous GET, metadata, unicode keys, clean close", async () => {
  const s3 = await startS3Server({ buckets: ["alpha", "beta"] });
  try {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`);

    const { etag } = await s3.putObject("alpha", "dir/hello.txt", "hello", {
      contentType: "text/plain",
      metadata: { Origin: "test" },
    });
    assert.equal(etag, `"${createHash("md5").update("hello").digest("hex")}"`);

    const got = await fetch(`${s3.endpoint}/alpha/dir/hello.txt`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), "hello");
    assert.equal(got.headers.get("etag"), etag);
    assert.equal(got.headers.get("content-type"), "text/plain");
    assert.equal(got.headers.get("x-amz-meta-origin"), "test");

    const key = "files/hello world ✓+(1).txt";
    await s3.putObject("beta", key, new Uint8Array([1, 2, 3]));
    const unicode = await fetch(`${s3.endpoint}/beta/${encodeS3Key(key)}`);
    assert.deepEqual(new Uint8Array(await unicode.arrayBuffer()), new Uint8Array([1, 2, 3]));

    const missing = await fetch(`${s3.endpoint}/alpha/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await s3.close();
  }
});

Deno.test("startS3Server: an extra account's key pair signs; a wrong secret gets 403", async () => {
  const extra = { accessKeyId: "EXTRAKEY", secretAccessKey: "extra-secret" };
  const s3 = await startS3Server({ buckets: ["private"], accounts: [extra] });
  try {
    await s3.putObject("private", "a.txt", "A");
    const good = await signedGet(s3.endpoint, s3.port, "/private/a.txt", extra);
    assert.equal(good.status, 200);
    assert.equal(await good.text(), "A");

    const bad = await signedGet(s3.endpoint, s3.port, "/private/a.txt", {
      accessKeyId: "EXTRAKEY",
      secretAccessKey: "wrong",
    });
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /SignatureDoesNotMatch/);
  } finally {
    await s3.close();
  }
  // Closing revokes the pair: a later server in this process no longer knows the key.
  const after = await startS3Server({ buckets: ["private"] });
  try {
    await after.putObject("private", "a.txt", "A");
    const revoked = await signedGet(after.endpoint, after.port, "/private/a.txt", extra);
    assert.equal(revoked.status, 403);
    assert.match(await revoked.text(), /InvalidAccessKeyId/);
  } finally {
    await after.close();
  }
});

Deno.test("startS3Server: close removes its temp dir", async () => {
  const s3 = await startS3Server({ buckets: ["gone"] });
  await s3.putObject("gone", "x", "x");
  assert.ok(Deno.statSync(s3.directory).isDirectory);
  await s3.close();
  assert.throws(() => Deno.statSync(s3.directory), Deno.errors.NotFound);
  await s3.close(); // idempotent
});

Deno.test("largeBody: deterministic, right size, not trivially repeating", () => {
  const a = largeBody(1 << 20);
  const b = largeBody(1 << 20);
  assert.equal(a.length, 1 << 20);
  assert.deepEqual(a, b);
  assert.deepEqual(largeBody(7), a.subarray(0, 7));
  assert.notDeepEqual(a.subarray(0, 4096), a.subarray(4096, 8192));
  const seen = new Set(a.subarray(0, 4096));
  assert.ok(seen.size > 200);
});
