// Tests the RFC 9110 §13.2.2 precondition order, If-Range (§13.1.5) and the headers a 304 keeps.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  evaluatePreconditions,
  isRangeApplicable,
  NOT_MODIFIED_HEADERS,
  type PreconditionResult,
  type Validators,
} from "./conditional.ts";
import { formatHttpDate } from "./http_date.ts";

/** Last-Modified 1994-11-06T08:49:37.250Z: a fraction of a second that HTTP-dates cannot carry. */
const MODIFIED_MS = 784_111_777_250;
const AT = formatHttpDate(MODIFIED_MS); // "Sun, 06 Nov 1994 08:49:37 GMT"
const BEFORE = formatHttpDate(MODIFIED_MS - 1000);
const AFTER = formatHttpDate(MODIFIED_MS + 1000);

const STRONG: Validators = { etag: '"v1"', lastModifiedMs: MODIFIED_MS };
const WEAK: Validators = { etag: 'W/"v1"', lastModifiedMs: MODIFIED_MS };
const NONE: Validators = { etag: undefined, lastModifiedMs: undefined };

function evaluate(
  method: string,
  headers: Record<string, string>,
  representation: Validators = STRONG,
): PreconditionResult {
  return evaluatePreconditions({ method, headers: new Headers(headers) }, representation);
}

Deno.test("evaluatePreconditions(): If-Match uses strong comparison and `*` (§13.1.1)", () => {
  const cases: [Record<string, string>, Validators, PreconditionResult][] = [
    [{ "if-match": '"v1"' }, STRONG, "proceed"],
    [{ "if-match": '"v0", "v1"' }, STRONG, "proceed"],
    [{ "if-match": '"v0"' }, STRONG, "precondition_failed"],
    [{ "if-match": 'W/"v1"' }, STRONG, "precondition_failed"], // a weak tag never satisfies it
    [{ "if-match": '"v1"' }, WEAK, "precondition_failed"],
    [{ "if-match": 'W/"v1"' }, WEAK, "precondition_failed"],
    [{ "if-match": "*" }, STRONG, "proceed"],
    [{ "if-match": "*" }, WEAK, "proceed"],
    [{ "if-match": "*" }, NONE, "proceed"], // the representation exists
    [{ "if-match": '"v1"' }, NONE, "precondition_failed"],
    [{ "if-match": "v1" }, STRONG, "precondition_failed"], // unquoted: an empty list
    [{ "if-match": "" }, STRONG, "precondition_failed"],
    [{ "if-match": 'junk, "v1"' }, STRONG, "proceed"],
    [{ "if-match": '"v1"' }, { etag: "v1", lastModifiedMs: undefined }, "precondition_failed"],
  ];
  for (const [headers, representation, expected] of cases) {
    assert.equal(evaluate("GET", headers, representation), expected, JSON.stringify(headers));
  }
});

Deno.test("evaluatePreconditions(): If-Unmodified-Since, to the second (§13.1.4)", () => {
  const cases: [Record<string, string>, Validators, PreconditionResult][] = [
    [{ "if-unmodified-since": AT }, STRONG, "proceed"], // .250 s is not "after" :37
    [{ "if-unmodified-since": AFTER }, STRONG, "proceed"],
    [{ "if-unmodified-since": BEFORE }, STRONG, "precondition_failed"],
    [{ "if-unmodified-since": "Sunday, 06-Nov-94 08:49:36 GMT" }, STRONG, "precondition_failed"],
    [{ "if-unmodified-since": "Sun Nov  6 08:49:37 1994" }, STRONG, "proceed"],
    [{ "if-unmodified-since": "yesterday" }, STRONG, "proceed"], // invalid: ignored
    [{ "if-unmodified-since": BEFORE }, NONE, "proceed"], // no Last-Modified: ignored
    [{ "if-unmodified-since": BEFORE }, { etag: '"v1"', lastModifiedMs: NaN }, "proceed"],
    // If-Match present: If-Unmodified-Since is not evaluated (step 2 only without step 1).
    [{ "if-match": '"v1"', "if-unmodified-since": BEFORE }, STRONG, "proceed"],
    [{ "if-match": "*", "if-unmodified-since": BEFORE }, STRONG, "proceed"],
  ];
  for (const [headers, representation, expected] of cases) {
    assert.equal(evaluate("GET", headers, representation), expected, JSON.stringify(headers));
  }
});

