// Owns the unit tests of the request size limits (request_limits.ts): 414, 431, 413 and the
// capped body read.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { SecurityLimitsConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import {
  checkRequestLimits,
  headerSize,
  readBodyText,
  RUNTIME_HEAD_LIMIT,
  targetLength,
} from "./request_limits.ts";

const DEFAULTS: SecurityLimitsConfig = {
  maxUriLength: 8192,
  maxHeaderSize: 65_536,
  maxBodySize: 10_485_760,
};

function fails(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.source, "client");
    assert.match(error.message, message);
    return true;
  });
}

function limited(url: string, init: RequestInit, limits: SecurityLimitsConfig): void {
  const request = new Request(url, init);
  checkRequestLimits(request, request.url, limits);
}

Deno.test("targetLength() counts the path and query, not the scheme and host", () => {
  assert.equal(targetLength("http://h/a?b"), 4);
  assert.equal(targetLength("http://a-long-host.example:8080/"), 1);
  assert.equal(targetLength("http://h"), 1);
  assert.equal(targetLength("https://h/" + "x".repeat(100)), 101);
});

Deno.test("414 past max_uri_length, counting the query; the host does not count", () => {
  const limits = { ...DEFAULTS, maxUriLength: 300 };
  const exactly = "/p/" + "k".repeat(297);
  limited("http://h" + exactly, {}, limits);
  limited("http://" + "h".repeat(200) + ".example" + exactly, {}, limits);
  fails(
    () => limited("http://h" + exactly + "?", {}, limits),
    "uri_too_long",
    /is 301 characters long; this gateway accepts at most 300 \(server\.security_limits\.max_uri_length\)/,
  );
  fails(() => limited("http://h/p/k?" + "q".repeat(400), {}, limits), "uri_too_long", /Shorten/);
});

Deno.test("431 past max_header_size (names + values) when it is below the runtime's own limit", () => {
  const limits = { ...DEFAULTS, maxHeaderSize: 2048 };
  limited("http://h/p/k", { headers: { "x-a": "v".repeat(2045) } }, limits);
  fails(
    () => limited("http://h/p/k", { headers: { "x-a": "v".repeat(2046) } }, limits),
    "headers_too_large",
    /total 2049 bytes \(names and values\); this gateway accepts at most 2048 .*cookies/,
  );
});

Deno.test("at or above the runtime's limit the headers are not summed (Deno refuses larger heads)", () => {
  assert.equal(DEFAULTS.maxHeaderSize, RUNTIME_HEAD_LIMIT);
  // A Request built in-process can carry more than Deno.serve ever hands over.
  limited("http://h/p/k", { headers: { "x-a": "v".repeat(70_000) } }, DEFAULTS);
});

Deno.test("headerSize() sums names and values", () => {
  assert.equal(headerSize(new Headers({ ab: "cde", f: "" })), 6);
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
        fc.stringMatching(/^[!-~]{0,30}$/),
      ),
      (entries) => {
        const expected = Object.entries(entries).reduce((n, [k, v]) => n + k.length + v.length, 0);
        assert.equal(headerSize(new Headers(entries)), expected);
      },
    ),
  );
});

Deno.test("413 by Content-Length on methods that may carry a body; GET/HEAD bodies are never read", () => {
  const limits = { ...DEFAULTS, maxBodySize: 10 };
  // A Request built in-process has no Content-Length; Deno.serve passes the client's.
  const post = (length: number) => ({ method: "POST", headers: { "content-length": `${length}` } });
  limited("http://h/admin/cache/prewarm", post(10), limits);
  limited("http://h/admin/cache/prewarm", { method: "POST" }, limits);
  fails(
    () => limited("http://h/admin/cache/prewarm", post(11), limits),
    "payload_too_large",
    /\(11 bytes by its Content-Length\) is larger than this gateway accepts: at most 10 bytes/,
  );
  const get = new Request("http://h/p/k", { headers: { "content-length": "1000000" } });
  checkRequestLimits(get, get.url, limits);
});

Deno.test("readBodyText() reads up to max_body_size and refuses a longer chunked body", async () => {
  const chunked = (parts: string[]) =>
    new Request("http://h/admin", {
      method: "POST",
      body: ReadableStream.from(parts.map((p) => new TextEncoder().encode(p))),
    });
  assert.equal(await readBodyText(chunked(['{"a":', "1}"]), 7), '{"a":1}');
  assert.equal(await readBodyText(new Request("http://h/admin", { method: "POST" }), 0), "");
  assert.equal(await readBodyText(chunked(["é", "✓"]), 5), "é✓");
  await assert.rejects(readBodyText(chunked(['{"a":', "12}"]), 7), (error: unknown) => {
    assert.ok(error instanceof ProxyError && error.code === "payload_too_large");
    assert.match(error.message, /at most 7 bytes \(server\.security_limits\.max_body_size\)/);
    return true;
  });
});
