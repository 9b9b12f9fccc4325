// Tests the upstream request header allowlist and the response header filter.

import assert from "node:assert/strict";
import { copyResponseHeaders, pickForwardedHeaders } from "./headers.ts";

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

Deno.test("copyResponseHeaders() passes content headers and metadata, not hop-by-hop or ids", () => {
  const target = new Headers();
  copyResponseHeaders(
    new Headers({
      "content-type": "text/plain",
      "content-length": "5",
      etag: '"e"',
      "x-amz-meta-owner": "me",
      "x-amz-request-id": "id",
      connection: "keep-alive",
      "transfer-encoding": "chunked",
      server: "AmazonS3",
    }),
    target,
  );
  assert.deepEqual(Object.fromEntries(target), {
    "content-length": "5",
    "content-type": "text/plain",
    etag: '"e"',
    "x-amz-meta-owner": "me",
  });
});
