// Tests the S3 error document parsing and the S3 error -> ProxyError mapping.

import assert from "node:assert/strict";
import fc from "fast-check";
import { parseS3ErrorXml, s3ErrorToProxyError } from "./s3_errors.ts";

const context = { bucketName: "public", s3Bucket: "assets", key: "a/b.txt" };
const xml = (code: string, extra = "") =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>It &amp; it</Message>${extra}</Error>`;

Deno.test("parseS3ErrorXml() reads Code, Message and ActualObjectSize", () => {
  assert.deepEqual(
    parseS3ErrorXml(xml("InvalidRange", "<ActualObjectSize>15</ActualObjectSize>")),
    {
      code: "InvalidRange",
      message: "It & it",
      actualObjectSize: "15",
    },
  );
  assert.deepEqual(parseS3ErrorXml(""), {
    code: undefined,
    message: undefined,
    actualObjectSize: undefined,
  });
});

Deno.test("parseS3ErrorXml() never throws on arbitrary text (property)", () => {
  fc.assert(fc.property(fc.string(), (text) => {
    parseS3ErrorXml(text);
  }));
});

Deno.test("s3ErrorToProxyError() maps statuses and codes", () => {
  const cases: Array<[number, string, string, number]> = [
    [404, "NoSuchKey", "object_not_found", 404],
    [404, "NoSuchBucket", "upstream_error", 502],
    [403, "AccessDenied", "access_denied", 403],
    [403, "SignatureDoesNotMatch", "access_denied", 403],
    [412, "PreconditionFailed", "precondition_failed", 412],
    [416, "InvalidRange", "range_not_satisfiable", 416],
    [400, "InvalidArgument", "bad_request", 400],
    [301, "PermanentRedirect", "upstream_error", 502],
    [500, "InternalError", "upstream_error", 502],
    [503, "SlowDown", "upstream_error", 502],
  ];
  for (const [status, s3Code, code, httpStatus] of cases) {
    const error = s3ErrorToProxyError(status, parseS3ErrorXml(xml(s3Code)), context, new Headers());
    assert.equal(error.code, code, `${status} ${s3Code}`);
    assert.equal(error.status, httpStatus);
    assert.equal(error.details?.s3_error_code, s3Code);
    assert.equal(error.source, "origin");
  }
});

Deno.test("s3ErrorToProxyError() names the config keys to fix for credential errors", () => {
  const error = s3ErrorToProxyError(
    403,
    parseS3ErrorXml(xml("InvalidAccessKeyId")),
    context,
    new Headers(),
  );
  assert.match(error.message, /buckets\[\]\.s3\.access_key/);
  assert.match(error.message, /"public"/);
});

Deno.test("s3ErrorToProxyError() gives a 416 its Content-Range from the object size", () => {
  const error = s3ErrorToProxyError(
    416,
    parseS3ErrorXml(xml("InvalidRange", "<ActualObjectSize>1234</ActualObjectSize>")),
    context,
    new Headers(),
  );
  assert.equal(error.headers?.["content-range"], "bytes */1234");
});

Deno.test("s3ErrorToProxyError() falls back on the status for bodiless HEAD errors", () => {
  const error = s3ErrorToProxyError(404, parseS3ErrorXml(""), context, new Headers());
  assert.equal(error.code, "object_not_found");
  assert.equal(error.details?.s3_error_code, "NoSuchKey");
});