Deno.test("evaluatePreconditions(): If-None-Match, weak comparison, 304 or 412 (§13.1.2)", () => {
  const cases: [string, Record<string, string>, Validators, PreconditionResult][] = [
    ["GET", { "if-none-match": '"v1"' }, STRONG, "not_modified"],
    ["HEAD", { "if-none-match": '"v1"' }, STRONG, "not_modified"],
    ["GET", { "if-none-match": 'W/"v1"' }, STRONG, "not_modified"],
    ["GET", { "if-none-match": '"v1"' }, WEAK, "not_modified"],
    ["GET", { "if-none-match": '"xyzzy", "r2d2xxxx", W/"v1"' }, STRONG, "not_modified"],
    ["GET", { "if-none-match": '"v0"' }, STRONG, "proceed"],
    ["GET", { "if-none-match": "*" }, STRONG, "not_modified"],
    ["GET", { "if-none-match": "*" }, NONE, "not_modified"],
    ["GET", { "if-none-match": '"v1"' }, NONE, "proceed"],
    ["GET", { "if-none-match": "v1" }, STRONG, "proceed"], // malformed: matches nothing
    ["GET", { "if-none-match": "" }, STRONG, "proceed"],
    ["POST", { "if-none-match": '"v1"' }, STRONG, "precondition_failed"],
    ["PUT", { "if-none-match": "*" }, STRONG, "precondition_failed"],
    ["DELETE", { "if-none-match": '"v0"' }, STRONG, "proceed"],
    // Method names are case-sensitive.
    ["get", { "if-none-match": '"v1"' }, STRONG, "precondition_failed"],
  ];
  for (const [method, headers, representation, expected] of cases) {
    assert.equal(
      evaluate(method, headers, representation),
      expected,
      `${method} ${JSON.stringify(headers)}`,
    );
  }
});

Deno.test("evaluatePreconditions(): If-Modified-Since: GET/HEAD, no INM (§13.1.3)", () => {
  const cases: [string, Record<string, string>, Validators, PreconditionResult][] = [
    ["GET", { "if-modified-since": AT }, STRONG, "not_modified"], // .250 s is still "not modified"
    ["HEAD", { "if-modified-since": AFTER }, STRONG, "not_modified"],
    ["GET", { "if-modified-since": BEFORE }, STRONG, "proceed"],
    ["GET", { "if-modified-since": "Sunday, 06-Nov-94 08:49:37 GMT" }, STRONG, "not_modified"],
    ["GET", { "if-modified-since": "Sun Nov  6 08:49:37 1994" }, STRONG, "not_modified"],
    ["GET", { "if-modified-since": "not a date" }, STRONG, "proceed"],
    ["GET", { "if-modified-since": `${AT}, ${AT}` }, STRONG, "proceed"], // a list: ignored
    ["GET", { "if-modified-since": AFTER }, NONE, "proceed"],
    ["POST", { "if-modified-since": AFTER }, STRONG, "proceed"],
    // If-None-Match present: If-Modified-Since is ignored either way (step 4 only without step 3).
    ["GET", { "if-none-match": '"v0"', "if-modified-since": AFTER }, STRONG, "proceed"],
    ["GET", { "if-none-match": '"v1"', "if-modified-since": BEFORE }, STRONG, "not_modified"],
    ["GET", { "if-none-match": "junk", "if-modified-since": AFTER }, STRONG, "proceed"],
  ];
  for (const [method, headers, representation, expected] of cases) {
    assert.equal(
      evaluate(method, headers, representation),
      expected,
      `${method} ${JSON.stringify(headers)}`,
    );
  }
});

Deno.test("evaluatePreconditions(): a failed If-Match or IUS beats a 304 (§13.2.2)", () => {
  assert.equal(
    evaluate("GET", { "if-match": '"v0"', "if-none-match": '"v1"' }),
    "precondition_failed",
  );
  assert.equal(
    evaluate("GET", { "if-unmodified-since": BEFORE, "if-modified-since": AFTER }),
    "precondition_failed",
  );
  assert.equal(evaluate("GET", { "if-match": '"v1"', "if-none-match": '"v1"' }), "not_modified");
  assert.equal(evaluate("GET", {}), "proceed");
  assert.equal(evaluate("GET", {}, NONE), "proceed");
});

Deno.test("isRangeApplicable(): a strong ETag match or exactly Last-Modified (§13.1.5)", () => {
  const cases: [string | null, Validators, boolean][] = [
    [null, STRONG, true],
    [null, NONE, true],
    ['"v1"', STRONG, true],
    [' "v1" ', STRONG, true],
    ['"v0"', STRONG, false],
    ['W/"v1"', STRONG, false], // weak validators never allow a range
    ['"v1"', WEAK, false],
    ['W/"v1"', WEAK, false],
    ['"v1"', NONE, false],
    [AT, STRONG, true], // exactly Last-Modified (to the second)
    ["Sunday, 06-Nov-94 08:49:37 GMT", STRONG, true],
    [AFTER, STRONG, false], // an exact match, not "not modified since"
    [BEFORE, STRONG, false],
    [AT, NONE, false],
    ['"v1", "v2"', STRONG, false], // If-Range holds one validator
    ["*", STRONG, false],
    ["", STRONG, false],
    ["v1", STRONG, false],
  ];
  for (const [header, representation, expected] of cases) {
    assert.equal(isRangeApplicable(header, representation), expected, `${header}`);
  }
});

