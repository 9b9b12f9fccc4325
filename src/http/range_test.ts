// Tests Range parsing against the RFC 9110 §14 examples and rules, and the Content-Range values.

import assert from "node:assert/strict";
import fc from "fast-check";
import { contentRange, parseRange, type RangeResult, unsatisfiedRange } from "./range.ts";

const FULL: RangeResult = { kind: "full" };
const UNSATISFIABLE: RangeResult = { kind: "unsatisfiable" };
const partial = (start: number, end: number): RangeResult => ({ kind: "partial", start, end });

Deno.test("parseRange() answers the RFC 9110 §14.1.2 examples (10000 bytes)", () => {
  const cases: [string, RangeResult][] = [
    ["bytes=0-499", partial(0, 499)], // the first 500 bytes
    ["bytes=500-999", partial(500, 999)], // the second 500 bytes
    ["bytes=-500", partial(9500, 9999)], // the final 500 bytes
    ["bytes=9500-", partial(9500, 9999)], // the final 500 bytes
    // Several ranges: §14.2 lets the server ignore Range; we send the whole representation.
    ["bytes=0-0,-1", FULL],
    ["bytes=0-0, -1", FULL],
    ["bytes= 500-600,601-999", FULL],
    ["bytes=500-700,601-999", FULL],
  ];
  for (const [header, expected] of cases) {
    assert.deepEqual(parseRange(header, 10_000), expected, header);
  }
});

Deno.test("parseRange() clamps, suffixes and rejects per RFC 9110 §14.1.1 and §14.2", () => {
  const cases: [string | null, number, RangeResult][] = [
    [null, 100, FULL],
    ["bytes=0-", 100, partial(0, 99)],
    ["bytes=0-0", 100, partial(0, 0)],
    ["bytes=99-99", 100, partial(99, 99)],
    ["bytes=10-1000", 100, partial(10, 99)], // last-pos clamped to size-1
    ["bytes=10-99999999999999999999999", 100, partial(10, 99)],
    ["bytes=-1", 100, partial(99, 99)],
    ["bytes=-100", 100, partial(0, 99)],
    ["bytes=-1000", 100, partial(0, 99)], // longer than the representation: all of it
    ["bytes=-99999999999999999999999", 100, partial(0, 99)],
    ["bytes=007-010", 100, partial(7, 10)],
    ["BYTES=1-2", 100, partial(1, 2)], // the range unit is case-insensitive
    ["Bytes=1-2", 100, partial(1, 2)],
    ["bytes=1-2,", 100, partial(1, 2)], // empty list members are ignored
    ["bytes=, 1-2 ,", 100, partial(1, 2)],
    ["bytes=100-", 100, UNSATISFIABLE], // first-pos ≥ size
    ["bytes=100-200", 100, UNSATISFIABLE],
    ["bytes=99999999999999999999999-", 100, UNSATISFIABLE],
    ["bytes=-0", 100, UNSATISFIABLE], // a suffix range must be non-zero
    ["bytes=-000", 100, UNSATISFIABLE],
    // Invalid or unknown → ignore the header.
    ["bytes=5-4", 100, FULL], // last-pos < first-pos is invalid, not unsatisfiable
    ["bytes=10000000000000000001-10000000000000000000", 100, FULL], // compared exactly
    ["bytes=200-100", 100, FULL],
    ["bytes=-", 100, FULL],
    ["bytes=", 100, FULL],
    ["bytes", 100, FULL],
    ["bytes=a-b", 100, FULL],
    ["bytes=1-2-3", 100, FULL],
    ["bytes=1 - 2", 100, FULL],
    // OWS is SP / HTAB only (§5.6.3), and range-unit "=" has none before the "=" (§14.1.1).
    [" \tbytes=\t1-2 \t", 100, partial(1, 2)],
    ["bytes =1-2", 100, FULL],
    ["bytes\t=1-2", 100, FULL],
    ["bytes=\xa01-2", 100, FULL],
    ["bytes=1-2\v", 100, FULL],
    ["\fbytes=1-2", 100, FULL],
    ["bytes=1-2,\xa0", 100, FULL],
    ["bytes=+1-2", 100, FULL],
    ["bytes=1.5-2", 100, FULL],
    ["bytes=0x1-2", 100, FULL],
    ["bytes=١-٢", 100, FULL], // non-ASCII digits
    ["items=0-1", 100, FULL], // unknown unit
    ["0-1", 100, FULL],
    ["", 100, FULL],
    // Several ranges are ignored, even when one of them could not be satisfied.
    ["bytes=0-1,200-300", 100, FULL],
    ["bytes=200-300,400-", 100, FULL],
    // Nothing to range over in an empty representation (as std file_server).
    ["bytes=0-0", 0, FULL],
    ["bytes=-1", 0, FULL],
    ["bytes=5-", 0, FULL],
  ];
  for (const [header, size, expected] of cases) {
    assert.deepEqual(parseRange(header, size), expected, `${header} of ${size}`);
  }
});

Deno.test("contentRange()/unsatisfiedRange() write the RFC 9110 §14.4 forms", () => {
  assert.equal(contentRange(42, 1233, 1234), "bytes 42-1233/1234");
  assert.equal(contentRange(0, 0, 1), "bytes 0-0/1");
  assert.equal(unsatisfiedRange(1234), "bytes */1234");
});

/** Pieces that make random text look like Range headers. */
const rangeish = fc.string({
  unit: fc.constantFrom("bytes", "BYTES", "=", "-", ",", " ", "0", "1", "9", "5", "a", "\t"),
});

Deno.test("parseRange() never throws; a partial range lies inside the size (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), rangeish, rangeish.map((s) => `bytes=${s}`)),
      fc.oneof(fc.nat(200), fc.nat()),
      (header, size) => {
        const result = parseRange(header, size);
        if (result.kind === "partial") {
          assert.ok(Number.isSafeInteger(result.start) && Number.isSafeInteger(result.end));
          assert.ok(0 <= result.start && result.start <= result.end && result.end < size);
        }
        if (size === 0) assert.equal(result.kind, "full");
      },
    ),
    { numRuns: 3000 },
  );
});

/** A size and a range inside it. */
const sizedRange = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).chain((size) =>
  fc.tuple(
    fc.constant(size),
    fc.integer({ min: 0, max: size - 1 }),
    fc.integer({ min: 0, max: size - 1 }),
  )
    .map(([s, a, b]) => ({ size: s, start: Math.min(a, b), end: Math.max(a, b) }))
);

Deno.test("a range built from any start ≤ end < size round-trips, in every form (property)", () => {
  fc.assert(
    fc.property(sizedRange, ({ size, start, end }) => {
      assert.deepEqual(parseRange(`bytes=${start}-${end}`, size), partial(start, end));
      assert.deepEqual(parseRange(`bytes=${start}-`, size), partial(start, size - 1));
      assert.deepEqual(parseRange(`bytes=-${size - start}`, size), partial(start, size - 1));
      assert.deepEqual(parseRange(`bytes=${start}-${end + size}`, size), partial(start, size - 1));
      assert.equal(parseRange(`bytes=${size + start}-`, size).kind, "unsatisfiable");
      assert.equal(
        contentRange(start, end, size),
        `bytes ${start}-${end}/${size}`,
      );
    }),
    { numRuns: 2000 },
  );
});
