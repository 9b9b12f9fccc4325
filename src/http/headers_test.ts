// Tests the upstream request header allowlist and the response header filter.

import assert from "node:assert/strict";
import { pickForwardedHeaders, stripResponseHeaders } from "./headers.ts";

Deno.test("pickForwardedHeaders() keeps Range and preconditions, drops credentials", () => {
  const picked = pickForwardedHeaders(
    new Headers({
      authorization: "Bearer secret",
      cookie: "session=1",
      "x-auth-token": "t",
      range: "bytes=0-9",
      "if-none-match": '"abc"',
      "if-range": '"abc"',
    }),
  );
  assert.deepEqual(picked, { range: "bytes=0-9", "if-none-match": '"abc"', "if-range": '"abc"' });
});

Deno.test("pickForwardedHeaders() returns undefined when nothing is forwarded", () => {
  assert.equal(pickForwardedHeaders(new Headers({ accept: "*/*" })), undefined);
});

Deno.test("stripResponseHeaders() keeps content headers and metadata, drops hop-by-hop and ids", () => {
  const headers = new Headers({
    "content-type": "text/plain",
    "content-length": "5",
    etag: '"e"',
    "x-amz-meta-owner": "me",
    "x-amz-version-id": "v1",
    "x-amz-request-id": "id",
    "x-amz-id-2": "id2",
    connection: "keep-alive, x-private-hop",
    "x-private-hop": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "set-cookie": "a=b",
    server: "AmazonS3",
  });
  stripResponseHeaders(headers);
  assert.deepEqual(Object.fromEntries(headers), {
    "content-length": "5",
    "content-type": "text/plain",
    etag: '"e"',
    "x-amz-meta-owner": "me",
    "x-amz-version-id": "v1",
  });
});
