// Tests Cache-Control parsing and the shared-cache readings: storable, freshness, stale-if-error.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  freshnessSeconds,
  isStorable,
  parseCacheControl,
  staleIfErrorSeconds,
} from "./cache_control.ts";

const entries = (value: string | null) => [...parseCacheControl(value)];

Deno.test("parseCacheControl() reads tokens, quoted arguments and case-insensitive names", () => {
  const cases: [string | null, [string, string | undefined][]][] = [
    [null, []],
    ["", []],
    ["no-store", [["no-store", undefined]]],
    ["public, max-age=3600", [["public", undefined], ["max-age", "3600"]]],
    ["Max-Age=60, NO-CACHE", [["max-age", "60"], ["no-cache", undefined]]],
    // RFC 9111 §5.2.2.7 / §5.2.2.4: quoted field-name lists may hold commas.
    ['private="set-cookie, x-user", max-age=5', [["private", "set-cookie, x-user"], [
      "max-age",
      "5",
    ]]],
    ['no-cache="a\\"b"', [["no-cache", 'a"b']]], // quoted-pair unescaped
    ['max-age="60"', [["max-age", "60"]]],
    // Whitespace, empty members and several field lines joined by Headers.
    [" ,max-age = 10 ,, s-maxage=20 ,", [["max-age", "10"], ["s-maxage", "20"]]],
    ["max-age=10, max-age=20", [["max-age", "10"]]], // duplicates: the first wins
    ["MAX-AGE=10, max-age=20", [["max-age", "10"]]],
    ['stale-if-error=60, x-ext="v", x-other', [["stale-if-error", "60"], ["x-ext", "v"], [
      "x-other",
      undefined,
    ]]],
    // A named directive with a broken argument stays present, with an unusable argument.
    ["max-age=, public", [["max-age", ""], ["public", undefined]]],
    ["max-age=5 6, public", [["max-age", ""], ["public", undefined]]],
    ['max-age="5, public', [["max-age", ""]]], // unterminated quote swallows the rest
    ["no-store junk", [["no-store", ""]]],
    // A member without a name is skipped, even when it holds quoted commas.
    ['"a, b", =5, max-age=7', [["max-age", "7"]]],
    ["=, public", [["public", undefined]]],
  ];
  for (const [value, expected] of cases) assert.deepEqual(entries(value), expected, `${value}`);
});

const headers = (init: Record<string, string>) => new Headers(init);
const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

Deno.test("freshnessSeconds(): no-cache, s-maxage, max-age, Expires, default (§4.2.1)", () => {
  const cases: [Record<string, string>, number][] = [
    [{}, 300],
    [{ "cache-control": "public" }, 300],
    [{ "cache-control": "max-age=60" }, 60],
    [{ "cache-control": "max-age=0" }, 0],
    [{ "cache-control": "max-age=60, s-maxage=120" }, 120], // a shared cache prefers s-maxage
    [{ "cache-control": "s-maxage=0, max-age=600" }, 0],
    [{ "cache-control": "max-age=60, no-cache" }, 0], // the most restrictive wins
    [{ "cache-control": 'no-cache="set-cookie", max-age=60' }, 0],
    [{ "cache-control": "max-age=abc" }, 0], // invalid freshness information → stale
    [{ "cache-control": "max-age=-1" }, 0],
    [{ "cache-control": "max-age" }, 0],
    [{ "cache-control": "s-maxage=1.5, max-age=60" }, 0],
    [{ "cache-control": 'max-age="90"' }, 90],
    [{ "cache-control": "max-age=99999999999999999999" }, 2 ** 31], // §1.2.2 overflow
    [{ "cache-control": "max-age=60", expires: "0", date: DATE }, 60], // max-age beats Expires
    [{ expires: "Sun, 06 Nov 1994 09:49:37 GMT", date: DATE }, 3600],
    [{ expires: "Sun, 06 Nov 1994 07:49:37 GMT", date: DATE }, 0], // already expired
    [{ expires: "0", date: DATE }, 0], // an invalid Expires means "in the past" (§5.3)
    [{ expires: "Sun, 06 Nov 1994 09:49:37 GMT" }, 300], // no Date to measure from
    [{ expires: "Sun, 06 Nov 1994 09:49:37 GMT", date: "garbage" }, 300],
  ];
  for (const [init, expected] of cases) {
    assert.equal(freshnessSeconds(headers(init), 300), expected, JSON.stringify(init));
  }
});

