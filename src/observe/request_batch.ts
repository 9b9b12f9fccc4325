// Owns the binary layout of a batch of finished requests: written field by field on the request thread without allocating, moved to the log thread without copying, read back there.

import { MAX_USER_AGENT } from "./audit_log.ts";
import type { RequestRecord } from "./request_lines.ts";

/** Numbers per request: ended at (epoch ms), status, bytes (-1: null), duration (ms), interrupted (0/1). */
export const NUMBERS = 5;
/**
 * Strings per request, in this order: request id, client ip, method, path, bucket, cache, code,
 * user, key, user agent, referer.
 */
export const STRINGS = 11;
/** A string's length slot when the field is undefined, or null. */
export const UNDEFINED = -1;
export const NULL = -2;
/** Batches whose buffers are kept for reuse. */
const MAX_SPARE = 4;
const DECODER = new TextDecoder();

/**
 * A batch as it crosses to the log thread: three buffers that are transferred, not cloned.
 * `text` holds every string of the batch back to back in UTF-8, `lengths` their byte lengths
 * (or UNDEFINED / NULL), so the JSON lines are written from the bytes without decoding them.
 */
export interface RequestBatch {
  records: number;
  numbers: Float64Array<ArrayBuffer>;
  lengths: Int32Array<ArrayBuffer>;
  text: Uint8Array<ArrayBuffer>;
  /** Bytes of `text` in use. */
  textBytes: number;
}

/** The buffers of a batch, for postMessage's transfer list. */
export function transferables(batch: RequestBatch): ArrayBuffer[] {
  return [batch.numbers.buffer, batch.lengths.buffer, batch.text.buffer];
}

/**
 * Appends requests to a batch. Strings are copied byte by byte when ASCII (almost always: ids,
 * addresses, methods, cache states) and through TextEncoder.encodeInto otherwise, so appending
 * allocates nothing: the work per request is a few dozen stores.
 */
export class RequestBatchWriter {
  #records = 0;
  #numbers: Float64Array<ArrayBuffer>;
  #lengths: Int32Array<ArrayBuffer>;
  #text: Uint8Array<ArrayBuffer>;
  #textBytes = 0;
  readonly #encoder = new TextEncoder();
  /** Buffers of batches already written out, reused: allocating them anew per batch made V8 collect garbage more often. */
  #spare: RequestBatch[] = [];

  constructor(records = 256) {
    this.#numbers = new Float64Array(records * NUMBERS);
    this.#lengths = new Int32Array(records * STRINGS);
    this.#text = new Uint8Array(records * 160);
  }

  get records(): number {
    return this.#records;
  }

  append(endedAtMs: number, r: RequestRecord): void {
    const index = this.#records;
    if ((index + 1) * NUMBERS > this.#numbers.length) this.#growRecords();
    const numbers = this.#numbers;
    let at = index * NUMBERS;
    numbers[at++] = endedAtMs;
    numbers[at++] = r.status;
    numbers[at++] = r.bytes ?? -1;
    numbers[at++] = r.durationMs;
    numbers[at] = r.interrupted ? 1 : 0;
    const slot = index * STRINGS;
    this.#string(slot, r.requestId);
    this.#string(slot + 1, r.clientIp);
    this.#string(slot + 2, r.method);
    this.#string(slot + 3, r.path);
    this.#string(slot + 4, r.bucket);
    this.#string(slot + 5, r.cache);
    this.#string(slot + 6, r.code);
    this.#string(slot + 7, r.user);
    this.#string(slot + 8, r.key);
    // The audit line keeps 1024 characters of a User-Agent: a 64 KiB header is not copied whole.
    const userAgent = r.userAgent;
    this.#string(
      slot + 9,
      userAgent !== null && userAgent.length > MAX_USER_AGENT
        ? userAgent.slice(0, MAX_USER_AGENT)
        : userAgent,
    );
    this.#string(slot + 10, r.referer);
    this.#records = index + 1;
  }

