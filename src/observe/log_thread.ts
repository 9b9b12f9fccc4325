// Owns the log thread from the main thread's side: starting its worker, handing it stdout text and request batches, and flushing it before the process exits.

import type { AuditLogConfig } from "../config/types.ts";
import type { LogSink } from "./log.ts";
import { type RequestBatch, transferables } from "./request_batch.ts";
import type { RequestBatchSink } from "./request_log.ts";
import type { RequestLines } from "./request_lines.ts";
import {
  LOG_WORKER_NAME,
  type LogWorkerReply,
  type LogWorkerRequest,
  type LogWriters,
  openLogWriters,
  writeLogMessage,
} from "./log_worker.ts";

export interface LogThreadOptions {
  lines: RequestLines;
  format: "json" | "pretty";
  audit: AuditLogConfig | undefined;
  /** How long the worker's writers batch lines, in ms (tests shorten it). */
  flushIntervalMs?: number;
}

/**
 * The worker's module. From source (and in a compiled binary, which keeps module names) it is
 * log_worker.ts beside this file; in the one-file bundle every module is inside the bundle, which
 * becomes the worker when started under LOG_WORKER_NAME (log_worker.ts and main.ts check it).
 */
export function logWorkerUrl(moduleUrl: string = import.meta.url): string {
  return moduleUrl.endsWith(".ts") ? new URL("./log_worker.ts", moduleUrl).href : moduleUrl;
}

/** An output of the log thread could not be opened (an audit file path that is not writable). */
export class LogOutputError extends Error {}

type Message = LogWorkerRequest extends infer M ? M extends { seq: number } ? M : never : never;
type Without<M, K extends keyof M> = M extends unknown ? Omit<M, K> : never;

/**
 * A worker that owns stdout and the audit file: the request thread hands it whole lines and
 * batches of requests and never formats or writes a request's lines itself.
 */
export class LogThread {
  readonly #worker: Worker;
  readonly #init: Extract<LogWorkerRequest, { kind: "init" }>;
  /** The same writers in this thread, once the worker has failed: lines keep being written. */
  #direct: Promise<LogWriters> | undefined;
  readonly #waiting = new Map<
    number,
    { resolve(batch: RequestBatch | undefined): void; reject(error: Error): void }
  >();
  #seq = 0;
  #failure: Error | undefined;
  #closed = false;

  /** Where the main thread's logger writes: its batches of lines go to the worker as text. */
  readonly textSink: LogSink = {
    write: (bytes) => this.#call({ kind: "text", text: new TextDecoder().decode(bytes) }),
    writeText: (text) => this.#call({ kind: "text", text }),
  };

  /** Where the request log hands its batches. */
  readonly requestSink: RequestBatchSink = {
    // The batch's buffers move to the worker (transferred): nothing is copied.
    write: (batch) => this.#call({ kind: "requests", batch }, transferables(batch)),
    flush: async () => void await this.#call({ kind: "flush" }),
    close: async () => void await this.#call({ kind: "close-audit" }),
  };

  private constructor(worker: Worker, init: Extract<LogWorkerRequest, { kind: "init" }>) {
    this.#worker = worker;
    this.#init = init;
    worker.onmessage = (event: MessageEvent<LogWorkerReply>) => this.#receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`the log thread failed: ${event.message}`));
    };
  }

  /**
   * Starts the worker and opens its outputs. Rejects with the worker's message when an output
   * cannot be opened (an audit file path that is not writable), as the in-thread writers would.
   */
  static async start(options: LogThreadOptions, startTimeoutMs = 15_000): Promise<LogThread> {
    const worker = new Worker(logWorkerUrl(), { type: "module", name: LOG_WORKER_NAME });
    const init: Extract<LogWorkerRequest, { kind: "init" }> = { kind: "init", ...options };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        // A worker module that loads but never answers (a build that does not start it) must
        // not hang the start: the caller falls back to writing in its own thread.
        timer = setTimeout(
          () => reject(new Error(`the log thread did not start within ${startTimeoutMs} ms`)),
          startTimeoutMs,
        );
        worker.onmessage = (event: MessageEvent<LogWorkerReply>) => {
          const reply = event.data;
          if (reply.kind === "ready") resolve();
          else if (reply.kind === "failed") reject(new LogOutputError(reply.message));
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`the log thread could not start: ${event.message}`));
        };
        worker.postMessage(init);
      });
    } catch (error) {
      worker.terminate();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return new LogThread(worker, init);
  }

  /** Waits until everything handed over is written (audit file closed), then stops the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#call({ kind: "close-audit" });
    this.#closed = true;
    this.#worker.terminate();
    const direct = await this.#direct;
    await direct?.stdout.flush();
  }

  #call(
    message: Without<Message, "seq">,
    transfer: Transferable[] = [],
  ): Promise<RequestBatch | undefined> {
    // After a failure, or a line logged after close (the process's last words): this thread.
    if (this.#failure !== undefined || this.#closed) {
      // The audit file is reopened here after a failure; after close it stays closed.
      this.#direct ??= openLogWriters(
        this.#closed ? { ...this.#init, audit: undefined } : this.#init,
      );
      return this.#direct.then(async (writers) => {
        await writeLogMessage(writers, { ...message, seq: 0 } as Message);
        return undefined;
      });
    }
    const seq = ++this.#seq;
    return new Promise<RequestBatch | undefined>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      this.#worker.postMessage({ ...message, seq } as LogWorkerRequest, transfer);
    });
  }

  #receive(reply: LogWorkerReply): void {
    if (reply.kind !== "done" && reply.kind !== "error") return;
    const waiting = this.#waiting.get(reply.seq);
    if (waiting === undefined) return;
    this.#waiting.delete(reply.seq);
    if (reply.kind === "done") waiting.resolve(reply.batch);
    else waiting.reject(new Error(`the log thread: ${reply.message}`));
  }

  #fail(error: Error): void {
    if (this.#failure === undefined) {
      // Once. What the worker held is lost (the request log counts its requests as dropped);
      // everything logged from now on is written here.
      console.error(
        `${error.message}; stdout and audit lines are written by the main thread from now on`,
      );
    }
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}
