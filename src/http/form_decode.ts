// Owns formDecode: application/x-www-form-urlencoded decoding of one query name or value.

const UTF8_ENCODER = new TextEncoder();
/** WHATWG "UTF-8 decode without BOM": invalid bytes become U+FFFD, a leading BOM is kept. */
const UTF8_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * application/x-www-form-urlencoded decoding of one name or value, exactly as URLSearchParams
 * does it: "+" is a space, %XX with two hex digits is a byte, any other "%" stays, and the bytes
 * are read as UTF-8 with U+FFFD for invalid sequences.
 */
export function formDecode(text: string): string {
  const plus = text.indexOf("+") !== -1;
  if (text.indexOf("%") === -1) {
    // An unpaired surrogate cannot come from a parsed URL, but URLSearchParams would read it as
    // U+FFFD, so this does too.
    const whole = text.isWellFormed() ? text : text.toWellFormed();
    return plus ? whole.replaceAll("+", " ") : whole;
  }
  const bytes = UTF8_ENCODER.encode(plus ? text.replaceAll("+", " ") : text);
  const out = new Uint8Array(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 37 /* % */ && i + 2 < bytes.length) {
      const high = hexValue(bytes[i + 1]!);
      const low = hexValue(bytes[i + 2]!);
      if (high !== -1 && low !== -1) {
        out[length++] = high * 16 + low;
        i += 2;
        continue;
      }
    }
    out[length++] = byte;
  }
  return UTF8_DECODER.decode(out.subarray(0, length));
}

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 65 && byte <= 70) return byte - 55;
  if (byte >= 97 && byte <= 102) return byte - 87;
  return -1;
}
