// Owns the log thread's worker: it formats batches of requests into access and audit lines and is the one writer of stdout and of the audit file.

import type { AuditLogConfig } from "../config/types.ts";
import { AuditLog } from "./audit_log.ts";
import { Logger } from "./log.ts";
import { type RequestBatch, transferables } from "./request_batch.ts";
import { InlineRequestSink } from "./request_log.ts";
import type { RequestLines } from "./request_lines.ts";

/** The worker's name: how a one-file bundle, started as this worker, knows to be it (main.ts). */
export const LOG_WORKER_NAME = "yatagarasu-log-writer";

/** What the main thread sends. Every message with a `seq` is answered with `done` once handled. */
export type LogWorkerRequest =
  | {
    kind: "init";
    lines: RequestLines;
    format: "json" | "pretty";
    audit: AuditLogConfig | undefined;
    /** Test hooks: batching of the worker's writers (ms). */
    flushIntervalMs?: number;
  }
  /** Whole lines from the main thread's logger, written to stdout in arrival order. */
  | { kind: "text"; seq: number; text: string }
  | { kind: "requests"; seq: number; batch: RequestBatch }
  /** Answered once everything before it is written. */
  | { kind: "flush"; seq: number }
  /** Flushes, then closes the audit file. */
  | { kind: "close-audit"; seq: number };

export type LogWorkerReply =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  /** `batch`: a request batch's buffers, handed back for reuse. */
  | { kind: "done"; seq: number; batch?: RequestBatch }
  | { kind: "error"; seq: number; message: string };

/** True inside the log thread's worker. */
export function isLogWorker(): boolean {
  return "WorkerGlobalScope" in globalThis && globalThis.name === LOG_WORKER_NAME;
}

/** The outputs the worker writes: stdout (through a logger's batching writer) and the audit log. */
export interface LogWriters {
  stdout: Logger;
  audit: AuditLog | undefined;
  requests: InlineRequestSink;
}

/** Answers the main thread's messages, in order, until the worker is terminated. */
export function serveLogWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<LogWorkerRequest>) => void) | null;
    postMessage(reply: LogWorkerReply, transfer?: Transferable[]): void;
  };
  let writers: LogWriters | undefined;
  // Messages are handled one after another (an async step must not let a later one overtake it).
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (event) => {
    const message = event.data;
    queue = queue.then(async () => {
      if (message.kind === "init") {
        try {
          writers = await openLogWriters(message);
          scope.postMessage({ kind: "ready" });
        } catch (error) {
          scope.postMessage({
            kind: "failed",
            message: error instanceof Error ? error.message : String(error),
          });
        }
        return;
      }
      try {
        if (writers === undefined) throw new Error("the log worker was not initialized");
        await writeLogMessage(writers, message);
        if (message.kind === "requests") {
          const batch = message.batch;
          scope.postMessage({ kind: "done", seq: message.seq, batch }, transferables(batch));
        } else scope.postMessage({ kind: "done", seq: message.seq });
      } catch (error) {
        scope.postMessage({
          kind: "error",
          seq: message.seq,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    });
  };
}

/**
 * Opens the outputs `init` names. Also used by the main thread itself when the worker failed,
 * so that lines keep being written, by the same code.
 */
export async function openLogWriters(
  init: Extract<LogWorkerRequest, { kind: "init" }>,
): Promise<LogWriters> {
  // Level trace: the main thread filtered by logging.level before it sent anything.
  const stdout = new Logger({
    level: "trace",
    format: init.format,
    flushIntervalMs: init.flushIntervalMs,
  });
  const audit = init.audit === undefined
    ? undefined
    : await AuditLog.open(init.audit, { logger: stdout, flushIntervalMs: init.flushIntervalMs });
  return { stdout, audit, requests: new InlineRequestSink(init.lines, stdout, audit) };
}

/** Does what one message asks of the writers. */
export async function writeLogMessage(
  writers: LogWriters,
  message: Exclude<LogWorkerRequest, { kind: "init" }>,
): Promise<void> {
  switch (message.kind) {
    case "text":
      writers.stdout.writeLines(message.text, countLines(message.text));
      return;
    case "requests":
      writers.requests.write(message.batch);
      return;
    case "flush":
      await writers.requests.flush();
      return;
    case "close-audit":
      await writers.requests.close();
      return;
  }
}

function countLines(text: string): number {
  let lines = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}

// Started as the worker (by its file from source, or as the whole bundle: see main.ts).
if (import.meta.main && isLogWorker()) serveLogWorker();
