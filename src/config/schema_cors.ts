// Owns the schema of `buckets[].cors`: origins, methods, headers, max age and credentials.

import { z } from "zod";
import { CORS_METHODS, type CorsConfig } from "./types.ts";
import {
  describeValue,
  type ErrorFn,
  expecting,
  list,
  reportDuplicates,
} from "./schema_support.ts";

/** Longest `cors.max_age`: a day (browsers cap it lower anyway: Chromium at 2 hours). */
export const MAX_CORS_MAX_AGE = 86_400;

const ORIGIN_EXAMPLE = '"https://app.example.com"';

/** Why an `allowed_origins` entry is not a serialized origin (or "*"), if it is not. */
export function originProblem(value: string): string | undefined {
  if (value === "*") return undefined;
  const shown = JSON.stringify(value);
  if (value === "null") {
    return `"null" is the origin of sandboxed frames and local files, which any site can create; allowing it would let every page read this bucket. List real origins like ${ORIGIN_EXAMPLE}`;
  }
  if (value.includes("*")) {
    return `${shown} has a wildcard inside; list each origin (like ${ORIGIN_EXAMPLE}) or write "*" alone for every origin`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an origin like ${ORIGIN_EXAMPLE} (scheme://host[:port]) or "*", got ${
      describeValue(value)
    }`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${shown} must use http:// or https:// (browsers send those origins)`;
  }
  if (url.origin !== value) {
    return `${shown} is not an origin as browsers send it; write ${
      JSON.stringify(url.origin)
    } (scheme, host and port only: lowercase, no path, no trailing "/", no default port)`;
  }
  return undefined;
}

/** RFC 9110 §5.1 field names (tokens). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A list of unique strings, each checked by `problem` and compared by `normalize`. */
function uniqueList(options: {
  what: string;
  example: string;
  problem: (value: string) => string | undefined;
  normalize: (value: string) => string;
  /** Absent: the list is required and may not be empty (`empty` says what to write). */
  fallback?: () => string[];
  empty?: string;
}) {
  const item = z.string({
    error: expecting(`${options.what} like ${options.example}`, { text: true }),
  })
    .superRefine((value, ctx) => {
      const problem = options.problem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    });
  const expected = `a list of ${options.what}s like [${options.example}]`;
  let schema;
  if (options.fallback === undefined) {
    const error: ErrorFn = (issue) =>
      issue.input === null || issue.input === undefined ||
        (Array.isArray(issue.input) && issue.input.length === 0)
        ? options.empty ?? expecting(expected)(issue)
        : expecting(expected)(issue);
    schema = z.array(item, { error }).min(1, { error });
  } else {
    schema = list(item, { expected, fallback: options.fallback });
  }
  return schema.superRefine((values, ctx) => {
    reportDuplicates(values, ctx, options.normalize);
    const star = values.indexOf("*");
    if (star !== -1 && values.length > 1) {
      ctx.addIssue({
        code: "custom",
        path: [star],
        message:
          `"*" already means every ${options.what}; remove the other entries, or remove "*" and keep the list`,
        input: "*",
      });
    }
  });
}

function headerNameProblem(value: string): string | undefined {
  if (value === "*" || FIELD_NAME.test(value)) return undefined;
  return `${
    describeValue(value)
  } is not a header name; write a name like "Range" or "X-Amz-Meta-Author" (letters, digits and "-", no ":" or spaces), or "*"`;
}

const methodError: ErrorFn = (issue) => {
  const input = issue.input;
  const upper = typeof input === "string" ? input.toUpperCase() : undefined;
  if (
    upper !== undefined && upper !== input && (CORS_METHODS as readonly string[]).includes(upper)
  ) {
    return `expected "GET" or "HEAD", got ${
      JSON.stringify(input)
    } (methods are case-sensitive: write ${JSON.stringify(upper)})`;
  }
  return `expected "GET" or "HEAD" (the gateway serves only reads), got ${describeValue(input)}`;
};

export const CORS_SHAPE = {
  allowed_origins: uniqueList({
    what: "origin",
    example: ORIGIN_EXAMPLE,
    problem: originProblem,
    normalize: (value) => value,
    empty: `at least one origin is needed, like [${ORIGIN_EXAMPLE}], or ["*"] for every origin`,
  }),
  allowed_methods: list(z.enum(CORS_METHODS, { error: methodError }), {
    expected: 'a list of methods like ["GET", "HEAD"]',
    fallback: () => [...CORS_METHODS],
    empty: 'at least one method is needed: ["GET", "HEAD"] (the default), or one of them',
  }).superRefine((values, ctx) => {
    values.forEach((value, index) => {
      if (values.indexOf(value) === index) return;
      ctx.addIssue({
        code: "custom",
        path: [index],
        message: `"${value}" is listed twice; remove one of them`,
        input: value,
      });
    });
  }),
  allowed_headers: uniqueList({
    what: "header name",
    example: '"Authorization", "Range"',
    problem: headerNameProblem,
    normalize: (value) => value.toLowerCase(),
    fallback: () => [],
  }),
  exposed_headers: uniqueList({
    what: "header name",
    example: '"ETag", "Content-Range"',
    problem: headerNameProblem,
    normalize: (value) => value.toLowerCase(),
    fallback: () => [],
  }),
  max_age: (() => {
    const error = expecting(`a whole number of seconds from 0 to ${MAX_CORS_MAX_AGE}`);
    return z.int({ error }).min(0, { error }).max(MAX_CORS_MAX_AGE, { error }).default(86_400);
  })(),
  allow_credentials: z.boolean({ error: expecting("true or false") }).default(false),
};

export const corsSchema = z.strictObject(CORS_SHAPE, {
  error: expecting(
    `a mapping with allowed_origins (like [${ORIGIN_EXAMPLE}]) and the other cors settings`,
  ),
}).superRefine((raw, ctx) => {
  if (!raw.allow_credentials) return;
  // The Fetch standard ignores a "*" on credentialed requests: the browser would refuse them all.
  const origin = raw.allowed_origins.indexOf("*");
  if (origin !== -1) {
    ctx.addIssue({
      code: "custom",
      path: ["allowed_origins", origin],
      message:
        `"*" cannot be used with allow_credentials: true (the Fetch standard refuses a wildcard origin on requests with cookies or HTTP authentication); list the origins, like [${ORIGIN_EXAMPLE}], or set allow_credentials: false`,
      input: "*",
    });
  }
  const exposed = raw.exposed_headers.indexOf("*");
  if (exposed !== -1) {
    ctx.addIssue({
      code: "custom",
      path: ["exposed_headers", exposed],
      message:
        '"*" exposes nothing on requests with credentials (the Fetch standard reads it as a header named "*"); list the header names, like ["ETag", "Content-Range"]',
      input: "*",
    });
  }
}).transform((raw): CorsConfig => ({
  allowedOrigins: raw.allowed_origins,
  allowedMethods: raw.allowed_methods,
  allowedHeaders: raw.allowed_headers.map((name) => name.toLowerCase()),
  exposedHeaders: raw.exposed_headers,
  maxAgeSeconds: raw.max_age,
  allowCredentials: raw.allow_credentials,
}));
