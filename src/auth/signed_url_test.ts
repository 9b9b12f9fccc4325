// Tests signed URLs: the canonical string, round trips through a real URL parser, tampering,
// expiry, rotation, and property tests (mutations never verify, odd queries only raise ProxyError).

import assert from "node:assert/strict";
import { formDecode } from "../http/form_decode.ts";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import type { SignedUrlKey } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { parseRequestTarget } from "../proxy/accept.ts";
import {
  canonicalString,
  formatDuration,
  type SignedUrlCheck,
  signPath,
  verifySignedRequest,
} from "./signed_url.ts";

const K1: SignedUrlKey = { id: "k1", secret: "correct horse battery staple" };
const K2: SignedUrlKey = { id: "k2", secret: "a different secret for rotation" };
const EXPIRES = 1_767_225_600; // 2026-01-01T00:00:00Z
const BEFORE = EXPIRES - 60;

/** What the gateway sees for a request target: the URL parser's normal form, then accept's split. */
function arrive(target: string): { path: string; rawQuery: string } {
  const url = new URL(`http://gateway.test${target}`);
  url.hash = "";
  return parseRequestTarget(url.href);
}

function verify(
  target: string,
  options: { keys?: SignedUrlKey[]; now?: number; method?: string } = {},
): SignedUrlCheck {
  const { path, rawQuery } = arrive(target);
  return verifySignedRequest({
    method: options.method ?? "GET",
    path,
    rawQuery,
    keys: options.keys ?? [K1],
    nowSeconds: options.now ?? BEFORE,
  });
}

function sign(path: string, query: Array<[string, string]> = [], key = K1): string {
  return signPath({ path, query, expiresAt: EXPIRES, key });
}

