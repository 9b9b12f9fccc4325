// Owns the unit tests of config loading: every rule and message, positions, env substitution.

import assert from "node:assert/strict";
import { stringify } from "yaml";
import {
  editDistance,
  formatIssue,
  formatPath,
  loadConfigFile,
  parseConfig,
  readPlainScalar,
} from "./load.ts";
import { NOT_YET_SUPPORTED, SECTION_KEYS } from "./schema.ts";
import type { Config } from "./types.ts";
import {
  assertOneError,
  DELETE,
  errors,
  fixture,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  show,
  twoRawBuckets,
} from "./_test_support.ts";

/** A valid config as YAML would give it (snake_case), fresh for each test to mutate. */
function validRaw(): Record<string, unknown> {
  return { server: { address: "0.0.0.0", port: 8080 }, buckets: twoRawBuckets() };
}

/** Sets (or deletes) `path` ("buckets[0].s3.region") in a fresh validRaw(). */
function rawWith(path: string, value: unknown): Record<string, unknown> {
  return setPath(validRaw(), path, value);
}

// ---- defaults and the camelCase result ------------------------------------------------------

Deno.test("parseConfig() applies every default and maps snake_case to camelCase", () => {
  const config = ok(parseConfig(Deno.readTextFileSync(fixture("valid-minimal.yaml")), { env: {} }));
  assert.deepEqual(config, {
    server: {
      address: "0.0.0.0",
      port: 8080,
      requestTimeout: 30,
      shutdownTimeout: 30,
      securityLimits: { maxUriLength: 8192, maxHeaderSize: 65_536, maxBodySize: 10_485_760 },
      maxConcurrentRequests: 1000,
    },
    buckets: [{
      name: "assets",
      pathPrefix: "/assets",
      s3: {
        bucket: "assets",
        region: "us-east-1",
        endpoint: undefined,
        accessKey: "test-access-key",
        secretKey: "test-secret-key",
        sessionToken: undefined,
        timeout: 20,
        connectTimeout: 5,
        idleTimeout: 20,
        retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
        circuitBreaker: undefined,
      },
    }],
    logging: { level: "info", format: "json", writer: "auto" },
  });
});

Deno.test("parseConfig() reads every supported key and warns about the ignored ones", async () => {
  const result = await loadConfigFile(fixture("valid-full.yaml"), { env: {} });
  const config = ok(result);
  assert.deepEqual(config.server, {
    address: "127.0.0.1",
    port: 9000,
    requestTimeout: 12.5,
    shutdownTimeout: 0,
    securityLimits: { maxUriLength: 4096, maxHeaderSize: 16_384, maxBodySize: 1024 },
    maxConcurrentRequests: 1000,
  });
  assert.deepEqual(config.buckets[0], {
    name: "public-assets",
    pathPrefix: "/public",
    s3: {
      bucket: "public.assets-1",
      region: "eu-central-1",
      endpoint: "http://127.0.0.1:9000",
      accessKey: "AKIDEXAMPLE",
      secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "session-token-value",
      timeout: 5,
      connectTimeout: 1.5,
      idleTimeout: 7,
      retry: { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 400 },
      circuitBreaker: {
        failureThreshold: 10,
        successThreshold: 3,
        timeoutSeconds: 30,
        halfOpenMaxRequests: 1,
      },
    },
    cache: { enabled: true, ttlSeconds: 0, maxItemBytes: 524_288 },
  });
  assert.equal(config.buckets[1]?.pathPrefix, "/");
  assert.deepEqual(config.buckets[1]?.cache, {
    enabled: false,
    ttlSeconds: undefined,
    maxItemBytes: undefined,
  });
  assert.deepEqual(config.cache?.memory, {
    maxItemBytes: 2_621_440,
    maxCacheBytes: 67_108_864,
    defaultTtlSeconds: 600,
  });
  assert.deepEqual(config.logging, { level: "debug", format: "pretty", writer: "inline" });
  assert.deepEqual(result.warnings.map((warning) => formatIssue("f", warning)), [
    "f:7:3 server.threads: `threads` is ignored: Deno serves every request on one event loop, " +
    "so there are no worker threads to size; you can remove it",
    "f:20:7 buckets[0].s3.connection_pool_size: `connection_pool_size` is ignored: fetch pools " +
    "and reuses upstream connections itself; you can remove it",
  ]);
});

