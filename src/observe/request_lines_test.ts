// Tests the formatting of a batch of requests into access and audit lines: one parseable line per request, in order, with what each log shows.

import assert from "node:assert/strict";
import fc from "fast-check";
import { RequestBatchWriter } from "./request_batch.ts";
import { requestRecord, sampleRequest } from "./_request_record_arbitrary.ts";
import { formatPrettyAccessLines, type RequestRecord } from "./request_lines.ts";
import { type RequestBatch } from "./request_batch.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { type JsonLines, writeJsonLines } from "./request_json.ts";

function batchOf(requests: [number, RequestRecord][]) {
  const writer = new RequestBatchWriter(4);
  for (const [endedAtMs, record] of requests) writer.append(endedAtMs, record);
  return writer.take();
}

/** The JSON lines the request log writes for `batch`, as text. */
function jsonLines(batch: RequestBatch, lines: JsonLines) {
  const access = new ByteBuffer(64);
  const audit = new ByteBuffer(64);
  writeJsonLines(batch, lines, access, audit);
  const decode = (buffer: ByteBuffer) => new TextDecoder().decode(buffer.view());
  return { access: decode(access), audit: decode(audit), records: batch.records };
}

function parseLines(text: string): Record<string, unknown>[] {
  assert.ok(text === "" || text.endsWith("\n"));
  return text.split("\n").slice(0, -1).map((line) => JSON.parse(line));
}

const requests = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 4_102_444_800_000 }), requestRecord),
  { maxLength: 20 },
);

Deno.test("JSON lines: one access line per request, in order, with the request's fields (property)", () => {
  fc.assert(
    fc.property(requests, (list) => {
      const formatted = jsonLines(batchOf(list), { access: true, audit: false });
      assert.equal(formatted.records, list.length);
      assert.equal(formatted.audit, "");
      const lines = parseLines(formatted.access);
      assert.equal(lines.length, list.length);
      lines.forEach((line, i) => {
        const [endedAtMs, r] = list[i]!;
        const expected: Record<string, unknown> = {
          ts: new Date(endedAtMs).toISOString(),
          level: "info",
          msg: "request",
          request_id: r.requestId.toWellFormed(),
          client_ip: r.clientIp.toWellFormed(),
          method: r.method.toWellFormed(),
          path: r.path.toWellFormed(),
          status: r.status,
          bytes: r.bytes,
          duration_ms: Math.round(r.durationMs * 1000) / 1000,
        };
        if (r.bucket !== undefined) expected.bucket = r.bucket.toWellFormed();
        if (r.cache !== undefined) expected.cache = r.cache.toWellFormed();
        if (r.code !== undefined) expected.code = r.code.toWellFormed();
        if (r.interrupted) expected.interrupted = true;
        assert.deepEqual(line, expected);
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("JSON lines: one audit line per request with the original's fields; no access lines when it is off (property)", () => {
  fc.assert(
    fc.property(requests, (list) => {
      const formatted = jsonLines(batchOf(list), { access: false, audit: true });
      assert.equal(formatted.access, "");
      const lines = parseLines(formatted.audit);
      assert.equal(lines.length, list.length);
      lines.forEach((line, i) => {
        const [endedAtMs, r] = list[i]!;
        assert.equal(line.timestamp, new Date(endedAtMs).toISOString());
        assert.equal(line.correlation_id, r.requestId.toWellFormed());
        assert.equal(line.user, r.user?.toWellFormed() ?? null);
        assert.equal(line.object_key, r.key?.toWellFormed() ?? null);
        assert.equal(line.http_method, r.method.toWellFormed());
        assert.equal(line.response_status, r.status);
        assert.equal(line.response_size_bytes, r.bytes);
        assert.equal(line.duration_ms, Math.round(r.durationMs * 1000) / 1000);
        assert.equal(line.cache_status, r.cache?.toWellFormed().toLowerCase() ?? null);
        // User-Agent is cut at 1024 characters; the Referer never keeps its query.
        if (r.userAgent === null) assert.equal(line.user_agent, null);
        else assert.ok(r.userAgent.toWellFormed().startsWith(line.user_agent as string));
        if (r.referer === null) assert.equal(line.referer, null);
        else assert.ok(!(line.referer as string).includes("?"));
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("formatPrettyAccessLines(), and an audit line with a Referer", () => {
  const record = sampleRequest({
    requestId: "req-1",
    clientIp: "10.0.0.1",
    path: "/b/photo.jpg",
    bytes: 2048,
    cache: "MISS",
    durationMs: 1.23456,
    user: "alice",
    key: "photo.jpg",
    userAgent: "curl/8",
    referer: "https://site.example/page?token=SECRET#top",
  });
  const endedAt = Date.UTC(2026, 10, 26, 12, 0, 0, 5);
  const batch = batchOf([[endedAt, record]]);
  const formatted = jsonLines(batch, { access: false, audit: true });
  assert.equal(
    formatPrettyAccessLines(batch),
    "2026-11-26T12:00:00.005Z INFO  request request_id=req-1 client_ip=10.0.0.1 method=GET " +
      "path=/b/photo.jpg bucket=b status=200 bytes=2048 cache=MISS duration_ms=1.235\n",
  );
  const [audit] = parseLines(formatted.audit);
  assert.equal(audit!.referer, "https://site.example/page");
  assert.equal(audit!.user, "alice");
  assert.ok(!formatted.audit.includes("SECRET"));
});
