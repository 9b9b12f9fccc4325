// Tests evaluatePreconditions/isRangeApplicable against a reference model of RFC 9110 §13.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  evaluatePreconditions,
  isRangeApplicable,
  NOT_MODIFIED_HEADERS,
  type PreconditionResult,
  type Validators,
} from "./conditional.ts";

// The reference model -----------------------------------------------------------------------------
//
// Written from RFC 9110, not from conditional.ts / etag.ts / http_date.ts: its own entity-tag and
// HTTP-date parsers, its own calendar arithmetic (Date's, where the implementation uses
// days-from-civil), and the §13.2.2 steps as the RFC words them. Choices the RFC leaves open and
// the implementation documents are mirrored and marked "mirrored" below.

/**
 * Removes whitespace at both ends (a field value has none, §5.5). Whitespace is OWS, SP / HTAB
 * (§5.6.3), only: NBSP (obs-text, so it can arrive on the wire), VT and FF are not.
 */
function strip(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

// Entity-tags (§8.8.3) ----------------------------------------------------------------------------

interface ModelTag {
  readonly weak: boolean;
  readonly opaque: string;
}

/** etagc = %x21 / %x23-7E / obs-text (§8.8.3, §5.5), as code units of a Latin-1 field value. */
const ETAGC = String.raw`[\x21\x23-\x7e\x80-\xff]`;
const ONLY_ETAGC = new RegExp(`^${ETAGC}*$`);
/** entity-tag = [ weak ] opaque-tag, weak = %s"W/" (case-sensitive), with OWS around it. */
const ENTITY_TAG = new RegExp(`^[ \\t]*(W/)?"(${ETAGC}*)"[ \\t]*$`);

function modelEntityTag(value: string | undefined): ModelTag | undefined {
  const m = value === undefined ? null : ENTITY_TAG.exec(value);
  return m === null ? undefined : { weak: m[1] !== undefined, opaque: m[2]! };
}

/** §8.8.3.2 strong comparison: neither weak, opaque-tags identical character by character. */
function strongEqual(a: ModelTag, b: ModelTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** §8.8.3.2 weak comparison: opaque-tags identical, either or both may be weak. */
function weakEqual(a: ModelTag, b: ModelTag): boolean {
  return a.opaque === b.opaque;
}

/**
 * If-Match / If-None-Match = "*" / #entity-tag (§13.1.1, §13.1.2), with the §5.6.1.2 list leniency
 * (OWS and empty members). The RFC says nothing about a malformed member; the rule here is the one
 * etag.ts documents (mirrored): a malformed member is skipped up to the next comma and never
 * matches, and a member's opaque part runs from its opening quote to the next quote (a comma is an
 * etagc), with no closing quote meaning nothing after it can be read. `*` is only `*` alone.
 */
function modelTagList(value: string): "any" | ModelTag[] {
  if (strip(value) === "*") return "any";
  const tags: ModelTag[] = [];
  const separators = /[ \t,]*/y;
  const opening = /(W\/)?"/y;
  const ending = /[ \t]*(?:,|$)/y;
  const commaAfter = (from: number) => {
    const comma = value.indexOf(",", from);
    return comma === -1 ? value.length : comma;
  };
  let at = 0;
  for (;;) {
    separators.lastIndex = at;
    separators.exec(value);
    at = separators.lastIndex;
    if (at >= value.length) break;
    opening.lastIndex = at;
    const open = opening.exec(value);
    if (open === null) {
      at = commaAfter(at + 1); // not an entity-tag: skip the member
      continue;
    }
    const close = value.indexOf('"', opening.lastIndex);
    if (close === -1) break; // an unterminated quote swallows the rest of the value
    const opaque = value.slice(opening.lastIndex, close);
    ending.lastIndex = close + 1;
    if (ONLY_ETAGC.test(opaque) && ending.test(value)) {
      tags.push({ weak: open[1] !== undefined, opaque });
      at = close + 1;
    } else {
      at = commaAfter(close + 1); // bad characters or trailing junk such as `"a"b`
    }
  }
  return tags;
}

// HTTP-date (§5.6.7) ------------------------------------------------------------------------------

const SHORT_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const DIGIT2 = "([0-9]{2})";
const TIME_OF_DAY = `${DIGIT2}:${DIGIT2}:${DIGIT2}`;
const MONTH = `(${MONTHS.join("|")})`;
/** IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT; date1 = day SP month SP year. */
const IMF = new RegExp(
  `^(?:${SHORT_DAYS.join("|")}), ${DIGIT2} ${MONTH} ([0-9]{4}) ${TIME_OF_DAY} GMT$`,
);
/** rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT. */
const RFC850 = new RegExp(
  `^(?:${LONG_DAYS.join("|")}), ${DIGIT2}-${MONTH}-${DIGIT2} ${TIME_OF_DAY} GMT$`,
);
/** asctime-date = day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT ) ). */
const ASCTIME = new RegExp(
  `^(?:${SHORT_DAYS.join("|")}) ${MONTH} ([0-9]{2}| [0-9]) ${TIME_OF_DAY} ([0-9]{4})$`,
);

/**
 * Seconds since the epoch of a calendar date and time, or undefined when there is no such date.
 * The day-name is not checked against the date: §5.6.7 gives no rule for a mismatch, and both
 * sides ignore it (mirrored). Second 60 is a leap second (§5.6.7); POSIX time has none, so it is
 * read as :59, the instant it extends, rather than rolled into the next minute (mirrored: the RFC
 * does not say, and http_date.ts documents this reading).
 */
function calendarSeconds(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTHS.indexOf(monthName);
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day); // unlike Date.UTC, years 0-99 stay years 0-99
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month) return undefined;
  if (date.getUTCDate() !== day) return undefined; // 31 Apr, 29 Feb 2100, day 00
  return date.getTime() / 1000 + hour * 3600 + minute * 60 + Math.min(second, 59);
}