  /** The batch so far, handed over whole; the writer starts a new one of the same capacity. */
  take(): RequestBatch {
    const batch: RequestBatch = {
      records: this.#records,
      numbers: this.#numbers,
      lengths: this.#lengths,
      text: this.#text,
      textBytes: this.#textBytes,
    };
    const spare = this.#spare.pop();
    if (spare !== undefined) {
      this.#numbers = spare.numbers;
      this.#lengths = spare.lengths;
      this.#text = spare.text;
    } else {
      this.#numbers = new Float64Array(this.#numbers.length);
      this.#lengths = new Int32Array(this.#lengths.length);
      this.#text = new Uint8Array(this.#text.length);
    }
    this.#records = 0;
    this.#textBytes = 0;
    return batch;
  }

  /** Gives back the buffers of a batch that was written out (and handed back by the log thread). */
  recycle(batch: RequestBatch): void {
    // Buffers smaller than the current ones (the batches grew since) are left to the GC.
    if (
      this.#spare.length < MAX_SPARE && batch.numbers.length >= this.#numbers.length &&
      batch.text.length >= this.#text.length && batch.numbers.buffer.byteLength > 0
    ) {
      this.#spare.push(batch);
    }
  }

  #string(slot: number, value: string | undefined | null): void {
    if (value === undefined) {
      this.#lengths[slot] = UNDEFINED;
      return;
    }
    if (value === null) {
      this.#lengths[slot] = NULL;
      return;
    }
    const length = value.length;
    const start = this.#textBytes;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (start + length * 3 > this.#text.length) this.#growText(start + length * 3);
    const text = this.#text;
    let at = start;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) {
        at = start + this.#encoder.encodeInto(value, text.subarray(start)).written;
        break;
      }
      text[at++] = code;
    }
    this.#lengths[slot] = at - start;
    this.#textBytes = at;
  }

  #growRecords(): void {
    const numbers = new Float64Array(this.#numbers.length * 2);
    numbers.set(this.#numbers);
    this.#numbers = numbers;
    const lengths = new Int32Array(this.#lengths.length * 2);
    lengths.set(this.#lengths);
    this.#lengths = lengths;
  }

  #growText(needed: number): void {
    const text = new Uint8Array(Math.max(needed, this.#text.length * 2));
    text.set(this.#text.subarray(0, this.#textBytes));
    this.#text = text;
  }
}

/** Reads a batch back as RequestRecords (with the time each ended), in order. */
export function* readBatch(
  batch: RequestBatch,
): Generator<{ endedAtMs: number; record: RequestRecord }> {
  const { numbers, lengths, text } = batch;
  let position = 0;
  const next = (slot: number): string | undefined | null => {
    const length = lengths[slot]!;
    if (length === UNDEFINED) return undefined;
    if (length === NULL) return null;
    const value = DECODER.decode(text.subarray(position, position + length));
    position += length;
    return value;
  };
  for (let index = 0; index < batch.records; index++) {
    const at = index * NUMBERS;
    const slot = index * STRINGS;
    // Strings are read in slot order: each one starts where the one before ended.
    const requestId = next(slot) as string;
    const clientIp = next(slot + 1) as string;
    const method = next(slot + 2) as string;
    const path = next(slot + 3) as string;
    const bucket = next(slot + 4) as string | undefined;
    const cache = next(slot + 5) as string | undefined;
    const code = next(slot + 6) as string | undefined;
    const user = next(slot + 7) as string | undefined;
    const key = next(slot + 8) as string | undefined;
    const userAgent = next(slot + 9) as string | null;
    const referer = next(slot + 10) as string | null;
    const bytes = numbers[at + 2]!;
    const record: RequestRecord = {
      requestId,
      clientIp,
      method,
      path,
      bucket,
      status: numbers[at + 1]!,
      bytes: bytes === -1 ? null : bytes,
      cache,
      durationMs: numbers[at + 3]!,
      code,
      interrupted: numbers[at + 4] === 1,
      user,
      key,
      userAgent,
      referer,
    };
    yield { endedAtMs: numbers[at]!, record };
  }
}
