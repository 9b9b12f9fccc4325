// Owns structured logging: JSON (or pretty) lines, level filtering, redaction and non-blocking writes.

import type { LogLevel } from "../config/types.ts";
import { type LineChunk, LineQueue } from "./line_queue.ts";

const LEVEL_RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
};

/** True when a logger at `configured` level writes lines of `level`. */
export function logsAt(configured: LogLevel, level: LogLevel): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[configured];
}

/** A log field value. Objects are allowed for nested detail (they are redacted too). */
export type LogFields = Record<string, unknown>;

/** Where encoded lines go; stdout by default. Tests pass their own. */
export interface LogSink {
  write(bytes: Uint8Array): Promise<unknown>;
  /**
   * Takes a batch of whole lines as text instead, when the sink prefers it (the log thread's,
   * which posts text to the thread that writes stdout: it encodes there, not here).
   */
  writeText?(text: string): Promise<unknown>;
}

export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "pretty";
  sink?: LogSink;
  /** Lines waiting beyond this many bytes are dropped (and counted) rather than grow memory. */
  maxBufferedBytes?: number;
  /**
   * How long lines may wait to be written together, in ms. One write per request would cost a
   * syscall per request; batching for a few ms costs nothing a reader of logs would notice.
   * Default 20; a batch of 1 MiB is written at once.
   */
  flushIntervalMs?: number;
}

/**
 * A batch this large is written without waiting for the flush interval. Large, because each
 * write costs the request thread about 13 µs in Deno whatever its size (an async write is handed
 * to another thread; measured on Deno 2.9.6 for 1 KiB to 1 MiB): at 30k requests a second,
 * 64 KiB of access lines meant ~115 writes a second, where the 20 ms interval alone makes 50.
 */
const FLUSH_BYTES = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Field names whose values never reach a log, whatever the caller passed: the second line of
 * defence behind callers that only log what they mean to (DESIGN.md §2: secrets never logged).
 */
const SECRET_FIELD = /authorization|cookie|token|secret|password|signature|access_key|credential/i;

/** Replaces secret-looking fields with "[redacted]", recursively, and Errors with describeError(). */
export function redact(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const key in fields) {
    const value = fields[key];
    let replaced: unknown = value;
    if (SECRET_FIELD.test(key)) replaced = "[redacted]";
    // JSON.stringify writes an Error as {}: log what it says, and what caused it.
    else if (value instanceof Error) replaced = describeError(value);
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      replaced = redact(value as LogFields);
    }
    if (replaced !== value) (out ??= { ...fields })[key] = replaced;
  }
  return out ?? fields;
}

/** Formats an Error (with its cause chain) for a log field without its stack flooding pretty output. */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { message: String(error) };
  const described: LogFields = { name: error.name, message: error.message };
  if (error.stack) described.stack = error.stack;
  if (error.cause !== undefined) described.cause = describeError(error.cause);
  return described;
}

/** The ISO timestamp, formatted once per millisecond however many lines share it. */
export class IsoClock {
  #ms = -1;
  #iso = "";

  now(): string {
    const ms = Date.now();
    if (ms !== this.#ms) {
      this.#ms = ms;
      this.#iso = new Date(ms).toISOString();
    }
    return this.#iso;
  }
}

/**
 * A logger whose calls never wait on I/O: lines are encoded into a buffer and written by one
 * background write at a time, so a slow stdout slows the log, not the requests.
 */
export class Logger {
  readonly level: LogLevel;
  readonly format: "json" | "pretty";
  #rank: number;
  #sink: LogSink;
  readonly #pending: LineQueue;
  #dropped = 0;
  #writing: Promise<void> | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushIntervalMs: number;
  readonly #clock = new IsoClock();
  readonly #beforeFlush: (() => void)[] = [];

  constructor(options: LoggerOptions) {
    this.level = options.level;
    this.format = options.format;
    this.#rank = LEVEL_RANK[options.level];
    this.#sink = options.sink ?? Deno.stdout;
    this.#pending = new LineQueue(options.maxBufferedBytes ?? 8 * 1024 * 1024);
    this.#flushIntervalMs = options.flushIntervalMs ?? 20;
  }

