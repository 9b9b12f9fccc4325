// Tests of bench's argument parsers: examples, every rejection's message, and fast-check properties over arbitrary input.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BenchUsageError,
  parseBenchDuration,
  parseConcurrency,
  parseHeader,
  parseHeaders,
  parseMethod,
  parseTargetUrl,
  parseWarmup,
} from "./bench_args.ts";

Deno.test("parseBenchDuration: units ms, s, m, bare seconds and decimals", () => {
  assert.equal(parseBenchDuration("10s"), 10_000);
  assert.equal(parseBenchDuration("10"), 10_000);
  assert.equal(parseBenchDuration("2.5s"), 2_500);
  assert.equal(parseBenchDuration("500ms"), 500);
  assert.equal(parseBenchDuration("1m"), 60_000);
  assert.equal(parseBenchDuration(" 2s "), 2_000);
  assert.equal(parseBenchDuration("60m"), 3_600_000);
  assert.equal(parseBenchDuration("100ms"), 100);
});

Deno.test("parseBenchDuration: rejects other shapes and out-of-range values with what is accepted", () => {
  for (const bad of ["", "s", "10 s", "-1s", "1h", "1e3", "0x10", "10sec", "1.s", ".5s"]) {
    assert.throws(
      () => parseBenchDuration(bad),
      (e: unknown) =>
        e instanceof BenchUsageError && /is not a duration: .*500ms, 2s/.test(e.message),
      bad,
    );
  }
  for (const bad of ["99ms", "0", "0.05s", "61m", "3601s"]) {
    assert.throws(
      () => parseBenchDuration(bad),
      (e: unknown) =>
        e instanceof BenchUsageError && /out of range: use 100ms to 60m/.test(e.message),
      bad,
    );
  }
});

Deno.test("parseBenchDuration: any input either parses into [100 ms, 1 h] or throws BenchUsageError", () => {
  fc.assert(
    fc.property(fc.string(), (text) => {
      try {
        const ms = parseBenchDuration(text);
        return Number.isInteger(ms) && ms >= 100 && ms <= 3_600_000;
      } catch (error) {
        return error instanceof BenchUsageError && error.message.startsWith("--duration ");
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 100, max: 3_600_000 }), (ms) => {
      return parseBenchDuration(`${ms}ms`) === ms;
    }),
  );
});

Deno.test("parseConcurrency: 1..10000, whole numbers only", () => {
  assert.equal(parseConcurrency("1"), 1);
  assert.equal(parseConcurrency("64"), 64);
  assert.equal(parseConcurrency("10000"), 10_000);
  for (const bad of ["0", "10001", "-1", "1.5", "", "ten", "1e2", "0x10"]) {
    assert.throws(
      () => parseConcurrency(bad),
      /--concurrency .* is not a whole number from 1 to 10000/,
      bad,
    );
  }
});

Deno.test("parseHeader: Name: value, trimmed; colons inside the value are kept", () => {
  assert.deepEqual(parseHeader("Authorization: Bearer abc"), ["Authorization", "Bearer abc"]);
  assert.deepEqual(parseHeader("X-Empty:"), ["X-Empty", ""]);
  assert.deepEqual(parseHeader("Host:example.com:8080"), ["Host", "example.com:8080"]);
  assert.deepEqual(parseHeader("  Accept  :  image/webp  "), ["Accept", "image/webp"]);
});

Deno.test("parseHeader: rejects a missing name, a bad name and control characters, saying how to write it", () => {
  assert.throws(() => parseHeader("no colon"), /has no name: write it as "Name: value"/);
  assert.throws(() => parseHeader(": value"), /has no name/);
  assert.throws(() => parseHeader("Bad Name: v"), /"Bad Name" is not a valid header name/);
  assert.throws(() => parseHeader("X-Split: a\r\nX-Injected: b"), /control character/);
  assert.throws(() => parseHeader("X-Nul: a\0b"), /control character/);
});

Deno.test("parseHeader: any input either parses into a header fetch accepts, or throws BenchUsageError", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary-ascii" }), (text) => {
      let parsed: [string, string];
      try {
        parsed = parseHeader(text);
      } catch (error) {
        return error instanceof BenchUsageError && error.message.startsWith("--header ");
      }
      // What the parser accepts, the platform must accept too (no late failure inside the run).
      new Headers([parsed]);
      return parsed[0].length > 0;
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseHeaders: repeated names are all sent", () => {
  const headers = parseHeaders(["Accept: a", "accept: b", "X-One: 1"]);
  assert.equal(headers.get("accept"), "a, b");
  assert.equal(headers.get("x-one"), "1");
});

Deno.test("parseTargetUrl and parseMethod", () => {
  assert.equal(parseTargetUrl("http://127.0.0.1:8080/a", "--url").href, "http://127.0.0.1:8080/a");
  assert.throws(() => parseTargetUrl("127.0.0.1:8080/a", "--url"), /--url .* http:\/\/host:port/);
  assert.throws(() => parseTargetUrl("/public/x", "--compare"), /--compare .* not an absolute URL/);
  assert.throws(() => parseTargetUrl("ftp://h/x", "--url"), /uses ftp: — only http: and https:/);
  assert.equal(parseMethod("get"), "GET");
  assert.equal(parseMethod("HEAD"), "HEAD");
  assert.throws(() => parseMethod("POST"), /--method "POST" is not supported: use GET or HEAD/);
});

Deno.test("parseWarmup: default a tenth of the duration up to 1 s, 0 turns it off", () => {
  assert.equal(parseWarmup(undefined, 2_000), 200);
  assert.equal(parseWarmup(undefined, 60_000), 1_000);
  assert.equal(parseWarmup("0", 2_000), 0);
  assert.equal(parseWarmup("0s", 2_000), 0);
  assert.equal(parseWarmup("300ms", 2_000), 300);
  assert.throws(
    () => parseWarmup("soon", 2_000),
    /^BenchUsageError: --warmup "soon" is not a duration/,
  );
});
