// Tests each claim operator (table-driven), dotted paths, compile-time rule errors, and random input safety.

import assert from "node:assert/strict";
import fc from "fast-check";
import { CLAIM_OPERATORS, type ClaimRule } from "../config/types.ts";
import { compileClaimRules, deepEqual, evaluateClaims, lookupClaim } from "./claims.ts";

const claims = {
  sub: "user-42",
  iss: "https://idp.example",
  exp: 1_900_000_000,
  role: "viewer",
  level: 5,
  level_text: "5",
  big: "1e3",
  verified: true,
  nothing: null,
  groups: ["staff", "eng", 7],
  realm: { roles: ["reader", "writer"], tier: { name: "gold" } },
  "https://example.com/roles": ["ns-admin"],
  "a.b": "flat-dotted",
  a: { b: "nested-dotted" },
  obj: { x: 1, y: [1, 2] },
};

type Row = [string, ClaimRule["operator"], unknown, boolean];

const ROWS: Row[] = [
  // equals: JSON deep equality, type-sensitive
  ["role", "equals", "viewer", true],
  ["role", "equals", "Viewer", false],
  ["level", "equals", 5, true],
  ["level", "equals", "5", false],
  ["level_text", "equals", 5, false],
  ["verified", "equals", true, true],
  ["verified", "equals", "true", false],
  ["nothing", "equals", null, true],
  ["obj", "equals", { y: [1, 2], x: 1 }, true],
  ["obj", "equals", { x: 1, y: [2, 1] }, false],
  ["obj", "equals", { x: 1 }, false],
  ["groups", "equals", ["staff", "eng", 7], true],
  ["sub", "equals", "user-42", true],
  ["iss", "equals", "https://idp.example", true],
  ["exp", "equals", 1_900_000_000, true],
  // in
  ["role", "in", ["admin", "viewer"], true],
  ["role", "in", ["admin"], false],
  ["level", "in", [1, 5], true],
  ["level", "in", ["5"], false],
  ["obj", "in", [{ x: 1, y: [1, 2] }], true],
  // contains
  ["role", "contains", "view", true],
  ["role", "contains", "admin", false],
  ["role", "contains", 5, false],
  ["groups", "contains", "eng", true],
  ["groups", "contains", 7, true],
  ["groups", "contains", "7", false],
  ["groups", "contains", "en", false],
  ["level", "contains", 5, false],
  ["realm.roles", "contains", "writer", true],
  ["https://example.com/roles", "contains", "ns-admin", true],
  // gt/lt/gte/lte: numbers, numeric strings on either side
  ["level", "gt", 4, true],
  ["level", "gt", 5, false],
  ["level", "gte", 5, true],
  ["level", "lt", 6, true],
  ["level", "lte", 5, true],
  ["level", "lte", 4.99, false],
  ["level", "gt", "4", true],
  ["level_text", "gt", 4, true],
  ["level_text", "lt", "10", true],
  ["big", "equals", "1e3", true],
  ["big", "gte", 1000, true],
  ["exp", "gt", 1_800_000_000, true],
  ["role", "gt", 1, false],
  ["verified", "gt", 0, false],
  ["nothing", "lt", 1, false],
  // regex: anchored, Unicode
  ["role", "regex", "view.*", true],
  ["role", "regex", "iew", false],
  ["role", "regex", ".*iew.*", true],
  ["role", "regex", "viewer|admin", true],
  ["sub", "regex", "user-\\d+", true],
  ["level", "regex", "5", false],
  ["groups", "regex", "e.g", true],
  ["groups", "regex", "7", false],
  ["realm.tier.name", "regex", "gold|silver", true],
  // dotted paths, exact names first
  ["realm.tier.name", "equals", "gold", true],
  ["a.b", "equals", "flat-dotted", true],
  ["realm.missing", "equals", "x", false],
  ["realm.roles.length", "equals", 2, false],
  // missing claims fail every operator
  ["absent", "equals", null, false],
  ["absent", "in", [null], false],
  ["absent", "contains", "", false],
  ["absent", "lte", 1e9, false],
  ["absent", "regex", ".*", false],
  // prototype members are not claims
  ["constructor", "regex", ".*", false],
  ["obj.constructor", "regex", ".*", false],
  ["__proto__", "equals", {}, false],
];

