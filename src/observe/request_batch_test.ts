// Tests the binary request batch: what goes in comes back out, field for field, whatever the strings hold.

import assert from "node:assert/strict";
import fc from "fast-check";
import { readBatch, RequestBatchWriter } from "./request_batch.ts";
import { requestRecord, sampleRequest } from "./_request_record_arbitrary.ts";

/** What a string looks like after UTF-8: a lone surrogate becomes U+FFFD (one unit, as before). */
function wellFormed<T>(value: T): T {
  return typeof value === "string" ? value.toWellFormed() as T : value;
}

Deno.test("RequestBatchWriter + readBatch: every record comes back as written (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 45 }), requestRecord), { maxLength: 40 }),
      fc.integer({ min: 1, max: 8 }),
      (requests, initialCapacity) => {
        // A small initial capacity makes the buffers grow while writing.
        const writer = new RequestBatchWriter(initialCapacity);
        for (const [endedAtMs, record] of requests) writer.append(endedAtMs, record);
        const batch = writer.take();
        assert.equal(batch.records, requests.length);
        const read = [...readBatch(batch)];
        assert.deepEqual(
          read,
          requests.map(([endedAtMs, record]) => ({
            endedAtMs,
            record: Object.fromEntries(
              Object.entries({ ...record, userAgent: record.userAgent?.slice(0, 1024) ?? null })
                .map(([name, value]) => [name, wellFormed(value)]),
            ),
          })),
        );
        assert.equal(writer.records, 0, "take() starts a new batch");
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("RequestBatchWriter reuses the buffers of a recycled batch, and only ones big enough", () => {
  const record = sampleRequest({ bytes: 3, durationMs: 0.5 });
  const writer = new RequestBatchWriter(2);
  writer.append(1, record);
  const first = writer.take();
  writer.recycle(first);
  writer.append(2, record);
  const second = writer.take();
  // The batch taken after `first` was recycled writes into `first`'s buffers.
  const third = writer.take();
  assert.equal(third.numbers, first.numbers, "the recycled buffers were used");
  assert.notEqual(second.numbers, first.numbers);
  // Once the batches have grown, smaller buffers are not kept.
  for (let i = 0; i < 10; i++) writer.append(i, record);
  const grown = writer.take();
  writer.recycle(second);
  assert.notEqual(writer.take().numbers, second.numbers);
  assert.equal([...readBatch(grown)].length, 10);
});
