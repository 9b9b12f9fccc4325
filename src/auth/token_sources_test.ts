// Tests token extraction from each source, source order, and scrubbing token parameters from queries.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { TokenSourceConfig } from "../config/types.ts";
import { formDecode } from "../http/form_decode.ts";
import { cookieValue, extractToken, removeQueryParams } from "./token_sources.ts";

const bearer: TokenSourceConfig = { type: "bearer", name: undefined, prefix: undefined };
const header = (name: string, prefix?: string): TokenSourceConfig => ({
  type: "header",
  name,
  prefix,
});
const query = (name: string): TokenSourceConfig => ({ type: "query", name, prefix: undefined });
const cookie = (name: string): TokenSourceConfig => ({ type: "cookie", name, prefix: undefined });

function req(headers: Record<string, string> = {}): Request {
  return new Request("http://gw/b/k", { headers });
}

Deno.test("bearer: scheme is case-insensitive, whitespace tolerant, empty is no token", () => {
  const cases: Array<[string, string | undefined]> = [
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc", "abc"],
    ["BEARER    abc   ", "abc"],
    ["  Bearer\tabc", "abc"],
    ["Bearer ", undefined],
    ["Bearer", undefined],
    ["Bearer    ", undefined],
    ["Bearerabc", undefined],
    ["Basic dXNlcjpwYXNz", undefined],
    ["Token abc", undefined],
  ];
  for (const [value, expected] of cases) {
    const found = extractToken(req({ authorization: value }), "", [bearer]);
    assert.equal(found?.token, expected, JSON.stringify(value));
    if (expected !== undefined) assert.deepEqual(found, { token: expected, source: "bearer" });
  }
  assert.equal(extractToken(req(), "", [bearer]), undefined);
});

Deno.test("header: trimmed, optional prefix must be present and is removed", () => {
  assert.deepEqual(extractToken(req({ "x-auth-token": "  tok  " }), "", [header("X-Auth-Token")]), {
    token: "tok",
    source: "header",
    name: "X-Auth-Token",
  });
  const prefixed = [header("X-Auth", "Token "), bearer];
  assert.equal(extractToken(req({ "x-auth": "Token abc" }), "", prefixed)?.token, "abc");
  // Missing prefix: this source yields nothing and the next one is tried.
  const fallback = extractToken(
    req({ "x-auth": "abc", authorization: "Bearer zzz" }),
    "",
    prefixed,
  );
  assert.deepEqual(fallback, { token: "zzz", source: "bearer" });
  assert.equal(extractToken(req({ "x-auth": "Token    " }), "", prefixed), undefined);
  assert.equal(extractToken(req({ "x-auth": "   " }), "", [header("X-Auth")]), undefined);
  assert.equal(extractToken(req({ "x-auth": "v" }), "", [header("")]), undefined);
});

Deno.test("query: named parameter, URL-decoded, first non-empty wins", () => {
  const sources = [query("token")];
  const cases: Array<[string, string | undefined]> = [
    ["token=abc", "abc"],
    ["a=1&token=abc&b=2", "abc"],
    ["token=a%2Eb%2Ec", "a.b.c"],
    ["%74oken=abc", "abc"],
    ["token=&token=second", "second"],
    ["token", undefined],
    ["tokens=abc", undefined],
    ["token=%zz", "%zz"],
    ["token=a+b", "a b"],
    ["", undefined],
  ];
  for (const [raw, expected] of cases) {
    const found = extractToken(req(), raw, sources);
    assert.equal(found?.token, expected, raw);
    if (expected !== undefined) assert.equal(found?.name, "token");
  }
});

Deno.test("cookie: RFC 6265 pairs, quoted values, joined Cookie headers", () => {
  const sources = [cookie("jwt")];
  const cases: Array<[string, string | undefined]> = [
    ["jwt=abc", "abc"],
    ["a=1; jwt=abc; b=2", "abc"],
    ["a=1;jwt=abc", "abc"],
    ['jwt="abc"', "abc"],
    ["xjwt=abc; jwt_x=1", undefined],
    ["jwt=; jwt=later", "later"],
    ["a=1, jwt=abc", "abc"],
    ["jwt", undefined],
    ["=x; jwt=a=b", "a=b"],
  ];
  for (const [value, expected] of cases) {
    const found = extractToken(req({ cookie: value }), "", sources);
    assert.equal(found?.token, expected, value);
  }
  const joined = new Request("http://gw/", { headers: [["cookie", "a=1"], ["cookie", "jwt=t"]] });
  assert.equal(extractToken(joined, "", sources)?.token, "t");
  assert.equal(cookieValue(null, "jwt"), undefined);
});

