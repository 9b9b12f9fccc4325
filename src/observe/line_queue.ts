// Owns LineQueue: the lines one writer holds until its next write, kept as one contiguous buffer (no join or copy at write time).

import { ByteBuffer } from "./byte_buffer.ts";

/** Lines handed to a writer: text, or lines already encoded (the JSON request lines). */
export type LineChunk = string | Uint8Array;

/**
 * Whole lines waiting for one writer. Lines are appended to a buffer as they come; a write takes
 * the whole buffer and the queue goes on in a second one, so the bytes are copied once, when
 * queued, and never joined or sliced afterwards. The writer must be done with what `take()`
 * returned before it calls `take()` again (one write at a time, as the log writers do).
 */
export class LineQueue {
  #pending: ByteBuffer;
  #spare: ByteBuffer;
  readonly #maxBytes: number;

  /** `maxBytes`: lines beyond it are refused rather than grow memory without bound. */
  constructor(maxBytes: number, capacity = 64 * 1024) {
    this.#maxBytes = maxBytes;
    this.#pending = new ByteBuffer(capacity);
    this.#spare = new ByteBuffer(capacity);
  }

  /** Bytes queued. */
  get length(): number {
    return this.#pending.length;
  }

  /**
   * Queues whole lines (the chunk ends in "\n"). False, and nothing queued, when they would
   * take the queue past its bound (the caller counts them as dropped).
   */
  push(chunk: LineChunk): boolean {
    // A string's length is its UTF-8 length for the ASCII that logs are made of: close enough
    // for a memory bound.
    if (this.#pending.length + chunk.length > this.#maxBytes) return false;
    if (typeof chunk === "string") this.#pending.putText(chunk);
    else this.#pending.putBytes(chunk);
    return true;
  }

  /** Everything queued, for one write; valid until the next take() or clear(). */
  take(): Uint8Array {
    const full = this.#pending;
    this.#pending = this.#spare;
    this.#pending.length = 0;
    this.#spare = full;
    return full.view();
  }

  /** Forgets what is queued (a writer that can no longer write). */
  clear(): void {
    this.#pending.length = 0;
  }
}
