// Owns the shared building blocks of the config schema: value descriptions, error messages and
// reusable field types (sections, optionals, lists, seconds, service URLs).

import { z } from "zod";

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

export type ErrorFn = (issue: { input?: unknown }) => string;

/** The message for "wrong type or out of range": what was expected, what was found. */
export function expecting(
  expected: string,
  options: { secret?: boolean; text?: boolean } = {},
): ErrorFn {
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
export function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => value ?? {}, schema);
}

/** An optional value where an empty value ("" or `key:`) means "not set". */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (value === null || value === "" ? undefined : value),
    schema.optional(),
  );
}

/**
 * An optional mapping section that, once written, is used even if left empty: `jwt:` with every
 * key commented out means "a jwt with the defaults", not "no jwt" (absent is `undefined`).
 */
export function present<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? {} : value), schema.optional());
}

/** A list that may be left empty (`claims:`) or out: then `fallback()`. */
export function list<T extends z.ZodType>(
  item: T,
  options: { expected: string; fallback: () => z.output<T>[]; empty?: string },
) {
  const error: ErrorFn = (issue) =>
    options.empty !== undefined && Array.isArray(issue.input) && issue.input.length === 0
      ? options.empty
      : expecting(options.expected)(issue);
  const array = z.array(item, { error });
  return z.preprocess(
    (value) => value ?? undefined,
    (options.empty === undefined ? array : array.min(1, { error })).default(options.fallback),
  );
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function nonEmptyString(options: { secret?: boolean } = {}) {
  const error = expecting("a non-empty string", { ...options, text: true });
  return z.string({ error }).refine((value) => value.trim() !== "", { error });
}

export function seconds(options: { min: "positive" | "zero"; default: number }) {
  const expected = options.min === "positive"
    ? `a number of seconds greater than 0 and at most ${MAX_SECONDS}`
    : `a number of seconds from 0 to ${MAX_SECONDS}`;
  const error = expecting(expected);
  const base = z.number({ error });
  const bounded = options.min === "positive" ? base.gt(0, { error }) : base.min(0, { error });
  return bounded.max(MAX_SECONDS, { error }).default(options.default);
}

export function oneOf(values: readonly string[]): string {
  return `one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
}

/** Why the URL of a service (OPA, OpenFGA, a JWKS) is unusable, if it is. */
export function serviceUrlProblem(
  value: string,
  options: { example: string; query: boolean },
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an http:// or https:// URL like ${JSON.stringify(options.example)}, got ${
      describeValue(value)
    }`;
  }
  if (url.username !== "" || url.password !== "") {
    return "the URL must not contain a user name or password (URLs show up in logs)";
  }
  const shown = JSON.stringify(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${shown} must use http:// or https://`;
  }
  if (url.hash !== "" || value.includes("#")) return `${shown} must not have a fragment`;
  if (!options.query && (url.search !== "" || value.includes("?"))) {
    return `${shown} must not have a query string: it is a base URL that paths are added to`;
  }
  return undefined;
}

export function serviceUrl(options: { example: string; query: boolean }) {
  return z.string({ error: expecting(`an http:// or https:// URL like "${options.example}"`) })
    .superRefine((value, ctx) => {
      const problem = serviceUrlProblem(value, options);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    });
}

/** The shortest secret a signed-URL key or an HS* JWT key should have. */
export const MIN_SECRET_LENGTH = 32;
export const MAKE_SECRET = "make one with `openssl rand -base64 48`";

/**
 * Reports every entry of a list equal (by `key`; undefined = not compared) to an earlier one, at
 * its own index, naming the earlier entry: `"x" repeats entry 0 ("x")<note>; remove one of them`.
 */
export function reportDuplicates<T>(
  values: readonly T[],
  ctx: z.RefinementCtx,
  key: (value: T) => string | undefined,
  note = "",
): void {
  const seen = new Map<string, number>();
  values.forEach((value, index) => {
    const k = key(value);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) {
      seen.set(k, index);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: [index],
      message: `${JSON.stringify(value)} repeats entry ${first} (${
        JSON.stringify(values[first])
      })${note}; remove one of them`,
      input: value,
    });
  });
}