/**
 * §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses a two-digit year,
 * MUST interpret a timestamp that appears to be more than 50 years in the future as representing
 * the most recent year in the past that had the same last two digits."
 */
function rfc850Year(
  twoDigits: number,
  fields: [monthName: string, day: number, hour: number, minute: number, second: number],
  nowMs: number,
): number {
  const now = new Date(nowMs);
  const thisYear = now.getUTCFullYear();
  const year = thisYear - (thisYear % 100) + twoDigits;
  // "More than 50 years in the future": the fields, as a tuple, after the same instant 50 years on.
  const [monthName, day, hour, minute, second] = fields;
  const candidate = [year, MONTHS.indexOf(monthName), day, hour, minute, second];
  const limit = [
    thisYear + 50,
    now.getUTCMonth(),
    now.getUTCDate(),
    now.getUTCHours(),
    now.getUTCMinutes(),
    now.getUTCSeconds(),
  ];
  const index = candidate.findIndex((v, i) => v !== limit[i]);
  const later = index !== -1 && candidate[index]! > limit[index]!;
  return later ? year - 100 : year;
}

/** HTTP-date = IMF-fixdate / obs-date (§5.6.7), case-sensitive, to whole epoch seconds. */
function modelHttpDate(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = strip(value);
  let m = IMF.exec(text);
  if (m !== null) {
    const [, day, month, year, hh, mm, ss] = m;
    return calendarSeconds(+year!, month!, +day!, +hh!, +mm!, +ss!);
  }
  m = RFC850.exec(text);
  if (m !== null) {
    const [, day, month, yy, hh, mm, ss] = m;
    const year = rfc850Year(+yy!, [month!, +day!, +hh!, +mm!, +ss!], nowMs);
    return calendarSeconds(year, month!, +day!, +hh!, +mm!, +ss!);
  }
  m = ASCTIME.exec(text);
  if (m !== null) {
    const [, month, day, hh, mm, ss, year] = m;
    return calendarSeconds(+year!, month!, +day!, +hh!, +mm!, +ss!);
  }
  return undefined;
}

// §13.1 conditions and the §13.2.2 order ----------------------------------------------------------

interface Fields {
  readonly ifMatch: string | null;
  readonly ifNoneMatch: string | null;
  readonly ifModifiedSince: string | null;
  readonly ifUnmodifiedSince: string | null;
}

/**
 * Last-Modified to the second (mirrored): an HTTP-date has one-second resolution (§5.6.7), so the
 * Last-Modified field the origin sends is the time truncated, and that is what a client echoes.
 */
function lastModifiedSeconds(representation: Validators): number | undefined {
  const ms = representation.lastModifiedMs;
  return ms === undefined || !Number.isFinite(ms) ? undefined : Math.floor(ms / 1000);
}

