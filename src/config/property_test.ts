// Owns the fast-check property tests of config loading: it never throws, and valid configs round-trip.

import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "yaml";
import { type ConfigResult, formatIssue, parseConfig } from "./load.ts";
import { LOG_LEVELS } from "./types.ts";
import type { Config } from "./types.ts";

/** A ConfigResult of the right shape, with no internal error, and every issue well formed. */
function assertWellFormed(result: ConfigResult) {
  assert.equal(typeof result.ok, "boolean");
  const issues = result.ok ? result.warnings : [...result.errors, ...result.warnings];
  if (!result.ok) assert.ok(result.errors.length > 0, "an invalid config has at least one error");
  for (const issue of issues) {
    assert.equal(typeof issue.path, "string");
    assert.equal(typeof issue.message, "string");
    assert.ok(issue.message.length > 0);
    assert.ok(!issue.message.startsWith("internal error"), formatIssue("fuzz", issue));
    // Every issue about a place in the document says where it is.
    if (issue.path !== "") assert.ok((issue.line ?? 0) >= 1, formatIssue("fuzz", issue));
  }
}

/** Pieces that make text look like a config, so the fuzzer reaches past the YAML parser. */
const TOKENS = [
  "server:",
  "buckets:",
  "logging:",
  "s3:",
  "  ",
  "    ",
  "- ",
  "\n",
  ": ",
  "port: ",
  "name: ",
  "path_prefix: ",
  "bucket: ",
  "access_key: ",
  "secret_key: ",
  "endpoint: ",
  "${",
  "}",
  "$${",
  "${X:-",
  ":-",
  "[",
  "]",
  "{",
  "}",
  ",",
  '"',
  "'",
  "#",
  "&a ",
  "*a",
  "<<: ",
  "!!str ",
  "---\n",
  "~",
  "8080",
  "-1",
  "/a",
  "/",
  "abc",
  "true",
  "1e400",
  "0x1F",
  "\t",
  "__proto__",
  "constructor",
];

const yamlish = fc.array(
  fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })),
  { maxLength: 60 },
).map((parts) => parts.join(""));

const ENV = { X: "1", PORT: "8080", EMPTY: "", WEIRD: "a: [b" };

Deno.test("parseConfig() never throws on random YAML-ish text", () => {
  fc.assert(
    fc.property(yamlish, (text) => {
      assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseConfig() never throws on arbitrary strings", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 1000 },
  );
});

/** Serialises a random value; values yaml cannot write are skipped. */
function serialise(value: unknown): string | undefined {
  try {
    return stringify(value);
  } catch {
    return undefined;
  }
}

Deno.test("parseConfig() never throws on random objects, anywhere in the tree", () => {
  const any = fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true });
  const near = fc.record(
    {
      server: fc.oneof(
        any,
        fc.record({ port: any, address: any, threads: any }, { requiredKeys: [] }),
      ),
      buckets: fc.oneof(
        any,
        fc.array(
          fc.record({
            name: any,
            path_prefix: any,
            auth: any,
            s3: fc.oneof(
              any,
              fc.record(
                { bucket: any, endpoint: any, access_key: any, secret_key: any, timeout: any },
                { requiredKeys: [] },
              ),
            ),
          }, { requiredKeys: [] }),
          { maxLength: 3 },
        ),
      ),
      logging: any,
      cache: any,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(any, near), (value) => {
      const text = serialise(value);
      if (text !== undefined) assertWellFormed(parseConfig(text, { env: ENV }));
    }),
    { numRuns: 1500 },
  );
});

// ---- valid configs round-trip ---------------------------------------------------------------

/** `${` in a generated value is written `$${` so that it survives substitution unchanged. */
const escape = (value: string) => value.replaceAll("${", "$${");

/** Any string with something other than whitespace (credentials must not be blank). */
const credential = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" })
  .filter((value) => value.trim() !== "");

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);

const bucketName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/);

const prefix = fc.array(fc.stringMatching(/^[A-Za-z0-9_~-]{1,8}$/), { maxLength: 3 })
  .chain((segments) =>
    fc.constantFrom("", "/").map((trailing) => ({
      written: `/${segments.join("/")}${segments.length > 0 ? trailing : ""}`,
      normal: `/${segments.join("/")}`,
    }))
  );

const seconds = fc.oneof(
  fc.integer({ min: 1, max: 86_400 }),
  fc.double({ min: 0.001, max: 86_400, noNaN: true }),
);

const endpoint = fc.option(
  fc.record({
    scheme: fc.constantFrom("http", "https"),
    // A host label must start with a letter: an all-digit host is read as an IPv4 number.
    host: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), fc.constant("127.0.0.1")),
    port: fc.option(fc.integer({ min: 1, max: 65535 })),
    slash: fc.boolean(),
  }),
  { nil: undefined },
);

const bucket = fc.record({
  name: label,
  prefix,
  bucket: bucketName,
  region: fc.option(label, { nil: undefined }),
  endpoint,
  accessKey: credential,
  secretKey: credential,
  sessionToken: fc.option(credential, { nil: undefined }),
  timeout: fc.option(seconds, { nil: undefined }),
});