  /** True when a line at `level` would be written; lets callers skip building fields. */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.#rank;
  }

  trace(msg: string, fields?: LogFields): void {
    this.log("trace", msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < this.#rank) return;
    const safe = fields === undefined ? undefined : redact(fields);
    const line = this.format === "json"
      ? JSON.stringify({ ts: this.#clock.now(), level, msg, ...safe })
      : formatPretty(new Date().toISOString(), level, msg, safe);
    this.#enqueue(line + "\n", 1);
  }

  /**
   * Queues `lines` complete lines (the text ends in "\n") whatever the level: for lines formatted
   * elsewhere (the access and audit lines of a batch of requests), sharing this logger's one
   * writer to stdout so that lines never interleave.
   */
  writeLines(text: LineChunk, lines: number): void {
    this.#enqueue(text, lines);
  }

  /**
   * Starts writing the lines logged so far now rather than at the end of the interval (unless
   * a write is under way): the request log calls it before handing over a batch, so that lines
   * logged before those requests ended reach stdout before their access lines.
   */
  handOver(): void {
    this.#startDrain();
  }

  /**
   * Registers what flush() does first: the request log hands over the requests it holds, so
   * that their access lines (formatted in this thread) are written by the time flush() resolves.
   */
  beforeFlush(hook: () => void): void {
    this.#beforeFlush.push(hook);
  }

  /** Resolves once every line logged so far has been handed to the sink. */
  async flush(): Promise<void> {
    for (const hook of this.#beforeFlush) hook();
    this.#startDrain();
    while (this.#writing !== undefined) {
      await this.#writing;
      this.#startDrain();
    }
  }

  #enqueue(line: LineChunk, lines: number): void {
    if (!this.#pending.push(line)) {
      this.#dropped += lines;
      return;
    }
    if (this.#pending.length >= FLUSH_BYTES) this.#startDrain();
    else if (this.#flushTimer === undefined && this.#writing === undefined) {
      this.#flushTimer = setTimeout(() => this.#startDrain(), this.#flushIntervalMs);
    }
  }

  #startDrain(): void {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    if (this.#writing !== undefined) return;
    if (this.#pending.length === 0 && this.#dropped === 0) return;
    // Cleared by a `finally` callback, which always runs after this assignment: cleared inside
    // #drain, a drain that never awaited (only the dropped note to write) would clear it before
    // it was set, and flush() would then wait on it forever.
    this.#writing = this.#drain().finally(() => this.#drained());
  }

  async #drain(): Promise<void> {
    try {
      // Dropped lines are reported even when nothing else waits (a line larger than the buffer).
      while (this.#pending.length > 0 || this.#dropped > 0) {
        if (this.#pending.length > 0) await this.#write(this.#pending.take());
        if (this.#dropped > 0) {
          const note = JSON.stringify({
            ts: this.#clock.now(),
            level: "warn",
            msg: "log lines dropped: the log sink is slower than the request rate",
            dropped: this.#dropped,
          });
          this.#dropped = 0;
          // Written on its own, after the lines that were kept: the queue may be full.
          await this.#write(encoder.encode(note + "\n"));
        }
      }
    } catch {
      // A closed stdout (the reader went away) must not crash the gateway; lines are lost.
      this.#pending.clear();
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (this.#sink.writeText !== undefined) {
      // The log thread's sink: only the main thread's logger uses it (its rare text lines).
      await this.#sink.writeText(decoder.decode(bytes));
    } else await writeAll(this.#sink, bytes);
  }

  #drained(): void {
    this.#writing = undefined;
    // Lines that arrived during the write wait for the next interval (or flush()).
    if (this.#pending.length > 0 && this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.#startDrain(), this.#flushIntervalMs);
    }
  }
}

async function writeAll(sink: LogSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const written = await sink.write(bytes.subarray(offset));
    offset += typeof written === "number" ? written : bytes.length - offset;
  }
}

/** A pretty line (without its "\n"): `ts LEVEL msg key=value ...`. */
export function formatPretty(
  ts: string,
  level: LogLevel,
  msg: string,
  fields: LogFields | undefined,
): string {
  let line = `${ts} ${level.toUpperCase().padEnd(5)} ${msg}`;
  if (fields) {
    for (const key in fields) {
      const value = fields[key];
      if (value === undefined) continue;
      line += ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;
    }
  }
  return line;
}
