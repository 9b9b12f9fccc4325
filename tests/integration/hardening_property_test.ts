// Property tests: random request paths and header sets, sent byte for byte to the served gateway
// in front of a recording upstream. The gateway never fails (no 5xx, no dropped connection),
// and every upstream request reads a key inside the bucket's own S3 bucket, with no "." or ".."
// segment, and exactly the key the client named.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bucketConfig,
  buildTestApp,
  serveTestApp,
  testCacheConfig,
  testConfig,
} from "../support/app_harness.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake_upstream.ts";
import { rawRequest, type RawResponse } from "../support/raw_http.ts";

/** An S3 stand-in: 200 with a small body for keys of even length, 404 NoSuchKey for the others. */
function startRecordingUpstream(): Promise<FakeUpstream> {
  return startFakeUpstream((_request, recorded) => {
    const path = pathOf(recorded.target);
    if (path.length % 2 === 0) {
      return new Response(`object at ${path}`, {
        headers: {
          "content-type": "text/plain",
          etag: `"${path.length.toString(16).padStart(32, "0")}"`,
          "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
        },
      });
    }
    return new Response(
      '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>',
      { status: 404, headers: { "content-type": "application/xml" } },
    );
  });
}

/** The path of a request target (path and query exactly as received). */
function pathOf(target: string): string {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

/** The paths the upstream has received so far. */
function receivedPaths(upstream: FakeUpstream): string[] {
  return upstream.requests.map((request) => pathOf(request.target));
}

const SEPARATORS = /[\/\\]/;
const hasDotSegment = (path: string) =>
  path.split(SEPARATORS).some((segment) => segment === "." || segment === "..");

function decodeOnce(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Path text of every kind: unicode, dots, separators, controls, escapes valid and not. */
const pathPiece = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 5 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ".",
      "..",
      "/",
      "//",
      "\\",
      "%",
      "%2e",
      "%2E",
      "%2f",
      "%2F",
      "%5c",
      "%5C",
      "%25",
      "%252e",
      "%252f",
      "%00",
      "%0a",
      "%0d%0a",
      "%7f",
      "%c0%ae",
      "%e0%80%ae",
      "%ed%a0%80",
      "%e2%82%ac",
      "%zz",
      "'",
      "+",
      "=",
      "&",
      ";",
      "#",
      "?",
      "~",
      "select",
      " union ",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => "%" + b.toString(16).padStart(2, "0")),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
  },
);

/** The wire form of a piece: raw bytes the HTTP layer refuses (space, controls) mostly encoded. */
const wirePath = fc.tuple(fc.array(pathPiece, { maxLength: 16 }), fc.boolean()).map(
  ([pieces, keepRaw]) => {
    const path = "/pub/" + pieces.join("");
    // deno-lint-ignore no-control-regex -- Deno's HTTP layer refuses these raw; encode most of them
    return keepRaw ? path : path.replace(/[\u0000-\u0020\u007f]/g, (c) => encodeURIComponent(c));
  },
);

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,20}$/);
const fieldValue = fc.stringMatching(/^[!-~]([ -~]{0,60}[!-~])?$/);
const headerName = fc.oneof(
  fc.constantFrom(
    "range",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "authorization",
    "cookie",
    "x-request-id",
    "accept",
    "accept-encoding",
    "x-forwarded-for",
    "origin",
    "user-agent",
    "x-amz-security-token",
  ),
  token.filter((name) =>
    !/^(host|connection|content-length|transfer-encoding|expect|upgrade|te|keep-alive|trailer|proxy-connection)$/i
      .test(name)
  ),
);
const headerValue = fc.oneof(
  fieldValue,
  fc.stringMatching(/^bytes=\d{0,4}-\d{0,4}(,\s?\d{0,3}-\d{0,3}){0,2}$/),
  fc.constantFrom('"0000"', "*", 'W/"x", "y"', "Wed, 21 Oct 2015 07:28:00 GMT", "garbage date"),
);
const headerSet = fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 });

