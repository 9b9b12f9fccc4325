// Tests the byte-level JSON lines against the reference serializers (_json_line_reference.ts, each checked against JSON.stringify): the same bytes for any request.

import assert from "node:assert/strict";
import fc from "fast-check";
import { requestRecord } from "./_request_record_arbitrary.ts";
import { RequestBatchWriter } from "./request_batch.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { writeJsonLines } from "./request_json.ts";
import { referenceJsonLines } from "./_json_line_reference.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("writeJsonLines() writes exactly what the reference serializers write, access and audit (property)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 4_102_444_800_000 }), requestRecord),
        { maxLength: 20 },
      ),
      fc.record({ access: fc.boolean(), audit: fc.boolean() }),
      (requests, lines) => {
        const writer = new RequestBatchWriter(2);
        for (const [endedAtMs, record] of requests) writer.append(endedAtMs, record);
        const batch = writer.take();
        // Small buffers: the lines outgrow them.
        const access = new ByteBuffer(16);
        const audit = new ByteBuffer(16);
        writeJsonLines(batch, lines, access, audit);
        const expected = referenceJsonLines(batch, lines);
        assert.equal(decode(access.view()), expected.access);
        assert.equal(decode(audit.view()), expected.audit);
      },
    ),
    { numRuns: 1000 },
  );
});