Deno.test("parseConfig() treats empty sections as all-defaults", () => {
  const config = ok(parseConfig(
    "server:\nlogging:\nbuckets:\n  - {name: a, path_prefix: /a, s3: {bucket: abc, access_key: k, secret_key: s}}\n",
    { env: {} },
  ));
  assert.equal(config.server.port, 8080);
  assert.equal(config.logging.level, "info");
});

// ---- one rule, one message ------------------------------------------------------------------

const RULES: RuleCase[] = [
  // server
  {
    name: "port not a number",
    path: "server.port",
    value: "abc",
    message: 'expected an integer from 0 to 65535, got "abc"',
  },
  {
    name: "port too big",
    path: "server.port",
    value: 70000,
    message: "expected an integer from 0 to 65535, got 70000",
  },
  {
    name: "port negative",
    path: "server.port",
    value: -1,
    message: "expected an integer from 0 to 65535, got -1",
  },
  {
    name: "port fractional",
    path: "server.port",
    value: 80.5,
    message: "expected an integer from 0 to 65535, got 80.5",
  },
  {
    name: "port quoted",
    path: "server.port",
    value: "8080",
    message: 'expected an integer from 0 to 65535, got "8080" (a string; remove the quotes)',
  },
  {
    name: "address with a port",
    path: "server.address",
    value: "0.0.0.0:8080",
    message: '"0.0.0.0:8080" includes a port; write address: "0.0.0.0" and port: 8080',
  },
  { name: "address a URL", path: "server.address", value: "http://x", message: /is a URL/ },
  { name: "address empty", path: "server.address", value: "", message: /empty string/ },
  {
    name: "address a number",
    path: "server.address",
    value: 5,
    message: "expected a host name or IP address, got 5 (quote it to make it a string)",
  },
  {
    name: "request_timeout zero",
    path: "server.request_timeout",
    value: 0,
    message: "expected a number of seconds greater than 0 and at most 86400, got 0",
  },
  {
    name: "request_timeout over a day",
    path: "server.request_timeout",
    value: 86401,
    message: /at most 86400, got 86401/,
  },
  {
    name: "request_timeout with a unit",
    path: "server.request_timeout",
    value: "30s",
    message: /got "30s"/,
  },
  {
    name: "shutdown_timeout negative",
    path: "server.shutdown_timeout",
    value: -1,
    message: "expected a number of seconds from 0 to 86400, got -1",
  },
  {
    name: "server a list",
    path: "server",
    value: [1],
    message: "expected a mapping of server settings, got a list",
  },
  // buckets
  {
    name: "buckets missing",
    path: "buckets",
    value: DELETE,
    message: "missing required key `buckets`; add `buckets: ...` at the top level",
  },
  {
    name: "buckets empty",
    path: "buckets",
    value: [],
    message:
      "at least one bucket is required; add an entry with name, path_prefix and s3 under `buckets:`",
  },
  { name: "buckets a mapping", path: "buckets", value: { a: 1 }, message: /got a mapping/ },
  {
    name: "bucket not a mapping",
    path: "buckets[1]",
    value: "x",
    message: 'expected a bucket mapping with name, path_prefix and s3, got "x"',
  },
  {
    name: "name missing",
    path: "buckets[0].name",
    value: DELETE,
    message: "missing required key `name`; add `name: ...` under `buckets[0]`",
  },
  {
    name: "name empty",
    path: "buckets[0].name",
    value: "",
    message: 'expected a non-empty string, got an empty string ""',
  },
  {
    name: "name duplicate",
    path: "buckets[1].name",
    value: "public-assets",
    message:
      /^duplicate bucket name "public-assets" \(buckets\[0\] on line \d+ uses it too\); bucket names must be unique$/,
  },
  {
    name: "path_prefix relative",
    path: "buckets[0].path_prefix",
    value: "public",
    message: '"public" must start with "/" (write "/public")',
  },
  { name: "path_prefix //", path: "buckets[0].path_prefix", value: "/a//b", message: /"\/\/"/ },
  { name: "path_prefix .", path: "buckets[0].path_prefix", value: "/a/./b", message: /"\.\."/ },
  { name: "path_prefix ..", path: "buckets[0].path_prefix", value: "/a/..", message: /"\.\."/ },
  { name: "path_prefix ?", path: "buckets[0].path_prefix", value: "/a?b", message: /"\?" or "#"/ },
  { name: "path_prefix #", path: "buckets[0].path_prefix", value: "/a#b", message: /"\?" or "#"/ },
  { name: "path_prefix space", path: "buckets[0].path_prefix", value: "/a b", message: /spaces/ },
  { name: "path_prefix empty", path: "buckets[0].path_prefix", value: "", message: /empty/ },
  {
    name: "path_prefix duplicate after normalising",
    path: "buckets[1].path_prefix",
    value: "/public/",
    message:
      /^"\/public\/" routes the same paths as buckets\[0\]\.path_prefix on line \d+; each bucket needs its own prefix$/,
  },
  {
    name: "s3 missing",
    path: "buckets[0].s3",
    value: DELETE,
    message: "missing required key `s3`; add `s3: ...` under `buckets[0]`",
  },
  // s3
  {
    name: "bucket too short",
    path: "buckets[0].s3.bucket",
    value: "ab",
    message: '"ab" is not a valid S3 bucket name: it is 2 characters long (S3 bucket names are ' +
      "3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with " +
      "a letter or digit)",
  },
  {
    name: "bucket too long",
    path: "buckets[0].s3.bucket",
    value: "a".repeat(64),
    message: /it is 64 characters long/,
  },
  {
    name: "bucket uppercase",
    path: "buckets[0].s3.bucket",
    value: "My-Bucket",
    message: /the uppercase letter "M"/,
  },
  {
    name: "bucket underscore",
    path: "buckets[0].s3.bucket",
    value: "my_bucket",
    message: /contains "_"/,
  },
  {
    name: "bucket leading -",
    path: "buckets[0].s3.bucket",
    value: "-abc",
    message: /start and end/,
  },
  {
    name: "bucket trailing .",
    path: "buckets[0].s3.bucket",
    value: "abc.",
    message: /start and end/,
  },
  { name: "bucket ..", path: "buckets[0].s3.bucket", value: "a..b", message: /adjacent dots/ },
  { name: "bucket IP", path: "buckets[0].s3.bucket", value: "10.0.0.1", message: /IP address/ },
  {
    name: "region empty",
    path: "buckets[0].s3.region",
    value: "",
    message: 'expected a non-empty string, got an empty string ""',
  },
  {
    name: "endpoint scheme",
    path: "buckets[0].s3.endpoint",
    value: "ftp://host",
    message: '"ftp://host" must use http:// or https://',
  },
  {
    name: "endpoint not a URL",
    path: "buckets[0].s3.endpoint",
    value: "localhost",
    message: /URL/,
  },
  {
    name: "endpoint with a path",
    path: "buckets[0].s3.endpoint",
    value: "http://minio:9000/assets",
    message: '"http://minio:9000/assets" must not have a path: requests go to ' +
      '"<endpoint>/<bucket>/<key>" (write "http://minio:9000")',
  },
  {
    name: "endpoint with a query",
    path: "buckets[0].s3.endpoint",
    value: "http://minio:9000?x=1",
    message: /query string/,
  },
  {
    name: "access_key missing",
    path: "buckets[0].s3.access_key",
    value: DELETE,
    message: "missing required key `access_key`; add `access_key: ...` under `buckets[0].s3`",
  },
  {
    name: "secret_key a number",
    path: "buckets[0].s3.secret_key",
    value: 12345,
    message: "expected a non-empty string, got a number (quote it to make it a string)",
  },
  {
    name: "secret_key blank",
    path: "buckets[0].s3.secret_key",
    value: "   ",
    message: "expected a non-empty string, got a string",
  },
  {
    name: "session_token a list",
    path: "buckets[0].s3.session_token",
    value: ["x"],
    message: "expected a string, got a list",
  },
  {
    name: "s3 timeout zero",
    path: "buckets[0].s3.timeout",
    value: 0,
    message: /greater than 0 and at most 86400, got 0/,
  },
  {
    name: "auth.enabled not a boolean",
    path: "buckets[0].auth",
    value: { enabled: "no" },
    errorPath: "buckets[0].auth.enabled",
    message: 'expected true or false, got "no"',
  },
  // logging
  {
    name: "level unknown",
    path: "logging.level",
    value: "verbose",
    message: 'expected one of "trace", "debug", "info", "warn", "error", got "verbose"',
  },
  {
    name: "format unknown",
    path: "logging.format",
    value: "text",
    message: 'expected one of "json", "pretty", got "text"',
  },
  {
    name: "writer unknown",
    path: "logging.writer",
    value: "worker",
    message: 'expected one of "auto", "thread", "inline", got "worker"',
  },
  // unknown keys
  {
    name: "misspelt bucket key",
    path: "buckets[0].path_prefx",
    value: "/x",
    message: "unknown key `path_prefx`; did you mean `path_prefix`?",
  },
  {
    name: "misspelt top-level key",
    path: "bukets",
    value: [],
    message: "unknown key `bukets`; did you mean `buckets`?",
  },
  {
    name: "misspelt s3 key",
    path: "buckets[1].s3.regoin",
    value: "x",
    message: "unknown key `regoin`; did you mean `region`?",
  },
  {
    name: "unknown key far from any",
    path: "server.https",
    value: true,
    message:
      "unknown key `https`; the keys allowed here are `address`, `port`, `request_timeout`, `shutdown_timeout`, `security_limits`, `trusted_proxies`, `max_concurrent_requests`, `rate_limit`",
  },
  {
    name: "merge key",
    path: "server.<<",
    value: { port: 1 },
    errorPath: 'server["<<"]',
    message: /merge keys/,
  },
];