/** §13.1.1 If-Match: `*` → true (the representation exists); else a strong match in the list. */
function ifMatchHolds(value: string, current: ModelTag | undefined): boolean {
  const list = modelTagList(value);
  if (list === "any") return true;
  return current !== undefined && list.some((tag) => strongEqual(tag, current));
}

/** §13.1.2 If-None-Match: `*` → false (the representation exists); false on any weak match. */
function ifNoneMatchHolds(value: string, current: ModelTag | undefined): boolean {
  const list = modelTagList(value);
  if (list === "any") return false;
  return !(current !== undefined && list.some((tag) => weakEqual(tag, current)));
}

/**
 * RFC 9110 §13.2.2, steps 1-4, for a selected representation that exists. GET/HEAD are matched
 * case-sensitively (§9.1: method names are case-sensitive).
 *
 * If-Modified-Since with a date later than the server's clock: RFC 7232 §3.3 called such a date
 * invalid, RFC 9110 §13.1.3 dropped that sentence, and the implementation is a pure function with
 * no clock, so a future date is compared like any other (mirrored): Last-Modified ≤ it → 304.
 */
function modelPreconditions(
  method: string,
  fields: Fields,
  representation: Validators,
  nowMs: number,
): PreconditionResult {
  const current = modelEntityTag(representation.etag);
  const modified = lastModifiedSeconds(representation);
  const getOrHead = method === "GET" || method === "HEAD";

  // Step 1: If-Match present → false means 412.
  if (fields.ifMatch !== null) {
    if (!ifMatchHolds(fields.ifMatch, current)) return "precondition_failed";
  } // Step 2: If-Match absent, If-Unmodified-Since present → false means 412. §13.1.4: ignored
  // when not a valid HTTP-date (a list of dates included) or without a modification date.
  else if (fields.ifUnmodifiedSince !== null) {
    const since = modelHttpDate(fields.ifUnmodifiedSince, nowMs);
    if (since !== undefined && modified !== undefined && modified > since) {
      return "precondition_failed";
    }
  }
  // Step 3: If-None-Match present → false means 304 for GET/HEAD, 412 otherwise.
  if (fields.ifNoneMatch !== null) {
    if (!ifNoneMatchHolds(fields.ifNoneMatch, current)) {
      return getOrHead ? "not_modified" : "precondition_failed";
    }
  } // Step 4: GET/HEAD, If-None-Match absent, If-Modified-Since present → false means 304.
  // §13.1.3: ignored when not a valid HTTP-date, more than one member, or no modification date.
  else if (getOrHead && fields.ifModifiedSince !== null) {
    const since = modelHttpDate(fields.ifModifiedSince, nowMs);
    if (since !== undefined && modified !== undefined && modified <= since) return "not_modified";
  }
  // Steps 5-6 (If-Range, then the method) are the caller's.
  return "proceed";
}

/**
 * §13.1.5 If-Range = entity-tag / HTTP-date; whether to honour Range (true when absent). An
 * entity-tag must match the current ETag by strong comparison (a weak tag on either side is
 * false). A date must exactly equal Last-Modified; §13.1.5 also requires the date to be a strong
 * validator (§8.8.2.2), and Last-Modified is taken as strong, as conditional.ts documents
 * (mirrored). Anything else (a list, `*`, junk) is false: send the whole representation.
 */
function modelIfRange(
  value: string | null,
  representation: Validators,
  nowMs: number,
): boolean {
  if (value === null) return true;
  const text = strip(value);
  const tag = modelEntityTag(text);
  if (tag !== undefined) {
    const current = modelEntityTag(representation.etag);
    return current !== undefined && strongEqual(tag, current);
  }
  const date = modelHttpDate(text, nowMs);
  const modified = lastModifiedSeconds(representation);
  return date !== undefined && modified !== undefined && date === modified;
}

// Generators --------------------------------------------------------------------------------------

const NOW_S = Math.floor(Date.now() / 1000);
const YEAR_S = 31_556_952; // a mean Gregorian year
const MIN_S = -62_167_219_200; // 0000-01-01T00:00:00Z, the first IMF-fixdate
const MAX_S = 253_402_300_799; // 9999-12-31T23:59:59Z, the last one
const NOW_YEAR = new Date(NOW_S * 1000).getUTCFullYear();
const FIFTY_YEARS_ON_S = (() => {
  const d = new Date(NOW_S * 1000);
  d.setUTCFullYear(NOW_YEAR + 50);
  return d.getTime() / 1000;
})();
const END_OF_THAT_YEAR_S = Date.UTC(NOW_YEAR + 50, 11, 31, 23, 59, 59) / 1000;

