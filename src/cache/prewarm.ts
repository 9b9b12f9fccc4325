// Owns PrewarmManager: background tasks that list a bucket prefix and warm each object, bounded in concurrency and rate.

import type { ListPage } from "../origin/list_objects.ts";
import type { Logger } from "../observe/log.ts";
import { errorMessage } from "../errors.ts";

export type PrewarmStatus = "pending" | "running" | "completed" | "failed" | "cancelled";

/** A task as the admin API shows it: the original's field names, snake_case. */
export interface PrewarmTask {
  /** A UUID v4. */
  id: string;
  /** The gateway bucket name (`buckets[].name`). */
  bucket: string;
  /** The path as requested; see `keyPrefix` for how it becomes a key prefix. */
  path: string;
  status: PrewarmStatus;
  options: { recursive: boolean; max_depth: number | null; max_files: number | null };
  /** Listed objects examined, including those the recursive/max_depth filter left out. */
  files_scanned: number;
  /** Objects now in the cache. */
  files_cached: number;
  /** Objects whose warm failed (the task goes on). */
  files_failed: number;
  bytes_cached: number;
  /*
   * Unix seconds (millisecond precision), null until the event happens. The original serialized
   * Rust's SystemTime as {"secs_since_epoch","nanos_since_epoch"}: serde's internal struct layout,
   * not a format chosen for clients, and unlike every other admin timestamp, which is a number of
   * Unix seconds. A number is what a client can compare and subtract.
   */
  created_at: number;
  start_time: number | null;
  end_time: number | null;
  /** Why the task failed (a listing error); null otherwise. */
  error_message: string | null;
}

export interface PrewarmRequest {
  bucket: string;
  path: string;
  /** false: only objects directly under the path. Default true. */
  recursive?: boolean;
  /**
   * At most this many "/"-separated levels below the path: 1 = only objects directly under it
   * (as recursive:false), 2 = also those one folder down. Undefined = unlimited.
   */
  maxDepth?: number | undefined;
  /** Warm exactly this many objects at most (the original warmed one fewer). */
  maxFiles?: number | undefined;
}

export type PrewarmList = (
  bucket: string,
  prefix: string,
  token: string | undefined,
  signal: AbortSignal,
) => Promise<ListPage>;

/**
 * Fetches one object into the cache. `cached` is false when the object was fetched but cannot be
 * cached (too large, or the bucket opts out); it then counts only in files_scanned.
 */
export type PrewarmWarm = (
  bucket: string,
  key: string,
  signal: AbortSignal,
) => Promise<{ bytes: number; cached: boolean }>;

export interface PrewarmManagerOptions {
  /** Objects warmed at once, across all tasks (`cache.warming.concurrency`). */
  concurrency: number;
  /** Objects started per second at most, across all tasks (`cache.warming.rate_limit`). */
  ratePerSecond: number;
  /** Lists one page of keys under the prefix (the wiring asks for PREWARM_PAGE_SIZE keys). */
  list: PrewarmList;
  warm: PrewarmWarm;
  /** Wall clock in ms for the task timestamps and pruning (pacing uses a monotonic clock). */
  now?: () => number;
  log?: Pick<Logger, "debug" | "info" | "warn">;
  /** Told once when a task reaches its final status (completed, failed, cancelled): the metrics. */
  onFinished?: (task: Readonly<PrewarmTask>) => void;
}

/** The maxKeys a `list` function should ask for: the most S3 gives per page. */
export const PREWARM_PAGE_SIZE = 1000;
/** Finished tasks are kept this long for status queries, then pruned on the next create. */
const FINISHED_TTL_MS = 60 * 60 * 1000;

export type CancelResult = "cancelled" | "not_found" | "finished";

interface TaskState {
  readonly task: PrewarmTask;
  readonly controller: AbortController;
  /** Settles when the worker has stopped (its in-flight warms settled). */
  done: Promise<void>;
  /** Wall-clock ms of end_time, for pruning. */
  endedAtMs: number | undefined;
}

/**
 * Runs prewarm tasks in the background. Concurrency and rate are shared by all tasks: their point
 * is to protect the origin (and the gateway's own traffic), which two tasks at once would
 * otherwise hit twice as hard. Tasks live in memory only, as in the original.
 */
export class PrewarmManager {
  readonly #list: PrewarmList;
  readonly #warm: PrewarmWarm;
  readonly #now: () => number;
  readonly #log: PrewarmManagerOptions["log"];
  readonly #onFinished: PrewarmManagerOptions["onFinished"];
  readonly #slots: Semaphore;
  readonly #pace: Pacer;
  readonly #tasks = new Map<string, TaskState>();
  #closed = false;

