// Owns the one config schema (snake_case YAML in, camelCase Config out, defaults applied) and the
// tables of keys that are not supported yet or accepted-but-ignored.

import { z } from "zod";
import type { BucketConfig, Config, LoggingConfig, S3Config, ServerConfig } from "./types.ts";
import { LOG_LEVELS } from "./types.ts";

/**
 * Keys the original Yatagarasu (or DESIGN.md) defines for features this build does not have yet.
 * Rejecting them beats silently ignoring them (the original ignored unknown keys, so a config could
 * look protected while it was not). When a feature lands, delete its rows here and add its keys to
 * the schema below. `[]` in a path means "every element of this list". A row with `when` only
 * rejects values for which it returns true; `label` replaces the key name in the message.
 */
export const NOT_YET_SUPPORTED: readonly NotYetSupported[] = [
  { path: "server.max_concurrent_requests", feature: "resilience" },
  { path: "server.trusted_proxies", feature: "resilience" },
  { path: "server.security_limits", feature: "resilience" },
  { path: "server.rate_limit", feature: "resilience" },
  { path: "server.coalescing", feature: "caching" },
  { path: "buckets[].s3.retry", feature: "resilience" },
  { path: "buckets[].s3.circuit_breaker", feature: "resilience" },
  { path: "buckets[].s3.rate_limit", feature: "resilience" },
  { path: "buckets[].s3.replicas", feature: "resilience" },
  {
    path: "buckets[].auth.enabled",
    feature: "authentication: JWT",
    when: (value) => value === true,
    label: "`enabled: true`",
    fix: "use `enabled: false` (a public bucket) or remove `auth`",
  },
  { path: "buckets[].auth.jwt", feature: "authentication: JWT" },
  { path: "buckets[].authorization", feature: "authorization" },
  { path: "buckets[].signed_urls", feature: "authentication: signed URLs" },
  { path: "buckets[].cache", feature: "caching" },
  { path: "buckets[].ip_filter", feature: "resilience and protection" },
  { path: "buckets[].cors", feature: "resilience and protection" },
  { path: "jwt", feature: "authentication: JWT" },
  { path: "admin", feature: "authentication: JWT" },
  { path: "cache", feature: "caching" },
  { path: "metrics", feature: "operations" },
  { path: "audit_log", feature: "operations" },
  { path: "observability", feature: "operations" },
  { path: "image_optimization", feature: "image optimization" },
];

export interface NotYetSupported {
  path: string;
  feature: string;
  when?: (value: unknown) => boolean;
  label?: string;
  fix?: string;
}

/** Keys the original accepted that mean nothing on Deno: accepted with a warning saying why. */
export const IGNORED_KEYS: readonly { path: string; reason: string }[] = [
  {
    path: "server.threads",
    reason: "Deno serves every request on one event loop, so there are no worker threads to size",
  },
  {
    path: "buckets[].s3.connection_pool_size",
    reason: "fetch pools and reuses upstream connections itself",
  },
];

/**
 * Upper bound for every duration in seconds: one day. setTimeout silently fires at once for delays
 * above 2^31-1 ms (~24.8 days), so an unbounded timeout would turn into an immediate one.
 */
export const MAX_SECONDS = 86_400;

/** Key names whose values are credentials: never echoed in messages. */
export function isSecretKey(key: string): boolean {
  return /(^|_)(secret|password|token|access_key)(_|$)/.test(key);
}

/** How a value reads in a message ("got ..."); secrets only show their type. */
export function describeValue(value: unknown, secret = false): string {
  if (value === null || value === undefined) return "an empty value";
  if (typeof value === "string") {
    if (value === "") return 'an empty string ""';
    if (secret) return "a string";
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (secret) return `a ${typeof value}`;
  return String(value);
}

type ErrorFn = (issue: { input?: unknown }) => string;

/** The message for "wrong type or out of range": what was expected, what was found. */
function expecting(expected: string, options: { secret?: boolean; text?: boolean } = {}): ErrorFn {
  return (issue) => {
    const got = describeValue(issue.input, options.secret);
    let hint = "";
    // A quoted number is the commonest way to get a string where a number belongs...
    if (
      typeof issue.input === "string" && !options.secret && /^[-+]?[0-9.]+$/.test(issue.input) &&
      /number|integer/.test(expected)
    ) hint = " (a string; remove the quotes)";
    // ...and an unquoted number or true/false where text belongs (YAML reads `name: 2024` as a number).
    if (options.text && (typeof issue.input === "number" || typeof issue.input === "boolean")) {
      hint = " (quote it to make it a string)";
    }
    return `expected ${expected}, got ${got}${hint}`;
  };
}

/** A mapping section that may be left empty (`server:` with every key commented out) or left out. */
function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => value ?? {}, schema);
}

