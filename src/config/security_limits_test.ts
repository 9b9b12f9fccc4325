// Owns the unit tests of `server.security_limits` (defaults, every rule and message, "did you mean").

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import {
  assertOneError,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  twoRawBuckets,
} from "./_test_support.ts";
import { SECURITY_LIMITS_DEFAULTS } from "./schema_security.ts";

function rawWith(path: string, value: unknown): Record<string, unknown> {
  return setPath({ buckets: twoRawBuckets() }, path, value);
}

Deno.test("security_limits defaults are the original's: 8192, 65536, 10 MiB", () => {
  const config = ok(parseRaw({ buckets: twoRawBuckets() }));
  assert.deepEqual(config.server.securityLimits, {
    maxUriLength: 8192,
    maxHeaderSize: 65_536,
    maxBodySize: 10_485_760,
  });
  assert.deepEqual(config.server.securityLimits, SECURITY_LIMITS_DEFAULTS);
});

Deno.test("an empty `security_limits:` is the defaults; set keys are read", () => {
  const empty = `
server:
  security_limits:
buckets:
  - {name: a, path_prefix: /a, s3: {bucket: abc, access_key: k, secret_key: s}}
`;
  assert.deepEqual(ok(parseConfig(empty, { env: {} })).server.securityLimits, {
    ...SECURITY_LIMITS_DEFAULTS,
  });
  const set = ok(parseRaw(rawWith("server.security_limits", {
    max_uri_length: 256,
    max_header_size: 1024,
    max_body_size: 0,
  })));
  assert.deepEqual(set.server.securityLimits, {
    maxUriLength: 256,
    maxHeaderSize: 1024,
    maxBodySize: 0,
  });
  const one = ok(parseRaw(rawWith("server.security_limits.max_uri_length", 2048)));
  assert.deepEqual(one.server.securityLimits, {
    ...SECURITY_LIMITS_DEFAULTS,
    maxUriLength: 2048,
  });
});

const RULES: RuleCase[] = [
  {
    name: "max_uri_length below 256",
    path: "server.security_limits.max_uri_length",
    value: 100,
    message: "expected a whole number of characters from 256 to 1048576, got 100",
  },
  {
    name: "max_uri_length fractional",
    path: "server.security_limits.max_uri_length",
    value: 8192.5,
    message: "expected a whole number of characters from 256 to 1048576, got 8192.5",
  },
  {
    name: "max_header_size quoted",
    path: "server.security_limits.max_header_size",
    value: "65536",
    message:
      'expected a whole number of bytes from 1024 to 1048576, got "65536" (a string; remove the quotes)',
  },
  {
    name: "max_header_size above 1 MiB",
    path: "server.security_limits.max_header_size",
    value: 2_000_000,
    message: "expected a whole number of bytes from 1024 to 1048576, got 2000000",
  },
  {
    name: "max_body_size negative",
    path: "server.security_limits.max_body_size",
    value: -1,
    message: "expected a whole number of bytes from 0 to 1073741824, got -1",
  },
  {
    name: "security_limits not a mapping",
    path: "server.security_limits",
    value: [8192],
    message:
      "expected a mapping like {max_uri_length: 8192, max_header_size: 65536, max_body_size: 10485760}, got a list",
  },
  {
    name: "a misspelt key",
    path: "server.security_limits.max_uri_lenght",
    value: 8192,
    message: "unknown key `max_uri_lenght`; did you mean `max_uri_length`?",
  },
  {
    name: "a keyword blocklist key the gateway does not have",
    path: "server.security_limits.sql_injection",
    value: true,
    message: /^unknown key `sql_injection`; the keys allowed here are `max_uri_length`, /,
  },
];

for (const rule of RULES) {
  Deno.test(`security_limits rule: ${rule.name}`, () => {
    assertOneError(
      parseRaw(rawWith(rule.path, rule.value)),
      rule.errorPath ?? rule.path,
      rule.message,
    );
  });
}