const validConfig = fc.record({
  address: fc.option(fc.constantFrom("0.0.0.0", "127.0.0.1", "::", "localhost"), {
    nil: undefined,
  }),
  port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  requestTimeout: fc.option(seconds, { nil: undefined }),
  shutdownTimeout: fc.option(fc.oneof(fc.constant(0), seconds), { nil: undefined }),
  level: fc.option(fc.constantFrom(...LOG_LEVELS), { nil: undefined }),
  format: fc.option(fc.constantFrom("json" as const, "pretty" as const), { nil: undefined }),
  buckets: fc.uniqueArray(bucket, {
    minLength: 1,
    maxLength: 4,
    selector: (b) => b.name,
  }).filter((list) => new Set(list.map((b) => b.prefix.normal)).size === list.length),
});

type Generated = typeof validConfig extends fc.Arbitrary<infer T> ? T : never;

/** The YAML-side (snake_case) object for a generated config; absent optionals are left out. */
function toRaw(generated: Generated): unknown {
  const server: Record<string, unknown> = {};
  if (generated.address !== undefined) server.address = generated.address;
  if (generated.port !== undefined) server.port = generated.port;
  if (generated.requestTimeout !== undefined) server.request_timeout = generated.requestTimeout;
  if (generated.shutdownTimeout !== undefined) server.shutdown_timeout = generated.shutdownTimeout;
  const logging: Record<string, unknown> = {};
  if (generated.level !== undefined) logging.level = generated.level;
  if (generated.format !== undefined) logging.format = generated.format;
  return {
    server,
    buckets: generated.buckets.map((b) => {
      const s3: Record<string, unknown> = {
        bucket: b.bucket,
        access_key: escape(b.accessKey),
        secret_key: escape(b.secretKey),
      };
      if (b.region !== undefined) s3.region = b.region;
      if (b.endpoint !== undefined) {
        s3.endpoint = endpointUrl(b.endpoint) + (b.endpoint.slash ? "/" : "");
      }
      if (b.sessionToken !== undefined) s3.session_token = escape(b.sessionToken);
      if (b.timeout !== undefined) s3.timeout = b.timeout;
      return { name: b.name, path_prefix: b.prefix.written, s3 };
    }),
    logging,
  };
}

function endpointUrl(e: { scheme: string; host: string; port: number | null }): string {
  return `${e.scheme}://${e.host}${e.port === null ? "" : `:${e.port}`}`;
}

/** What parseConfig must give for a generated config. */
function expected(generated: Generated): Config {
  return {
    server: {
      address: generated.address ?? "0.0.0.0",
      port: generated.port ?? 8080,
      requestTimeout: generated.requestTimeout ?? 30,
      shutdownTimeout: generated.shutdownTimeout ?? 30,
    },
    buckets: generated.buckets.map((b) => ({
      name: b.name,
      pathPrefix: b.prefix.normal,
      s3: {
        bucket: b.bucket,
        region: b.region ?? "us-east-1",
        // The URL parser drops default ports; the origin never ends in "/".
        endpoint: b.endpoint === undefined ? undefined : new URL(endpointUrl(b.endpoint)).origin,
        accessKey: b.accessKey,
        secretKey: b.secretKey,
        sessionToken: b.sessionToken,
        timeout: b.timeout ?? 20,
      },
    })),
    logging: { level: generated.level ?? "info", format: generated.format ?? "json" },
  };
}

Deno.test("parseConfig() round-trips random valid configs serialised with yaml", () => {
  fc.assert(
    fc.property(validConfig, (generated) => {
      const result = parseConfig(stringify(toRaw(generated)), { env: {} });
      if (!result.ok) {
        assert.fail(result.errors.map((issue) => formatIssue("generated", issue)).join("\n"));
      }
      assert.deepEqual(result.warnings, []);
      assert.deepEqual(result.config, expected(generated));
    }),
    { numRuns: 500 },
  );
});

Deno.test("parseConfig() round-trips values through ${VAR} and ${VAR:-default}", () => {
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
  fc.assert(
    fc.property(name, credential, fc.boolean(), (variable, value, viaDefault) => {
      const reference = viaDefault ? `\${${variable}:-${value}}` : `\${${variable}}`;
      // A default ends at the first "}", so such values can only come from the variable.
      fc.pre(!viaDefault || !value.includes("}"));
      const env = viaDefault ? {} : { [variable]: value };
      const raw = {
        buckets: [{
          name: "a",
          path_prefix: "/a",
          s3: { bucket: "abc", access_key: "k", secret_key: reference },
        }],
      };
      const result = parseConfig(stringify(raw), { env });
      if (!result.ok) assert.fail(result.errors.map((i) => formatIssue("g", i)).join("\n"));
      assert.equal(result.config.buckets[0]?.s3.secretKey, value);
    }),
    { numRuns: 500 },
  );
});
