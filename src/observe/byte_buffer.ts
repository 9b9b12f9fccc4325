// Owns ByteBuffer: a growable byte buffer that lines are written into as bytes (JSON numbers and strings included).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A growable byte buffer that lines are appended to. */
export class ByteBuffer {
  bytes: Uint8Array<ArrayBuffer>;
  length = 0;

  constructor(capacity = 64 * 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  /** The bytes written so far (a view: copy or write them out before appending more). */
  view(): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(0, this.length);
  }

  ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Appends `text` as UTF-8. */
  putText(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.ensure(text.length * 3);
    this.length += encoder.encodeInto(text, this.bytes.subarray(this.length)).written;
  }

  /** Appends a whole chunk of bytes (lines already formatted): one copy. */
  putBytes(source: Uint8Array): void {
    this.ensure(source.length);
    this.bytes.set(source, this.length);
    this.length += source.length;
  }

  /** Appends the first `length` bytes of `source` (all of it by default). */
  put(source: Uint8Array, length = source.length): void {
    this.ensure(length);
    const bytes = this.bytes;
    let at = this.length;
    // A loop, not set(): the pieces are a few dozen bytes, where set()'s call costs more.
    for (let i = 0; i < length; i++) bytes[at++] = source[i]!;
    this.length = at;
  }

  /** Appends a string known to be ASCII (numbers, timestamps). */
  putAscii(text: string): void {
    this.ensure(text.length);
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
    this.length = at;
  }

  /** Appends a non-negative integer's digits (any other number as String() writes it). */
  putNumber(value: number): void {
    if (!Number.isFinite(value)) {
      this.putAscii("null"); // what JSON.stringify writes for NaN and the infinities
      return;
    }
    if (value < 0 || value > Number.MAX_SAFE_INTEGER || !Number.isInteger(value)) {
      this.putAscii(String(value));
      return;
    }
    this.ensure(16);
    const bytes = this.bytes;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.length + digits;
    this.length = at;
    let rest = value;
    do {
      bytes[--at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  /**
   * Appends `value` rounded to thousandths as String() writes that rounded number: the digits,
   * then up to three decimals without trailing zeros ("0.011", "1.5", "2"). Durations in ms are
   * written this way twice per request (access and audit line), and String() of a fraction is
   * the costliest conversion of a line. Below 10^15 thousandths (15 significant digits, which a
   * double always tells apart, so String() prints exactly them); anything else goes to String().
   */
  putThousandths(value: number): void {
    const scaled = Math.round(value * 1000);
    if (!(scaled >= 0 && scaled < 1e15)) {
      this.putNumber(scaled / 1000);
      return;
    }
    const fraction = scaled % 1000;
    this.putNumber((scaled - fraction) / 1000);
    if (fraction === 0) return;
    this.ensure(4);
    const bytes = this.bytes;
    let at = this.length;
    bytes[at++] = 0x2e; // "."
    bytes[at++] = 0x30 + Math.floor(fraction / 100);
    const rest = fraction % 100;
    if (rest !== 0) {
      bytes[at++] = 0x30 + Math.floor(rest / 10);
      if (rest % 10 !== 0) bytes[at++] = 0x30 + (rest % 10);
    }
    this.length = at;
  }

  /** Appends what `other` holds (no view of it is made). */
  putBuffer(other: ByteBuffer): void {
    this.put(other.bytes, other.length);
  }

  /**
   * Appends bytes[start, end) of UTF-8 text as a JSON string: what JSON.stringify writes for it.
   * Text with nothing to escape (almost all of it) is copied as it is.
   */
  putJsonString(source: Uint8Array, start: number, end: number): void {
    this.ensure(end - start + 2);
    const bytes = this.bytes;
    let at = this.length;
    bytes[at++] = 0x22;
    // Copied and checked in one pass (no subarray: a view object per field costs more than the copy).
    for (let i = start; i < end; i++) {
      const byte = source[i]!;
      if (byte < 0x20 || byte === 0x22 || byte === 0x5c) {
        this.put(encoder.encode(JSON.stringify(decoder.decode(source.subarray(start, end)))));
        return;
      }
      bytes[at++] = byte;
    }
    bytes[at++] = 0x22;
    this.length = at;
  }
}
