// Owns the helpers the config unit tests share: fixtures, raw-config editing, parsing, one-issue asserts.

import assert from "node:assert/strict";
import { stringify } from "yaml";
import { type ConfigIssue, type ConfigResult, formatIssue, parseConfig } from "./load.ts";
import type { Config } from "./types.ts";

const FIXTURES = new URL("../../tests/fixtures/configs/", import.meta.url);

/** The path of a file in tests/fixtures/configs/. */
export const fixture = (name: string): string => new URL(name, FIXTURES).pathname;

/** The raw test configs' two buckets: "public-assets" at /public and "private" at /private. */
export function twoRawBuckets(): Record<string, unknown>[] {
  return [
    {
      name: "public-assets",
      path_prefix: "/public",
      s3: { bucket: "assets", access_key: "AKID", secret_key: "SECRET" },
    },
    {
      name: "private",
      path_prefix: "/private",
      s3: { bucket: "private-data", access_key: "AKID2", secret_key: "SECRET2" },
    },
  ];
}

/** As a setPath() value: delete the key instead of setting it. */
export const DELETE = Symbol("delete");

/**
 * Sets (or, with DELETE, deletes) `path` ("buckets[0].s3.region") in `root`, making the mappings
 * on the way; returns `root`.
 */
export function setPath(
  root: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const segments = path.match(/[^.[\]]+/g) ?? [];
  // deno-lint-ignore no-explicit-any -- a test helper walking arbitrary JSON
  let current: any = root;
  segments.forEach((segment, index) => {
    const name = /^\d+$/.test(segment) ? Number(segment) : segment;
    if (index === segments.length - 1) {
      if (value === DELETE) delete current[name];
      else current[name] = value;
    } else {
      current[name] ??= {};
      current = current[name];
    }
  });
  return root;
}

/** One row of a rules table: setting `path` to `value` gives exactly one error. */
export interface RuleCase {
  name: string;
  path: string;
  value: unknown;
  /** The error's path when it differs from `path`. */
  errorPath?: string;
  message: string | RegExp;
}

/** Parses a raw (snake_case) config object as YAML text, with `env` as the environment. */
export function parseRaw(raw: unknown, env: Record<string, string> = {}): ConfigResult {
  return parseConfig(stringify(raw), { env });
}

export function ok(result: ConfigResult): Config {
  if (!result.ok) assert.fail(`expected a valid config, got:\n${show(result.errors)}`);
  return result.config;
}

export function errors(result: ConfigResult): ConfigIssue[] {
  if (result.ok) assert.fail("expected errors, the config is valid");
  return result.errors;
}

export function show(issues: ConfigIssue[]): string {
  return issues.map((issue) => formatIssue("config.yaml", issue)).join("\n");
}

/** Exactly one issue, at `path`, whose message equals (string) or matches (RegExp) `message`. */
export function assertOne(issues: ConfigIssue[], path: string, message: string | RegExp): void {
  assert.equal(issues.length, 1, `expected one issue, got:\n${show(issues)}`);
  const [issue] = issues;
  assert.equal(issue?.path, path, show(issues));
  if (typeof message === "string") assert.equal(issue?.message, message);
  else assert.match(issue?.message ?? "", message);
  assert.ok(issue?.line !== undefined && issue.column !== undefined, "an issue carries a position");
}

/** The config is invalid with exactly one error, as assertOne() describes it. */
export function assertOneError(result: ConfigResult, path: string, message: string | RegExp): void {
  assertOne(errors(result), path, message);
}
