// Tests parseRange/contentRange/unsatisfiedRange against a reference model of RFC 9110 §14.1-§14.4.

import assert from "node:assert/strict";
import fc from "fast-check";
import { contentRange, parseRange, type RangeResult, unsatisfiedRange } from "./range.ts";

// The reference model -----------------------------------------------------------------------------
//
// A deliberately plain reading of RFC 9110 for one `bytes` range: regular expressions for the
// grammar of §14.1.1, BigInt for every position so that any digit string is exact, and no attempt
// at speed. It is written from the RFC, not from range.ts; where range.ts makes a documented choice
// the RFC leaves open, the model makes the same one and says so below.
//
//   Range            = ranges-specifier                                  (§14.2)
//   ranges-specifier = range-unit "=" range-set                         (§14.1.1)
//   range-set        = 1#range-spec
//   range-spec       = int-range / suffix-range / other-range
//   int-range        = first-pos "-" [ last-pos ]
//   suffix-range     = "-" suffix-length
//   first-pos / last-pos / suffix-length = 1*DIGIT
//
// Documented choices of range.ts that the model mirrors (each one is allowed by §14.2, "A server
// MAY ignore the Range header field", so a 200 with the whole representation is always correct):
//
// - Any syntax error, an unknown unit, an int-range with last-pos < first-pos (§14.1.1 calls it
//   invalid) and an empty range-set → "full" (ignore the header), never a 400.
// - More than one range-spec → "full" rather than multipart/byteranges (§14.6).
// - A representation of 0 bytes → "full" for any Range, although §14.1.1 would make a non-zero
//   suffix-range satisfiable: a 206 of nothing helps nobody and `bytes=0-` must not 416.
// - The unit is matched case-insensitively (§14.1: "Range unit names are case-insensitive") and
//   list members may carry OWS and be empty (§5.6.1.2; the §14.1.2 example `bytes= 0-999, ...`).
//
// Whitespace is OWS = *( SP / HTAB ) (§5.6.3) and nothing else: NBSP (obs-text 0xA0, which can
// arrive on the wire), VT, FF and the other characters String.prototype.trim removes are not
// whitespace, and nothing may stand between the unit and "=" (`range-unit "=" range-set`).

/** What the model decides: the same three answers as RangeResult, with exact positions. */
type ModelRange =
  | { readonly kind: "full" }
  | { readonly kind: "unsatisfiable" }
  | { readonly kind: "partial"; readonly first: bigint; readonly last: bigint };

const MODEL_FULL: ModelRange = { kind: "full" };
const MODEL_UNSATISFIABLE: ModelRange = { kind: "unsatisfiable" };

