// Owns the schema of one `buckets[]` entry: name, path_prefix, s3 and its per-bucket sections.

import { z } from "zod";
import type { BucketConfig, S3Config } from "./types.ts";
import {
  describeValue,
  type ErrorFn,
  expecting,
  nonEmptyString,
  optional,
  present,
  seconds,
} from "./schema_support.ts";
import { authSchema, type ParsedJwt } from "./schema_jwt.ts";
import { authorizationSchema } from "./schema_authorization.ts";
import { signedUrlsSchema } from "./schema_signed_urls.ts";
import { bucketCacheSchema } from "./schema_cache.ts";
import { ipFilterSchema } from "./schema_network.ts";
import { corsSchema } from "./schema_cors.ts";
import { S3_RESILIENCE_SHAPE } from "./schema_resilience.ts";
import { rateLimitRuleSchema } from "./schema_rate_limit.ts";

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

export const S3_SHAPE = {
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
  ...S3_RESILIENCE_SHAPE,
  rate_limit: rateLimitRuleSchema,
};

export const s3Schema = z.strictObject(S3_SHAPE, {
  error: expecting("a mapping with bucket, region, access_key and secret_key"),
}).transform((raw): S3Config => ({
  bucket: raw.bucket,
  region: raw.region,
  endpoint: raw.endpoint,
  accessKey: raw.access_key,
  secretKey: raw.secret_key,
  sessionToken: raw.session_token,
  timeout: raw.timeout,
  connectTimeout: raw.connect_timeout,
  idleTimeout: raw.idle_timeout ?? raw.timeout,
  retry: raw.retry,
  circuitBreaker: raw.circuit_breaker,
  ...(raw.rate_limit === undefined ? {} : { rateLimit: raw.rate_limit }),
}));

// ---- bucket ---------------------------------------------------------------------------------

/**
 * Bucket names appear in admin paths (/admin/cache/purge/{bucket}/{key}), in `bucket:key` of
 * /admin/cache/info and in Redis keys (`prefix` + bucket + ":" + key): ":", "/" and control
 * characters there would make one bucket's purge reach another's entries.
 */
export function bucketNameProblem(name: string): string | undefined {
  // deno-lint-ignore no-control-regex -- control characters are exactly what is refused here
  const bad = /[:/\x00-\x1f\x7f]/.exec(name);
  if (bad === null) return undefined;
  const shown = bad[0] === ":" || bad[0] === "/" ? `"${bad[0]}"` : "a control character";
  return `${JSON.stringify(name)} contains ${shown}; a bucket name must not contain ":", "/" ` +
    'or control characters (it is used in admin paths and cache keys), like "assets"';
}

export const BUCKET_SHAPE = {
  name: nonEmptyString().superRefine((value, ctx) => {
    const problem = bucketNameProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  }),
  path_prefix: z.string({ error: expecting('a path starting with "/"') })
    .superRefine((value, ctx) => {
      const problem = pathPrefixProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .transform(normalizePathPrefix),
  s3: s3Schema,
  auth: optional(authSchema),
  authorization: present(authorizationSchema),
  signed_urls: present(signedUrlsSchema),
  cache: present(bucketCacheSchema),
  ip_filter: present(ipFilterSchema),
  cors: present(corsSchema),
};

/** A bucket before the top-level `jwt` is known: `auth` is resolved by the root transform. */
export interface ParsedBucket {
  config: BucketConfig;
  auth: { enabled: boolean; jwt: ParsedJwt | undefined };
}

export const bucketSchema = z.strictObject(BUCKET_SHAPE, {
  error: expecting("a bucket mapping with name, path_prefix and s3"),
}).transform((raw): ParsedBucket => {
  const config: BucketConfig = { name: raw.name, pathPrefix: raw.path_prefix, s3: raw.s3 };
  if (raw.authorization) config.authorization = raw.authorization;
  if (raw.signed_urls) config.signedUrls = raw.signed_urls;
  if (raw.cache) config.cache = raw.cache;
  if (raw.ip_filter) config.ipFilter = raw.ip_filter;
  if (raw.cors) config.cors = raw.cors;
  return { config, auth: raw.auth ?? { enabled: false, jwt: undefined } };
});

export const bucketsError: ErrorFn = (issue) =>
  issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0)
    ? "at least one bucket is required; add an entry with name, path_prefix and s3 under `buckets:`"
    : expecting("a list of buckets (each with name, path_prefix and s3)")(issue);