Deno.test("sources are tried in order; the first hit wins", () => {
  const request = req({ authorization: "Bearer from-bearer", cookie: "jwt=from-cookie" });
  const sources = [query("token"), cookie("jwt"), bearer];
  assert.deepEqual(extractToken(request, "token=from-query", sources), {
    token: "from-query",
    source: "query",
    name: "token",
  });
  assert.deepEqual(extractToken(request, "x=1", sources), {
    token: "from-cookie",
    source: "cookie",
    name: "jwt",
  });
  assert.equal(extractToken(request, "", [])?.token, undefined);
});

Deno.test("removeQueryParams drops token parameters and keeps the rest byte-for-byte", () => {
  const cases: Array<[string, string[], string]> = [
    ["", ["token"], ""],
    ["token=abc", ["token"], ""],
    ["a=%20x&token=abc&b=+y", ["token"], "a=%20x&b=+y"],
    ["%74oken=abc&versionId=3", ["token"], "versionId=3"],
    ["token&token=1&tokens=2", ["token"], "tokens=2"],
    ["a=1&&b=2", ["token"], "a=1&&b=2"],
    ["jwt=1&token=2&x=%E2%9C%93", ["token", "jwt"], "x=%E2%9C%93"],
    ["a=1", [], "a=1"],
  ];
  for (const [raw, names, expected] of cases) {
    assert.equal(removeQueryParams(raw, names), expected, raw);
  }
});

Deno.test("formDecode matches URLSearchParams on arbitrary input", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
      const safe = text.replaceAll("&", "").replaceAll("=", "").replaceAll("#", "");
      const expected = new URLSearchParams(`x=${safe}`).get("x");
      assert.equal(formDecode(safe), expected);
    }),
    { numRuns: 500 },
  );
  for (const text of ["%", "%4", "%zz", "%C3", "%C3%A9", "a+b%2B", "%F0%9F%98%80", "%E2%82"]) {
    assert.equal(formDecode(text), new URLSearchParams(`x=${text}`).get("x"), text);
  }
});

// Header values Fetch accepts: no NUL, CR or LF (leading/trailing whitespace is trimmed by Headers).
const headerValue = fc.string({ unit: "binary", maxLength: 80 }).map((s) =>
  [...s].map((ch) =>
    ch === "\0" || ch === "\r" || ch === "\n" ? "" : ch.charCodeAt(0) > 0xff ? "x" : ch
  )
    .join("")
);

Deno.test("property: extractToken and removeQueryParams never throw on random input", () => {
  const sourceArb = fc.oneof(
    fc.constant(bearer),
    fc.record({
      type: fc.constantFrom("header", "query", "cookie") as fc.Arbitrary<
        "header" | "query" | "cookie"
      >,
      name: fc.oneof(fc.constantFrom("token", "jwt", "x-auth"), fc.string({ maxLength: 8 })),
      prefix: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
    }),
  );
  fc.assert(
    fc.property(
      headerValue,
      headerValue,
      headerValue,
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.array(sourceArb, { maxLength: 5 }),
      (authorization, custom, cookieHeader, rawQuery, sources) => {
        const headers = new Headers();
        headers.set("authorization", authorization);
        headers.set("x-auth", custom);
        headers.set("cookie", cookieHeader);
        const request = new Request("http://gw/", { headers });
        const found = extractToken(request, rawQuery, sources);
        if (found !== undefined) assert.ok(found.token.length > 0);
        const names = sources.flatMap((s) => s.type === "query" && s.name ? [s.name] : []);
        const stripped = removeQueryParams(rawQuery, names);
        // Nothing is invented: every kept piece was in the input, in order.
        const input = rawQuery.split("&");
        let at = 0;
        for (const piece of stripped === "" ? [] : stripped.split("&")) {
          at = input.indexOf(piece, at);
          assert.ok(at !== -1);
          at++;
        }
        for (const name of names) {
          if (stripped !== "") {
            assert.equal(extractToken(request, stripped, [query(name)]), undefined);
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});