/** An instant to build Last-Modified and the dates around: famous, extreme, or anywhere. */
const baseArb = fc.oneof(
  fc.constantFrom(
    784_111_777, // Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example
    0,
    -1,
    951_782_400, // 29 Feb 2000
    4_107_542_399, // 28 Feb 2100 23:59:59, a century that is not a leap year
    MIN_S,
    MAX_S,
    NOW_S,
  ),
  fc.integer({ min: MIN_S, max: MAX_S }),
  // The last second of a minute, where a leap second (:60) lands next to Last-Modified.
  fc.integer({ min: MIN_S / 60, max: Math.floor(MAX_S / 60) }).map((minute) => minute * 60 + 59),
  // Where an rfc850-date's two-digit year flips century,
  fc.integer({ min: NOW_S + 49 * YEAR_S, max: NOW_S + 51 * YEAR_S }),
  // and the part of year now+50 that is more than 50 years ahead, so already in the past (§5.6.7).
  fc.integer({ min: FIFTY_YEARS_ON_S, max: END_OF_THAT_YEAR_S }),
);

type DateForm = "imf" | "rfc850" | "asctime";

/** Formats seconds in one of the three §5.6.7 forms (an independent formatter for the inputs). */
function httpDate(seconds: number, form: DateForm): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const year = d.getUTCFullYear();
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const month = MONTHS[d.getUTCMonth()];
  const day = d.getUTCDate();
  switch (form) {
    case "imf":
      return `${SHORT_DAYS[d.getUTCDay()]}, ${two(day)} ${month} ${
        String(year).padStart(4, "0")
      } ${time} GMT`;
    case "rfc850":
      return `${LONG_DAYS[d.getUTCDay()]}, ${two(day)}-${month}-${two(year % 100)} ${time} GMT`;
    case "asctime":
      return `${SHORT_DAYS[d.getUTCDay()]} ${month} ${String(day).padStart(2, " ")} ${time} ${
        String(year).padStart(4, "0")
      }`;
  }
}

/** Ways to break (or, for a few, keep) a well-formed IMF-fixdate. */
const DATE_MUTATIONS: ((imf: string) => string)[] = [
  (s) => s.toLowerCase(), // HTTP-date is case-sensitive
  (s) => s.replace("GMT", "UTC"),
  (s) => s.replace("GMT", "+0000"),
  (s) => s.replace(/ (\d\d):(\d\d):(\d\d) /, " $1:$2:60 "), // leap second: valid
  (s) => s.replace(/ (\d\d):(\d\d):(\d\d) /, " $1:$2:61 "),
  (s) => s.replace(/ (\d\d):(\d\d):(\d\d) /, " 24:$2:$3 "),
  (s) => s.replace(/ (\d\d):(\d\d):(\d\d) /, " $1:60:$3 "),
  (s) => s.replace(/, \d\d /, ", 31 "), // 31 of a short month is no date
  (s) => s.replace(/, \d\d /, ", 29 "),
  (s) => s.replace(/, \d\d /, ", 00 "),
  (s) => s.replace(/, 0(\d) /, ", $1 "), // one-digit day
  (s) => s.replace(/^(\w+), /, "$1,  "),
  (s) => s.replace(/^Sun/, "Mon").replace(/^Sat/, "Sun"), // wrong day-name: not checked
  (s) => s.replace(/^(\w+), /, "$1 "),
  (s) => s.replace(/ (\d{4}) /, (_, y: string) => ` ${y.slice(2)} `),
  (s) => `${s}, ${s}`, // a list of dates
  (s) => `${s}x`,
  (s) => `${s};`,
  (s) => s.replace(/^\w+/, (d) => d.toUpperCase()),
];

/** Any text a Headers value accepts (Latin-1, no NUL/CR/LF), including NBSP, VT and FF. */
const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom("\t", "\v", "\f"),
  ),
  maxLength: 12,
});

/** OWS, and whitespace that is not OWS but can sit in a Headers value (NBSP is obs-text). */
const wsArb = fc.oneof(
  { arbitrary: fc.constantFrom("", "", "", " ", "\t", "  ", " \t"), weight: 12 },
  { arbitrary: fc.constantFrom("\xa0", "\v", "\f"), weight: 1 },
);

