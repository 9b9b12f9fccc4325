// Tests the ProxyError -> JSON Response mapping.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import { errorResponse, toProxyError } from "./problem.ts";

Deno.test("errorResponse() builds the JSON body with code and request_id", async () => {
  const error = new ProxyError("method_not_allowed", {
    message: "Method PUT is not allowed.",
    headers: { allow: "GET, HEAD, OPTIONS" },
  });
  const response = errorResponse(error, { requestId: "abc", method: "PUT" });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal(response.headers.get("x-request-id"), "abc");
  assert.deepEqual(await response.json(), {
    error: "Method Not Allowed",
    message: "Method PUT is not allowed.",
    status: 405,
    code: "method_not_allowed",
    request_id: "abc",
  });
});

Deno.test("errorResponse() gives HEAD the headers and no body", async () => {
  const error = new ProxyError("object_not_found", {
    message: "missing",
    details: { s3_error_code: "NoSuchKey" },
  });
  const response = errorResponse(error, { requestId: "r1", method: "HEAD" });
  assert.equal(response.status, 404);
  assert.equal(await response.text(), "");
  const full = errorResponse(error, { requestId: "r1", method: "GET" });
  const text = await full.text();
  assert.equal(response.headers.get("content-length"), String(text.length));
  assert.equal(JSON.parse(text).s3_error_code, "NoSuchKey");
});

Deno.test("toProxyError() hides the message of unexpected errors", () => {
  const wrapped = toProxyError(new Error("secret detail"));
  assert.equal(wrapped.code, "internal");
  assert.equal(wrapped.status, 500);
  assert.ok(!wrapped.message.includes("secret"));
  assert.ok(wrapped.cause instanceof Error);
});