Deno.test("evaluateClaims: every operator, table-driven", () => {
  for (const [claim, operator, value, expected] of ROWS) {
    const rules = compileClaimRules([{ claim, operator, value }]);
    const result = evaluateClaims(claims, rules);
    assert.equal(result.ok, expected, `${claim} ${operator} ${JSON.stringify(value)}`);
    if (!result.ok) {
      assert.equal(result.rule.claim, claim);
      assert.ok(result.reason.length > 0);
    }
  }
  const covered = new Set(ROWS.map((row) => row[1]));
  for (const op of CLAIM_OPERATORS) assert.ok(covered.has(op), `operator ${op} is covered`);
});

Deno.test("evaluateClaims: all rules must pass; the first failure is reported", () => {
  const rules = compileClaimRules([
    { claim: "role", operator: "equals", value: "viewer" },
    { claim: "level", operator: "gte", value: 9 },
    { claim: "absent", operator: "equals", value: 1 },
  ]);
  const result = evaluateClaims(claims, rules);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.rule.claim === "level");
  const missing = evaluateClaims(claims, compileClaimRules([rules[2]!.rule]));
  assert.ok(!missing.ok && /missing/.test(missing.reason));
  assert.deepEqual(evaluateClaims(claims, compileClaimRules([])), { ok: true });
});

Deno.test("compileClaimRules rejects rules that can never work, naming the rule", () => {
  const bad: Array<[ClaimRule, RegExp]> = [
    [{ claim: "role", operator: "regex", value: "([a-z" }, /claims\[0\].*"role".*regex/],
    [{ claim: "role", operator: "regex", value: 5 }, /regular expression string/],
    [{ claim: "role", operator: "in", value: "viewer" }, /needs a list/],
    [{ claim: "n", operator: "gt", value: "abc" }, /must be a number/],
    [{ claim: "n", operator: "lte", value: true }, /must be a number/],
    [{ claim: "", operator: "equals", value: 1 }, /non-empty/],
    [{ claim: "a..b", operator: "equals", value: 1 }, /empty segment/],
    [{ claim: "x", operator: "matches" as ClaimRule["operator"], value: 1 }, /unknown operator/],
  ];
  for (const [rule, message] of bad) {
    assert.throws(() => compileClaimRules([rule]), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => compileClaimRules([{ claim: "x", operator: "regex", value: "(" }], "jwt.admin_claims"),
    /jwt\.admin_claims\[0\]/,
  );
});

Deno.test("lookupClaim and deepEqual edge cases", () => {
  assert.equal(lookupClaim(claims, "realm.tier.name"), "gold");
  assert.equal(lookupClaim(claims, "groups.0"), undefined);
  assert.equal(lookupClaim({ "x.y": 1, x: { y: 2 } }, "x.y"), 1);
  assert.ok(deepEqual(NaN, NaN));
  assert.ok(!deepEqual([1], { 0: 1 }));
  assert.ok(!deepEqual({ a: undefined }, { b: undefined }));
  assert.ok(!deepEqual(0, "0"));
});

const ruleArb: fc.Arbitrary<ClaimRule> = fc.record({
  claim: fc.oneof(
    fc.constantFrom("sub", "role", "a.b", "realm.roles", "n", "x.y.z", "__proto__", "constructor"),
    fc.string({ maxLength: 10 }),
  ),
  operator: fc.constantFrom(...CLAIM_OPERATORS),
  value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 12 })),
});

Deno.test("property: random claims x rules never throw", () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.oneof(
          fc.constantFrom("sub", "role", "a", "realm", "n", "x"),
          fc.string({ maxLength: 6 }),
        ),
        fc.jsonValue({ maxDepth: 4 }),
      ),
      fc.array(ruleArb, { maxLength: 5 }),
      (randomClaims, rules) => {
        const compilable = rules.filter((rule) => {
          try {
            compileClaimRules([rule]);
            return true;
          } catch (error) {
            assert.ok(error instanceof TypeError);
            return false;
          }
        });
        const result = evaluateClaims(randomClaims, compileClaimRules(compilable));
        assert.equal(typeof result.ok, "boolean");
        if (!result.ok) assert.ok(compilable.includes(result.rule));
      },
    ),
    { numRuns: 2000 },
  );
});