Deno.test("isStorable(): no-store and private keep responses out of a shared cache (§3)", () => {
  const cases: [Record<string, string>, boolean][] = [
    [{}, true],
    [{ "cache-control": "public, max-age=60" }, true],
    [{ "cache-control": "no-cache" }, true], // storable, but must be revalidated
    [{ "cache-control": "no-store" }, false],
    [{ "cache-control": "No-Store" }, false],
    [{ "cache-control": "private" }, false],
    [{ "cache-control": 'private="set-cookie"' }, false],
    [{ "cache-control": "max-age=60, no-store junk" }, false],
    [{ "cache-control": "x-no-store" }, true],
  ];
  for (const [init, expected] of cases) {
    assert.equal(isStorable(headers(init)), expected, JSON.stringify(init));
  }
  const twoLines = new Headers();
  twoLines.append("cache-control", "max-age=60");
  twoLines.append("cache-control", "no-store");
  assert.equal(isStorable(twoLines), false);
});

Deno.test("staleIfErrorSeconds(): RFC 5861 §4, unless stale responses are forbidden", () => {
  const cases: [Record<string, string>, number | undefined][] = [
    [{}, undefined],
    [{ "cache-control": "max-age=600, stale-if-error=86400" }, 86_400],
    [{ "cache-control": "s-maxage=60, stale-if-error=300" }, 300],
    [{ "cache-control": "stale-if-error=0" }, 0],
    [{ "cache-control": "stale-if-error" }, undefined],
    [{ "cache-control": "stale-if-error=soon" }, undefined],
    [{ "cache-control": "stale-if-error=60, must-revalidate" }, 0],
    [{ "cache-control": "stale-if-error=60, proxy-revalidate" }, 0],
    [{ "cache-control": "stale-if-error=60, no-cache" }, 0],
    [{ "cache-control": "stale-if-error=60, no-store" }, 0],
    [{ "cache-control": "max-age=60, must-revalidate" }, 0],
  ];
  for (const [init, expected] of cases) {
    assert.equal(staleIfErrorSeconds(headers(init)), expected, JSON.stringify(init));
  }
});

/** Pieces that make random text look like Cache-Control values. */
const directiveText = fc.string({
  unit: fc.constantFrom(
    "max-age",
    "s-maxage",
    "no-store",
    "private",
    "=",
    ",",
    " ",
    '"',
    "\\",
    "60",
    "-1",
    "stale-if-error",
  ),
});
const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constant("\t"),
  ),
});

Deno.test("Cache-Control readings never throw and stay in range (property)", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), directiveText), (value) => {
      const directives = parseCacheControl(value);
      for (const [name] of directives) assert.match(name, /^[a-z0-9!#$%&'*+\-.^_`|~]+$/);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.oneof(headerText, directiveText),
      headerText,
      fc.nat(),
      (cc, expires, fallback) => {
        const h = new Headers({ "cache-control": cc, expires, date: DATE });
        const fresh = freshnessSeconds(h, fallback);
        assert.ok(Number.isInteger(fresh) && fresh >= 0 && fresh <= Math.max(2 ** 31, fallback));
        const stale = staleIfErrorSeconds(h);
        assert.ok(stale === undefined || (Number.isInteger(stale) && stale >= 0));
        assert.equal(typeof isStorable(h), "boolean");
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a rendered directive list parses back, first occurrence winning (property)", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
  const argument = fc.option(
    fc.oneof(
      fc.stringMatching(/^[a-z0-9]{1,6}$/),
      fc.string({ unit: fc.constantFrom("a", ",", " ", '"', "\\") }),
    ),
    { nil: undefined },
  );
  fc.assert(fc.property(fc.array(fc.tuple(name, argument), { maxLength: 8 }), (list) => {
    const render = ([n, a]: [string, string | undefined]) =>
      a === undefined
        ? n
        : /^[a-z0-9]+$/.test(a)
        ? `${n}=${a}`
        : `${n}="${a.replace(/[\\"]/g, "\\$&")}"`;
    const expected = new Map<string, string | undefined>();
    for (const [n, a] of list) if (!expected.has(n)) expected.set(n, a);
    assert.deepEqual(parseCacheControl(list.map(render).join(", ")), expected);
  }));
});
