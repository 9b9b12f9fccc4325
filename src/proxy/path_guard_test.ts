// Owns the unit and property tests of path hardening (path_guard.ts): what is refused, what is
// not, the messages, and that the fast pre-check never lets a problem through.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ProxyError } from "../errors.ts";
import {
  checkRequestTarget,
  encodingProblem,
  invalidEncodingMessage,
  needsInspection,
  targetProblem,
} from "./path_guard.ts";

/** decodeURIComponent, or undefined where it throws (accept.ts answers those with 400). */
function decodeOnce(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Runs the guard as app.ts does (raw path, then the path decoded once). */
function check(raw: string): void {
  const decoded = decodeOnce(raw);
  assert.ok(decoded !== undefined, `test path ${raw} must decode`);
  checkRequestTarget(raw, decoded);
}

function refused(raw: string, message?: RegExp): void {
  assert.throws(() => check(raw), (error: unknown) => {
    assert.ok(error instanceof ProxyError, `${raw}: ${error}`);
    assert.equal(error.code, "bad_request", raw);
    assert.equal(error.status, 400);
    assert.equal(error.source, "client");
    if (message !== undefined) assert.match(error.message, message, raw);
    return true;
  }, `${raw} should be refused`);
}

const SEPARATORS = /[\/\\]/;
function hasDotSegment(path: string): boolean {
  return path.split(SEPARATORS).some((segment) => segment === "." || segment === "..");
}

Deno.test("dot segments are refused in every spelling", () => {
  const paths = [
    "/public/../private/x",
    "/public/./x",
    "/public/a/..",
    "/public/a/.",
    "/..",
    "/public/%2e%2e/private/x",
    "/public/%2E%2E/x",
    "/public/%2E./x",
    "/public/.%2e/x",
    "/public/%2e/x",
    "/public/..%2fprivate/x",
    "/public/..%2Fprivate/x",
    "/public%2f..%2fprivate/x",
    "/public/%2e%2e%2fprivate",
    "/public/a%2f.%2fb",
  ];
  for (const raw of paths) refused(raw, /"\." or "\.\." segment/);
  refused("/public/../x", /contains a "\." or "\.\." segment/);
  refused("/public/%2e%2e/x", /percent-encoded characters .* decode to a "\." or "\.\." segment/);
});

Deno.test("backslashes: a raw one is refused, an encoded one is a key character unless it makes a dot segment", () => {
  refused("/public/a\\b", /backslash .* "%5C"/);
  refused("/public/..\\private/x", /backslash/);
  check("/public/a%5Cb.txt");
  check("/public/C%3A%5CUsers%5Cme%5Cfile.txt");
  refused("/public/..%5cprivate/x", /"\.\." segment/);
  refused("/public/%2e%2e%5Cx", /"\.\." segment/);
  refused("/public/a%5C..%5Cb", /"\.\." segment/);
});

Deno.test("control characters are refused raw and encoded, NUL included", () => {
  refused("/public/a%00b", /control character U\+0000 \("%00"/);
  refused("/public/a%0d%0aSet-Cookie:x", /U\+000D/);
  refused("/public/a%09b", /U\+0009/);
  refused("/public/a%7Fb", /U\+007F \("%7F"/);
  refused("/public/a%C2%85b", /U\+0085 \("%C2%85"/);
  refused("/public/a\u0001b", /U\+0001/);
  refused("/public/a\u009fb", /U\+009F/);
});

Deno.test("double encoding that would decode to a traversal is refused", () => {
  refused("/public/%252e%252e/private/x", /double-encoded/);
  refused("/public/%252E%252E%252Fprivate", /double-encoded/);
  refused("/public/..%252fprivate/x", /double-encoded/);
  refused("/public/%25252e%25252e/x", /double-encoded/);
  refused("/public/.%252e/x", /double-encoded/);
  refused("/public/a%255c..%255cb", /double-encoded/);
});

Deno.test("a % in a key is fine when it spells no traversal", () => {
  for (
    const raw of [
      "/public/100%25.txt",
      "/public/100%25%25.txt",
      "/public/%252e%252etxt", // "%2e%2etxt" is one segment, not ".."
      "/public/a%252fb", // would be "a/b" decoded twice: no dot segment
      "/public/%25zz",
      "/public/%252e%252e.txt", // "..txt" after a second decode: a name, not a segment
    ]
  ) check(raw);
});

Deno.test("a traversal needs at most three extra decodes to be seen", () => {
  // "%2525252e" decodes once to "%25252e", then "%252e", "%2e", "." (three extra decodes).
  refused("/public/%2525252e/x", /double-encoded/);
  // Four extra decodes: no layer in front of S3 decodes that often.
  check("/public/%252525252e/x");
});

Deno.test("ordinary keys pass: apostrophes, SQL words, +, =, &, ;, spaces, unicode, dot files", () => {
  const keys = [
    "user's file.txt",
    "select * from users; drop table x; --.csv",
    "' or '1'='1",
    "union select password from accounts",
    "a+b=c&d;e.txt",
    "100% done.txt",
    "über/日本語/😀.png",
    ".well-known/security.txt",
    "a/.hidden",
    "a/.../b",
    "a..b/..c/c../...",
    "dir//double-slash",
    "0x41 or 1=1",
    "name#with?chars",
  ];
  for (const key of keys) {
    const raw = "/public/" + key.split("/").map(encodeURIComponent).join("/");
    check(raw);
    // Browsers and curl send many of these characters raw; that is fine too.
    if (!/[%#?]/.test(key)) checkRequestTarget("/public/" + key, "/public/" + key);
  }
});

Deno.test("plain paths skip every check after the pre-check", () => {
  checkRequestTarget("/public/a/b/c.txt", "/public/a/b/c.txt");
  checkRequestTarget("/", "/");
  checkRequestTarget("/public/a.b.c", "/public/a.b.c");
});

Deno.test("invalidEncodingMessage() says which escape is wrong and why", () => {
  const cases: [string, RegExp][] = [
    ["/a/%zz", /"%zz" is not a % followed by two hex digits; write a literal "%" as "%25"/],
    ["/a/b%", /"%" is not a % followed by two hex digits/],
    ["/a/%4", /"%4" is not/],
    ["/a/%c0%ae%c0%ae/x", /"%c0%ae" is an overlong UTF-8 encoding of "\."/],
    ["/a/%C0%AF", /overlong UTF-8 encoding of "\/"/],
    ["/a/%e0%80%ae", /"%e0%80%ae" is an overlong UTF-8 encoding of "\."/],
    ["/a/%f0%80%80%ae", /overlong UTF-8 encoding of "\."/],
    ["/a/%c1%9c", /overlong UTF-8 encoding of "\\\\"/],
    ["/a/%C0%80", /overlong UTF-8 encoding of U\+0000/],
    ["/a/%E2%9C", /"%E2%9C" is an incomplete UTF-8 sequence \(the character needs 3 bytes\)/],
    ["/a/%E2%9Cx", /incomplete UTF-8 sequence/],
    ["/a/%E2x%9C%93", /incomplete UTF-8 sequence/],
    ["/a/%80", /"%80" is a UTF-8 continuation byte without a lead byte/],
    ["/a/%ff", /"%ff" can never appear in UTF-8/],
    ["/a/%ED%A0%80", /"%ED%A0%80" encodes a UTF-16 surrogate/],
    ["/a/%F4%90%80%80", /above U\+10FFFF/],
  ];
  for (const [raw, message] of cases) {
    assert.equal(decodeOnce(raw), undefined, `${raw} must be refused by decodeURIComponent`);
    const text = invalidEncodingMessage(raw);
    assert.match(text, /^The request path has invalid percent-encoding: /);
    assert.match(text, message, raw);
  }
});

// ---- properties -----------------------------------------------------------------------------

/** Arbitrary path text: unicode, dots, slashes, backslashes, controls and escapes of all kinds. */
const pathPiece = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.constantFrom(
    ".",
    "..",
    "/",
    "\\",
    "%",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "%25",
    "%00",
    "%0a",
    "%c0%ae",
    "%e2%82%ac",
    "\u0000",
    "\u007f",
    "'",
    " ",
  ),
  fc.integer({ min: 0, max: 255 }).map((byte) => "%" + byte.toString(16).padStart(2, "0")),
);
const rawPath = fc.array(pathPiece, { maxLength: 12 }).map((pieces) => "/" + pieces.join(""));

Deno.test("property: the guard either passes or throws 400, and what passes cannot traverse", () => {
  fc.assert(
    fc.property(rawPath, (raw) => {
      const decoded = decodeOnce(raw);
      if (decoded === undefined) {
        // accept.ts refuses these before the guard runs, always with a specific reason.
        assert.ok(encodingProblem(raw) !== undefined, raw);
        return;
      }
      try {
        checkRequestTarget(raw, decoded);
      } catch (error) {
        assert.ok(error instanceof ProxyError && error.code === "bad_request", String(error));
        return;
      }
      assert.ok(!hasDotSegment(decoded), `passed with a dot segment: ${raw}`);
      // deno-lint-ignore no-control-regex -- control characters are exactly what is refused here
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(decoded), `passed with a control: ${raw}`);
      assert.ok(!raw.includes("\\"), `passed with a raw backslash: ${raw}`);
      // Decoding again (as a careless layer would) gives no traversal either.
      const twice = decodeOnce(decoded);
      if (twice !== undefined) assert.ok(!hasDotSegment(twice), `double decode traverses: ${raw}`);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("property: the fast pre-check never skips a path with a problem", () => {
  fc.assert(
    fc.property(rawPath, (raw) => {
      if (needsInspection(raw)) return;
      const decoded = decodeOnce(raw);
      assert.equal(decoded, raw, "without a % the path decodes to itself");
      assert.equal(targetProblem(raw, raw), undefined, raw);
    }),
    { numRuns: 5000 },
  );
});

/** A key segment that is an ordinary S3 key segment: no controls, no "\", not "." or "..". */
const keySegment = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) =>
  // deno-lint-ignore no-control-regex -- control characters are exactly what is refused here
  s !== "." && s !== ".." && !/[\u0000-\u001f\u007f-\u009f\\]/.test(s)
);

Deno.test("property: ordinary keys, encoded once, always pass (no false positives)", () => {
  fc.assert(
    fc.property(fc.array(keySegment, { minLength: 1, maxLength: 5 }), (segments) => {
      const raw = "/bucket/" + segments.map(encodeURIComponent).join("/");
      const decoded = decodeOnce(raw)!;
      // A segment whose own text spells an encoded traversal ("%2e%2e") is the documented price.
      const spellsTraversal = segments.some((s) =>
        hasDotSegment(decodeOnce(s.replace(/%(?![0-9a-f]{2})/gi, "%25")) ?? "")
      );
      if (spellsTraversal) return;
      checkRequestTarget(raw, decoded);
    }),
    { numRuns: 3000 },
  );
});

/** "." spelled raw, percent-encoded, or percent-encoded once more. */
const dot = fc.constantFrom(".", "%2e", "%2E", "%252e", "%252E");
const separator = fc.constantFrom("/", "%2f", "%2F", "%5c", "%5C", "%252f", "%255c");

Deno.test("property: a dot segment spelled any way, anywhere, is refused", () => {
  fc.assert(
    fc.property(
      fc.array(keySegment.map(encodeURIComponent), { maxLength: 3 }),
      fc.array(dot, { minLength: 1, maxLength: 2 }),
      separator,
      fc.array(keySegment.map(encodeURIComponent), { maxLength: 3 }),
      (before, dots, sep, after) => {
        const tail = after.length === 0 ? "" : sep + after.join("/");
        const raw = "/" + [...before, dots.join("")].join("/") + tail;
        refused(raw);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("property: encodingProblem() agrees with decodeURIComponent on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), fc.boolean(), (bytes, upper) => {
      const raw = "/" + [...bytes].map((b) => {
        const hex = b.toString(16).padStart(2, "0");
        return "%" + (upper ? hex.toUpperCase() : hex);
      }).join("");
      const native = decodeOnce(raw) !== undefined;
      assert.equal(encodingProblem(raw) === undefined, native, raw);
    }),
    { numRuns: 20_000 },
  );
});