/** An optional value where an empty value ("" or `key:`) means "not set". */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (value === null || value === "" ? undefined : value),
    schema.optional(),
  );
}

function nonEmptyString(options: { secret?: boolean } = {}) {
  const error = expecting("a non-empty string", { ...options, text: true });
  return z.string({ error }).refine((value) => value.trim() !== "", { error });
}

function seconds(options: { min: "positive" | "zero"; default: number }) {
  const expected = options.min === "positive"
    ? `a number of seconds greater than 0 and at most ${MAX_SECONDS}`
    : `a number of seconds from 0 to ${MAX_SECONDS}`;
  const error = expecting(expected);
  const base = z.number({ error });
  const bounded = options.min === "positive" ? base.gt(0, { error }) : base.min(0, { error });
  return bounded.max(MAX_SECONDS, { error }).default(options.default);
}

// ---- server ---------------------------------------------------------------------------------

/** Why `server.address` is wrong, if it is. */
export function addressProblem(address: string): string | undefined {
  if (address.trim() === "") return 'expected a host name or IP address, got an empty string ""';
  if (address.includes("://")) {
    return `${JSON.stringify(address)} is a URL; server.address is only the host (like "0.0.0.0")`;
  }
  // host:port (one colon) is what the original's example wrongly used; IPv6 has several colons.
  const hostPort = /^([^:]+):(\d+)$/.exec(address);
  if (hostPort) {
    return `${JSON.stringify(address)} includes a port; write address: ${
      JSON.stringify(hostPort[1])
    } and port: ${hostPort[2]}`;
  }
  if (/\s/.test(address)) return `${JSON.stringify(address)} must not contain spaces`;
  return undefined;
}

