// Tests the access line's hand-written serialization against JSON.stringify of the same entry.

import assert from "node:assert/strict";
import fc from "fast-check";
import { type AccessEntry, formatPrettyAccessLine } from "./access_log.ts";
import { formatJsonAccessLine, serializeAccessEntry } from "./_json_line_reference.ts";

const entry = fc.record({
  request_id: fc.string(),
  client_ip: fc.string(),
  method: fc.constantFrom("GET", "HEAD", "OPTIONS", "DELETE"),
  path: fc.string({ unit: "binary" }),
  bucket: fc.option(fc.string(), { nil: undefined }),
  status: fc.integer({ min: 100, max: 599 }),
  bytes: fc.option(fc.nat(), { nil: null }),
  cache: fc.option(fc.constantFrom("HIT", "MISS", "STALE", "BYPASS"), { nil: undefined }),
  duration_ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
  code: fc.option(fc.string(), { nil: undefined }),
  interrupted: fc.option(fc.constant(true as const), { nil: undefined }),
}) as fc.Arbitrary<AccessEntry>;

Deno.test("serializeAccessEntry() writes what JSON.stringify writes, field for field (property)", () => {
  fc.assert(
    fc.property(entry, (e) => {
      assert.equal(`{${serializeAccessEntry(e)}}`, JSON.stringify(e));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("the access line: one parseable line in JSON (reference model) and pretty formats", () => {
  const sample: AccessEntry = {
    request_id: "r1",
    client_ip: "127.0.0.1",
    method: "GET",
    path: '/b/a "quoted" ✓.txt',
    bucket: "b",
    status: 200,
    bytes: 10,
    cache: "HIT",
    duration_ms: 0.25,
    code: undefined,
    interrupted: undefined,
  };
  const ts = "2026-11-26T12:00:00.000Z";
  const json = formatJsonAccessLine(ts, sample);
  assert.ok(json.endsWith("}\n") && !json.slice(0, -1).includes("\n"));
  assert.deepEqual(
    JSON.parse(json),
    JSON.parse(JSON.stringify({ ts, level: "info", msg: "request", ...sample })),
  );
  const pretty = formatPrettyAccessLine(ts, sample);
  assert.match(pretty, /^2026-11-26T12:00:00.000Z INFO {2}request request_id=r1 .*status=200/);
  assert.ok(pretty.endsWith("\n"));
  assert.ok(!pretty.includes("code="), "undefined fields are left out");
});
