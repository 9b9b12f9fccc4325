// Owns the audit log: one JSON line per request (who asked for what, and what they got), written
// in batches to a size- or day-rotated file and/or stdout, and flushed before the process exits.

import type { AuditFileConfig, AuditLogConfig } from "../config/types.ts";
import type { Logger } from "./log.ts";
import { type LineChunk, LineQueue } from "./line_queue.ts";

/** Longest user agent written: a header of 64 KiB must not make a 64 KiB audit line. */
export const MAX_USER_AGENT = 1024;

/** The original's lowercase cache_status (hit|miss|bypass), for the X-Cache values. */
export function cacheStatus(xCache: string | undefined): string {
  switch (xCache) {
    case undefined:
      return "null";
    case "HIT":
      return '"hit"';
    case "MISS":
      return '"miss"';
    case "BYPASS":
      return '"bypass"';
    case "STALE":
      return '"stale"';
    default:
      return JSON.stringify(xCache.toLowerCase());
  }
}

/**
 * A Referer without its query, fragment or user info: a page's URL can carry its own tokens
 * (`?token=...`), and they must not reach the audit file.
 */
export function safeReferer(referer: string): string {
  let end = referer.length;
  const query = referer.indexOf("?");
  if (query !== -1) end = query;
  const fragment = referer.indexOf("#");
  if (fragment !== -1 && fragment < end) end = fragment;
  const cut = end === referer.length ? referer : referer.slice(0, end);
  // scheme://user:password@host/...: keep only what follows the "@" of the authority.
  return cut.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, "$1");
}

/** Reports a failure of the audit writer (the caller logs it; audit lines never go missing silently). */
export type AuditErrorReporter = (message: string, fields: Record<string, unknown>) => void;

export interface RotatingFileOptions extends AuditFileConfig {
  /** Bytes of lines held before a write starts (buffer_size). */
  batchBytes: number;
  /** How long lines may wait for a write, in ms. Default 50. */
  flushIntervalMs?: number;
  /**
   * Lines waiting beyond this many bytes (a disk that stopped keeping up) are dropped and
   * reported rather than grow memory without bound. Default 64 MiB or 8 batches, if larger.
   */
  maxPendingBytes?: number;
  onError: AuditErrorReporter;
  /** Epoch ms; tests move days forward. */
  now?: () => number;
}

const DAY_MS = 86_400_000;
const NEWLINE = 0x0a;

/**
 * An append-only file of lines, written in batches by one background write at a time. Before a
 * write would take the file past `maxFileBytes` (or, with `daily`, into a new UTC day) it is
 * rotated: path.N-1 -> path.N ... path -> path.1, the oldest beyond maxBackupFiles dropped.
 */
export class RotatingFileWriter {
  readonly #options: RotatingFileOptions;
  readonly #now: () => number;
  readonly #flushIntervalMs: number;
  /** Lines waiting for the next write, bounded by maxPendingBytes. */
  readonly #pending: LineQueue;
  #file: Deno.FsFile | undefined;
  #size = 0;
  /** The UTC day (epoch ms / DAY_MS) the current file's lines belong to. */
  #day = 0;
  #writing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dropped = 0;
  #closed = false;