/** A few seconds either side, most often none, so that dates often equal Last-Modified. */
const offsetArb = fc.oneof(fc.constant(0), fc.integer({ min: -2, max: 2 }));

function dateArb(base: number): fc.Arbitrary<string> {
  const near = offsetArb.map((d) => base + d);
  return fc.oneof(
    {
      arbitrary: fc.tuple(near, fc.constantFrom<DateForm>("imf", "rfc850", "asctime"), wsArb, wsArb)
        .map(([s, form, l, r]) => l + httpDate(s, form) + r),
      weight: 6,
    },
    {
      arbitrary: fc.tuple(near, fc.constantFrom(...DATE_MUTATIONS)).map(([s, mutate]) =>
        mutate(httpDate(s, "imf"))
      ),
      weight: 3,
    },
    { arbitrary: fc.oneof(headerText, fc.constantFrom("", "0", "-1", "1994-11-06")), weight: 1 },
  );
}

/** Opaque-tags that collide often, with commas, obs-text, and characters that are not etagc. */
const opaqueArb = fc.oneof(
  { arbitrary: fc.constant("v1"), weight: 8 },
  { arbitrary: fc.constantFrom("v0", "", "a,b", "W/x", "\x80\xff", "é"), weight: 4 },
  { arbitrary: fc.constantFrom("v 1", "v\t1", "v\x7f1"), weight: 1 }, // not etagc: malformed
);

/** An entity-tag as a client or origin writes it, sometimes with a lower-case (invalid) `w/`. */
const tagArb = fc.tuple(fc.constantFrom("", "", "", "", "W/", "W/", "w/"), opaqueArb)
  .map(([weak, opaque]) => `${weak}"${opaque}"`);

/** List members: entity-tags and malformed members. */
const memberArb = fc.oneof(
  { arbitrary: tagArb, weight: 6 },
  {
    arbitrary: fc.constantFrom(
      "v1",
      "*",
      "W/v1",
      '"v1',
      '"v1"x',
      'x"v1"',
      '"v1" "v0"',
      'W/ "v1"',
      '""',
      '"v1,',
    ),
    weight: 2,
  },
  {
    arbitrary: fc.string({
      unit: fc.constantFrom('"', "W", "/", "v", "1", ",", " ", "\t", "*", "x", "\xa0"),
      maxLength: 8,
    }),
    weight: 1,
  },
);

/** If-Match / If-None-Match values: lists with odd separators, `*`, junk. */
const tagListArb = fc.oneof(
  {
    arbitrary: fc.tuple(
      wsArb,
      fc.array(fc.tuple(memberArb, fc.constantFrom(",", ", ", " , ", "\t,", ",,", ", ,")), {
        minLength: 1,
        maxLength: 4,
      }),
      wsArb,
    ).map(([l, members, r]) =>
      l + members.map(([m, sep], i) => (i === 0 ? "" : sep) + m).join("") + r
    ),
    weight: 6,
  },
  { arbitrary: fc.tuple(wsArb, wsArb).map(([l, r]) => `${l}*${r}`), weight: 2 },
  { arbitrary: fc.oneof(headerText, fc.constantFrom("", ",", "**", "*, *")), weight: 1 },
);

/** The representation's ETag, as the origin sent it (not through Headers: any text). */
const representationEtagArb = fc.oneof(
  { arbitrary: tagArb, weight: 6 },
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: fc.constantFrom("v1", ' "v1" ', '"v1" x', '"€"', "*", ""), weight: 1 },
);

/** Last-Modified in ms, within two seconds of the base and with a fraction, or none. */
function lastModifiedArb(base: number): fc.Arbitrary<number | undefined> {
  return fc.oneof(
    {
      arbitrary: fc.tuple(offsetArb, fc.integer({ min: 0, max: 999 }))
        .map(([d, ms]) => (base + d) * 1000 + ms),
      weight: 6,
    },
    { arbitrary: fc.constantFrom(undefined, NaN, Infinity, -Infinity), weight: 1 },
  );
}

/** A field that is present one time in `1 + absent`. */
const optional = <T>(arb: fc.Arbitrary<T>, absent = 1) =>
  fc.oneof({ arbitrary: fc.constant(null), weight: absent }, { arbitrary: arb, weight: 1 });

const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom("GET", "HEAD"), weight: 3 },
  {
    arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "Head"),
    weight: 2,
  },
);

