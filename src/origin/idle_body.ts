// Owns watchBody: an S3 body stream that fails when S3 goes quiet between chunks (idle_timeout) and says how it ended.

import type { DeadlineSweeper } from "./deadlines.ts";

/** How a watched body ended: read to the end, cancelled by its consumer, or broken. */
export type BodyEnd = "complete" | "cancelled" | "failed";

export interface WatchBodyOptions {
  deadlines: DeadlineSweeper;
  /** The sweeper handle of the upstream request (its controller aborts the body). */
  handle: object;
  idleMs: number;
  /** The abort reason when S3 sent nothing for `idleMs` while a chunk was awaited. */
  idleReason: unknown;
  /** Called once; `error` is the reason the body broke. */
  onEnd: (end: BodyEnd, error?: unknown) => void;
}

/**
 * Passes the body on chunk by chunk. While a chunk is awaited from S3, the request's sweeper
 * entry carries a deadline `idleMs` ahead; past it the sweeper aborts the upstream request, the
 * read fails and so does this stream: the client's connection is closed mid-body (the status line
 * is already out, so an error status is impossible) and the cache, which stores only exact
 * Content-Length bodies, keeps nothing. While the consumer is slow (backpressure) no chunk is
 * awaited and no deadline runs, so a slow client is never mistaken for a stalled S3.
 *
 * The cost: chunks cross JavaScript instead of being copied by the runtime from the upstream
 * socket to the client's (about half the loopback throughput of a bare pass-through), which is
 * the price of never hanging on a stalled S3.
 */
export function watchBody(
  body: ReadableStream<Uint8Array>,
  options: WatchBodyOptions,
): ReadableStream<Uint8Array> {
  const { deadlines, handle, idleMs, idleReason } = options;
  const reader = body.getReader();
  let ended = false;
  const end = (how: BodyEnd, error?: unknown) => {
    if (ended) return;
    ended = true;
    deadlines.release(handle);
    options.onEnd(how, error);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      deadlines.arm(handle, idleMs, idleReason);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        end("failed", error);
        controller.error(error);
        return;
      }
      if (result.done) {
        end("complete");
        controller.close();
        return;
      }
      deadlines.disarm(handle);
      controller.enqueue(result.value);
    },
    cancel(reason) {
      end("cancelled");
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