/** What a gateway answer must look like: no 5xx; its own errors are JSON with a code. */
function assertSane(res: RawResponse, what: string): void {
  assert.ok(res.status >= 200 && res.status < 500, `${what}: status ${res.status} ${res.body}`);
  if (res.status >= 400 && res.body !== "") {
    const body = JSON.parse(res.body);
    assert.equal(typeof body.code, "string", what);
    assert.equal(body.status, res.status, what);
  }
}

/** Every upstream request of one client request stays in "bkt" and reads exactly `key`. */
function assertContained(upstreamPaths: string[], key: string | undefined, what: string): void {
  for (const path of upstreamPaths) {
    assert.ok(path.startsWith("/bkt/"), `${what}: escaped the bucket: ${path}`);
    const upstreamKey = decodeOnce(path.slice("/bkt/".length));
    assert.ok(upstreamKey !== undefined, `${what}: undecodable upstream path ${path}`);
    assert.ok(!hasDotSegment(upstreamKey), `${what}: dot segment upstream: ${path}`);
    assert.equal(upstreamKey, key, `${what}: upstream read another key`);
  }
}

Deno.test("property: random paths and headers never crash the gateway or escape the bucket", async (t) => {
  const upstream = await startRecordingUpstream();
  const config = testConfig([
    bucketConfig({ name: "pub", pathPrefix: "/pub", bucket: "bkt", endpoint: upstream.endpoint }),
    bucketConfig({
      name: "other",
      pathPrefix: "/other",
      bucket: "other-bkt",
      endpoint: upstream.endpoint,
    }),
  ]);
  config.cache = testCacheConfig({
    maxItemBytes: 64 * 1024,
    maxCacheBytes: 4 * 1024 * 1024,
    defaultTtlSeconds: 60,
  });
  const gw = await buildTestApp(config);
  const served = await serveTestApp(gw);
  try {
    await t.step("random paths", async () => {
      // Kept to show the runs were not vacuous: some reached S3, some were refused.
      const seen = new Map<number, number>();
      let reached = 0;
      await fc.assert(
        fc.asyncProperty(wirePath, fc.constantFrom("GET", "HEAD"), async (target, method) => {
          const before = upstream.requests.length;
          const res = await rawRequest(served.url, target, { method });
          const what = `${method} ${JSON.stringify(target)}`;
          assertSane(res, what);
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          const sent = receivedPaths(upstream).slice(before);
          if (sent.length > 0) reached++;
          const rawPath = target.split("?")[0]!;
          const decoded = decodeOnce(rawPath);
          assertContained(sent, decoded?.slice("/pub/".length), what);
          // A path that decodes to a traversal is refused before any upstream request.
          if (decoded === undefined || hasDotSegment(decoded)) {
            assert.equal(sent.length, 0, `${what}: reached the upstream`);
            assert.equal(res.status, 400, what);
          }
        }),
        { numRuns: 400 },
      );
      assert.ok(reached >= 40, `only ${reached} runs reached the upstream`);
      for (const status of [200, 400, 404]) {
        assert.ok((seen.get(status) ?? 0) >= 10, `few ${status}s: ${JSON.stringify([...seen])}`);
      }
    });

    await t.step("random header sets", async () => {
      await fc.assert(
        fc.asyncProperty(
          headerSet,
          fc.constantFrom("/pub/a.txt", "/pub/ab.txt", "/pub/dir/x y.txt", "/other/k"),
          async (headers, target) => {
            const before = upstream.requests.length;
            const res = await rawRequest(served.url, target, { headers });
            const what = `${target} with ${JSON.stringify(headers)}`;
            assertSane(res, what);
            for (const path of receivedPaths(upstream).slice(before)) {
              assert.ok(path.startsWith("/bkt/") || path.startsWith("/other-bkt/"), path);
              assert.ok(!hasDotSegment(decodeOnce(path) ?? ""), path);
            }
          },
        ),
        { numRuns: 200 },
      );
    });
  } finally {
    await served.stop();
    await upstream.close();
  }
  // The log never recorded an internal failure.
  const internal = gw.log.entries().filter((entry) => entry.code === "internal");
  assert.deepEqual(internal, []);
});
