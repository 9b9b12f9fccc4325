// Tests DecisionCache (TTL, bounds, counters) and canonicalJson (stable, JSON-compatible keys).

import assert from "node:assert/strict";
import fc from "fast-check";
import { canonicalJson, DecisionCache } from "./decision_cache.ts";

function clock(start = 1000) {
  const state = { t: start };
  return { state, now: () => state.t };
}

Deno.test("DecisionCache returns an answer until its TTL runs out, then drops it", () => {
  const { state, now } = clock();
  const cache = new DecisionCache({ ttlMs: 60_000, now });
  cache.set("k", { allowed: true });
  cache.set("d", { allowed: false, reason: "no" });
  assert.equal(cache.get("k")?.allowed, true);
  assert.equal(cache.get("d")?.reason, "no");
  state.t = 60_999;
  assert.equal(cache.get("k")?.allowed, true);
  state.t = 61_000;
  assert.equal(cache.get("k"), undefined, "expires exactly at set time + TTL");
  assert.equal(cache.size, 1, "the expired entry is dropped when seen");
  assert.deepEqual(cache.stats, { hits: 3, misses: 1, size: 1 });
});

Deno.test("DecisionCache keeps the answer's own fields only", () => {
  const cache = new DecisionCache({ ttlMs: 1000, now: () => 0 });
  const decision = { allowed: true, basis: "policy" } as { allowed: boolean };
  cache.set("k", decision);
  assert.equal("basis" in cache.get("k")!, false);
  assert.equal("reason" in cache.get("k")!, false);
});

Deno.test("DecisionCache with TTL 0 stores nothing", () => {
  const cache = new DecisionCache({ ttlMs: 0, now: () => 0 });
  assert.equal(cache.enabled, false);
  cache.set("k", { allowed: true });
  assert.equal(cache.get("k"), undefined);
  assert.equal(cache.size, 0);
  assert.equal(new DecisionCache({ ttlMs: Number.NaN }).enabled, false);
});

Deno.test("DecisionCache drops the oldest entry past its entry bound", () => {
  const cache = new DecisionCache({ ttlMs: 1000, maxEntries: 3, now: () => 0 });
  for (const key of ["a", "b", "c", "d"]) cache.set(key, { allowed: key !== "c" });
  assert.equal(cache.size, 3);
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.get("b")?.allowed, true);
  assert.equal(cache.get("c")?.allowed, false);
  assert.equal(cache.get("d")?.allowed, true);
});

Deno.test("DecisionCache re-setting a key refreshes it without growing", () => {
  const { state, now } = clock(0);
  const cache = new DecisionCache({ ttlMs: 100, maxEntries: 2, now });
  cache.set("a", { allowed: true });
  cache.set("b", { allowed: true });
  state.t = 50;
  cache.set("a", { allowed: false });
  assert.equal(cache.size, 2);
  cache.set("c", { allowed: true }); // evicts "b", now the oldest
  assert.equal(cache.get("b"), undefined);
  state.t = 120;
  assert.equal(cache.get("a")?.allowed, false, "refreshed at t=50, lives until 150");
});

Deno.test("DecisionCache bounds the summed key length and skips oversize keys", () => {
  const cache = new DecisionCache({ ttlMs: 1000, maxKeyChars: 10, now: () => 0 });
  cache.set("aaaa", { allowed: true });
  cache.set("bbbb", { allowed: true });
  cache.set("cccc", { allowed: true }); // 12 > 10: "aaaa" goes
  assert.equal(cache.get("aaaa"), undefined);
  assert.equal(cache.size, 2);
  cache.set("x".repeat(11), { allowed: true });
  assert.equal(cache.get("x".repeat(11)), undefined, "a key over the whole budget is not cached");
  assert.equal(cache.size, 2, "and evicts nothing");
  cache.set("y".repeat(10), { allowed: true });
  assert.equal(cache.size, 1, "a key of exactly the budget evicts everything else");
});

Deno.test("DecisionCache.clear empties it", () => {
  const cache = new DecisionCache({ ttlMs: 1000, now: () => 0 });
  cache.set("a", { allowed: true });
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.get("a"), undefined);
  cache.set("a", { allowed: true });
  assert.equal(cache.size, 1, "usable after clear");
});

Deno.test("canonicalJson sorts keys at every level and matches JSON otherwise", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } }),
    '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  assert.equal(
    canonicalJson({ u: undefined, f: () => 1, n: Number.NaN, i: -Infinity, arr: [undefined, 1] }),
    '{"arr":[null,1],"i":null,"n":null}',
  );
  assert.equal(canonicalJson(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  assert.equal(canonicalJson(undefined), "null");
  assert.equal(canonicalJson('a"\n'), JSON.stringify('a"\n'));
  // deno-lint-ignore no-sparse-arrays
  assert.equal(canonicalJson([1, , 3]), "[1,null,3]", "holes of sparse arrays are null");
  const shared = { x: 1 };
  assert.equal(canonicalJson([shared, shared]), '[{"x":1},{"x":1}]', "repeats are not cycles");
});

Deno.test("canonicalJson throws a TypeError on cycles and BigInt, as JSON.stringify does", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), TypeError);
  assert.throws(() => canonicalJson({ n: 10n }), TypeError);
});

Deno.test("canonicalJson: property: parses back to what JSON.stringify gives, key order ignored", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
    }),
    { numRuns: 300 },
  );
  const anything = fc.anything({
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withSparseArray: true,
    withTypedArray: true,
  });
  fc.assert(
    fc.property(anything.filter((value) => value !== undefined), (value) => {
      assert.deepEqual(
        JSON.parse(canonicalJson(value)),
        JSON.parse(JSON.stringify(value) ?? "null"),
      );
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), (record) => {
      const reversed = Object.fromEntries(Object.entries(record).reverse());
      assert.equal(canonicalJson(reversed), canonicalJson(record));
    }),
    { numRuns: 300 },
  );
});
