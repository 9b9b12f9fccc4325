// Owns the unit tests of the protection config: server.trusted_proxies, buckets[].ip_filter and
// buckets[].cors — defaults, canonical forms, every rule's message and position.

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import {
  assertOneError,
  DELETE,
  errors,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  show,
  twoRawBuckets,
} from "./_test_support.ts";

function rawWith(path: string, value: unknown): Record<string, unknown> {
  return setPath({ buckets: twoRawBuckets() }, path, value);
}

const CORS = { allowed_origins: ["https://app.example.com"] };

Deno.test("trusted_proxies: none by default, canonical CIDRs when given", () => {
  assert.equal(ok(parseRaw(rawWith("server.port", 1))).server.trustedProxies, undefined);
  assert.equal(
    ok(parseRaw(rawWith("server.trusted_proxies", []))).server.trustedProxies,
    undefined,
  );
  assert.equal(
    ok(parseRaw(rawWith("server.trusted_proxies", null))).server.trustedProxies,
    undefined,
  );
  const config = ok(parseRaw(rawWith("server.trusted_proxies", [
    "10.0.0.0/8",
    " 192.0.2.1 ",
    "2001:DB8:0::/32",
    "::ffff:172.16.0.0/108",
  ])));
  assert.deepEqual(config.server.trustedProxies, [
    "10.0.0.0/8",
    "192.0.2.1/32",
    "2001:db8::/32",
    "172.16.0.0/12",
  ]);
});

Deno.test("ip_filter: lists default to empty and come out canonical", () => {
  const empty = ok(parseRaw(rawWith("buckets[0].ip_filter", null)));
  assert.deepEqual(empty.buckets[0]?.ipFilter, { allowlist: [], blocklist: [] });
  assert.equal(empty.buckets[1]?.ipFilter, undefined);
  const config = ok(parseRaw(rawWith("buckets[0].ip_filter", {
    allowlist: ["203.0.113.0/24", "2001:db8:BEEF::/48"],
    blocklist: ["203.0.113.66"],
  })));
  assert.deepEqual(config.buckets[0]?.ipFilter, {
    allowlist: ["203.0.113.0/24", "2001:db8:beef::/48"],
    blocklist: ["203.0.113.66/32"],
  });
});

Deno.test("cors: defaults for everything but allowed_origins", () => {
  const config = ok(parseRaw(rawWith("buckets[1].cors", CORS)));
  assert.equal(config.buckets[0]?.cors, undefined);
  assert.deepEqual(config.buckets[1]?.cors, {
    allowedOrigins: ["https://app.example.com"],
    allowedMethods: ["GET", "HEAD"],
    allowedHeaders: [],
    exposedHeaders: [],
    maxAgeSeconds: 86_400,
    allowCredentials: false,
  });
  const full = ok(parseRaw(rawWith("buckets[0].cors", {
    allowed_origins: ["https://app.example.com", "http://localhost:3000"],
    allowed_methods: ["GET"],
    allowed_headers: ["Authorization", "Range"],
    exposed_headers: ["ETag"],
    max_age: 0,
    allow_credentials: true,
  })));
  assert.deepEqual(full.buckets[0]?.cors, {
    allowedOrigins: ["https://app.example.com", "http://localhost:3000"],
    allowedMethods: ["GET"],
    allowedHeaders: ["authorization", "range"],
    exposedHeaders: ["ETag"],
    maxAgeSeconds: 0,
    allowCredentials: true,
  });
  // "*" everywhere is fine without credentials.
  ok(parseRaw(rawWith("buckets[0].cors", {
    allowed_origins: ["*"],
    allowed_headers: ["*"],
    exposed_headers: ["*"],
  })));
  // allowed_headers "*" is fine with credentials: the gateway echoes the names asked for.
  ok(parseRaw(rawWith("buckets[0].cors", {
    allowed_origins: ["https://a.example"],
    allowed_headers: ["*"],
    allow_credentials: true,
  })));
});

