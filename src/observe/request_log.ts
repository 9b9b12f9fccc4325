// Owns the request log: each finished request queued as flat fields, handed in batches to the writer of its access and audit lines (the log thread, or this thread).

import type { AuditLogConfig, LogLevel } from "../config/types.ts";
import { AuditLog } from "./audit_log.ts";
import { type Logger, logsAt } from "./log.ts";
import { type RequestBatch, RequestBatchWriter } from "./request_batch.ts";
import { formatPrettyAccessLines, type RequestLines, type RequestRecord } from "./request_lines.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { writeJsonLines } from "./request_json.ts";

/** Where batches of requests go to be formatted and written. */
export interface RequestBatchSink {
  /**
   * Takes `batch`. Returning nothing, it is done with it at once (its buffers are reused); a
   * promise means the batch is on its way (to the log thread), which hands the buffers back.
   */
  write(batch: RequestBatch): void | Promise<RequestBatch | undefined>;
  /** Resolves once every batch written so far is in its outputs. */
  flush(): Promise<void>;
  /** Flushes, then closes the audit output (the process is stopping). */
  close(): Promise<void>;
}

/**
 * A batch goes after 20 to 250 ms, or at 2048 requests. With the log thread each hand-over is a
 * postMessage and a reply, which cost the request thread tens to a few hundred µs in Deno whatever
 * the batch's size, and the log thread about 0.7 ms of CPU (its wake-ups: measured at one request
 * per batch, session 10). Under load, longer batches make the log thread work in longer bursts:
 * at 100 ms the p99 of 1 KiB hits rose from 3.36 to 3.64 ms (ad hoc, 8 alternating 3 s wrk runs
 * each, session 8) on a 2-CPU host where the clients share a CPU with the log thread. At low rates
 * a batch is a short burst whatever its age, and at 20 ms each request had a hand-over of its own:
 * at 40 requests/s the log thread used 0.7 ms of CPU per request, half of what the request thread
 * spent on it. So the wait stretches, up to 250 ms, to what the last batch's rate needs to gather
 * TARGET_BATCH_RECORDS: at 40 requests/s the log thread's CPU then fell from 0.6-0.7 to 0.1 ms per
 * request (ad hoc, per-thread /proc figures, session 10).
 */
const DEFAULT_FLUSH_INTERVAL_MS = 20;
const DEFAULT_QUIET_FLUSH_INTERVAL_MS = 250;
const TARGET_BATCH_RECORDS = 256;
const DEFAULT_MAX_BATCH_RECORDS = 2048;

export interface RequestLogOptions {
  /** The shortest wait before requests are handed over, in ms (under load). Default 20. */
  flushIntervalMs?: number;
  /** The longest wait, in ms, when requests come too slowly to fill a batch sooner. Default 250. */
  quietFlushIntervalMs?: number;
  /** A batch this full is handed over at once. Default 2048 requests. */
  maxBatchRecords?: number;
  /**
   * Batches handed to a sink that has not taken them yet (a log thread that fell behind). Beyond
   * this, requests are dropped and counted rather than grow memory. Default 16.
   */
  maxBatchesInFlight?: number;
  /** Told how many requests were dropped, once a batch is handed over again. */
  onDropped?: (records: number) => void;
  /** Called before each batch is handed over (the logger hands over its own lines first). */
  beforeHandOver?: () => void;
}

/**
 * The per-request end of the access and audit logs. `record` copies its fields into a binary batch:
 * formatting the lines (several µs per request) happens when a batch is handed over, on the log
 * thread when the gateway runs one, so the thread answering requests never pays for it.
 */