const scenarioArb = baseArb.chain((base) =>
  fc.record({
    method: methodArb,
    ifMatch: optional(tagListArb, 2),
    ifNoneMatch: optional(tagListArb),
    ifModifiedSince: optional(dateArb(base)),
    ifUnmodifiedSince: optional(dateArb(base), 2),
    ifRange: optional(
      fc.oneof(
        { arbitrary: fc.tuple(wsArb, tagArb, wsArb).map((p) => p.join("")), weight: 3 },
        { arbitrary: dateArb(base), weight: 3 },
        { arbitrary: tagListArb, weight: 1 },
      ),
    ),
    etag: representationEtagArb,
    lastModifiedMs: lastModifiedArb(base),
  })
);
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** The request's headers, through Headers as the gateway gets them (edges of SP/HTAB dropped). */
function requestHeaders(scenario: Scenario): Headers {
  const headers = new Headers();
  const set = (name: string, value: string | null) => {
    if (value !== null) headers.set(name, value);
  };
  set("if-match", scenario.ifMatch);
  set("if-none-match", scenario.ifNoneMatch);
  set("if-modified-since", scenario.ifModifiedSince);
  set("if-unmodified-since", scenario.ifUnmodifiedSince);
  set("if-range", scenario.ifRange);
  return headers;
}

function fieldsOf(headers: Headers): Fields {
  return {
    ifMatch: headers.get("if-match"),
    ifNoneMatch: headers.get("if-none-match"),
    ifModifiedSince: headers.get("if-modified-since"),
    ifUnmodifiedSince: headers.get("if-unmodified-since"),
  };
}

function validatorsOf(scenario: Scenario): Validators {
  return { etag: scenario.etag, lastModifiedMs: scenario.lastModifiedMs };
}