const RULES: RuleCase[] = [
  {
    name: "trusted proxy not a range",
    path: "server.trusted_proxies",
    value: ["proxy.internal"],
    errorPath: "server.trusted_proxies[0]",
    message:
      '"proxy.internal" is not an IP address or CIDR range; write an IPv4 range like "10.0.0.0/8", an IPv6 range like "2001:db8::/32", or one address like "192.0.2.1"',
  },
  {
    name: "trusted proxy with host bits",
    path: "server.trusted_proxies",
    value: ["10.0.0.0/8", "172.16.5.0/12"],
    errorPath: "server.trusted_proxies[1]",
    message:
      '"172.16.5.0/12" has address bits set past its /12 prefix; the range it names is "172.16.0.0/12" (write that, or "172.16.5.0/32" for the one address)',
  },
  {
    name: "trusted proxy prefix too long",
    path: "server.trusted_proxies",
    value: ["2001:db8::/200"],
    errorPath: "server.trusted_proxies[0]",
    message: /invalid prefix length; an IPv6 prefix is a whole number from 0 to 128/,
  },
  {
    name: "trusting everyone",
    path: "server.trusted_proxies",
    value: ["::/0"],
    errorPath: "server.trusted_proxies[0]",
    message: /"::\/0" trusts every address, so any client could pick its own address/,
  },
  {
    name: "duplicate trusted proxy, spelled differently",
    path: "server.trusted_proxies",
    value: ["192.0.2.1", "192.0.2.1/32"],
    errorPath: "server.trusted_proxies[1]",
    message: '"192.0.2.1/32" repeats entry 0 ("192.0.2.1"), the same range; remove one of them',
  },
  {
    name: "trusted proxies not a list",
    path: "server.trusted_proxies",
    value: "10.0.0.0/8",
    message: /^expected a list of CIDR ranges like "10\.0\.0\.0\/8".*, got "10\.0\.0\.0\/8"$/,
  },
  {
    name: "trusted proxy a number",
    path: "server.trusted_proxies",
    value: [10],
    errorPath: "server.trusted_proxies[0]",
    message: /^expected a CIDR range like .*, got 10 \(quote it to make it a string\)$/,
  },
  {
    name: "ip_filter not a mapping",
    path: "buckets[0].ip_filter",
    value: ["10.0.0.0/8"],
    message: "expected a mapping with allowlist and blocklist (lists of CIDR ranges), got a list",
  },
  {
    name: "ip_filter misspelt key",
    path: "buckets[0].ip_filter.allow_list",
    value: [],
    message: /unknown key `allow_list`; did you mean `allowlist`\?/,
  },
  {
    name: "ip_filter bad IPv6 range",
    path: "buckets[0].ip_filter.blocklist",
    value: ["2001:db8::/32", "2001:db8:::1"],
    errorPath: "buckets[0].ip_filter.blocklist[1]",
    message: /"2001:db8:::1" is not an IP address or CIDR range/,
  },
  {
    name: "ip_filter IPv4-mapped range too wide",
    path: "buckets[0].ip_filter.allowlist",
    value: ["::ffff:0:0/64"],
    errorPath: "buckets[0].ip_filter.allowlist[0]",
    message: /IPv4-mapped range shorter than \/96.*write the IPv4 range/,
  },
  {
    name: "ip_filter duplicate",
    path: "buckets[0].ip_filter.allowlist",
    value: ["2001:db8::/32", "2001:DB8:0::/32"],
    errorPath: "buckets[0].ip_filter.allowlist[1]",
    message:
      '"2001:DB8:0::/32" repeats entry 0 ("2001:db8::/32"), the same range; remove one of them',
  },
  {
    name: "cors without allowed_origins",
    path: "buckets[0].cors",
    value: { allowed_methods: ["GET"] },
    errorPath: "buckets[0].cors.allowed_origins",
    message:
      "missing required key `allowed_origins`; add `allowed_origins: ...` under `buckets[0].cors`",
  },
  {
    name: "cors left empty",
    path: "buckets[0].cors",
    value: null,
    errorPath: "buckets[0].cors.allowed_origins",
    message:
      'at least one origin is needed, like ["https://app.example.com"], or ["*"] for every origin',
  },
  {
    name: "cors empty origins",
    path: "buckets[0].cors.allowed_origins",
    value: [],
    message:
      'at least one origin is needed, like ["https://app.example.com"], or ["*"] for every origin',
  },
  {
    name: "cors origin with a path",
    path: "buckets[0].cors.allowed_origins",
    value: ["https://App.example.com:443/"],
    errorPath: "buckets[0].cors.allowed_origins[0]",
    message:
      '"https://App.example.com:443/" is not an origin as browsers send it; write "https://app.example.com" (scheme, host and port only: lowercase, no path, no trailing "/", no default port)',
  },
  {
    name: "cors origin without a scheme",
    path: "buckets[0].cors.allowed_origins",
    value: ["app.example.com"],
    errorPath: "buckets[0].cors.allowed_origins[0]",
    message:
      'expected an origin like "https://app.example.com" (scheme://host[:port]) or "*", got "app.example.com"',
  },
  {
    name: "cors origin of another scheme",
    path: "buckets[0].cors.allowed_origins",
    value: ["ftp://files.example.com"],
    errorPath: "buckets[0].cors.allowed_origins[0]",
    message: '"ftp://files.example.com" must use http:// or https:// (browsers send those origins)',
  },
  {
    name: "cors null origin",
    path: "buckets[0].cors.allowed_origins",
    value: ["null"],
    errorPath: "buckets[0].cors.allowed_origins[0]",
    message: /^"null" is the origin of sandboxed frames and local files/,
  },
  {
    name: "cors wildcard subdomain",
    path: "buckets[0].cors.allowed_origins",
    value: ["https://*.example.com"],
    errorPath: "buckets[0].cors.allowed_origins[0]",
    message: /has a wildcard inside; list each origin/,
  },
  {
    name: "cors star among origins",
    path: "buckets[0].cors.allowed_origins",
    value: ["https://a.example", "*"],
    errorPath: "buckets[0].cors.allowed_origins[1]",
    message:
      '"*" already means every origin; remove the other entries, or remove "*" and keep the list',
  },
  {
    name: "cors duplicate origin",
    path: "buckets[0].cors.allowed_origins",
    value: ["https://a.example", "https://a.example"],
    errorPath: "buckets[0].cors.allowed_origins[1]",
    message: '"https://a.example" repeats entry 0 ("https://a.example"); remove one of them',
  },
  {
    name: "cors lowercase method",
    path: "buckets[0].cors.allowed_methods",
    value: ["get"],
    errorPath: "buckets[0].cors.allowed_methods[0]",
    message: 'expected "GET" or "HEAD", got "get" (methods are case-sensitive: write "GET")',
  },
  {
    name: "cors write method",
    path: "buckets[0].cors.allowed_methods",
    value: ["GET", "PUT"],
    errorPath: "buckets[0].cors.allowed_methods[1]",
    message: 'expected "GET" or "HEAD" (the gateway serves only reads), got "PUT"',
  },
  {
    name: "cors duplicate method",
    path: "buckets[0].cors.allowed_methods",
    value: ["HEAD", "HEAD"],
    errorPath: "buckets[0].cors.allowed_methods[1]",
    message: '"HEAD" is listed twice; remove one of them',
  },
  {
    name: "cors no methods",
    path: "buckets[0].cors.allowed_methods",
    value: [],
    message: 'at least one method is needed: ["GET", "HEAD"] (the default), or one of them',
  },
  {
    name: "cors header name with a colon",
    path: "buckets[0].cors.allowed_headers",
    value: ["Range:"],
    errorPath: "buckets[0].cors.allowed_headers[0]",
    message: /^"Range:" is not a header name; write a name like "Range"/,
  },
  {
    name: "cors duplicate header in another case",
    path: "buckets[0].cors.exposed_headers",
    value: ["ETag", "etag"],
    errorPath: "buckets[0].cors.exposed_headers[1]",
    message: '"etag" repeats entry 0 ("ETag"); remove one of them',
  },
  {
    name: "cors max_age too long",
    path: "buckets[0].cors.max_age",
    value: 604_800,
    message: "expected a whole number of seconds from 0 to 86400, got 604800",
  },
  {
    name: "cors credentials not a boolean",
    path: "buckets[0].cors.allow_credentials",
    value: "yes",
    message: 'expected true or false, got "yes"',
  },
  {
    name: "cors misspelt key",
    path: "buckets[0].cors.allowed_origin",
    value: ["*"],
    message: /unknown key `allowed_origin`; did you mean `allowed_origins`\?/,
  },
];