/** Removes OWS at both ends. */
function strip(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** tchar (§5.6.2), the characters of a token such as a range-unit. */
const TOKEN = String.raw`[!#$%&'*+.^_\`|~0-9A-Za-z-]+`;
/** ranges-specifier = range-unit "=" range-set (§14.1.1). */
const RANGES_SPECIFIER = new RegExp(`^(${TOKEN})=([\\s\\S]*)$`);
const INT_RANGE = /^([0-9]+)-([0-9]*)$/;
const SUFFIX_RANGE = /^-([0-9]+)$/;

/** ASCII-only lower-casing, so that no Unicode case mapping can turn a stranger into "bytes". */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** The model: RFC 9110 §14.1.1, §14.1.2 and §14.2 for a `size`-byte representation. */
function modelRange(header: string | null, size: number): ModelRange {
  if (header === null) return MODEL_FULL;
  // A field value has no leading or trailing whitespace (§5.5): the field parser drops it.
  const specifier = RANGES_SPECIFIER.exec(strip(header));
  if (specifier === null) return MODEL_FULL; // not a ranges-specifier at all
  const [, unit = "", rangeSet = ""] = specifier;
  // §14.2: "An origin server MUST ignore a Range header field that contains a range unit it does
  // not understand." The only unit here is bytes.
  if (asciiLower(unit) !== "bytes") return MODEL_FULL;
  if (size === 0) return MODEL_FULL; // documented choice, see above
  // 1#range-spec with the §5.6.1.2 leniency: empty members and OWS around members are fine.
  const specs = rangeSet.split(",").map(strip).filter((m) => m !== "");
  if (specs.length !== 1) return MODEL_FULL; // none is invalid; several is a documented choice
  const spec = specs[0]!;
  const total = BigInt(size);

  const suffix = SUFFIX_RANGE.exec(spec);
  if (suffix !== null) {
    const length = BigInt(suffix[1]!);
    // §14.1.1: satisfiable only with "a non-zero suffix-length".
    if (length === 0n) return MODEL_UNSATISFIABLE;
    // §14.1.2: "If the selected representation is shorter than the specified suffix-length, the
    // entire representation is used."
    return { kind: "partial", first: length >= total ? 0n : total - length, last: total - 1n };
  }
  const int = INT_RANGE.exec(spec);
  if (int === null) return MODEL_FULL; // other-range, or not a range-spec at all
  const first = BigInt(int[1]!);
  const last = int[2] === "" ? undefined : BigInt(int[2]!);
  // §14.1.1: "A client MUST NOT generate ... last-pos ... less than first-pos": invalid → ignored.
  if (last !== undefined && last < first) return MODEL_FULL;
  // §14.1.1: satisfiable only with "a first-pos that is less than the current length".
  if (first >= total) return MODEL_UNSATISFIABLE;
  // §14.1.2: a last-pos at or past the end, or none, means the last byte.
  const end = last === undefined || last >= total ? total - 1n : last;
  return { kind: "partial", first, last: end };
}

/** The model's answer in range.ts's shape (positions are < size ≤ 2^53-1, so exact Numbers). */
function asResult(model: ModelRange): RangeResult {
  if (model.kind !== "partial") return { kind: model.kind };
  return { kind: "partial", start: Number(model.first), end: Number(model.last) };
}

/** A model byte server: status, Content-Range (§14.4) and body, byte by byte from `body`. */
function modelServe(header: string | null, body: Uint8Array) {
  const size = body.length;
  const decision = modelRange(header, size);
  if (decision.kind === "full") return { status: 200, contentRange: null, body: [...body] };
  if (decision.kind === "unsatisfiable") {
    // §14.4: unsatisfied-range = "*/" complete-length.
    return { status: 416, contentRange: `bytes */${size}`, body: [] as number[] };
  }
  const selected: number[] = [];
  body.forEach((byte, i) => {
    if (decision.first <= BigInt(i) && BigInt(i) <= decision.last) selected.push(byte);
  });
  // §14.4: range-resp = incl-range "/" complete-length, incl-range = first-pos "-" last-pos.
  const contentRange = `bytes ${decision.first}-${decision.last}/${size}`;
  return { status: 206, contentRange, body: selected };
}

/** The gateway's side, as src/proxy/cache_stages.ts uses the three functions. */
function implementationServe(header: string | null, body: Uint8Array) {
  const size = body.length;
  const range = parseRange(header, size);
  if (range.kind === "full") return { status: 200, contentRange: null, body: [...body] };
  if (range.kind === "unsatisfiable") {
    return { status: 416, contentRange: unsatisfiedRange(size), body: [] as number[] };
  }
  const slice = body.subarray(range.start, range.end + 1);
  return {
    status: 206,
    contentRange: contentRange(range.start, range.end, size),
    body: [...slice],
  };
}

// Generators --------------------------------------------------------------------------------------

const MAX = Number.MAX_SAFE_INTEGER;

/** Representation sizes: empty, tiny, ordinary, near 2^53-1, and anywhere up to it. */
const sizeArb = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 20 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 1_000_000 }), weight: 2 },
  { arbitrary: fc.integer({ min: MAX - 20, max: MAX }), weight: 2 },
  { arbitrary: fc.integer({ min: 0, max: MAX }), weight: 2 },
);

/** OWS, the whitespace RFC 9110 allows (§5.6.3). */
const owsArb = fc.constantFrom("", "", "", " ", "\t", "  ", " \t ");
/** Whitespace that is not OWS but that a Headers value can carry (NBSP is obs-text on the wire). */
const oddWsArb = fc.constantFrom("\xa0", "\v", "\f", " \xa0");
const anyWsArb = fc.oneof({ arbitrary: owsArb, weight: 12 }, { arbitrary: oddWsArb, weight: 1 });

const leadingZeros = fc.oneof(
  { arbitrary: fc.constant(""), weight: 5 },
  { arbitrary: fc.constantFrom("0", "00", "0000000000000000000000"), weight: 1 },
);

/** Long DIGIT strings, built once: fc.stringMatching is costly to construct inside a chain. */
const longDigitsArb = fc.stringMatching(/^[0-9]{1,40}$/);

