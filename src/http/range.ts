// Owns byte Range requests (RFC 9110 §14): a Range header against a size, Content-Range values.

import { trimOws } from "./ows.ts";

/**
 * What to send for a Range header (RFC 9110 §14.2):
 * - `full`: ignore the header, 200 with the whole representation;
 * - `partial`: 206 with bytes `start`..`end` inclusive (0 ≤ start ≤ end < size);
 * - `unsatisfiable`: 416 with the Content-Range of {@link unsatisfiedRange}.
 */
export type RangeResult =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

const FULL: RangeResult = Object.freeze({ kind: "full" });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: "unsatisfiable" });

/** int-range = first-pos "-" [ last-pos ] and suffix-range = "-" suffix-length (§14.1.1). */
const RANGE_SPEC = /^(\d*)-(\d*)$/;

/** The range-unit `bytes`, ASCII case-insensitively (RFC 9110 §14.1), with nothing around it. */
const BYTES_UNIT = /^bytes$/i;

/** Compares two DIGIT strings as integers of any length, so huge positions are compared exactly. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A position as a number; beyond 2^53 it is Infinity, which is past the end of any representation
 * we can hold, so clamping and the ≥ size test stay right without exact big integers.
 */
function toPosition(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Infinity;
}

/**
 * Interprets a Range header for a representation of `size` bytes (RFC 9110 §14.1.2, §14.2):
 *
 * - `bytes=a-b` → a..min(b, size-1); `bytes=a-` → a..size-1; `bytes=-n` → the last n bytes (all
 *   of them when n ≥ size). The unit is case-insensitive (§14.1) and directly followed by "="
 *   (§14.1.1: `range-unit "=" range-set`); OWS around the range-spec and empty list members are
 *   tolerated (§5.6.1.2). Whitespace is only SP and HTAB (§5.6.3): NBSP, VT, FF and the like are
 *   syntax errors.
 * - A first-pos ≥ size, or `-0`, is unsatisfiable → 416 (§14.1.1: a suffix range must be non-zero).
 * - No header, an unknown unit, or any syntax error (including last-pos < first-pos, which
 *   §14.1.1 calls invalid) → `full`: §14.2 lets a server ignore a Range it cannot or will not use,
 *   and a 200 with everything is always a correct answer.
 * - More than one range → `full`. §14.2 allows ignoring Range; a multipart/byteranges body buys
 *   clients little, and picking one range of several would answer a request nobody made.
 * - `size` 0 → `full` for any Range: there are no bytes to select, and a 416 for an empty object
 *   would break clients that always send `bytes=0-` (std file_server does the same).
 *
 * The caller applies this to GET only (§14.2: Range is defined for GET) and HEAD answering as GET
 * would, after preconditions and If-Range. Never throws on any header text.
 */
export function parseRange(header: string | null, size: number): RangeResult {
  if (header === null || !(size > 0) || !Number.isSafeInteger(size)) return FULL;
  const value = trimOws(header);
  const eq = value.indexOf("=");
  if (eq === -1 || !BYTES_UNIT.test(value.slice(0, eq))) return FULL;
  const specs = value.slice(eq + 1).split(",").map(trimOws).filter((s) => s !== "");
  if (specs.length !== 1) return FULL;
  const match = RANGE_SPEC.exec(specs[0]!);
  if (!match) return FULL;
  const [, first = "", last = ""] = match;

  if (first === "") {
    if (last === "") return FULL; // "-" alone is neither form.
    const suffix = toPosition(last);
    if (suffix === 0) return UNSATISFIABLE;
    return { kind: "partial", start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (last !== "" && compareDigits(last, first) < 0) return FULL;
  const start = toPosition(first);
  if (start >= size) return UNSATISFIABLE;
  const end = last === "" ? size - 1 : Math.min(toPosition(last), size - 1);
  return { kind: "partial", start, end };
}

/** The Content-Range of a 206 (RFC 9110 §14.4): `bytes start-end/size`, end inclusive. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/**
 * The Content-Range of a 416 (RFC 9110 §14.4, §15.5.17): `bytes *` then `/` and the size, telling
 * the client the current length it ranged past.
 */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
