// Tests HTTP-date parsing of the three RFC 9110 §5.6.7 formats and IMF-fixdate formatting.

import assert from "node:assert/strict";
import fc from "fast-check";
import { formatHttpDate, parseHttpDate } from "./http_date.ts";

/** 1994-11-06T08:49:37Z, the RFC 9110 §5.6.7 example instant. */
const RFC_EXAMPLE = 784_111_777;
const NOW_2026 = Date.UTC(2026, 0, 1);

Deno.test("parseHttpDate() reads the three RFC 9110 §5.6.7 examples as the same instant", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", NOW_2026), RFC_EXAMPLE);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", NOW_2026), RFC_EXAMPLE);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994", NOW_2026), RFC_EXAMPLE);
  assert.equal(parseHttpDate("Sun Nov 06 08:49:37 1994", NOW_2026), RFC_EXAMPLE);
  assert.equal(parseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT\t", NOW_2026), RFC_EXAMPLE);
});

Deno.test("parseHttpDate() rejects what is not an HTTP-date", () => {
  const invalid = [
    "",
    "0",
    "-1",
    "now",
    "sun, 06 nov 1994 08:49:37 gmt", // case-sensitive
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 +0000",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun,  06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", // a list
    "Sun, 06 Nov 1994 08:49:37 GMTx",
    "Sun, 31 Apr 1994 08:49:37 GMT", // no such day
    "Tue, 29 Feb 2100 00:00:00 GMT", // 2100 is not a leap year
    "Sun, 00 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:00 GMT",
    "Sun, 06 Nov 1994 08:49:61 GMT",
    "Sun, 06 Nvm 1994 08:49:37 GMT",
    "Sunday, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT",
    "Sun Nov 6 08:49:37 1994",
    "1994-11-06T08:49:37Z",
    "Sun, ٠٦ Nov 1994 08:49:37 GMT", // non-ASCII digits
  ];
  for (const text of invalid) assert.equal(parseHttpDate(text, NOW_2026), undefined, text);
  assert.equal(parseHttpDate(null), undefined);
});