for (const rule of RULES) {
  Deno.test(`parseConfig() rule: ${rule.name}`, () => {
    const raw = rawWith(rule.path, rule.value);
    assertOneError(parseRaw(raw), rule.errorPath ?? rule.path, rule.message);
  });
}

// Every row of the not-yet-supported table, generated from the table itself.
for (const row of NOT_YET_SUPPORTED) {
  Deno.test(`parseConfig() rejects ${row.path} until ${row.feature} lands`, () => {
    const path = row.path.replaceAll("[]", "[0]");
    const result = parseRaw(rawWith(path, row.when ? true : { enabled: true }));
    const name = row.path.slice(row.path.lastIndexOf(".") + 1);
    assertOneError(
      result,
      path,
      `${row.label ?? `\`${name}\``} is not supported yet (it lands with ${row.feature}); ${
        row.fix ?? "remove it for now"
      }`,
    );
  });
}

Deno.test("parseConfig() accepts auth: {enabled: false} as a public bucket", () => {
  const config = ok(parseRaw(rawWith("buckets[0].auth", { enabled: false })));
  assert.equal(config.buckets[0]?.name, "public-assets");
  ok(parseRaw(rawWith("buckets[0].auth", {})));
});

Deno.test("parseConfig() normalises path prefixes and endpoints", () => {
  const cases: [string, unknown, (config: Config) => unknown, unknown][] = [
    ["buckets[0].path_prefix", "/public/", (c) => c.buckets[0]?.pathPrefix, "/public"],
    ["buckets[0].path_prefix", "/", (c) => c.buckets[0]?.pathPrefix, "/"],
    ["buckets[0].path_prefix", "/a/b.c/d", (c) => c.buckets[0]?.pathPrefix, "/a/b.c/d"],
    [
      "buckets[0].s3.endpoint",
      "http://127.0.0.1:9000/",
      (c) => c.buckets[0]?.s3.endpoint,
      "http://127.0.0.1:9000",
    ],
    [
      "buckets[0].s3.endpoint",
      "HTTPS://S3.Example.COM:443",
      (c) => c.buckets[0]?.s3.endpoint,
      "https://s3.example.com",
    ],
    ["buckets[0].s3.endpoint", "", (c) => c.buckets[0]?.s3.endpoint, undefined],
    ["buckets[0].s3.endpoint", null, (c) => c.buckets[0]?.s3.endpoint, undefined],
    ["buckets[0].s3.session_token", "", (c) => c.buckets[0]?.s3.sessionToken, undefined],
    ["buckets[0].s3.session_token", "tok", (c) => c.buckets[0]?.s3.sessionToken, "tok"],
    ["buckets[0].s3.bucket", "my.bucket-1", (c) => c.buckets[0]?.s3.bucket, "my.bucket-1"],
    ["server.port", 0, (c) => c.server.port, 0],
    ["server.address", "::", (c) => c.server.address, "::"],
    ["server.shutdown_timeout", 0, (c) => c.server.shutdownTimeout, 0],
  ];
  for (const [path, value, read, expected] of cases) {
    assert.deepEqual(read(ok(parseRaw(rawWith(path, value)))), expected, `${path}: ${value}`);
  }
});

Deno.test("parseConfig() never echoes credentials in messages", () => {
  const secret = "SUPER-SECRET-VALUE";
  const texts = [
    stringify(rawWith("buckets[0].s3.secret_key", [secret])),
    stringify(rawWith("buckets[0].s3.access_key", { [secret]: 1 })),
    stringify(rawWith("buckets[0].s3.session_token", 4242)),
    stringify(rawWith("buckets[0].s3.secret_key", `${secret}\${BROKEN`)),
    stringify(rawWith("buckets[0].s3.secret_key", `\${${secret}-x}`)),
    `buckets:\n  - name: a\n    s3:\n      secret_key: "${secret}\n`,
    `buckets:\n  - name: a\n    s3: {secret_key: ${secret}, ]\n`,
  ];
  for (const text of texts) {
    const result = parseConfig(text, { env: {} });
    const all = [...errors(result), ...result.warnings].map((issue) => issue.message).join("\n");
    assert.ok(!all.includes(secret), `leaked in:\n${all}`);
    assert.ok(!all.includes("4242"), `leaked in:\n${all}`);
  }
});

// ---- all errors, positions ------------------------------------------------------------------

Deno.test("parseConfig() reports every error, not only the first", async () => {
  const result = await loadConfigFile(fixture("three-errors.yaml"), { env: {} });
  assert.deepEqual(errors(result).map((issue) => formatIssue("three-errors.yaml", issue)), [
    "three-errors.yaml:3:9 server.port: expected an integer from 0 to 65535, got 70000",
    "three-errors.yaml:6:5 buckets[0].path_prefx: unknown key `path_prefx`; did you mean `path_prefix`?",
    'three-errors.yaml:8:15 buckets[0].s3.bucket: "Assets_Bucket" is not a valid S3 bucket name: ' +
    'it contains the uppercase letter "A" (S3 bucket names are 3-63 characters of lowercase ' +
    "letters, digits, dots and hyphens, starting and ending with a letter or digit)",
  ]);
});

Deno.test("parseConfig() points at the value for bad values and at the key for bad keys", () => {
  const text = [
    "server:", //                  1
    "  port: nope", //             2
    "  portt: 1", //               3
    "buckets:", //                 4
    "  - name: a", //              5
    "    path_prefix: /a", //      6
    "    s3:", //                  7
    "      bucket: abc", //        8
    "      secret_key: s", //      9
    "      regionn: x", //         10
  ].join("\n");
  const found = errors(parseConfig(text, { env: {} }));
  const where = found.map((issue) => [issue.path, issue.line, issue.column]);
  assert.deepEqual(where, [
    ["server.port", 2, 9],
    ["server.portt", 3, 3],
    ["buckets[0].s3.access_key", 7, 5], // missing: the `s3:` key that should hold it
    ["buckets[0].s3.regionn", 10, 7],
  ]);
});

Deno.test("parseConfig() reports YAML syntax errors with their position, and only the first", async () => {
  const found = errors(await loadConfigFile(fixture("syntax-error.txt"), { env: {} }));
  assert.equal(found.length, 1, show(found));
  assert.equal(found[0]?.path, "");
  assert.equal(found[0]?.line, 3);
  assert.match(found[0]?.message ?? "", /^YAML syntax error: /);
});

Deno.test("parseConfig() hints at quoting ${VAR} inside flow collections", () => {
  const found = errors(parseConfig("server: {port: ${PORT}}\n", { env: { PORT: "1" } }));
  assert.match(found[0]?.message ?? "", /quote a \$\{VAR\} reference/);
});

Deno.test("parseConfig() rejects duplicate keys, naming both lines", () => {
  const text = "server:\n  port: 1\n  port: 2\n" + stringify({ buckets: validRaw().buckets });
  assertOneError(
    parseConfig(text, { env: {} }),
    "server.port",
    "duplicate key `port` (first set on line 2); remove one of them",
  );
});

Deno.test("parseConfig() rejects empty files, lists, scalars and multiple documents", () => {
  const cases: [string, RegExp][] = [
    ["", /^the config is empty; it needs at least a `buckets:` list/],
    ["# only a comment\n", /is empty/],
    [
      "- a\n- b\n",
      /^expected a mapping with server, buckets and logging at the top level, got a list$/,
    ],
    ["just text\n", /top level, got "just text"/],
    ["a: 1\n---\nb: 2\n", /more than one YAML document/],
  ];
  for (const [text, message] of cases) {
    const found = errors(parseConfig(text, { env: {} }));
    assert.equal(found.length, 1, show(found));
    assert.match(found[0]?.message ?? "", message);
  }
});

Deno.test("parseConfig() follows aliases and reports unknown ones", () => {
  const text = [
    "creds: &c {access_key: a, secret_key: s}",
    "buckets: []",
  ].join("\n");
  assert.match(show(errors(parseConfig(text, { env: {} }))), /unknown key `creds`/);
  const aliased = [
    "buckets:",
    "  - name: a",
    "    path_prefix: &p /a",
    "    s3: &s {bucket: abc, access_key: k, secret_key: s}",
    "  - name: b",
    "    path_prefix: /b",
    "    s3: *s",
  ].join("\n");
  assert.equal(ok(parseConfig(aliased, { env: {} })).buckets[1]?.s3.bucket, "abc");
  const unknown = "server:\n  port: *nope\nbuckets: []\n";
  assert.match(show(errors(parseConfig(unknown, { env: {} }))), /unknown alias \*nope/);
});

Deno.test("parseConfig() bounds alias expansion and rejects self-referencing aliases", () => {
  const laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (const name of "bcdefghij") {
    const previous = String.fromCharCode(name.charCodeAt(0) - 1);
    laughs.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(", ")}]`);
  }
  const started = performance.now();
  const found = errors(parseConfig(laughs.join("\n"), { env: {} }));
  assert.ok(performance.now() - started < 2000, "expansion is bounded");
  assert.match(show(found), /expands to more than 100000 nodes/);
  const cyclic = errors(parseConfig("server: &s {port: 1, again: *s}\nbuckets: []\n", { env: {} }));
  assert.ok(cyclic.length > 0);
});

// ---- environment substitution ---------------------------------------------------------------

const ENV_BASE = (secret: string) =>
  [
    "buckets:",
    "  - name: a",
    "    path_prefix: /a",
    "    s3:",
    "      bucket: abc",
    "      access_key: k",
    `      secret_key: ${secret}`,
  ].join("\n") + "\n";

Deno.test("parseConfig() reports a missing variable with the key path and the variable", () => {
  assertOneError(
    parseConfig(ENV_BASE("${AWS_SECRET_KEY}"), { env: {} }),
    "buckets[0].s3.secret_key",
    "environment variable AWS_SECRET_KEY is not set (use ${AWS_SECRET_KEY:-default} to give a default)",
  );
});

Deno.test("parseConfig() substitutes in values, never in comments or keys", () => {
  const text = "# ${NOT_SET_ANYWHERE}\n" + ENV_BASE("${SK} # ${ALSO_NOT_SET}");
  assert.equal(ok(parseConfig(text, { env: { SK: "s3cr3t" } })).buckets[0]?.s3.secretKey, "s3cr3t");
  const inKey = "${KEY}: 1\n" + ENV_BASE("s");
  const found = errors(parseConfig(inKey, { env: { KEY: "server" } }));
  assert.deepEqual(found.map((issue) => issue.path), ['["${KEY}"]']);
  assert.match(found[0]?.message ?? "", /unknown key `\$\{KEY\}`/);
});

Deno.test("parseConfig() uses ${VAR:-default} when VAR is unset or empty", () => {
  const read = (env: Record<string, string>) =>
    ok(parseConfig(ENV_BASE("${SK:-fallback}"), { env })).buckets[0]?.s3.secretKey;
  assert.equal(read({}), "fallback");
  assert.equal(read({ SK: "" }), "fallback");
  assert.equal(read({ SK: "set" }), "set");
  // Without ":-", an empty variable is a value like any other.
  const empty = parseConfig(ENV_BASE('"${SK}"'), { env: { SK: "" } });
  assert.match(show(errors(empty)), /secret_key: expected a non-empty string, got an empty string/);
});

Deno.test("parseConfig() re-reads substituted plain scalars as YAML, quoted ones stay strings", () => {
  const text = (port: string) =>
    `server:\n  port: ${port}\n` + ENV_BASE("s").replace("buckets:\n", "buckets:\n");
  assert.equal(ok(parseConfig(text("${PORT:-8080}"), { env: {} })).server.port, 8080);
  assert.equal(ok(parseConfig(text("${PORT}"), { env: { PORT: "0x10" } })).server.port, 16);
  assertOneError(
    parseConfig(text('"${PORT}"'), { env: { PORT: "9000" } }),
    "server.port",
    'expected an integer from 0 to 65535, got "9000" (a string; remove the quotes) (the value came from ${PORT})',
  );
  assertOneError(
    parseConfig(text("${PORT}"), { env: { PORT: "abc" } }),
    "server.port",
    'expected an integer from 0 to 65535, got "abc" (the value came from ${PORT})',
  );
  // Where the schema wants text, the variable's text is used even if YAML reads it as a number.
  const numeric = parseConfig(ENV_BASE("${SK}"), { env: { SK: "12345" } });
  assert.equal(ok(numeric).buckets[0]?.s3.secretKey, "12345");
  const named = parseConfig(ENV_BASE("s").replace("name: a", "name: ${N}"), { env: { N: "true" } });
  assert.equal(ok(named).buckets[0]?.name, "true");
  // ...but a literal number in the file is the user's YAML: quoting it is the fix.
  assert.match(show(errors(parseConfig(ENV_BASE("12345"), { env: {} }))), /quote it/);
  // A value that only looks like YAML structure stays a scalar: it is read as a scalar.
  const structural = parseConfig(ENV_BASE("${SK}"), { env: { SK: "[a, b]" } });
  assert.equal(ok(structural).buckets[0]?.s3.secretKey, "[a, b]");
});

Deno.test("parseConfig() keeps $${ as a literal ${ and does not substitute twice", () => {
  const read = (value: string, env: Record<string, string> = {}) =>
    ok(parseConfig(ENV_BASE(value), { env })).buckets[0]?.s3.secretKey;
  assert.equal(read('"$${NOT_A_VAR}"'), "${NOT_A_VAR}");
  // Scanning left to right, "$$${X}" is "$" then the escape "$${": no substitution.
  assert.equal(read('"a$$${X}b"', { X: "1" }), "a$${X}b");
  assert.equal(read('"a$${X}${X}b"', { X: "1" }), "a${X}1b");
  assert.equal(read("${A}${B}", { A: "x", B: "y" }), "xy");
  assert.equal(read("${A}", { A: "${B}" }), "${B}");
  assert.equal(read('"$5 and $HOME"'), "$5 and $HOME");
});

Deno.test("parseConfig() rejects malformed references", () => {
  const cases: [string, RegExp][] = [
    ['"${}"', /invalid environment variable reference "\$\{\}"/],
    ['"${1X}"', /invalid environment variable reference "\$\{1X\}"/],
    ['"${X-default}"', /invalid environment variable reference/],
    ['"${X"', /unterminated environment variable reference/],
  ];
  for (const [value, message] of cases) {
    // Not the secret key, so the reference may be shown.
    const text = ENV_BASE("s").replace("bucket: abc", `bucket: ${value}`);
    assertOneError(parseConfig(text, { env: {} }), "buckets[0].s3.bucket", message);
  }
});

Deno.test("parseConfig() does not report variables inside keys it already rejected", async () => {
  const found = errors(await loadConfigFile(fixture("not-supported.yaml"), { env: {} }));
  assert.deepEqual(found.map((issue) => issue.path), [
    "server.coalescing",
    "observability",
  ]);
  assert.ok(!show(found).includes("SAMPLE_RATE"));
});

Deno.test("parseConfig() reads the process environment by default", () => {
  const name = "YATAGARASU_CONFIG_TEST_SECRET";
  Deno.env.set(name, "from-env");
  try {
    const config = ok(parseConfig(ENV_BASE(`\${${name}}`)));
    assert.equal(config.buckets[0]?.s3.secretKey, "from-env");
  } finally {
    Deno.env.delete(name);
  }
});

Deno.test("loadConfigFile() substitutes from the given env", async () => {
  const config = ok(
    await loadConfigFile(fixture("env.yaml"), {
      env: { YG_TEST_PORT: "9001", YG_TEST_SECRET_KEY: "sk" },
    }),
  );
  assert.equal(config.server.port, 9001);
  assert.equal(config.buckets[0]?.s3.accessKey, "default-access");
  assert.equal(config.buckets[0]?.s3.secretKey, "sk");
});

// ---- files and formatting -------------------------------------------------------------------

Deno.test("loadConfigFile() turns a missing or unreadable file into an issue", async () => {
  for (const path of [fixture("does-not-exist.yaml"), fixture(".")]) {
    const found = errors(await loadConfigFile(path));
    assert.equal(found.length, 1);
    assert.equal(found[0]?.path, "");
    assert.ok(found[0]?.message.startsWith(`cannot read config file ${JSON.stringify(path)}: `));
  }
});

const EXAMPLE = new URL("../../config.example.yaml", import.meta.url).pathname;

Deno.test("config.example.yaml loads with no environment set", async () => {
  const result = await loadConfigFile(EXAMPLE, { env: {} });
  const config = ok(result);
  assert.deepEqual(result.warnings, []);
  assert.deepEqual(
    config.buckets.map((bucket) => `${bucket.name} -> ${bucket.pathPrefix}`),
    ["public-assets -> /public", "private -> /private"],
  );
  // The private bucket is guarded by the top-level jwt; the public one is not.
  assert.equal(config.buckets[0]?.jwt, undefined);
  assert.equal(config.buckets[1]?.jwt, config.jwt);
  assert.equal(config.jwt?.algorithm, "RS256");
  assert.equal(config.jwt?.rsaPublicKeyPath, "/etc/yatagarasu/jwt-public.pem");
  assert.deepEqual(config.admin, { allowUnauthenticated: false });
  assert.deepEqual(config.cache, {
    layers: ["memory"],
    memory: { maxItemBytes: 10_485_760, maxCacheBytes: 1_073_741_824, defaultTtlSeconds: 3600 },
    disk: undefined,
    redis: undefined,
    warming: { concurrency: 10, rateLimit: 100 },
    staleIfErrorSeconds: 0,
  });
});

/**
 * The commented-out settings of config.example.yaml, as runs of lines: an indented "# " followed
 * by YAML (a `key:`, a `- ` item, or deeper indentation). Prose comments start otherwise.
 */
function commentedBlocks(lines: string[]): { start: number; end: number }[] {
  const yamlish = /^(\s+)# ((?:[a-z_]+:(?: .*)?)|(?: {2}.*)|(?:- .*))$/;
  const blocks: { start: number; end: number }[] = [];
  lines.forEach((line, index) => {
    if (!yamlish.test(line)) return;
    const last = blocks.at(-1);
    if (last && last.end === index) last.end = index + 1;
    else blocks.push({ start: index, end: index + 1 });
  });
  return blocks;
}

Deno.test("config.example.yaml: each commented-out block is valid once uncommented", async () => {
  const lines = (await Deno.readTextFile(EXAMPLE)).split("\n");
  const blocks = commentedBlocks(lines);
  // threads, connection_pool_size, the bucket jwt, opa, openfga, signed_urls, and the jwt keys.
  assert.ok(blocks.length >= 14, `found only ${blocks.length} commented-out blocks`);
  for (const { start, end } of blocks) {
    // Each variable the block uses gets a value long enough for any secret.
    const env: Record<string, string> = {};
    for (const [, name] of lines.slice(start, end).join("\n").matchAll(/\$\{([A-Z_]+)\}/g)) {
      env[name ?? ""] = "v".repeat(48);
    }
    const text = lines.map((line, index) =>
      index >= start && index < end ? line.replace(/^(\s+)# /, "$1") : line
    ).join("\n");
    const result = parseConfig(text, { env });
    const where = `lines ${start + 1}-${end}:\n${lines.slice(start, end).join("\n")}`;
    if (!result.ok) assert.fail(`${where}\n${show(result.errors)}`);
  }
});

Deno.test("config.example.yaml documents every key the schema accepts", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const missing: string[] = [];
  for (const [section, keys] of Object.entries(SECTION_KEYS)) {
    for (const name of keys) {
      if (!new RegExp(`(^|[\\s{,#-])${name}:`, "m").test(text)) missing.push(`${section}.${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

Deno.test("formatIssue() prints file:line:column path: message", () => {
  assert.equal(
    formatIssue("config.yaml", { path: "buckets[1].s3.region", line: 12, column: 5, message: "m" }),
    "config.yaml:12:5 buckets[1].s3.region: m",
  );
  assert.equal(formatIssue("c.yaml", { path: "", line: 3, message: "m" }), "c.yaml:3 m");
  assert.equal(formatIssue("c.yaml", { path: "", message: "m" }), "c.yaml m");
});

Deno.test("formatPath() writes indices in brackets and quotes odd keys", () => {
  assert.equal(formatPath(["buckets", 1, "s3", "region"]), "buckets[1].s3.region");
  assert.equal(formatPath([]), "");
  assert.equal(formatPath(["server", "a b"]), 'server["a b"]');
});

Deno.test("readPlainScalar() follows the YAML 1.2 core schema", () => {
  const cases: [string, unknown][] = [
    ["", null],
    ["~", null],
    ["true", true],
    ["False", false],
    ["yes", "yes"],
    ["8080", 8080],
    ["-3", -3],
    ["0o17", 15],
    ["0xff", 255],
    ["1.5", 1.5],
    ["1e3", 1000],
    [".inf", Infinity],
    ["08", 8],
    ["1_000", "1_000"],
    ["a: b", "a: b"],
  ];
  for (const [text, expected] of cases) assert.deepEqual(readPlainScalar(text), expected, text);
  assert.ok(Number.isNaN(readPlainScalar(".nan")));
});

Deno.test("editDistance() counts single-character edits", () => {
  assert.equal(editDistance("path_prefx", "path_prefix"), 1);
  assert.equal(editDistance("regoin", "region"), 2);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("same", "same"), 0);
});