/** A position as DIGIT text: around the size, around 2^53, huge, with or without leading zeros. */
function digitsArb(size: number): fc.Arbitrary<string> {
  const s = BigInt(size);
  const values = fc.oneof(
    fc.constantFrom(
      0n,
      1n,
      s - 1n,
      s,
      s + 1n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 53n + 1n,
      2n ** 64n,
    ),
    fc.bigInt({ min: 0n, max: s + 2n }),
    fc.bigInt({ min: 0n, max: 10n ** 30n }),
  ).map((n) => (n < 0n ? 0n : n));
  return fc.oneof(
    { arbitrary: fc.tuple(leadingZeros, values).map(([z, n]) => `${z}${n}`), weight: 6 },
    { arbitrary: longDigitsArb, weight: 1 },
  );
}

/** Range-specs that are never valid, whatever the size. */
const badSpecArb = fc.oneof(
  fc.constantFrom(
    "-",
    "--1",
    "1--",
    "-1-",
    "a-b",
    "1-2-3",
    "1 - 2",
    "+1-2",
    "1.5-2",
    "0x1-2",
    "1e3-",
    "-1e3",
    "١-٢", // ARABIC-INDIC digits are not DIGIT
    "*",
    "0-0;x",
  ),
  fc.string({
    unit: fc.constantFrom("0", "1", "9", "-", " ", "\t", "a", "+", "=", "\xa0"),
    maxLength: 8,
  }),
);

/** One range-spec: int-range, open int-range, suffix-range, and near misses. */
function specArb(size: number): fc.Arbitrary<string> {
  const digits = digitsArb(size);
  return fc.oneof(
    {
      // Half the time in order, so that last-pos < first-pos (invalid) is not the usual case.
      arbitrary: fc.tuple(digits, digits, fc.boolean()).map(([a, b, sort]) =>
        sort && BigInt(b) < BigInt(a) ? `${b}-${a}` : `${a}-${b}`
      ),
      weight: 4,
    },
    { arbitrary: digits.map((a) => `${a}-`), weight: 2 },
    { arbitrary: digits.map((n) => `-${n}`), weight: 2 },
    { arbitrary: badSpecArb, weight: 1 },
  );
}

/** Mostly "bytes" in some case, sometimes another token or not a token. */
const unitArb = fc.oneof(
  { arbitrary: fc.constantFrom("bytes", "BYTES", "Bytes", "bYtEs"), weight: 8 },
  {
    arbitrary: fc.constantFrom("byte", "bytes2", "items", "none", "", "b ytes", "bytes;"),
    weight: 1,
  },
);

/** Separators between list members: commas with OWS, empty members, and odd whitespace. */
const separatorArb = fc.tuple(anyWsArb, fc.constantFrom(",", ",", ",,", ", ,"), anyWsArb)
  .map(([a, comma, b]) => `${a}${comma}${b}`);

/** A Range header built from the grammar, with every part sometimes bent. */
function structuredHeaderArb(size: number): fc.Arbitrary<string> {
  return fc.record({
    lead: anyWsArb,
    unit: unitArb,
    beforeEquals: fc.oneof(
      { arbitrary: fc.constant(""), weight: 12 },
      { arbitrary: anyWsArb, weight: 1 },
    ),
    equals: fc.oneof(
      { arbitrary: fc.constant("="), weight: 12 },
      { arbitrary: fc.constantFrom("==", ":", " ", ""), weight: 1 },
    ),
    afterEquals: anyWsArb,
    emptyBefore: fc.constantFrom("", "", "", ",", ", ,"),
    specs: fc.oneof(
      { arbitrary: specArb(size).map((spec) => [spec]), weight: 6 },
      { arbitrary: fc.array(specArb(size), { maxLength: 4 }), weight: 1 },
    ),
    separators: fc.array(separatorArb, { minLength: 4, maxLength: 4 }),
    emptyAfter: fc.constantFrom("", "", "", ",", " ,", ",\t,"),
    trail: anyWsArb,
  }).map((p) =>
    p.lead + p.unit + p.beforeEquals + p.equals + p.afterEquals + p.emptyBefore +
    p.specs.map((spec, i) => (i === 0 ? "" : p.separators[i]!) + spec).join("") +
    p.emptyAfter + p.trail
  );
}

/** Text that only looks like a Range header, and text that does not at all. */
const rangeishGarbage = fc.string({
  unit: fc.constantFrom("bytes", "BYTES", "=", "-", ",", " ", "\t", "0", "1", "9", "a", "\xa0"),
  maxLength: 12,
});

