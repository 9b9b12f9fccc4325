// Owns claim rules (`claims`, `admin_claims`): compiling them once and evaluating them on a token's claims.

import type { ClaimRule } from "../config/types.ts";

/**
 * Semantics, decided here once (the original could not see registered claims, had no dotted paths
 * and no regex; see reference §1.7):
 * - Every claim is visible, registered ones too (`sub`, `iss`, `exp`...).
 * - `claim` is looked up as an exact top-level name first (so namespaced claims such as
 *   "https://example.com/roles" work), then as a dotted path through nested objects ("realm.roles").
 *   Only own properties count: "constructor" or "__proto__" never resolve to prototype members.
 * - A missing claim fails every operator.
 * - `equals`: JSON deep equality, type-sensitive (1 ≠ "1"; object key order does not matter).
 * - `in`: the rule value is an array; passes when one element deep-equals the claim.
 * - `contains`: a string claim contains the rule value as a substring (the rule value must then be a
 *   string); an array claim has an element deep-equal to the rule value.
 * - `gt` `lt` `gte` `lte`: numeric. A numeric string ("42", "-1.5e3") on either side counts as its
 *   number, so a rule written as "18" in YAML still works; anything else (booleans, "abc", NaN)
 *   fails. The rule value is checked when the rules are compiled.
 * - `regex`: the rule value is compiled once, in Unicode mode, and ANCHORED: the whole claim must
 *   match (write ".*admin.*" for a substring). Anchoring avoids the classic mistake where "admin"
 *   also admits "not-admin". A string claim must match; an array claim passes when one string
 *   element matches; other types fail.
 */
export type CompiledClaimRules = readonly CompiledClaimRule[];

export interface CompiledClaimRule {
  readonly rule: ClaimRule;
  /** The exact name, and its dotted path (undefined when the name has no dot). */
  readonly path: readonly string[] | undefined;
  readonly test: (value: unknown) => string | undefined;
}

export type ClaimsResult = { ok: true } | { ok: false; rule: ClaimRule; reason: string };

const OK: ClaimsResult = Object.freeze({ ok: true });

/** Compiles the rules; throws a TypeError naming the rule when one can never work (config error). */
export function compileClaimRules(
  rules: readonly ClaimRule[],
  label = "claims",
): CompiledClaimRules {
  return Object.freeze(rules.map((rule, index) => compileRule(rule, `${label}[${index}]`)));
}

/** Evaluates compiled rules; ALL must pass. Never throws. */
export function evaluateClaims(
  claims: Record<string, unknown>,
  rules: CompiledClaimRules,
): ClaimsResult {
  for (const compiled of rules) {
    const value = lookupClaim(claims, compiled.rule.claim, compiled.path);
    const reason = value === undefined ? "the claim is missing" : compiled.test(value);
    if (reason !== undefined) return { ok: false, rule: compiled.rule, reason };
  }
  return OK;
}

/** Resolves a claim by exact name, then by dotted path. Undefined when absent. */
export function lookupClaim(
  claims: Record<string, unknown>,
  name: string,
  path: readonly string[] | undefined = name.includes(".") ? name.split(".") : undefined,
): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (path === undefined) return undefined;
  let current: unknown = claims;
  for (const segment of path) {
    if (!isPlainObject(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function compileRule(rule: ClaimRule, where: string): CompiledClaimRule {
  const describe = `${where} (claim "${rule.claim}", operator ${rule.operator})`;
  if (typeof rule.claim !== "string" || rule.claim === "") {
    throw new TypeError(`${where}: "claim" must be a non-empty claim name or dotted path`);
  }
  const path = rule.claim.includes(".") ? rule.claim.split(".") : undefined;
  if (path?.some((segment) => segment === "")) {
    throw new TypeError(`${describe}: the dotted path has an empty segment; write "a.b.c"`);
  }
  const expected = rule.value;
  let test: (value: unknown) => string | undefined;
  switch (rule.operator) {
    case "equals":
      test = (value) => deepEqual(value, expected) ? undefined : "the claim differs from the rule";
      break;
    case "in": {
      if (!Array.isArray(expected)) {
        throw new TypeError(`${describe}: "in" needs a list as value, e.g. [viewer, editor]`);
      }
      const list: readonly unknown[] = expected;
      test = (value) =>
        list.some((item) => deepEqual(value, item)) ? undefined : "the claim is not in the list";
      break;
    }
    case "contains":
      test = (value) => {
        if (typeof value === "string") {
          if (typeof expected !== "string") {
            return "the claim is a string but the rule value is not";
          }
          return value.includes(expected) ? undefined : "the claim does not contain the value";
        }
        if (Array.isArray(value)) {
          return value.some((item) => deepEqual(item, expected))
            ? undefined
            : "the claim list does not contain the value";
        }
        return "the claim is neither a string nor a list";
      };
      break;
    case "gt":
    case "lt":
    case "gte":
    case "lte": {
      const bound = toNumber(expected);
      if (bound === undefined) {
        throw new TypeError(`${describe}: the value must be a number (or a numeric string)`);
      }
      const compare = COMPARE[rule.operator];
      const failure = `the claim is not ${OP_TEXT[rule.operator]}`;
      test = (value) => {
        const actual = toNumber(value);
        if (actual === undefined) return "the claim is not a number";
        return compare(actual, bound) ? undefined : failure;
      };
      break;
    }
    case "regex": {
      if (typeof expected !== "string") {
        throw new TypeError(`${describe}: the value must be a regular expression string`);
      }
      let regex: RegExp;
      try {
        regex = new RegExp(`^(?:${expected})$`, "u");
      } catch (error) {
        throw new TypeError(
          `${describe}: invalid regular expression: ${(error as Error).message}`,
        );
      }
      test = (value) => {
        if (typeof value === "string") {
          return regex.test(value) ? undefined : "the claim does not match the pattern";
        }
        if (Array.isArray(value)) {
          return value.some((item) => typeof item === "string" && regex.test(item))
            ? undefined
            : "no element of the claim matches the pattern";
        }
        return "the claim is not a string";
      };
      break;
    }
    default:
      throw new TypeError(
        `${describe}: unknown operator; use equals, in, contains, gt, lt, gte, lte or regex`,
      );
  }
  return Object.freeze({ rule, path, test });
}

const COMPARE = {
  gt: (a: number, b: number) => a > b,
  lt: (a: number, b: number) => a < b,
  gte: (a: number, b: number) => a >= b,
  lte: (a: number, b: number) => a <= b,
} as const;

const OP_TEXT = {
  gt: "greater than the bound",
  lt: "less than the bound",
  gte: "at least the bound",
  lte: "at most the bound",
} as const;

// A decimal number as JSON or YAML writes it; hex, "Infinity", "" and " 1" are not numbers here.
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && NUMERIC.test(value)) {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON deep equality: same type, same array order, same object keys (any order). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(rb, key) || !deepEqual(ra[key], rb[key])) return false;
  }
  return true;
}
