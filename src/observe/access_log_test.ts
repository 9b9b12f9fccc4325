// Tests the access line's hand-written serialization against JSON.stringify of the same entry.

import assert from "node:assert/strict";
import fc from "fast-check";
import { type AccessEntry, serializeAccessEntry, writeAccessLog } from "./access_log.ts";
import { Logger } from "./log.ts";

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

Deno.test("writeAccessLog() writes one parseable line in JSON and pretty formats", async () => {
  const lines: string[] = [];
  const sink = {
    write(bytes: Uint8Array) {
      lines.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
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
  const json = new Logger({ level: "info", format: "json", sink });
  writeAccessLog(json, sample);
  await json.flush();
  const parsed = JSON.parse(lines.join(""));
  assert.equal(parsed.msg, "request");
  assert.equal(parsed.level, "info");
  assert.equal(parsed.path, sample.path);
  assert.equal(typeof parsed.ts, "string");
  lines.length = 0;
  const pretty = new Logger({ level: "info", format: "pretty", sink });
  writeAccessLog(pretty, sample);
  await pretty.flush();
  assert.match(lines.join(""), /INFO {2}request request_id=r1 .*status=200/);
  const quiet = new Logger({ level: "warn", format: "json", sink });
  writeAccessLog(quiet, sample);
  await quiet.flush();
  assert.equal(lines.length, 1, "below the level, nothing is written");
});