for (const rule of RULES) {
  Deno.test(`parseConfig() rule: ${rule.name}`, () => {
    const raw = rawWith(rule.path, rule.value);
    // A cors block under test keeps a valid allowed_origins unless the rule is about it.
    if (rule.path.startsWith("buckets[0].cors.") && !rule.path.includes("allowed_origin")) {
      setPath(raw, "buckets[0].cors.allowed_origins", CORS.allowed_origins);
    }
    assertOneError(parseRaw(raw), rule.errorPath ?? rule.path, rule.message);
  });
}

Deno.test("cors: '*' with allow_credentials is refused where it is written (Fetch standard)", () => {
  const raw = rawWith("buckets[0].cors", {
    allowed_origins: ["*"],
    exposed_headers: ["*"],
    allow_credentials: true,
  });
  const found = errors(parseRaw(raw));
  assert.deepEqual(found.map((issue) => issue.path), [
    "buckets[0].cors.allowed_origins[0]",
    "buckets[0].cors.exposed_headers[0]",
  ], show(found));
  assert.match(found[0]!.message, /"\*" cannot be used with allow_credentials: true/);
  assert.match(found[1]!.message, /"\*" exposes nothing on requests with credentials/);
  // Without the wildcard origin, credentials are fine.
  setPath(raw, "buckets[0].cors.allowed_origins", ["https://a.example"]);
  setPath(raw, "buckets[0].cors.exposed_headers", DELETE);
  ok(parseRaw(raw));
});

Deno.test("protection errors point at the offending list element's line and column", () => {
  const text = [
    "server:", //                                           1
    "  trusted_proxies:", //                                2
    "    - 10.0.0.0/8", //                                  3
    "    - 10.0.0.300", //                                  4
    "buckets:", //                                          5
    "  - name: a", //                                       6
    "    path_prefix: /a", //                               7
    "    s3: { bucket: abc, access_key: k, secret_key: s }", // 8
    "    ip_filter:", //                                    9
    "      blocklist: [192.0.2.0/24, 192.0.2.0/33]", //     10
    "    cors:", //                                         11
    '      allowed_origins: ["https://a.example/app"]', //  12
  ].join("\n");
  const found = errors(parseConfig(text, { env: {} }));
  assert.deepEqual(found.map((issue) => [issue.path, issue.line, issue.column]), [
    ["server.trusted_proxies[1]", 4, 7],
    ["buckets[0].ip_filter.blocklist[1]", 10, 33],
    ["buckets[0].cors.allowed_origins[0]", 12, 25],
  ], show(found));
});
