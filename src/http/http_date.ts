// Owns HTTP-date: the three RFC 9110 §5.6.7 formats parsed to epoch seconds; IMF-fixdate output.

import { trimOws } from "./ows.ts";

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const DAY_NAMES_LONG = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
] as const;
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
] as const;

const DAY = DAY_NAMES.join("|");
const MONTH = MONTHS.join("|");
const TIME = String.raw`(\d{2}):(\d{2}):(\d{2})`;

// HTTP-date is case-sensitive (RFC 9110 §5.6.7), so none of these patterns use the `i` flag; `\d`
// without the `u` flag is ASCII digits only. The day name is checked for spelling only: it is
// redundant with the date, and RFC 9110 asks for no consistency check.
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^(?:${DAY}), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
/** rfc850-date (obsolete): `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(
  `^(?:${DAY_NAMES_LONG.join("|")}), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`,
);
/** asctime-date (obsolete): `Sun Nov  6 08:49:37 1994` (day is 2DIGIT or SP DIGIT). */
const ASCTIME_DATE = new RegExp(`^(?:${DAY}) (${MONTH}) (\\d{2}| \\d) ${TIME} (\\d{4})$`);

const SECONDS_PER_DAY = 86_400;

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
 * Plain arithmetic instead of Date.UTC, which maps years 0-99 to 1900-1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The inverse of daysFromCivil. */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) -
      Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: era * 400 + yoe + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Orders two equally long tuples of numbers lexicographically: negative, 0 or positive. */
function compareFields(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return 0;
}

/**
 * The year of an rfc850-date's two-digit year `yy` (RFC 9110 §5.6.7): the year of the current
 * century of `nowMs`, unless that makes the timestamp "appear to be more than 50 years in the
 * future", when it is "the most recent year in the past that had the same last two digits" (a
 * MUST). The whole timestamp is compared with the same instant 50 years after now, not just the
 * year: from 2026-11-26, 31 Dec 76 is more than 50 years ahead and so 1976. The comparison is
 * field by field (year, month, day, hour, minute, second), so a leap second :60 counts as after
 * :59 and a 29 Feb now, whose date 50 years on may not exist, gets a limit between 28 Feb and
 * 1 Mar. A `nowMs` that is not finite reads as 1970 (no clock).
 */
function rfc850Year(
  yy: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  nowMs: number,
): number {
  const nowSeconds = Math.floor((Number.isFinite(nowMs) ? nowMs : 0) / 1000);
  const nowDays = Math.floor(nowSeconds / SECONDS_PER_DAY);
  const inDay = nowSeconds - nowDays * SECONDS_PER_DAY;
  const now = civilFromDays(nowDays);
  const year = now.year - (now.year % 100) + yy;
  const limit = [
    now.year + 50,
    now.month,
    now.day,
    Math.floor(inDay / 3600),
    Math.floor((inDay % 3600) / 60),
    inDay % 60,
  ];
  const later = compareFields([year, month, day, hour, minute, second], limit) > 0;
  return later ? year - 100 : year;
}

/** Validates the fields and converts them; undefined for impossible dates such as 31 Apr. */
function toEpochSeconds(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTHS.indexOf(monthName as typeof MONTHS[number]) + 1;
  if (month === 0 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // RFC 9110 §5.6.7 allows second 60 for a leap second; POSIX time has no such second, so it is
  // read as :59 (the instant it extends) rather than rolling into the next minute.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  return daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 +
    Math.min(second, 59);
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7) to whole seconds since the Unix epoch: IMF-fixdate and,
 * as recipients must, the obsolete rfc850-date and asctime-date. Any other text (including
 * lower-case names, other zones, lists of dates, trailing junk) is undefined, which callers treat
 * as "no valid date": an If-Modified-Since or If-Unmodified-Since that is not a valid HTTP-date is
 * ignored (§13.1.3, §13.1.4). Surrounding OWS (SP / HTAB, §5.6.3) is tolerated; any other
 * whitespace, such as NBSP, VT or FF, makes the text invalid. Never throws.
 *
 * rfc850-date has a two-digit year: per §5.6.7 a timestamp that would be more than 50 years after
 * `nowMs` is read in the most recent past year with the same last two digits (see rfc850Year).
 */
export function parseHttpDate(
  value: string | null,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = trimOws(value);
  let m = IMF_FIXDATE.exec(text);
  if (m) {
    return toEpochSeconds(
      Number(m[3]),
      m[2]!,
      Number(m[1]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
    );
  }
  m = ASCTIME_DATE.exec(text);
  if (m) {
    return toEpochSeconds(
      Number(m[6]),
      m[1]!,
      Number(trimOws(m[2]!)),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
    );
  }
  m = RFC850_DATE.exec(text);
  if (m) {
    const day = Number(m[1]);
    const monthName = m[2]!;
    const month = MONTHS.indexOf(monthName as typeof MONTHS[number]) + 1;
    const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
    const year = rfc850Year(Number(m[3]), month, day, hour, minute, second, nowMs);
    return toEpochSeconds(year, monthName, day, hour, minute, second);
  }
  return undefined;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * Formats epoch milliseconds as IMF-fixdate (RFC 9110 §5.6.7), the only format a sender may
 * generate, truncated to the second like every HTTP date. Throws RangeError for a time that is not
 * finite or whose year does not fit the format's four digits (a programming error, not input).
 */
export function formatHttpDate(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new RangeError(`not a time: ${epochMs}`);
  const seconds = Math.floor(epochMs / 1000);
  const days = Math.floor(seconds / SECONDS_PER_DAY);
  const inDay = seconds - days * SECONDS_PER_DAY;
  const { year, month, day } = civilFromDays(days);
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} does not fit an HTTP-date`);
  // 1970-01-01 was a Thursday (index 4).
  const weekday = DAY_NAMES[(((days + 4) % 7) + 7) % 7]!;
  const hh = pad(Math.floor(inDay / 3600), 2);
  const mm = pad(Math.floor((inDay % 3600) / 60), 2);
  const ss = pad(inDay % 60, 2);
  return `${weekday}, ${pad(day, 2)} ${MONTHS[month - 1]} ${pad(year, 4)} ${hh}:${mm}:${ss} GMT`;
}