Deno.test("NOT_MODIFIED_HEADERS lists the RFC 9110 §15.4.5 fields plus Last-Modified", () => {
  assert.deepEqual([...NOT_MODIFIED_HEADERS].sort(), [
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "last-modified",
    "vary",
  ]);
  assert.ok(!NOT_MODIFIED_HEADERS.includes("content-length"));
  assert.ok(!NOT_MODIFIED_HEADERS.includes("content-type"));
});

// Property tests ----------------------------------------------------------------------------------

/** Any text a Headers object accepts as a value (no NUL, CR, LF; Latin-1 only). */
const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constant("\t"),
  ),
});
const tagValue = fc.oneof(
  fc.constantFrom('"v1"', 'W/"v1"', '"v0"', "*", '"v0", "v1"', 'W/"v0", W/"v1"', "v1", ""),
  headerText,
);
const dateValue = fc.oneof(
  fc.integer({ min: -3, max: 3 }).map((d) => formatHttpDate(MODIFIED_MS + d * 1000)),
  fc.constantFrom("Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0", ""),
  headerText,
);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const requestArb = fc.record({
  method: fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "get"),
  ifMatch: optional(tagValue),
  ifNoneMatch: optional(tagValue),
  ifModifiedSince: optional(dateValue),
  ifUnmodifiedSince: optional(dateValue),
});
const representationArb = fc.record({
  etag: fc.oneof(
    fc.constantFrom('"v1"', 'W/"v1"', '"v0"', "v1", undefined),
    headerText,
  ),
  lastModifiedMs: fc.oneof(
    fc.constantFrom(MODIFIED_MS, MODIFIED_MS + 999, MODIFIED_MS - 1, NaN, Infinity, undefined),
    fc.integer({ min: MODIFIED_MS - 5000, max: MODIFIED_MS + 5000 }),
  ),
});
type RequestShape = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function run(request: RequestShape, representation: Validators): PreconditionResult {
  const headers = new Headers();
  if (request.ifMatch !== undefined) headers.set("if-match", request.ifMatch);
  if (request.ifNoneMatch !== undefined) headers.set("if-none-match", request.ifNoneMatch);
  if (request.ifModifiedSince !== undefined) {
    headers.set("if-modified-since", request.ifModifiedSince);
  }
  if (request.ifUnmodifiedSince !== undefined) {
    headers.set("if-unmodified-since", request.ifUnmodifiedSince);
  }
  return evaluatePreconditions({ method: request.method, headers }, representation);
}

Deno.test("evaluatePreconditions() is total and only 304s GET/HEAD (property)", () => {
  fc.assert(
    fc.property(requestArb, representationArb, (request, representation) => {
      const result = run(request, representation);
      assert.ok(["proceed", "not_modified", "precondition_failed"].includes(result));
      if (result === "not_modified") {
        assert.ok(request.method === "GET" || request.method === "HEAD");
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("the §13.2.2 precedence holds for random header combinations (property)", () => {
  fc.assert(
    fc.property(requestArb, representationArb, (request, representation) => {
      const result = run(request, representation);
      // If-None-Match present ⇒ If-Modified-Since is ignored.
      if (request.ifNoneMatch !== undefined) {
        assert.equal(run({ ...request, ifModifiedSince: undefined }, representation), result);
        assert.equal(run({ ...request, ifModifiedSince: AFTER }, representation), result);
      }
      // If-Match present ⇒ If-Unmodified-Since is ignored.
      if (request.ifMatch !== undefined) {
        assert.equal(run({ ...request, ifUnmodifiedSince: undefined }, representation), result);
        assert.equal(run({ ...request, ifUnmodifiedSince: BEFORE }, representation), result);
      }
      // Steps 1-2 decide first: a request failing them fails whatever steps 3-4 would say.
      const guards = run(
        { ...request, ifNoneMatch: undefined, ifModifiedSince: undefined },
        representation,
      );
      if (guards === "precondition_failed") assert.equal(result, "precondition_failed");
      // With steps 1-2 passing, the result is what steps 3-4 alone say.
      const validators = run(
        { ...request, ifMatch: undefined, ifUnmodifiedSince: undefined },
        representation,
      );
      if (guards === "proceed") assert.equal(result, validators);
      // Non-GET/HEAD methods never consult If-Modified-Since.
      if (request.method !== "GET" && request.method !== "HEAD") {
        assert.equal(run({ ...request, ifModifiedSince: undefined }, representation), result);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("isRangeApplicable() is total and never trusts a weak validator (property)", () => {
  fc.assert(
    fc.property(optional(tagValue), representationArb, (header, representation) => {
      const applies = isRangeApplicable(header ?? null, representation);
      assert.equal(typeof applies, "boolean");
      if (header !== undefined && header.trim().startsWith("W/")) assert.equal(applies, false);
      if (representation.etag?.startsWith("W/") && header?.trim().startsWith('"')) {
        assert.equal(applies, false);
      }
    }),
    { numRuns: 2000 },
  );
});
