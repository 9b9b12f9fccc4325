// Tests longest-prefix routing on segment boundaries, including property tests.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BucketRouter } from "./bucket_router.ts";

const router = new BucketRouter([
  { pathPrefix: "/img", name: "img" },
  { pathPrefix: "/images", name: "images" },
  { pathPrefix: "/a/b", name: "ab" },
  { pathPrefix: "/a", name: "a" },
]);

function resolveName(path: string): [string, string] | undefined {
  const match = router.resolve(path);
  return match && [match.target.name, match.key];
}

Deno.test("BucketRouter.resolve() matches on segment boundaries only", () => {
  assert.deepEqual(resolveName("/img/x.png"), ["img", "x.png"]);
  assert.deepEqual(resolveName("/images/x.png"), ["images", "x.png"]);
  assert.equal(resolveName("/imgs/x.png"), undefined);
  assert.equal(resolveName("/im"), undefined);
});

Deno.test("BucketRouter.resolve() prefers the longest prefix", () => {
  assert.deepEqual(resolveName("/a/b/c/d.txt"), ["ab", "c/d.txt"]);
  assert.deepEqual(resolveName("/a/bc/d.txt"), ["a", "bc/d.txt"]);
  assert.deepEqual(resolveName("/a/x"), ["a", "x"]);
});

Deno.test("BucketRouter.resolve() gives an empty key for the prefix itself", () => {
  assert.deepEqual(resolveName("/img"), ["img", ""]);
  assert.deepEqual(resolveName("/img/"), ["img", ""]);
  assert.deepEqual(resolveName("/a/b"), ["ab", ""]);
});

Deno.test("BucketRouter.resolve() keeps nested slashes and odd characters in the key", () => {
  assert.deepEqual(resolveName("/img/a//b/ c+%~=&✓.png"), ["img", "a//b/ c+%~=&✓.png"]);
});

Deno.test("BucketRouter with a root prefix catches what nothing else matches", () => {
  const withRoot = new BucketRouter([{ pathPrefix: "/", n: 1 }, { pathPrefix: "/x", n: 2 }]);
  assert.equal(withRoot.resolve("/x/k")?.target.n, 2);
  assert.deepEqual(withRoot.resolve("/y/k")?.key, "y/k");
  assert.equal(withRoot.resolve("/y/k")?.target.n, 1);
});

Deno.test("BucketRouter rejects duplicate prefixes", () => {
  assert.throws(() => new BucketRouter([{ pathPrefix: "/a" }, { pathPrefix: "/a" }]), /Duplicate/);
});

// Reference model: the longest prefix p with path === p or path.startsWith(p + "/").
function referenceResolve(prefixes: string[], path: string): [string, string] | undefined {
  let best: string | undefined;
  for (const p of prefixes) {
    if (
      (path === p || path.startsWith(p + "/")) && (best === undefined || p.length > best.length)
    ) {
      best = p;
    }
  }
  if (best === undefined) return undefined;
  return [best, path === best ? "" : path.slice(best.length + 1)];
}

Deno.test("BucketRouter.resolve() agrees with a brute-force model (property)", () => {
  const segment = fc.stringMatching(/^[a-c]{1,3}$/);
  const prefixArb = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => "/" + s.join("/"));
  fc.assert(
    fc.property(
      fc.uniqueArray(prefixArb, { minLength: 1, maxLength: 8 }),
      fc.array(fc.stringMatching(/^[a-c]{0,3}$/), { minLength: 1, maxLength: 6 }),
      (prefixes, segments) => {
        const path = "/" + segments.join("/");
        const r = new BucketRouter(prefixes.map((pathPrefix) => ({ pathPrefix })));
        const got = r.resolve(path);
        assert.deepEqual(got && [got.target.pathPrefix, got.key], referenceResolve(prefixes, path));
      },
    ),
    { numRuns: 2000 },
  );
});