const SERVER_SHAPE = {
  address: z.string({ error: expecting("a host name or IP address", { text: true }) })
    .superRefine((value, ctx) => {
      const problem = addressProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .default("0.0.0.0"),
  port: z.int({ error: expecting("an integer from 0 to 65535") })
    .min(0, { error: expecting("an integer from 0 to 65535") })
    .max(65535, { error: expecting("an integer from 0 to 65535") })
    .default(8080),
  request_timeout: seconds({ min: "positive", default: 30 }),
  shutdown_timeout: seconds({ min: "zero", default: 30 }),
};

const serverSchema = section(
  z.strictObject(SERVER_SHAPE, { error: expecting("a mapping of server settings") })
    .transform((raw): ServerConfig => ({
      address: raw.address,
      port: raw.port,
      requestTimeout: raw.request_timeout,
      shutdownTimeout: raw.shutdown_timeout,
    })),
);

// ---- buckets --------------------------------------------------------------------------------

/** Why a `path_prefix` is unusable, if it is. */
export function pathPrefixProblem(prefix: string): string | undefined {
  const shown = JSON.stringify(prefix);
  if (prefix === "") return 'expected a path starting with "/", got an empty string ""';
  if (!prefix.startsWith("/")) return `${shown} must start with "/" (write "/${prefix}")`;
  if (/[?#]/.test(prefix)) {
    return `${shown} must not contain "?" or "#": a prefix matches the URL path, which has no query or fragment`;
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what we reject
  if (/[\s\x00-\x1f\x7f]/.test(prefix)) {
    return `${shown} must not contain spaces or control characters`;
  }
  if (prefix.includes("//")) return `${shown} must not contain "//" (an empty path segment)`;
  const segments = prefix.split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    return `${shown} must not contain "." or ".." segments (clients and proxies resolve them away)`;
  }
  return undefined;
}

/** "/public/" and "/public" route the same paths: one trailing "/" is dropped, except for "/". */
export function normalizePathPrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
}

/** Why a name breaks S3's bucket naming rules, if it does (only the rules that can reach S3). */
export function s3BucketNameProblem(name: string): string | undefined {
  const rules = "S3 bucket names are 3-63 characters of lowercase letters, digits, dots and " +
    "hyphens, starting and ending with a letter or digit";
  const bad = (why: string) =>
    `${JSON.stringify(name)} is not a valid S3 bucket name: ${why} (${rules})`;
  if (name.length < 3 || name.length > 63) return bad(`it is ${name.length} characters long`);
  const invalid = /[^a-z0-9.-]/.exec(name);
  if (invalid) {
    const char = invalid[0];
    return bad(
      /[A-Z]/.test(char)
        ? `it contains the uppercase letter "${char}"`
        : `it contains ${JSON.stringify(char)}`,
    );
  }
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) {
    return bad("it must start and end with a letter or digit");
  }
  if (name.includes("..")) return bad("it contains two adjacent dots");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return bad("it is formatted like an IP address");
  return undefined;
}

/** Why an S3 endpoint is unusable, if it is; the URL is not echoed when it carries credentials. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `expected an http:// or https:// URL like "http://127.0.0.1:9000", got ${
      describeValue(endpoint)
    }`;
  }
  if (url.username !== "" || url.password !== "") {
    return "the URL must not contain a user name or password; put credentials in access_key and secret_key";
  }
  const shown = JSON.stringify(endpoint);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${shown} must use http:// or https://`;
  }
  if (url.search !== "" || url.hash !== "" || endpoint.includes("?") || endpoint.includes("#")) {
    return `${shown} must not have a query string or fragment`;
  }
  if (url.pathname !== "/") {
    return `${shown} must not have a path: requests go to "<endpoint>/<bucket>/<key>" (write "${url.origin}")`;
  }
  return undefined;
}

const S3_SHAPE = {
  bucket: z.string({ error: expecting("an S3 bucket name", { text: true }) }).superRefine(
    (value, ctx) => {
      const problem = s3BucketNameProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    },
  ),
  region: nonEmptyString().default("us-east-1"),
  endpoint: optional(
    z.string({ error: expecting("an http:// or https:// URL") })
      .superRefine((value, ctx) => {
        const problem = endpointProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
      })
      // The origin has no trailing "/" and no default port; the S3 client appends "/<bucket>/<key>".
      .transform((value) => new URL(value).origin),
  ),
  access_key: nonEmptyString({ secret: true }),
  secret_key: nonEmptyString({ secret: true }),
  session_token: optional(z.string({ error: expecting("a string", { secret: true, text: true }) })),
  timeout: seconds({ min: "positive", default: 20 }),
};

const s3Schema = z.strictObject(S3_SHAPE, {
  error: expecting("a mapping with bucket, region, access_key and secret_key"),
}).transform((raw): S3Config => ({
  bucket: raw.bucket,
  region: raw.region,
  endpoint: raw.endpoint,
  accessKey: raw.access_key,
  secretKey: raw.secret_key,
  sessionToken: raw.session_token,
  timeout: raw.timeout,
}));

const AUTH_SHAPE = {
  // Only `false` gets this far: NOT_YET_SUPPORTED rejects `true` until JWT lands.
  enabled: z.boolean({ error: expecting("true or false") }).default(false),
};

const BUCKET_SHAPE = {
  name: nonEmptyString(),
  path_prefix: z.string({ error: expecting('a path starting with "/"') })
    .superRefine((value, ctx) => {
      const problem = pathPrefixProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .transform(normalizePathPrefix),
  s3: s3Schema,
  auth: optional(
    z.strictObject(AUTH_SHAPE, { error: expecting("a mapping like {enabled: false}") }),
  ),
};

const bucketSchema = z.strictObject(BUCKET_SHAPE, {
  error: expecting("a bucket mapping with name, path_prefix and s3"),
}).transform((raw): BucketConfig => ({ name: raw.name, pathPrefix: raw.path_prefix, s3: raw.s3 }));

const bucketsError: ErrorFn = (issue) =>
  issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0)
    ? "at least one bucket is required; add an entry with name, path_prefix and s3 under `buckets:`"
    : expecting("a list of buckets (each with name, path_prefix and s3)")(issue);

// ---- logging --------------------------------------------------------------------------------

const LOGGING_SHAPE = {
  level: z.enum(LOG_LEVELS, { error: expecting(oneOf(LOG_LEVELS)) }).default("info"),
  format: z.enum(["json", "pretty"], { error: expecting(oneOf(["json", "pretty"])) })
    .default("json"),
};

const loggingSchema = section(
  z.strictObject(LOGGING_SHAPE, { error: expecting("a mapping of logging settings") })
    .transform((raw): LoggingConfig => ({ level: raw.level, format: raw.format })),
);

function oneOf(values: readonly string[]): string {
  return `one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
}

// ---- root -----------------------------------------------------------------------------------

const ROOT_SHAPE = {
  server: serverSchema,
  buckets: z.array(bucketSchema, { error: bucketsError }).min(1, { error: bucketsError }),
  logging: loggingSchema,
};

/** The whole config: parse the YAML's plain value with it (after NOT_YET_SUPPORTED/IGNORED_KEYS). */
export const configSchema = z.strictObject(ROOT_SHAPE, {
  error: expecting("a mapping with server, buckets and logging"),
}).transform((raw): Config => ({
  server: raw.server,
  buckets: raw.buckets,
  logging: raw.logging,
}));

/**
 * The keys the schema accepts in each mapping, by path pattern ("" is the root, "[]" any list
 * element): used for "did you mean" hints and to list the allowed keys.
 */
export const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(ROOT_SHAPE),
  server: Object.keys(SERVER_SHAPE),
  "buckets[]": Object.keys(BUCKET_SHAPE),
  "buckets[].s3": Object.keys(S3_SHAPE),
  "buckets[].auth": Object.keys(AUTH_SHAPE),
  logging: Object.keys(LOGGING_SHAPE),
};