/** Asserts a ProxyError with this code, 403, whose message matches; returns the error. */
function rejects(check: () => unknown, code: string, message: RegExp): ProxyError {
  try {
    check();
  } catch (error) {
    assert.ok(error instanceof ProxyError, `not a ProxyError: ${error}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, 403);
    assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** The fixed vector's canonical-string inputs: GET /private/my report.pdf?w=300&fm=webp, k1. */
const VECTOR = [
  "GET",
  "/private/my report.pdf",
  [["w", "300"], ["fm", "webp"]],
  "1767225600",
  "k1",
] as const;

function entriesOf(rawQuery: string): Array<[string, string]> {
  return [...new URLSearchParams(rawQuery)];
}

Deno.test("canonicalString() is the documented six lines", () => {
  assert.equal(
    canonicalString(...VECTOR),
    "YATAGARASU-HMAC-SHA256\nGET\n/private/my%20report.pdf\nfm=webp&w=300\n1767225600\nk1",
  );
  assert.equal(
    canonicalString("HEAD", "/a/ü b/!*'()", [["b", "x/y"], ["a", "2"], ["a", "1"]], "0", "key one"),
    "YATAGARASU-HMAC-SHA256\nGET\n/a/%C3%BC%20b/%21%2A%27%28%29\na=2&a=1&b=x%2Fy\n0\nkey%20one",
  );
});

Deno.test("signPath() matches an HMAC-SHA256 computed independently (fixed vector)", () => {
  const target = sign("/private/my report.pdf", [["w", "300"], ["fm", "webp"]]);
  assert.equal(
    target,
    "/private/my%20report.pdf?w=300&fm=webp&X-Expires=1767225600&X-Key-Id=k1" +
      "&X-Signature=YrBcvstSK5bgjrU5k06-KKKFMVJa0YRGrNgSwSiVONw",
  );
  const expected = createHmac("sha256", K1.secret)
    .update(
      canonicalString(...VECTOR),
    )
    .digest("base64url");
  assert.ok(target.endsWith(`X-Signature=${expected}`));
});

Deno.test("signPath() + verifySignedRequest() round-trip awkward paths through a URL parser", () => {
  const paths = [
    "/private/report.pdf",
    "/private/my report.pdf",
    "/private/ünïcødé/日本語 ファイル.txt",
    "/private/a+b=c&d.txt",
    "/private/100%.txt",
    "/private/%41%2F%zz",
    "/private/a//b///c.txt",
    "/private/trailing/",
    "/private/~tilde!*'()$,;:@",
    "/private/question?mark#hash",
    "/private/back\\slash",
    "/private/emoji 😀",
    "/private/.hidden/..dots/.../x",
    "/private/tab\tnew\nline\r",
    "/",
  ];
  for (const path of paths) {
    const target = sign(path);
    assert.equal(arrive(target).path, path, target);
    assert.deepEqual(
      verify(target),
      { kind: "valid", keyId: "k1", expiresAt: EXPIRES, remainingQuery: "" },
      target,
    );
  }
});

Deno.test("extra query parameters are signed, and arrive decoded as they were signed", () => {
  const query: Array<[string, string]> = [
    ["w", "300"],
    ["fm", "webp"],
    ["text", "a b+c&d=e/f?g#h%"],
    ["ü", "✓"],
    ["empty", ""],
    ["", "nameless"],
  ];
  const target = sign("/private/photo.jpg", query);
  const check = verify(target);
  assert.equal(check.kind, "valid");
  assert.deepEqual(entriesOf(check.kind === "valid" ? check.remainingQuery : ""), query);
});

Deno.test("remainingQuery keeps the other pieces byte for byte and drops the signing ones", () => {
  const target = sign("/private/a.jpg", [["w", "300"], ["fm", "webp"]]);
  const [path, query] = target.split("?") as [string, string];
  const pieces = query.split("&");
  // Same meaning, different spelling: "%70" is "p". Reordered, with empty pieces.
  const reordered = [
    pieces[4],
    "",
    pieces[1]!.replace("webp", "web%70"),
    pieces[2],
    pieces[0],
    pieces[3],
  ]
    .join("&");
  assert.deepEqual(verify(`${path}?${reordered}&`), {
    kind: "valid",
    keyId: "k1",
    expiresAt: EXPIRES,
    remainingQuery: "fm=web%70&w=300",
  });
});

Deno.test("parameter order is irrelevant; '+' and %20 mean the same", () => {
  const target = sign("/private/a.jpg", [["a", "1"], ["b", "x y"], ["c", "3"]]);
  const [path, query] = target.split("?") as [string, string];
  const pieces = query.split("&").reverse().map((piece) => piece.replace("%20", "+"));
  assert.equal(verify(`${path}?${pieces.join("&")}`).kind, "valid");
});

Deno.test("repeated parameters keep their order: swapping them is a different URL", () => {
  const target = sign("/private/a.jpg", [["a", "1"], ["a", "2"]]);
  assert.equal(verify(target).kind, "valid");
  rejects(
    () => verify(target.replace("a=1&a=2", "a=2&a=1")),
    "signed_url_invalid",
    /does not match/,
  );
});

Deno.test("tampering with the path, a parameter, the expiry, the key id or the signature is rejected", () => {
  const target = sign("/private/report.pdf", [["w", "300"]]);
  const tampered = [
    target.replace("report", "Report"),
    target.replace("/private/report.pdf", "/private/report.pdf/"),
    target.replace("/private/", "/private//"),
    target.replace("w=300", "w=301"),
    target.replace("w=300", "w=300&h=10"),
    target.replace("w=300&", ""),
    target.replace("?", "?extra=1&"),
    target.replace(`X-Expires=${EXPIRES}`, `X-Expires=${EXPIRES + 1}`),
    target.replace(`X-Expires=${EXPIRES}`, `X-Expires=${EXPIRES - 1}`),
  ];
  for (const changed of tampered) {
    assert.notEqual(changed, target);
    rejects(() => verify(changed), "signed_url_invalid", /does not match/);
  }
  // Another accepted key's id on k1's signature.
  rejects(
    () => verify(target.replace("X-Key-Id=k1", "X-Key-Id=k2"), { keys: [K1, K2] }),
    "signed_url_invalid",
    /does not match/,
  );
  const signature = target.slice(target.indexOf("X-Signature=") + 12);
  const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") +
    signature.slice(11);
  rejects(() => verify(target.replace(signature, flipped)), "signed_url_invalid", /does not match/);
  for (
    const bad of [signature.slice(0, 42), `${signature}A`, `${signature}=`, "", "x".repeat(1000)]
  ) {
    rejects(() => verify(target.replace(signature, bad)), "signed_url_invalid", /43 base64url/);
  }
});

Deno.test("expired: at X-Expires exactly and after; valid the second before", () => {
  const target = sign("/private/report.pdf");
  assert.equal(verify(target, { now: EXPIRES - 1 }).kind, "valid");
  assert.equal(verify(target, { now: EXPIRES - 0.001 }).kind, "valid");
  const atBoundary = rejects(
    () => verify(target, { now: EXPIRES }),
    "signed_url_expired",
    /^The signed URL expired 0s ago \(at 2026-01-01T00:00:00Z\); ask for a new link\.$/,
  );
  assert.deepEqual(atBoundary.details, { expired_at: "2026-01-01T00:00:00Z" });
  rejects(() => verify(target, { now: EXPIRES + 3725 }), "signed_url_expired", /expired 1h 2m ago/);
  rejects(
    () => verify(target, { now: EXPIRES + 2 * 86_400 + 7 }),
    "signed_url_expired",
    /expired 2d 7s ago/,
  );
});

Deno.test("a changed expiry is invalid, not expired: 'expired' is only said of genuine links", () => {
  const target = sign("/private/report.pdf");
  const past = target.replace(`X-Expires=${EXPIRES}`, `X-Expires=${EXPIRES - 3600}`);
  rejects(() => verify(past, { now: EXPIRES - 60 }), "signed_url_invalid", /does not match/);
});

Deno.test("rotation: every configured key verifies its own links; a removed key is rejected by id", () => {
  const old = sign("/private/report.pdf", [], K1);
  const fresh = sign("/private/report.pdf", [], K2);
  assert.equal(verify(old, { keys: [K2, K1] }).kind, "valid");
  assert.deepEqual(verify(fresh, { keys: [K2, K1] }), {
    kind: "valid",
    keyId: "k2",
    expiresAt: EXPIRES,
    remainingQuery: "",
  });
  rejects(
    () => verify(old, { keys: [K2] }),
    "signed_url_invalid",
    /key id "k1", which this bucket does not accept/,
  );
  // The same id with a new secret (the secret rotated in place) no longer verifies old links.
  rejects(
    () => verify(old, { keys: [{ id: "k1", secret: "new" }] }),
    "signed_url_invalid",
    /does not match/,
  );
});

Deno.test("HEAD is accepted with a GET signature, and signPath signs HEAD as GET", () => {
  const target = sign("/private/report.pdf");
  assert.equal(verify(target, { method: "HEAD" }).kind, "valid");
  assert.equal(
    signPath({ method: "HEAD", path: "/private/report.pdf", expiresAt: EXPIRES, key: K1 }),
    target,
  );
  rejects(() => verify(target, { method: "OPTIONS" }), "signed_url_invalid", /does not match/);
});

Deno.test("absent: no signing parameter at all, whatever else the query holds", () => {
  for (
    const rawQuery of ["", "w=300", "x-expires=1&x-signature=abc", "X-Other=1&X=2", "%zz&%", "?&&="]
  ) {
    assert.deepEqual(
      verifySignedRequest({
        method: "GET",
        path: "/p/a",
        rawQuery,
        keys: [K1],
        nowSeconds: BEFORE,
      }),
      { kind: "absent" },
      rawQuery,
    );
  }
});

Deno.test("incomplete, repeated or malformed signing parameters are invalid", () => {
  const target = sign("/private/report.pdf");
  const signature = target.slice(target.indexOf("X-Signature=") + 12);
  rejects(
    () => verify(`/private/report.pdf?X-Expires=${EXPIRES}`),
    "signed_url_invalid",
    /^Incomplete signed URL: X-Key-Id and X-Signature are missing\./,
  );
  rejects(
    () => verify(target.replace(`&X-Signature=${signature}`, "")),
    "signed_url_invalid",
    /^Incomplete signed URL: X-Signature is missing\./,
  );
  rejects(
    () => verify(`${target}&X-Signature=${signature}`),
    "signed_url_invalid",
    /X-Signature appears more than once/,
  );
  rejects(
    () => verify(`${target}&X-Key-Id=k1`),
    "signed_url_invalid",
    /X-Key-Id appears more than once/,
  );
  for (const expires of ["abc", "-1", "0" + EXPIRES, "1.5", "", "1e9", "99999999999999999", "+1"]) {
    rejects(
      () =>
        verify(target.replace(`X-Expires=${EXPIRES}`, `X-Expires=${encodeURIComponent(expires)}`)),
      "signed_url_invalid",
      /X-Expires must be a Unix time in whole seconds/,
    );
  }
  rejects(
    () => verify(target.replace("X-Key-Id=k1", `X-Key-Id=${"z".repeat(500)}`)),
    "signed_url_invalid",
    /key id "z{64}\.\.\."/,
  );
});

Deno.test("an encoded parameter name is the same parameter", () => {
  const target = sign("/private/report.pdf");
  assert.equal(verify(target.replace("X-Signature", "X%2DSignature")).kind, "valid");
  assert.equal(verify(target.replace("X-Key-Id=k1", "%58-Key-Id=%6B1")).kind, "valid");
});

Deno.test("messages never contain the expected signature or the secret", () => {
  const target = sign("/private/report.pdf", [["w", "300"]]);
  const changed = target.replace("w=300", "w=999");
  const error = rejects(() => verify(changed), "signed_url_invalid", /does not match/);
  const wanted = sign("/private/report.pdf", [["w", "999"]]);
  const wantedSignature = wanted.slice(wanted.indexOf("X-Signature=") + 12);
  assert.ok(!error.message.includes(wantedSignature));
  assert.ok(!error.message.includes(K1.secret));
  assert.ok(!JSON.stringify(error.details ?? {}).includes(wantedSignature));
});

Deno.test("signPath() refuses what no URL could carry, and reserved parameter names", () => {
  const key = K1;
  const cases: Array<[() => unknown, RegExp]> = [
    [() => signPath({ path: "private/a", expiresAt: EXPIRES, key }), /must start with "\/"/],
    [() => signPath({ path: "/private/../a", expiresAt: EXPIRES, key }), /"\." or "\.\." segment/],
    [() => signPath({ path: "/private/./a", expiresAt: EXPIRES, key }), /"\." or "\.\." segment/],
    [() => signPath({ path: "/private/a\uD800", expiresAt: EXPIRES, key }), /unpaired/],
    [
      () => signPath({ path: "/a", query: [["X-Signature", "x"]], expiresAt: EXPIRES, key }),
      /reserved/,
    ],
    [() => signPath({ path: "/a", query: [["w", "\uDC00"]], expiresAt: EXPIRES, key }), /unpaired/],
    [() => signPath({ path: "/a", expiresAt: 1.5, key }), /whole seconds/],
    [() => signPath({ path: "/a", expiresAt: -1, key }), /whole seconds/],
    [() => signPath({ path: "/a", expiresAt: EXPIRES, key: { id: "", secret: "s" } }), /empty id/],
    [
      () => signPath({ path: "/a", expiresAt: EXPIRES, key: { id: "k", secret: "" } }),
      /empty secret/,
    ],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("formatDuration() shows the two largest units", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(0.9), "0s");
  assert.equal(formatDuration(59), "59s");
  assert.equal(formatDuration(60), "1m");
  assert.equal(formatDuration(3605), "1h 5s");
  assert.equal(formatDuration(7 * 86_400), "7d");
  assert.equal(formatDuration(90_061), "1d 1h");
});

// ---- properties -----------------------------------------------------------------------------

const segment = fc.string({ unit: "binary", maxLength: 8 }).filter((s) => s !== "." && s !== "..");
const pathArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((segments) =>
  `/${segments.join("/")}`
);
const pairArb = fc.tuple(
  fc.string({ unit: "binary", maxLength: 6 }).filter((name) => !name.startsWith("X-")),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const queryArb = fc.array(pairArb, { maxLength: 4 });
const keyArb = fc.record({
  id: fc.string({ unit: "binary", minLength: 1, maxLength: 8 }),
  secret: fc.string({ unit: "binary", minLength: 1, maxLength: 100 }),
});

Deno.test("property: any signed path and query verifies, and arrives with the same meaning", () => {
  fc.assert(
    fc.property(
      pathArb,
      queryArb,
      keyArb,
      fc.constantFrom("GET", "HEAD"),
      (path, query, key, method) => {
        const target = signPath({ path, query, expiresAt: EXPIRES, key });
        const check = verify(target, { keys: [K2, key], method });
        assert.equal(check.kind, "valid");
        assert.equal(arrive(target).path, path);
        if (check.kind === "valid") {
          assert.equal(check.keyId, key.id);
          assert.deepEqual(entriesOf(check.remainingQuery), query);
        }
      },
    ),
    { numRuns: 300 },
  );
});

const MUTATION_CHARS = [..."aZ09%+&=/?#.~-_ \u00e9\u2713", "%2F", "%25", "%20", "%41"];

Deno.test("property: a one-character change of a signed URL never verifies unless it means the same", () => {
  fc.assert(
    fc.property(
      pathArb,
      queryArb,
      fc.nat(),
      fc.constantFrom("replace", "insert", "delete"),
      fc.constantFrom(...MUTATION_CHARS),
      (path, query, at, kind, char) => {
        const target = signPath({ path, query, expiresAt: EXPIRES, key: K1 });
        const i = at % target.length;
        const mutated = kind === "delete"
          ? target.slice(0, i) + target.slice(i + 1)
          : target.slice(0, i) + char + target.slice(kind === "replace" ? i + 1 : i);
        if (mutated === target) return;
        let arrived: { path: string; rawQuery: string };
        try {
          arrived = arrive(mutated);
        } catch (error) {
          assert.ok(error instanceof ProxyError || error instanceof TypeError, String(error));
          return; // the gateway answers 400 before any signature check
        }
        let check: SignedUrlCheck;
        try {
          check = verifySignedRequest({
            method: "GET",
            ...arrived,
            keys: [K1],
            nowSeconds: BEFORE,
          });
        } catch (error) {
          assert.ok(error instanceof ProxyError, String(error));
          return;
        }
        if (check.kind === "absent") return; // no signature at all: the caller decides
        // Valid only if the gateway would act on exactly what was signed.
        assert.equal(arrived.path, path, mutated);
        assert.equal(check.expiresAt, EXPIRES);
        assert.equal(check.keyId, K1.id);
        assert.equal(
          canonicalString("GET", "/", entriesOf(check.remainingQuery), "0", ""),
          canonicalString("GET", "/", query, "0", ""),
          mutated,
        );
      },
    ),
    { numRuns: 2000 },
  );
});

const QUERY_TOKENS = [
  "X-Expires",
  "X-Key-Id",
  "X-Signature",
  "X%2DExpires",
  "=",
  "&",
  "%",
  "%zz",
  "%FF",
  "+",
  "?",
  "k1",
  String(EXPIRES),
  "0",
  "-1",
  "YrBcvstSK5bgjrU5k06-KKKFMVJa0YRGrNgSwSiVONw",
  "\uD800",
  "😀",
];

Deno.test("property: any query string yields absent, valid or a ProxyError, never another throw", () => {
  const rawQueryArb = fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.array(fc.constantFrom(...QUERY_TOKENS), { maxLength: 16 }).map((parts) => parts.join("")),
  );
  fc.assert(
    fc.property(
      rawQueryArb,
      fc.string({ maxLength: 12 }),
      fc.constantFrom("GET", "HEAD", "OPTIONS", "get"),
      fc.double(),
      (rawQuery, path, method, nowSeconds) => {
        try {
          verifySignedRequest({ method, path, rawQuery, keys: [K1, K2], nowSeconds });
        } catch (error) {
          assert.ok(error instanceof ProxyError, String(error));
          assert.ok(error.code === "signed_url_invalid" || error.code === "signed_url_expired");
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("property: formDecode() decodes names and values exactly as URLSearchParams does", () => {
  const textArb = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.array(
      fc.constantFrom(
        "%",
        "%4",
        "%41",
        "%zz",
        "%C3%A9",
        "%C3",
        "%EF%BB%BF",
        "+",
        "a",
        "é",
        "\uD800",
      ),
      {
        maxLength: 8,
      },
    ).map((parts) => parts.join("")),
  );
  fc.assert(
    fc.property(textArb, (text) => {
      const safe = text.replaceAll("&", "%26").replaceAll("=", "%3D").replaceAll("#", "%23");
      // "x&" first: URLSearchParams drops a leading "?" of its whole input, not of a piece.
      const entries = [...new URLSearchParams(`x&${safe}=`)];
      assert.equal(entries.length, 2);
      assert.equal(formDecode(safe), entries[1]?.[0]);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: the signature equals node's createHmac over the canonical string", () => {
  fc.assert(
    fc.property(keyArb, pathArb, queryArb, (key, path, query) => {
      const target = signPath({ path, query, expiresAt: EXPIRES, key });
      const expected = createHmac("sha256", key.secret)
        .update(canonicalString("GET", path, query, String(EXPIRES), key.id))
        .digest("base64url");
      assert.ok(target.endsWith(`&X-Signature=${expected}`), target);
    }),
    { numRuns: 300 },
  );
});
