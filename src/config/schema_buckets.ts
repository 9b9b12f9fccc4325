// Owns the schema of one `buckets[]` entry: name, path_prefix, s3 and its per-bucket sections.

import { z } from "zod";
import type { BucketConfig, ReplicaConfig, S3Config } from "./types.ts";
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
import { bucketImageOptimizationSchema } from "./schema_image.ts";
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

/** The single-form keys that `replicas` replaces: each replica names its own. */
const REPLICA_REPLACED_KEYS = [
  "bucket",
  "region",
  "endpoint",
  "access_key",
  "secret_key",
  "session_token",
] as const;

const priorityError = expecting("a whole number from 1 to 255 (1 = tried first)");

const replicaSchema = z.strictObject({
  name: nonEmptyString(),
  bucket: S3_SHAPE.bucket,
  region: S3_SHAPE.region,
  endpoint: S3_SHAPE.endpoint,
  access_key: S3_SHAPE.access_key,
  secret_key: S3_SHAPE.secret_key,
  session_token: S3_SHAPE.session_token,
  priority: z.number({ error: priorityError }).int({ error: priorityError })
    .min(1, { error: priorityError }).max(255, { error: priorityError }),
  timeout: seconds({ min: "positive", default: 20 }),
}, {
  error: expecting("a replica mapping with name, bucket, access_key, secret_key and priority"),
}).transform((raw): ReplicaConfig => ({
  name: raw.name,
  priority: raw.priority,
  bucket: raw.bucket,
  region: raw.region,
  endpoint: raw.endpoint,
  accessKey: raw.access_key,
  secretKey: raw.secret_key,
  sessionToken: raw.session_token,
  timeout: raw.timeout,
}));

const replicasSchema = z.array(replicaSchema, {
  error: expecting("a list of replicas (each with name, bucket, access_key, secret_key, priority)"),
}).superRefine((replicas, ctx) => {
  if (replicas.length === 0) {
    ctx.addIssue({
      code: "custom",
      message: "at least one replica is required; remove `replicas` to use the single-bucket form",
      input: replicas,
    });
  }
  const names = new Map<string, number>();
  const priorities = new Map<number, number>();
  replicas.forEach((replica, i) => {
    const sameName = names.get(replica.name);
    if (sameName !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i, "name"],
        message: `${
          JSON.stringify(replica.name)
        } is already the name of replicas[${sameName}]; replica names must be unique`,
        input: replica.name,
      });
    } else names.set(replica.name, i);
    const samePriority = priorities.get(replica.priority);
    if (samePriority !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i, "priority"],
        message: `${replica.priority} is already the priority of replicas[${samePriority}]; ` +
          "priorities must be unique (1 = tried first)",
        input: replica.priority,
      });
    } else priorities.set(replica.priority, i);
  });
}).transform((replicas) => [...replicas].sort((a, b) => a.priority - b.priority));

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasReplicas(value: Record<string, unknown>): boolean {
  return value.replicas !== undefined && value.replicas !== null;
}

const singleS3Schema = z.strictObject({ ...S3_SHAPE, replicas: optional(replicasSchema) }, {
  error: expecting("a mapping with bucket, region, access_key and secret_key (or replicas)"),
}).transform((raw): S3Config => {
  const first = raw.replicas?.[0];
  return {
    bucket: first?.bucket ?? raw.bucket,
    region: first?.region ?? raw.region,
    endpoint: first === undefined ? raw.endpoint : first.endpoint,
    accessKey: first?.accessKey ?? raw.access_key,
    secretKey: first?.secretKey ?? raw.secret_key,
    sessionToken: first === undefined ? raw.session_token : first.sessionToken,
    timeout: raw.timeout,
    connectTimeout: raw.connect_timeout,
    idleTimeout: raw.idle_timeout ?? raw.timeout,
    retry: raw.retry,
    circuitBreaker: raw.circuit_breaker,
    ...(raw.rate_limit === undefined ? {} : { rateLimit: raw.rate_limit }),
    ...(raw.replicas === undefined ? {} : { replicas: raw.replicas }),
  };
});

/**
 * `s3`: either the single form (bucket, region, endpoint, access_key, secret_key,
 * session_token) or `replicas`, which replaces those keys (each replica names its own); giving
 * both is an error. The bucket-wide keys (timeout, retry, circuit_breaker, ...) apply to both.
 */
export const s3Schema = z.unknown().superRefine((value, ctx) => {
  if (!isMapping(value) || !hasReplicas(value)) return;
  for (const key of REPLICA_REPLACED_KEYS) {
    if (value[key] === undefined) continue;
    ctx.addIssue({
      code: "custom",
      path: [key],
      message: `\`${key}\` cannot be used together with \`replicas\`: each replica has its own ` +
        "bucket, region, endpoint and keys; move it into the replicas or remove `replicas`",
      input: value[key],
    });
  }
}).pipe(z.preprocess((value) => {
  // Replica mode: the single-form keys are not given; placeholders satisfy the single schema
  // and the transform replaces them with the first replica's values.
  if (!isMapping(value) || !hasReplicas(value)) return value;
  return { ...value, bucket: "replica-set", access_key: "-", secret_key: "-" };
}, singleS3Schema));

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
  image_optimization: present(bucketImageOptimizationSchema),
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
  if (raw.image_optimization) config.imageOptimization = raw.image_optimization;
  return { config, auth: raw.auth ?? { enabled: false, jwt: undefined } };
});

export const bucketsError: ErrorFn = (issue) =>
  issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0)
    ? "at least one bucket is required; add an entry with name, path_prefix and s3 under `buckets:`"
    : expecting("a list of buckets (each with name, path_prefix and s3)")(issue);
