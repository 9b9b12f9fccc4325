// Integration: the SigV4 signer (src/origin/sigv4.ts) against a real s3rver that verifies signatures.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import S3rver from "s3rver";
import {
  canonicalQueryString,
  encodeS3Key,
  type SignableRequest,
  SigV4Signer,
} from "../../src/origin/sigv4.ts";

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections?: () => void };
}

const BUCKET = "sig-test";
const REGION = "us-east-1";

// Keys that break naive encoders: spaces, +, %, a literal "%2F", ~ = &, RFC 3986 reserved
// characters, non-ASCII in 2-, 3- and 4-byte UTF-8, and nested slashes.
const AWKWARD_KEYS = [
  "plain.txt",
  "with space/and+plus.txt",
  "100%/literal%2Fslash",
  "tilde~eq=amp&/x",
  "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e/\u{1F600}.bin",
  "nested/a/b/c/d/e.txt",
  "!'()*$@,;:[].txt",
];

interface Sent {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Signs and sends one request; `key` undefined addresses the bucket itself. */
async function send(
  endpoint: string,
  host: string,
  signer: SigV4Signer,
  init: {
    method: string;
    key?: string;
    query?: ReadonlyArray<readonly [string, string]>;
    headers?: Record<string, string>;
    body?: Uint8Array;
    /** Send to this key instead of the signed one (a tampered request). */
    sendKey?: string;
  },
): Promise<Sent> {
  const pathFor = (key: string | undefined) =>
    key === undefined ? `/${BUCKET}` : `/${BUCKET}/${encodeS3Key(key)}`;
  const canonicalUri = pathFor(init.key);
  const query = init.query ?? [];
  const payloadHash = init.body === undefined
    ? undefined
    : createHash("sha256").update(init.body).digest("hex");
  const request: SignableRequest = {
    method: init.method,
    host,
    canonicalUri,
    query,
    headers: init.headers ?? {},
    ...(payloadHash === undefined ? {} : { payloadHash }),
  };
  const signed = signer.sign(request, Date.now());
  // The URL carries the very encoding that was signed: encodeS3Key for the path and the
  // canonical query string for the query (fetch keeps both as given).
  const sentPath = init.sendKey === undefined ? canonicalUri : pathFor(init.sendKey);
  const search = query.length === 0 ? "" : "?" + canonicalQueryString(query);
  const response = await fetch(endpoint + sentPath + search, {
    method: init.method,
    headers: { ...init.headers, ...signed },
    ...(init.body === undefined ? {} : { body: init.body as Uint8Array<ArrayBuffer> }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: new Uint8Array(await response.arrayBuffer()),
  };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_m, name, dec, hex) => {
    if (dec !== undefined) return String.fromCodePoint(Number(dec));
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    return { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[name as string]!;
  });
}

Deno.test("SigV4Signer against a real s3rver (signature-verifying S3)", async (t) => {
  const directory = await Deno.makeTempDir({ prefix: "sigv4-s3rver-" });
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    // Path-style only: a Host of 127.0.0.1:PORT must never be read as a bucket name.
    vhostBuckets: false,
    configureBuckets: [{ name: BUCKET }],
  }) as unknown as S3rverInstance;
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  const signer = new SigV4Signer({
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    region: REGION,
  });
  const wrongSigner = new SigV4Signer({
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "not-the-secret" },
    region: REGION,
  });

  try {
    await t.step("a signed PUT (payload hash, content-type signed) is accepted", async () => {
      const res = await send(endpoint, host, signer, {
        method: "PUT",
        key: "hello.txt",
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: bytes("Hello, signed world.\n"),
      });
      assert.equal(res.status, 200, text(res.body));
      assert.ok(res.headers.get("etag"));
    });

    await t.step("a signed GET returns the body and the stored content-type", async () => {
      const res = await send(endpoint, host, signer, { method: "GET", key: "hello.txt" });
      assert.equal(res.status, 200, text(res.body));
      assert.equal(text(res.body), "Hello, signed world.\n");
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    });

    await t.step("a signed GET with a signed Range header returns the slice", async () => {
      const res = await send(endpoint, host, signer, {
        method: "GET",
        key: "hello.txt",
        headers: { range: "bytes=7-12" },
      });
      assert.equal(res.status, 206, text(res.body));
      assert.equal(text(res.body), "signed");
    });

    await t.step("awkward keys round-trip exactly through signed PUT and GET", async () => {
      for (const key of AWKWARD_KEYS) {
        const body = bytes(`body of ${key}`);
        const put = await send(endpoint, host, signer, { method: "PUT", key, body });
        assert.equal(put.status, 200, `PUT ${key}: ${text(put.body)}`);
        const got = await send(endpoint, host, signer, { method: "GET", key });
        assert.equal(got.status, 200, `GET ${key}: ${text(got.body)}`);
        assert.deepEqual(got.body, body, `body of ${key}`);
      }
    });

    await t.step("a signed list (query max-keys) shows every key exactly as written", async () => {
      const res = await send(endpoint, host, signer, {
        method: "GET",
        query: [["max-keys", "1000"]],
      });
      assert.equal(res.status, 200, text(res.body));
      // s3rver escapes text twice (its own `he` tag processor, then fast-xml-parser's builder),
      // so "&" arrives as "&amp;amp;": unescape twice (none of these keys contains an entity).
      const listed = [...text(res.body).matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
        xmlUnescape(xmlUnescape(m[1]!))
      );
      assert.deepEqual(listed.sort(), [...AWKWARD_KEYS, "hello.txt"].sort());
    });

    await t.step("a signed query (response-content-type) is accepted and applied", async () => {
      const res = await send(endpoint, host, signer, {
        method: "GET",
        key: "with space/and+plus.txt",
        query: [["response-content-type", "application/x-test; q=1"]],
      });
      assert.equal(res.status, 200, text(res.body));
      assert.equal(res.headers.get("content-type"), "application/x-test; q=1");
      assert.equal(text(res.body), "body of with space/and+plus.txt");
    });

    await t.step("a signed HEAD is accepted", async () => {
      const res = await send(endpoint, host, signer, {
        method: "HEAD",
        key: "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e/\u{1F600}.bin",
      });
      assert.equal(res.status, 200);
      assert.equal(
        res.headers.get("content-length"),
        String(bytes(`body of ${AWKWARD_KEYS[4]}`).length),
      );
    });

    await t.step("a wrong secret key is refused with SignatureDoesNotMatch", async () => {
      for (const key of ["hello.txt", AWKWARD_KEYS[1]!]) {
        const res = await send(endpoint, host, wrongSigner, { method: "GET", key });
        assert.equal(res.status, 403);
        assert.match(text(res.body), /<Code>SignatureDoesNotMatch<\/Code>/);
      }
    });

    await t.step("a request sent to another key than the one signed is refused", async () => {
      const res = await send(endpoint, host, signer, {
        method: "GET",
        key: "hello.txt",
        sendKey: "plain.txt",
      });
      assert.equal(res.status, 403);
      assert.match(text(res.body), /<Code>SignatureDoesNotMatch<\/Code>/);
    });
  } finally {
    // Node's server.close() waits for keep-alive sockets, which fetch's pool holds open.
    server.httpServer?.closeAllConnections?.();
    await server.close();
    await Deno.remove(directory, { recursive: true });
  }
});