  constructor(options: PrewarmManagerOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number >= 1, got ${options.concurrency}`);
    }
    if (!(options.ratePerSecond > 0)) {
      throw new RangeError(`ratePerSecond must be > 0, got ${options.ratePerSecond}`);
    }
    this.#list = options.list;
    this.#warm = options.warm;
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
    this.#onFinished = options.onFinished;
    this.#slots = new Semaphore(options.concurrency);
    this.#pace = new Pacer(options.ratePerSecond);
  }

  /** True once close() has been called; create() then throws. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Starts a task in the background and returns it (status "pending"). */
  create(request: PrewarmRequest): PrewarmTask {
    if (this.#closed) throw new Error("PrewarmManager is closed");
    const recursive = request.recursive ?? true;
    const maxDepth = request.maxDepth ?? null;
    const maxFiles = request.maxFiles ?? null;
    if (maxDepth !== null && (!Number.isInteger(maxDepth) || maxDepth < 1)) {
      throw new RangeError(`maxDepth must be a whole number >= 1, got ${maxDepth}`);
    }
    if (maxFiles !== null && (!Number.isInteger(maxFiles) || maxFiles < 1)) {
      throw new RangeError(`maxFiles must be a whole number >= 1, got ${maxFiles}`);
    }
    const nowMs = this.#now();
    this.#prune(nowMs);
    const task: PrewarmTask = {
      id: crypto.randomUUID(),
      bucket: request.bucket,
      path: request.path,
      status: "pending",
      options: { recursive, max_depth: maxDepth, max_files: maxFiles },
      files_scanned: 0,
      files_cached: 0,
      files_failed: 0,
      bytes_cached: 0,
      created_at: toSeconds(nowMs),
      start_time: null,
      end_time: null,
      error_message: null,
    };
    const state: TaskState = {
      task,
      controller: new AbortController(),
      done: Promise.resolve(),
      endedAtMs: undefined,
    };
    this.#tasks.set(task.id, state);
    // Begins after the caller has the task in hand, so it always sees "pending" first.
    state.done = Promise.resolve().then(() => this.#run(state)).catch((error) => {
      // #run handles its own errors; this is a bug guard so a task never stays "running".
      this.#finish(state, "failed", errorMessage(error));
    });
    this.#log?.info("prewarm task created", {
      task_id: task.id,
      bucket: task.bucket,
      path: task.path,
      recursive,
      max_depth: maxDepth,
      max_files: maxFiles,
    });
    return snapshot(task);
  }

  /** A copy of the task, or undefined when there is none with that id (or it was pruned). */
  get(id: string): PrewarmTask | undefined {
    const state = this.#tasks.get(id);
    return state === undefined ? undefined : snapshot(state.task);
  }

  /** Copies of every task kept, oldest first. */
  list(): PrewarmTask[] {
    return [...this.#tasks.values()].map((state) => snapshot(state.task));
  }

  /** Resolves with the task once its worker has stopped; undefined when there is no such task. */
  async whenDone(id: string): Promise<PrewarmTask | undefined> {
    const state = this.#tasks.get(id);
    if (state === undefined) return undefined;
    await state.done;
    return snapshot(state.task);
  }

  /** Stops a pending or running task: no more listing, and its in-flight warms are aborted. */
  cancel(id: string): CancelResult {
    const state = this.#tasks.get(id);
    if (state === undefined) return "not_found";
    if (isFinished(state.task.status)) return "finished";
    // Marked at once so the answer to DELETE and the next status read agree; the worker then
    // winds down and leaves the status alone.
    this.#finish(state, "cancelled", null);
    state.controller.abort(new DOMException("prewarm task cancelled", "AbortError"));
    this.#log?.info("prewarm task cancelled", { task_id: id });
    return "cancelled";
  }

  /** Cancels every unfinished task and waits until their workers have stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    const states = [...this.#tasks.values()];
    for (const state of states) {
      if (!isFinished(state.task.status)) this.cancel(state.task.id);
    }
    await Promise.all(states.map((state) => state.done));
  }

  async #run(state: TaskState): Promise<void> {
    const { task, controller } = state;
    const signal = controller.signal;
    if (signal.aborted) return;
    task.status = "running";
    task.start_time = toSeconds(this.#now());
    const prefix = keyPrefix(task.path);
    const inScope = depthFilter(prefix, task.options.recursive ? task.options.max_depth : 1);
    const maxFiles = task.options.max_files;
    const inFlight = new Set<Promise<void>>();
    let started = 0;
    let listingFailed = false;
    let listingError: unknown;
    let token: string | undefined;
    try {
      pages: do {
        const page = await this.#list(task.bucket, prefix, token, signal);
        for (const object of page.objects) {
          if (signal.aborted) break pages;
          task.files_scanned++;
          if (!inScope(object.key)) continue;
          await this.#slots.acquire(signal);
          try {
            await this.#pace.wait(signal);
          } catch (error) {
            this.#slots.release();
            throw error;
          }
          started++;
          const warming = this.#warmOne(state, object.key).finally(() => {
            this.#slots.release();
            inFlight.delete(warming);
          });
          inFlight.add(warming);
          // Checked after starting, so exactly maxFiles objects are warmed.
          if (maxFiles !== null && started >= maxFiles) break pages;
        }
        token = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (token !== undefined && !signal.aborted);
    } catch (error) {
      // After a cancel, a rejected list or wait is the cancel itself, not a failure.
      if (!signal.aborted) {
        listingFailed = true;
        listingError = error;
      }
    }
    // Warms already started run to their end (or abort, if the task was cancelled).
    while (inFlight.size > 0) await Promise.all(inFlight);
    if (listingFailed) {
      const message = errorMessage(listingError);
      this.#finish(state, "failed", message);
      this.#log?.warn("prewarm task failed: listing the bucket failed", {
        task_id: task.id,
        bucket: task.bucket,
        error: message,
      });
      return;
    }
    if (this.#finish(state, "completed", null)) {
      this.#log?.[task.files_failed > 0 ? "warn" : "info"]("prewarm task completed", {
        task_id: task.id,
        files_scanned: task.files_scanned,
        files_cached: task.files_cached,
        files_failed: task.files_failed,
        bytes_cached: task.bytes_cached,
      });
    }
  }

  async #warmOne(state: TaskState, key: string): Promise<void> {
    const { task, controller } = state;
    try {
      const result = await this.#warm(task.bucket, key, controller.signal);
      if (result.cached) {
        task.files_cached++;
        task.bytes_cached += result.bytes;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      task.files_failed++;
      // One line per object at debug: an origin outage would otherwise write one warning per key.
      this.#log?.debug("prewarm of one object failed", {
        task_id: task.id,
        key,
        error: errorMessage(error),
      });
    }
  }

  /**
   * Sets a final status once and says whether it did: a task already finished (cancelled while
   * its worker wound down) keeps its own.
   */
  #finish(state: TaskState, status: PrewarmStatus, errorMessage: string | null): boolean {
    const { task } = state;
    if (isFinished(task.status)) return false;
    const nowMs = this.#now();
    task.status = status;
    task.end_time = toSeconds(nowMs);
    task.error_message = errorMessage;
    state.endedAtMs = nowMs;
    this.#onFinished?.(task);
    return true;
  }

  #prune(nowMs: number): void {
    const cutoff = nowMs - FINISHED_TTL_MS;
    for (const [id, state] of this.#tasks) {
      if (state.endedAtMs !== undefined && state.endedAtMs < cutoff) this.#tasks.delete(id);
    }
  }
}

function isFinished(status: PrewarmStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

function toSeconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function snapshot(task: PrewarmTask): PrewarmTask {
  return { ...task, options: { ...task.options } };
}

/**
 * The key prefix listed for a task path. One leading "/" is dropped: the original's docs write
 * paths as "/css/" (the path as it appears in URLs), while S3 keys do not start with "/"; the
 * original listed "/css/" verbatim and found nothing.
 */
export function keyPrefix(path: string): string {
  return path.startsWith("/") ? path.slice(1) : path;
}

/**
 * A key filter by depth below `prefix`: the number of "/"-separated segments after it (a key
 * directly under it has depth 1). null = any depth. A prefix that does not end in "/" ("css")
 * counts as if it did for keys that continue with one ("css/a.png" has depth 1).
 */
export function depthFilter(prefix: string, maxDepth: number | null): (key: string) => boolean {
  if (maxDepth === null) return () => true;
  const skipSlash = prefix !== "" && !prefix.endsWith("/");
  return (key) => {
    let rest = key.slice(prefix.length);
    if (skipSlash && rest.startsWith("/")) rest = rest.slice(1);
    let depth = 1;
    for (let i = rest.indexOf("/"); i !== -1; i = rest.indexOf("/", i + 1)) {
      if (++depth > maxDepth) return false;
    }
    return true;
  };
}

/** A counting semaphore whose waiters are served in order and can give up on abort. */
class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0 && this.#waiters.length === 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#free++;
    else next(); // the slot passes straight to the next waiter
  }
}

/**
 * A token bucket refilled at `ratePerSecond`. It holds one token, so starts are spaced
 * 1/rate apart and no second ever sees more than the rate, unless the rate outruns the timers
 * (about 1 ms apart): then it holds 10 ms worth, so 100,000/s is reachable and a second sees at
 * most 1% more. Tokens accrue from elapsed time, so a timer that fires late never lets the next
 * start come early. Waiting is a timer, never a busy loop; waiters woken together re-check, and
 * the losers sleep again.
 */
class Pacer {
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens: number;
  #refilledAt = performance.now();

  constructor(ratePerSecond: number) {
    this.#perMs = ratePerSecond / 1000;
    this.#capacity = Math.max(1, ratePerSecond / 100);
    this.#tokens = 1;
  }

  async wait(signal: AbortSignal): Promise<void> {
    while (true) {
      if (signal.aborted) throw signal.reason;
      const now = performance.now();
      this.#tokens = Math.min(
        this.#capacity,
        this.#tokens + (now - this.#refilledAt) * this.#perMs,
      );
      this.#refilledAt = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep((1 - this.#tokens) / this.#perMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
