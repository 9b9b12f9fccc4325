// Tests request-target parsing, request ids and the method gate, with property tests.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ProxyError } from "../errors.ts";
import { checkMethod, parseRequestTarget, resolveRequestId } from "./accept.ts";

Deno.test("parseRequestTarget() decodes the path and keeps the raw query", () => {
  assert.deepEqual(parseRequestTarget("http://h:1/a/b%20c%2B.txt?x=1&y=%20"), {
    path: "/a/b c+.txt",
    rawPath: "/a/b%20c%2B.txt",
    rawQuery: "x=1&y=%20",
  });
  assert.deepEqual(parseRequestTarget("http://h/"), { path: "/", rawPath: "/", rawQuery: "" });
  assert.deepEqual(parseRequestTarget("https://h/%E2%9C%93"), {
    path: "/✓",
    rawPath: "/%E2%9C%93",
    rawQuery: "",
  });
});

Deno.test("parseRequestTarget() rejects invalid percent-encoding with 400", () => {
  for (const bad of ["http://h/%zz", "http://h/%E2%9C", "http://h/a%"]) {
    assert.throws(() => parseRequestTarget(bad), (e: unknown) => {
      return e instanceof ProxyError && e.code === "bad_request" && e.status === 400;
    });
  }
});

Deno.test("parseRequestTarget() never throws anything but a 400 ProxyError (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (tail) => {
      const url = new URL("http://h/" + tail).href; // what Deno.serve hands over
      try {
        const target = parseRequestTarget(url);
        assert.ok(target.path.startsWith("/"));
      } catch (error) {
        assert.ok(error instanceof ProxyError && error.code === "bad_request");
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("parseRequestTarget() round-trips any key encoded with encodeURIComponent (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), (key) => {
      const encoded = key.split("/").map(encodeURIComponent).join("/");
      const url = new URL("http://h/b/" + encoded).href;
      const { path } = parseRequestTarget(url);
      // The URL parser resolves "." and ".." segments before the gateway sees them.
      if (!key.split("/").some((s) => s === "." || s === "..")) assert.equal(path, "/b/" + key);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("resolveRequestId() keeps sane ids and replaces others", () => {
  assert.equal(resolveRequestId(new Headers({ "x-request-id": "abc-123" })), "abc-123");
  const replaced = resolveRequestId(new Headers({ "x-request-id": "a b\u0001" }));
  assert.match(replaced, /^[0-9a-f-]{36}$/);
  assert.match(resolveRequestId(new Headers()), /^[0-9a-f-]{36}$/);
  assert.notEqual(resolveRequestId(new Headers({ "x-request-id": "x".repeat(129) })).length, 129);
});

Deno.test("checkMethod() allows GET/HEAD/OPTIONS and answers 405 with Allow otherwise", () => {
  for (const m of ["GET", "HEAD", "OPTIONS"]) checkMethod(m);
  for (const m of ["PUT", "POST", "DELETE", "PATCH"]) {
    assert.throws(() => checkMethod(m), (e: unknown) => {
      return e instanceof ProxyError && e.status === 405 &&
        e.headers?.allow === "GET, HEAD, OPTIONS";
    });
  }
});