Deno.test("parseHttpDate() handles leap days, leap seconds, and years outside 1970-2099", () => {
  assert.equal(parseHttpDate("Thu, 29 Feb 2024 00:00:00 GMT"), Date.UTC(2024, 1, 29) / 1000);
  assert.equal(parseHttpDate("Tue, 29 Feb 2000 12:00:00 GMT"), Date.UTC(2000, 1, 29, 12) / 1000);
  // A leap second is the instant it extends, not the next minute.
  assert.equal(
    parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT"),
    parseHttpDate("Sat, 31 Dec 2016 23:59:59 GMT"),
  );
  assert.equal(parseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  assert.equal(parseHttpDate("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
  // Years 0-99 are not shifted to the 1900s (the Date.UTC trap).
  const year50 = new Date(0);
  year50.setUTCFullYear(50, 0, 1);
  assert.equal(parseHttpDate("Sat, 01 Jan 0050 00:00:00 GMT"), year50.getTime() / 1000);
  assert.equal(parseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT"), 253_402_300_799);
});

Deno.test("parseHttpDate() reads an rfc850 two-digit year within 50 years of now (§5.6.7)", () => {
  const at = (year: string, now: number) =>
    parseHttpDate(`Monday, 01-Jan-${year} 00:00:00 GMT`, now);
  assert.equal(at("76", NOW_2026), Date.UTC(2076, 0, 1) / 1000); // exactly 50 years ahead: kept
  assert.equal(at("77", NOW_2026), Date.UTC(1977, 0, 1) / 1000); // more than 50: last century
  assert.equal(at("26", NOW_2026), Date.UTC(2026, 0, 1) / 1000);
  assert.equal(at("99", NOW_2026), Date.UTC(1999, 0, 1) / 1000);
  assert.equal(at("00", Date.UTC(1999, 5, 1)), Date.UTC(1900, 0, 1) / 1000);
  assert.equal(at("30", Date.UTC(1999, 5, 1)), Date.UTC(1930, 0, 1) / 1000);
  assert.equal(at("30", Number.NaN), Date.UTC(1930, 0, 1) / 1000); // no clock: 1970 as "now"
});

Deno.test("parseHttpDate() compares an rfc850 timestamp, not its year, with now + 50 years", () => {
  const now = Date.UTC(2026, 10, 26, 12, 30, 15); // Thu, 26 Nov 2026 12:30:15 GMT
  const at = (text: string, nowMs = now) => parseHttpDate(text, nowMs);
  // Exactly 50 years ahead is kept; one second more is "more than 50 years" → the past century.
  assert.equal(at("Thursday, 26-Nov-76 12:30:15 GMT"), Date.UTC(2076, 10, 26, 12, 30, 15) / 1000);
  assert.equal(at("Thursday, 26-Nov-76 12:30:16 GMT"), Date.UTC(1976, 10, 26, 12, 30, 16) / 1000);
  assert.equal(at("Friday, 31-Dec-76 23:59:59 GMT"), Date.UTC(1976, 11, 31, 23, 59, 59) / 1000);
  assert.equal(at("Friday, 01-Jan-76 00:00:00 GMT"), Date.UTC(2076, 0, 1) / 1000);
  assert.equal(at("Wednesday, 25-Nov-76 23:59:59 GMT"), Date.UTC(2076, 10, 25, 23, 59, 59) / 1000);
  // Milliseconds of now do not move the limit past the whole second that holds them.
  assert.equal(
    at("Thursday, 26-Nov-76 12:30:15 GMT", now + 999),
    Date.UTC(2076, 10, 26, 12, 30, 15) / 1000,
  );
  // A leap second one past the limit's :59 is after it.
  const atMinuteEnd = Date.UTC(2026, 11, 31, 23, 59, 59);
  assert.equal(
    at("Thursday, 31-Dec-76 23:59:59 GMT", atMinuteEnd),
    Date.UTC(2076, 11, 31, 23, 59, 59) / 1000,
  );
  assert.equal(
    at("Thursday, 31-Dec-76 23:59:60 GMT", atMinuteEnd),
    Date.UTC(1976, 11, 31, 23, 59, 59) / 1000,
  );
  // From 29 Feb 2028 the limit falls between 28 Feb and 1 Mar 2078, which has no 29 Feb.
  const leapDay = Date.UTC(2028, 1, 29, 12);
  assert.equal(
    at("Monday, 28-Feb-78 23:59:59 GMT", leapDay),
    Date.UTC(2078, 1, 28, 23, 59, 59) / 1000,
  );
  assert.equal(at("Tuesday, 01-Mar-78 00:00:00 GMT", leapDay), Date.UTC(1978, 2, 1) / 1000);
});

Deno.test("parseHttpDate() takes only SP and HTAB as whitespace around the date (§5.6.3)", () => {
  const imf = "Sun, 06 Nov 1994 08:49:37 GMT";
  assert.equal(parseHttpDate(` \t${imf}\t `, NOW_2026), RFC_EXAMPLE);
  for (const ws of ["\xa0", "\v", "\f", "\n", "\r", "\u2003", "\ufeff"]) {
    assert.equal(parseHttpDate(`${ws}${imf}`, NOW_2026), undefined, JSON.stringify(ws));
    assert.equal(parseHttpDate(`${imf}${ws}`, NOW_2026), undefined, JSON.stringify(ws));
    assert.equal(parseHttpDate(`${ws}Sunday, 06-Nov-94 08:49:37 GMT`, NOW_2026), undefined);
    assert.equal(parseHttpDate(`Sun Nov  6 08:49:37 1994${ws}`, NOW_2026), undefined);
  }
});

Deno.test("formatHttpDate() writes IMF-fixdate truncated to the second", () => {
  assert.equal(formatHttpDate(RFC_EXAMPLE * 1000), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(formatHttpDate(RFC_EXAMPLE * 1000 + 999), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(formatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  assert.equal(formatHttpDate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  assert.equal(formatHttpDate(Date.UTC(2024, 1, 29, 7, 5, 3)), "Thu, 29 Feb 2024 07:05:03 GMT");
  assert.throws(() => formatHttpDate(Number.NaN), RangeError);
  assert.throws(() => formatHttpDate(Infinity), RangeError);
  assert.throws(() => formatHttpDate(Date.UTC(10000, 0, 1)), RangeError);
});

/** Every instant from year 0 to year 9999, in milliseconds. */
const instantMs = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 });

Deno.test("formatHttpDate() agrees with Date#toUTCString and parses back (property)", () => {
  fc.assert(
    fc.property(instantMs, (ms) => {
      const text = formatHttpDate(ms);
      assert.equal(parseHttpDate(text), Math.floor(ms / 1000));
      // V8 writes the same IMF-fixdate for four-digit years.
      if (ms >= Date.UTC(1000, 0, 1)) assert.equal(text, new Date(ms).toUTCString());
    }),
    { numRuns: 2000 },
  );
});

// The 100 years an rfc850-date can name when "now" is 2026-01-01T00:00:00Z: after 1976-01-01T00:00:00
// up to 2076-01-01T00:00:00 (exactly 50 years ahead is not "more than 50 years", §5.6.7).
Deno.test("the obsolete formats of a random instant parse to the same seconds (property)", () => {
  const long = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const window = { min: Date.UTC(1976, 0, 1, 0, 0, 1), max: Date.UTC(2076, 0, 1) + 999 };
  fc.assert(
    fc.property(fc.integer(window), (ms) => {
      const now = Date.UTC(2026, 0, 1);
      const [day, dd, mon, yyyy, time] = formatHttpDate(ms).replace(",", "").split(" ");
      const weekday = long[new Date(ms).getUTCDay()]!;
      const seconds = Math.floor(ms / 1000);
      assert.equal(
        parseHttpDate(`${weekday}, ${dd}-${mon}-${yyyy!.slice(2)} ${time} GMT`, now),
        seconds,
      );
      const asctimeDay = dd!.startsWith("0") ? ` ${dd!.slice(1)}` : dd;
      assert.equal(parseHttpDate(`${day} ${mon} ${asctimeDay} ${time} ${yyyy}`, now), seconds);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("parseHttpDate() never throws and returns whole seconds or undefined (property)", () => {
  const dateish = fc.string({
    unit: fc.constantFrom("Sun", "Nov", ", ", " ", "-", ":", "0", "6", "9", "GMT", "1994", "08"),
  });
  fc.assert(
    fc.property(fc.oneof(fc.string(), dateish), (text) => {
      const seconds = parseHttpDate(text, NOW_2026);
      assert.ok(seconds === undefined || Number.isSafeInteger(seconds));
    }),
    { numRuns: 2000 },
  );
});