/** A scenario as readable JSON: NaN/Infinity spelled out, NBSP and other non-ASCII escaped. */
function describe(scenario: Scenario): string {
  return JSON.stringify(
    scenario,
    (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v ?? "(absent)"),
  ).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const NUM_RUNS = 2000;

/**
 * Runs `fn` with Date.now() held at one instant, passed to `fn` too, so that the implementation
 * (which reads the clock for rfc850-dates) and the model resolve two-digit years against the same
 * "now" even when a second ticks between them and a generated date sits on the 50-year boundary.
 */
function withFixedNow<T>(fn: (nowMs: number) => T): T {
  const realNow = Date.now;
  const nowMs = realNow();
  Date.now = () => nowMs;
  try {
    return fn(nowMs);
  } finally {
    Date.now = realNow;
  }
}

// Properties --------------------------------------------------------------------------------------

Deno.test("the model's HTTP-date parser reads the §5.6.7 examples and rejects near misses", () => {
  const at = 784_111_777;
  const now = Date.UTC(2026, 0, 1);
  assert.equal(modelHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", now), at);
  assert.equal(modelHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", now), at);
  assert.equal(modelHttpDate("Sun Nov  6 08:49:37 1994", now), at);
  assert.equal(modelHttpDate("Sun, 06 Nov 1994 08:49:60 GMT", now), at + 22);
  assert.equal(modelHttpDate("Sat, 01 Jan 0000 00:00:00 GMT", now), MIN_S);
  for (const bad of ["sun, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Apr 1994 08:49:37 GMT", ""]) {
    assert.equal(modelHttpDate(bad, now), undefined, bad);
  }
  for (const form of ["imf", "rfc850", "asctime"] as const) {
    assert.equal(modelHttpDate(httpDate(at, form), now), at, form);
  }
});

Deno.test("evaluatePreconditions() agrees with the §13.2.2 model for any request (property)", () => {
  fc.assert(
    fc.property(scenarioArb, (scenario) => {
      const headers = requestHeaders(scenario);
      const representation = validatorsOf(scenario);
      withFixedNow((now) => {
        const actual = evaluatePreconditions({ method: scenario.method, headers }, representation);
        const expected = modelPreconditions(
          scenario.method,
          fieldsOf(headers),
          representation,
          now,
        );
        assert.equal(actual, expected, describe(scenario));
      });
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("isRangeApplicable() agrees with the §13.1.5 model for any If-Range (property)", () => {
  fc.assert(
    fc.property(scenarioArb, (scenario) => {
      const value = requestHeaders(scenario).get("if-range");
      const representation = validatorsOf(scenario);
      withFixedNow((now) => {
        assert.equal(
          isRangeApplicable(value, representation),
          modelIfRange(value, representation, now),
          describe(scenario),
        );
      });
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("NOT_MODIFIED_HEADERS is the §15.4.5 list plus Last-Modified, and no content header", () => {
  // §15.4.5: a 304 sends those of Content-Location, Date, ETag, Vary, Cache-Control and Expires
  // that a 200 would; Last-Modified is the documented addition (a validator the client stores).
  const rfc = ["cache-control", "content-location", "date", "etag", "expires", "vary"];
  assert.deepEqual([...NOT_MODIFIED_HEADERS].sort(), [...rfc, "last-modified"].sort());
  for (const name of NOT_MODIFIED_HEADERS) {
    assert.equal(name, name.toLowerCase());
    if (name.startsWith("content-")) assert.equal(name, "content-location");
  }
});

// Regressions of two former divergences from RFC 9110 ----------------------------------------------
//
// 1. Non-OWS whitespace (§5.6.3: OWS = *( SP / HTAB )). etag.ts's `*` test, isRangeApplicable and
//    parseHttpDate used String.prototype.trim, which also strips VT, FF and NBSP (0xA0, obs-text,
//    so it can arrive on the wire). With the representation existing, the RFC answers are:
//      GET  If-None-Match: "\xa0*"                          → not `*` but an empty list, so the
//                                                             condition is true → proceed
//      PUT  If-Match: "*\xa0"                               → an empty list → 412
//      GET  If-Modified-Since: "\xa0" + Last-Modified date  → not an HTTP-date, so §13.1.3 says
//                                                             ignore it → proceed
//      If-Range: "\xa0\"v1\"" against ETag "v1"             → neither an entity-tag nor an
//                                                             HTTP-date → false
//
// 2. rfc850-date two-digit years (§5.6.7: "MUST interpret a timestamp that appears to be more than
//    50 years in the future as representing the most recent year in the past that had the same
//    last two digits"). http_date.ts compared calendar years (year > now + 50), so a date in year
//    now+50 later in that year than today was more than 50 years ahead but kept there: from
//    2026-11-26, "Thursday, 31-Dec-76 23:59:59 GMT" was read as 2076, not 1976, and GET
//    If-Modified-Since with it against a 2024 Last-Modified gave 304 where the RFC gives proceed.

Deno.test("only SP/HTAB is whitespace around conditional field values (§5.6.3)", () => {
  const representation: Validators = { etag: '"v1"', lastModifiedMs: 784_111_777_000 };
  const at = "Sun, 06 Nov 1994 08:49:37 GMT";
  const evaluate = (method: string, headers: Record<string, string>) =>
    evaluatePreconditions({ method, headers: new Headers(headers) }, representation);
  assert.equal(evaluate("GET", { "if-none-match": "\xa0*" }), "proceed");
  assert.equal(evaluate("PUT", { "if-match": "*\xa0" }), "precondition_failed");
  assert.equal(evaluate("GET", { "if-modified-since": `\xa0${at}` }), "proceed");
  assert.equal(evaluate("GET", { "if-unmodified-since": `\v${at}` }), "proceed");
  assert.equal(isRangeApplicable('\xa0"v1"', representation), false);
  assert.equal(isRangeApplicable(`${at}\f`, representation), false);
  // SP and HTAB stay OWS.
  assert.equal(evaluate("GET", { "if-none-match": "\t* " }), "not_modified");
  assert.equal(evaluate("GET", { "if-modified-since": `\t${at} ` }), "not_modified");
  assert.equal(isRangeApplicable(' \t"v1"\t', representation), true);
  assert.equal(isRangeApplicable(`\t${at} `, representation), true);
});

Deno.test("an rfc850-date more than 50 years ahead is in the past (§5.6.7)", () => {
  // The last second of the year that is 50 years from now: more than 50 years in the future
  // unless now is that very second, so the RFC reads the two-digit year as the previous century.
  withFixedNow((now) => {
    const year = new Date(now).getUTCFullYear() + 50;
    const last = Date.UTC(year, 11, 31, 23, 59, 59) / 1000;
    const header = httpDate(last, "rfc850");
    const representation: Validators = {
      etag: undefined,
      lastModifiedMs: Date.UTC(2024, 0, 1),
    };
    assert.equal(
      evaluatePreconditions(
        { method: "GET", headers: new Headers({ "if-modified-since": header }) },
        representation,
      ),
      "proceed",
      `${header} is ${year - 100}`,
    );
  });
});