function headerArb(size: number): fc.Arbitrary<string | null> {
  return fc.oneof(
    { arbitrary: structuredHeaderArb(size), weight: 8 },
    { arbitrary: rangeishGarbage, weight: 1 },
    { arbitrary: rangeishGarbage.map((s) => `bytes=${s}`), weight: 1 },
    { arbitrary: fc.string(), weight: 1 },
    { arbitrary: fc.constant(null), weight: 1 },
  );
}

const caseArb = sizeArb.chain((size) => fc.tuple(fc.constant(size), headerArb(size)));

const NUM_RUNS = 2000;

/** A header as readable JSON, NBSP and other non-ASCII escaped. */
function show(header: string | null): string {
  return JSON.stringify(header).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// Properties --------------------------------------------------------------------------------------

Deno.test("the model reproduces the RFC 9110 §14.1.2 examples (10000 bytes)", () => {
  const cases: [string, RangeResult][] = [
    ["bytes=0-499", { kind: "partial", start: 0, end: 499 }],
    ["bytes=500-999", { kind: "partial", start: 500, end: 999 }],
    ["bytes=-500", { kind: "partial", start: 9500, end: 9999 }],
    ["bytes=9500-", { kind: "partial", start: 9500, end: 9999 }],
    ["bytes=0-0,-1", { kind: "full" }], // several ranges: documented choice
    ["bytes= 0-999, 4500-5499, -1000", { kind: "full" }],
    ["bytes=10000-", { kind: "unsatisfiable" }],
    ["bytes=-0", { kind: "unsatisfiable" }],
  ];
  for (const [header, expected] of cases) {
    assert.deepEqual(asResult(modelRange(header, 10_000)), expected, header);
  }
});

Deno.test("parseRange() agrees with the model for any size and Range header (property)", () => {
  fc.assert(
    fc.property(caseArb, ([size, header]) => {
      assert.deepEqual(
        parseRange(header, size),
        asResult(modelRange(header, size)),
        `${show(header)} of ${size}`,
      );
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("a body sliced by parseRange() is what the model byte server sends (property)", () => {
  const served = fc.uint8Array({ maxLength: 64 }).chain((body) =>
    fc.tuple(fc.constant(body), headerArb(body.length))
  );
  fc.assert(
    fc.property(served, ([body, header]) => {
      const actual = implementationServe(header, body);
      assert.deepEqual(actual, modelServe(header, body), show(header));
      // §14.4/§8.6: a 206's Content-Length is the length of its one part, never past the body.
      if (actual.status === 206) {
        assert.ok(actual.body.length >= 1 && actual.body.length <= body.length);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("contentRange()/unsatisfiedRange() match the §14.4 grammar for any range (property)", () => {
  const CONTENT_RANGE = /^bytes ([0-9]+)-([0-9]+)\/([0-9]+)$/;
  const UNSATISFIED = /^bytes \*\/([0-9]+)$/;
  const rangeInSize = fc.integer({ min: 1, max: MAX }).chain((size) =>
    fc.tuple(
      fc.constant(size),
      fc.integer({ min: 0, max: size - 1 }),
      fc.integer({ min: 0, max: size - 1 }),
    )
  );
  fc.assert(
    fc.property(rangeInSize, ([size, a, b]) => {
      const [start, end] = a <= b ? [a, b] : [b, a];
      const header = CONTENT_RANGE.exec(contentRange(start, end, size));
      assert.ok(header !== null);
      assert.deepEqual(header.slice(1).map(BigInt), [BigInt(start), BigInt(end), BigInt(size)]);
      assert.equal(UNSATISFIED.exec(unsatisfiedRange(size))?.[1], String(size));
    }),
    { numRuns: NUM_RUNS },
  );
});

// Whitespace other than OWS, and before "=" ------------------------------------------------------
//
// range.ts once trimmed with String.prototype.trim, so it honoured both headers below with a 206;
// §14.1.1 and §5.6.3 make them syntax errors, and range.ts promises "any syntax error → full".

Deno.test("parseRange() treats only SP/HTAB as whitespace and allows none before '='", () => {
  assert.deepEqual(parseRange("bytes =0-1", 10), { kind: "full" });
  assert.deepEqual(parseRange("bytes\t=0-1", 10), { kind: "full" });
  assert.deepEqual(parseRange("bytes=\xa00-1", 10), { kind: "full" });
  assert.deepEqual(parseRange("bytes=0-1\v", 10), { kind: "full" });
  assert.deepEqual(parseRange("\fbytes=0-1", 10), { kind: "full" });
  assert.deepEqual(parseRange(" \tbytes=\t0-1 ,\t", 10), { kind: "partial", start: 0, end: 1 });
});