export class RequestLog {
  readonly lines: RequestLines;
  readonly #sink: RequestBatchSink;
  readonly #flushIntervalMs: number;
  readonly #quietFlushIntervalMs: number;
  /** How long the next batch waits before it is handed over (see #nextWaitMs). */
  #waitMs: number;
  /** When the batch being filled got its first request (epoch ms). */
  #batchOpenedAt = 0;
  readonly #maxBatchRecords: number;
  readonly #maxInFlight: number;
  readonly #onDropped: ((records: number) => void) | undefined;
  readonly #beforeHandOver: (() => void) | undefined;
  readonly #batch = new RequestBatchWriter();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #dropped = 0;
  #closed = false;
  readonly #handOver = () => {
    this.#timer = undefined;
    this.#send();
  };

  constructor(lines: RequestLines, sink: RequestBatchSink, options: RequestLogOptions = {}) {
    this.lines = lines;
    this.#sink = sink;
    this.#flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.#quietFlushIntervalMs = Math.max(
      this.#flushIntervalMs,
      options.quietFlushIntervalMs ?? DEFAULT_QUIET_FLUSH_INTERVAL_MS,
    );
    this.#waitMs = this.#flushIntervalMs;
    this.#maxBatchRecords = options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
    this.#maxInFlight = options.maxBatchesInFlight ?? 16;
    this.#onDropped = options.onDropped;
    this.#beforeHandOver = options.beforeHandOver;
  }

  /** True when the audit log is on: the caller reads User-Agent and Referer only then. */
  get audit(): boolean {
    return this.lines.audit;
  }

  /** Queues one finished request; never waits and never formats. */
  record(record: RequestRecord): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    if (this.#batch.records >= this.#maxBatchRecords) {
      // The timer was the full batch's: the next batch gets its own, with the wait #send sets.
      this.#clearTimer();
      this.#send();
      if (this.#batch.records >= this.#maxBatchRecords) {
        this.#dropped++;
        return;
      }
    }
    const now = Date.now();
    if (this.#batch.records === 0) this.#batchOpenedAt = now;
    this.#batch.append(now, record);
    this.#timer ??= setTimeout(this.#handOver, this.#waitMs);
  }

  /** Hands over the requests queued so far now, without waiting for them to be written. */
  handOver(): void {
    this.#clearTimer();
    this.#send();
  }

  /** Resolves once every request recorded so far is in its outputs. */
  async flush(): Promise<void> {
    this.#clearTimer();
    // A batch held back while the sink was behind goes once the sink has taken the others.
    do {
      this.#send();
      await this.#sink.flush();
    } while (this.#batch.records > 0);
  }

  /** Hands over what is queued and closes the outputs; later requests are dropped. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#sink.close();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #send(): void {
    if (this.#batch.records === 0 || this.#inFlight >= this.#maxInFlight) return;
    this.#beforeHandOver?.();
    const batch = this.#batch.take();
    this.#waitMs = this.#nextWaitMs(batch.records);
    const written = this.#sink.write(batch);
    if (written instanceof Promise) {
      this.#inFlight++;
      written.then(
        (handedBack) => {
          if (handedBack !== undefined) this.#batch.recycle(handedBack);
          this.#settled();
        },
        () => {
          // The sink lost the batch (the log thread failed): it is counted, not silently gone.
          this.#dropped += batch.records;
          this.#settled();
        },
      );
    } else this.#batch.recycle(batch);
    if (this.#dropped > 0) {
      const dropped = this.#dropped;
      this.#dropped = 0;
      this.#onDropped?.(dropped);
    }
  }

  #settled(): void {
    this.#inFlight--;
    // A batch held back while the sink was behind goes now if full, else at the next interval.
    if (this.#batch.records >= this.#maxBatchRecords) this.#send();
    else if (this.#batch.records > 0 && this.#timer === undefined && !this.#closed) {
      this.#timer = setTimeout(this.#handOver, this.#waitMs);
    }
  }

  /** The wait in which the rate of the batch just taken would gather TARGET_BATCH_RECORDS. */
  #nextWaitMs(records: number): number {
    const heldMs = Math.max(1, Date.now() - this.#batchOpenedAt);
    const waitMs = TARGET_BATCH_RECORDS * heldMs / records;
    return Math.min(this.#quietFlushIntervalMs, Math.max(this.#flushIntervalMs, waitMs));
  }
}

/** Formats batches in this thread and queues their lines on the logger (stdout) and audit outputs. */
export class InlineRequestSink implements RequestBatchSink {
  readonly #lines: RequestLines;
  readonly #logger: Logger;
  readonly #audit: AuditLog | undefined;
  readonly #access = new ByteBuffer();
  readonly #auditLines = new ByteBuffer();

  /** `logger` writes the access lines (and any other stdout line, in order); `audit` its own. */
  constructor(lines: RequestLines, logger: Logger, audit: AuditLog | undefined) {
    this.#lines = lines;
    this.#logger = logger;
    this.#audit = audit;
  }

  write(batch: RequestBatch): void {
    if (batch.records === 0) return;
    const json = this.#lines.access === "json";
    // JSON lines are written as bytes from the batch's bytes; pretty lines (for people) as text.
    writeJsonLines(
      batch,
      { access: json, audit: this.#lines.audit },
      this.#access,
      this.#auditLines,
    );
    // The writers copy the lines into their queues at once, so the buffers are reused.
    if (json) this.#logger.writeLines(this.#access.view(), batch.records);
    else if (this.#lines.access === "pretty") {
      this.#logger.writeLines(formatPrettyAccessLines(batch), batch.records);
    }
    if (this.#lines.audit) this.#audit?.writeLines(this.#auditLines.view(), batch.records);
    this.#access.length = 0;
    this.#auditLines.length = 0;
  }

  async flush(): Promise<void> {
    await this.#audit?.flush();
    await this.#logger.flush();
  }

  async close(): Promise<void> {
    await this.#audit?.close();
    await this.#logger.flush();
  }
}

/** Requests per batch when the batch is formatted in the request thread. */
export const INLINE_BATCH_RECORDS = 64;

/** Which lines requests get: the access line when info is logged, the audit line when it is on. */
export function requestLinesFor(
  logging: { readonly level: LogLevel; readonly format: "json" | "pretty" },
  audit: AuditLogConfig | undefined,
): RequestLines {
  return {
    access: logsAt(logging.level, "info") ? logging.format : undefined,
    audit: audit !== undefined,
  };
}

/**
 * The request log of a gateway, or undefined when neither the access nor the audit log is on.
 * With `thread`, the log thread formats and writes (it opened the audit file, from the same
 * config); without, this thread does, and the audit file is opened here (rejecting with a
 * message naming audit_log.file.path when it cannot be).
 */
export async function openRequestLog(
  audit: AuditLogConfig | undefined,
  logger: Logger,
  thread?: { readonly requestSink: RequestBatchSink },
): Promise<RequestLog | undefined> {
  const lines = requestLinesFor(logger, audit);
  if (lines.access === undefined && !lines.audit) return undefined;
  const sink = thread?.requestSink ?? new InlineRequestSink(
    lines,
    logger,
    audit === undefined ? undefined : await AuditLog.open(audit, { logger }),
  );
  const log = new RequestLog(lines, sink, {
    // Formatted in this thread, a batch is a pause for every request waiting: 64 requests take
    // some 50 µs, where a full 20 ms batch under load (hundreds) would show in the p99.
    maxBatchRecords: thread === undefined ? INLINE_BATCH_RECORDS : undefined,
    // With the log thread, lines logged before a batch of requests is handed over go first:
    // stdout keeps their order but for lines logged while the batch filled (at most 250 ms).
    // Inline, the access lines join the logger's own queue behind those lines, so the order
    // holds without that: starting a write there for every 64 requests cost a cache hit about
    // 1.7 µs (ad-hoc pinned measurement, session 7).
    beforeHandOver: thread === undefined ? undefined : () => logger.handOver(),
    onDropped: (records) =>
      logger.warn("request log lines dropped: the log writer fell behind the request rate", {
        dropped_requests: records,
      }),
  });
  // logger.flush() then covers access lines too (tests, and the last lines before an exit).
  logger.beforeFlush(() => log.handOver());
  return log;
}