  private constructor(options: RotatingFileOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#pending = new LineQueue(
      options.maxPendingBytes ?? Math.max(64 * 1024 * 1024, 8 * options.batchBytes),
    );
  }

  /**
   * Opens (creating it and its directory if needed) the file for appending. Rejects with a
   * message naming audit_log.file.path when it cannot be opened.
   */
  static async open(options: RotatingFileOptions): Promise<RotatingFileWriter> {
    const writer = new RotatingFileWriter(options);
    try {
      const slash = options.path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(options.path.slice(0, slash), { recursive: true });
      await writer.#openFile(false);
    } catch (error) {
      throw new Error(
        `audit_log.file.path: cannot open ${JSON.stringify(options.path)} for appending (${
          error instanceof Error ? error.message : String(error)
        }); point it at a writable file`,
        { cause: error },
      );
    }
    return writer;
  }

  /** Lines dropped because the disk did not keep up or a write failed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues `lines` whole lines (the text ends in "\n"); never waits on I/O. */
  write(text: LineChunk, lines = 1): void {
    if (this.#closed || !this.#pending.push(text)) {
      this.#dropped += lines;
      return;
    }
    if (this.#pending.length >= this.#options.batchBytes) this.#startDrain();
    else if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => this.#startDrain(), this.#flushIntervalMs);
    }
  }

  /** Resolves once every line queued so far is in the file. */
  async flush(): Promise<void> {
    this.#startDrain();
    while (this.#writing !== undefined) {
      await this.#writing;
      this.#startDrain();
    }
  }

  /** Flushes, then closes the file; later lines are dropped (and counted). */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#file?.close();
    this.#file = undefined;
  }

  async #openFile(truncate: boolean): Promise<void> {
    const path = this.#options.path;
    this.#file = await Deno.open(path, {
      create: true,
      append: !truncate,
      write: true,
      truncate,
    });
    const info = await this.#file.stat();
    this.#size = info.size;
    // A file left by an earlier run belongs to the day it was last written.
    const since = info.size > 0 && info.mtime !== null ? info.mtime.getTime() : this.#now();
    this.#day = Math.floor(since / DAY_MS);
  }

  async #rotate(): Promise<void> {
    const { path, maxBackupFiles } = this.#options;
    this.#file?.close();
    this.#file = undefined;
    for (let index = maxBackupFiles - 1; index >= 1; index--) {
      await renameIfPresent(`${path}.${index}`, `${path}.${index + 1}`);
    }
    if (maxBackupFiles >= 1) await renameIfPresent(path, `${path}.1`);
    // With no backups, the file starts over (truncated).
    await this.#openFile(true);
    this.#size = 0;
    this.#day = Math.floor(this.#now() / DAY_MS);
  }

  #startDrain(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length > 0) this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const bytes = this.#pending.take();
        try {
          await this.#writeBatch(bytes);
        } catch (error) {
          this.#lost(bytes, error);
        }
      }
    } finally {
      this.#writing = undefined;
      if (this.#pending.length > 0 && this.#timer === undefined && !this.#closed) {
        this.#timer = setTimeout(() => this.#startDrain(), this.#flushIntervalMs);
      }
    }
  }

  /** Writes whole lines, rotating before the file would pass its size or its day. */
  async #writeBatch(bytes: Uint8Array): Promise<void> {
    const { maxFileBytes, rotation } = this.#options;
    if (this.#file === undefined) await this.#openFile(false);
    if (rotation === "daily" && this.#size > 0 && Math.floor(this.#now() / DAY_MS) !== this.#day) {
      await this.#rotate();
    }
    let offset = 0;
    while (offset < bytes.length) {
      const room = maxFileBytes - this.#size;
      let end: number;
      if (bytes.length - offset <= room) end = bytes.length;
      else {
        // The last whole line that fits: lines never straddle two files.
        const cut = room > 0 ? bytes.lastIndexOf(NEWLINE, offset + room - 1) : -1;
        if (cut >= offset) end = cut + 1;
        else if (this.#size > 0) {
          await this.#rotate();
          continue;
        } else {
          // One line longer than a whole file: it gets a file of its own.
          end = bytes.indexOf(NEWLINE, offset) + 1 || bytes.length;
        }
      }
      await writeAll(this.#file!, bytes.subarray(offset, end));
      this.#size += end - offset;
      offset = end;
      if (offset < bytes.length) await this.#rotate();
    }
  }

  #lost(bytes: Uint8Array, error: unknown): void {
    let lines = 0;
    for (const byte of bytes) if (byte === NEWLINE) lines++;
    this.#dropped += lines;
    this.#options.onError("audit log write failed: lines were lost", {
      path: this.#options.path,
      lost_lines: lines,
      error: error instanceof Error ? error.message : String(error),
    });
    // The next batch reopens the file (a rotation may have left it closed).
    try {
      this.#file?.close();
    } catch {
      // Already closed.
    }
    this.#file = undefined;
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

/**
 * The outputs of the audit log: `writeLines` queues lines (written by request_json.ts,
 * a batch of requests at a time) for each output; nothing waits on I/O. `close` writes
 * everything still queued.
 */
export class AuditLog {
  readonly #file: RotatingFileWriter | undefined;
  readonly #stdout: Logger | undefined;

  private constructor(file: RotatingFileWriter | undefined, stdout: Logger | undefined) {
    this.#file = file;
    this.#stdout = stdout;
  }

  /**
   * Opens the outputs of `config`. stdout lines go through `logger`'s writer (one writer per
   * stream: lines never interleave), whatever logging.level says.
   */
  static async open(
    config: AuditLogConfig,
    deps: { logger: Logger; flushIntervalMs?: number; now?: () => number },
  ): Promise<AuditLog> {
    const file = config.file === undefined ? undefined : await RotatingFileWriter.open({
      ...config.file,
      batchBytes: config.bufferBytes,
      flushIntervalMs: deps.flushIntervalMs,
      now: deps.now,
      onError: (message, fields) => deps.logger.error(message, fields),
    });
    return new AuditLog(file, config.outputs.includes("stdout") ? deps.logger : undefined);
  }

  /** Queues `lines` audit lines (the text ends in "\n") for each output. */
  writeLines(text: LineChunk, lines: number): void {
    this.#file?.write(text, lines);
    this.#stdout?.writeLines(text, lines);
  }

  /** Lines the file output dropped (a disk that did not keep up, a failed write). */
  get dropped(): number {
    return this.#file?.dropped ?? 0;
  }

  async flush(): Promise<void> {
    await this.#file?.flush();
    await this.#stdout?.flush();
  }

  /** Writes every queued line, then closes the file. */
  async close(): Promise<void> {
    await this.#file?.close();
    await this.#stdout?.flush();
  }
}
