// Tests the request log's hand-over: batches by time and by size, a sink that falls behind (drops counted, nothing held forever), close, and the in-thread writers.

import assert from "node:assert/strict";
import { Logger } from "./log.ts";
import { readBatch, type RequestBatch } from "./request_batch.ts";
import { openRequestLog, type RequestBatchSink, RequestLog } from "./request_log.ts";
import type { RequestRecord } from "./request_lines.ts";
import { sampleRequest } from "./_request_record_arbitrary.ts";

const LINES = { access: "json", audit: false } as const;

function request(id: string): RequestRecord {
  return sampleRequest({ requestId: id });
}

/** A sink that keeps the ids of each batch; `hold` makes its writes wait until released. */
class RecordingSink implements RequestBatchSink {
  batches: string[][] = [];
  flushes = 0;
  closed = false;
  hold = false;
  fail = false;
  #held: (() => void)[] = [];

  write(batch: RequestBatch): void | Promise<RequestBatch | undefined> {
    this.batches.push([...readBatch(batch)].map(({ record }) => record.requestId));
    if (this.fail) return Promise.reject(new Error("the log thread failed"));
    if (!this.hold) return;
    return new Promise((resolve) => this.#held.push(() => resolve(undefined)));
  }
  release(): void {
    this.hold = false;
    for (const resolve of this.#held.splice(0)) resolve();
  }
  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("RequestLog hands requests over after the flush interval, in order, without waiting for flush()", async () => {
  const sink = new RecordingSink();
  const log = new RequestLog(LINES, sink, { flushIntervalMs: 5 });
  log.record(request("a"));
  log.record(request("b"));
  assert.deepEqual(sink.batches, [], "nothing is handed over at once");
  await tick(30);
  assert.deepEqual(sink.batches, [["a", "b"]]);
  log.record(request("c"));
  await log.close();
  assert.deepEqual(sink.batches, [["a", "b"], ["c"]]);
  assert.ok(sink.closed);
});

Deno.test("RequestLog waits longer while requests come slowly, and the shortest wait again under load", async () => {
  const sink = new RecordingSink();
  const log = new RequestLog(LINES, sink, {
    flushIntervalMs: 10,
    quietFlushIntervalMs: 400,
    maxBatchRecords: 300,
  });
  log.record(request("a"));
  await tick(100);
  // The first batch goes after the shortest wait; one request in it is a slow rate.
  assert.deepEqual(sink.batches, [["a"]]);
  log.record(request("b"));
  await tick(100);
  assert.deepEqual(sink.batches, [["a"]], "the next one waits longer");
  await tick(700);
  assert.deepEqual(sink.batches, [["a"], ["b"]]);
  // A burst that fills a batch at once is a high rate: the wait is the shortest again.
  for (let i = 0; i < 300; i++) log.record(request(`burst${i}`));
  log.record(request("c"));
  assert.equal(sink.batches.length, 3);
  await tick(100);
  assert.deepEqual(sink.batches.slice(3), [["c"]]);
  await log.close();
});

Deno.test("RequestLog hands a full batch over at once", async () => {
  const sink = new RecordingSink();
  const log = new RequestLog(LINES, sink, { flushIntervalMs: 60_000, maxBatchRecords: 3 });
  for (const id of ["a", "b", "c", "d"]) log.record(request(id));
  assert.deepEqual(sink.batches, [["a", "b", "c"]]);
  await log.flush();
  assert.deepEqual(sink.batches, [["a", "b", "c"], ["d"]]);
  await log.close();
});

Deno.test("RequestLog drops and counts requests while the sink is behind, and hands over the rest once it catches up", async () => {
  const sink = new RecordingSink();
  sink.hold = true;
  const dropped: number[] = [];
  const log = new RequestLog(LINES, sink, {
    flushIntervalMs: 60_000,
    maxBatchRecords: 2,
    maxBatchesInFlight: 1,
    onDropped: (records) => dropped.push(records),
  });
  // Batch [a, b] is in flight; [c, d] waits; e and f find no room.
  for (const id of ["a", "b", "c", "d", "e", "f"]) log.record(request(id));
  assert.deepEqual(sink.batches, [["a", "b"]]);
  sink.release();
  await tick(0);
  // The held batch went as soon as the sink took the first one, and the drops were reported.
  assert.deepEqual(sink.batches, [["a", "b"], ["c", "d"]]);
  assert.deepEqual(dropped, [2]);
  log.record(request("g"));
  await log.close();
  assert.deepEqual(sink.batches.at(-1), ["g"]);
  log.record(request("after close"));
  assert.equal(sink.batches.flat().includes("after close"), false);
});

Deno.test("RequestLog counts the requests of a batch the sink lost", async () => {
  const sink = new RecordingSink();
  sink.fail = true;
  const dropped: number[] = [];
  const log = new RequestLog(LINES, sink, {
    flushIntervalMs: 60_000,
    onDropped: (records) => dropped.push(records),
  });
  log.record(request("a"));
  log.record(request("b"));
  await log.flush();
  sink.fail = false;
  log.record(request("c"));
  await log.flush();
  assert.deepEqual(dropped, [2]);
  await log.close();
});

Deno.test("openRequestLog(): none when neither log is on; in this thread, access lines go through the logger", async () => {
  const chunks: string[] = [];
  const sink = {
    write(bytes: Uint8Array) {
      chunks.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
  const quiet = new Logger({ level: "warn", format: "json", sink });
  assert.equal(await openRequestLog(undefined, quiet), undefined);
  const logger = new Logger({ level: "info", format: "json", sink });
  const log = await openRequestLog(undefined, logger);
  assert.ok(log !== undefined);
  assert.equal(log.audit, false);
  logger.info("before");
  log.record(request("r-1"));
  await log.close();
  const lines = chunks.join("").trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => line.msg), ["before", "request"]);
  assert.equal(lines[1].request_id, "r-1");
});
