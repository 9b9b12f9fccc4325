// Owns the variant identity tests: cache keys under the object's key, ETags derived from the source's and reversible.

import assert from "node:assert/strict";
import { isObjectKey } from "../cache/key.ts";
import { sourceEtagOf, variantCacheKey, variantEtag } from "./variant.ts";

const ENGINE = { name: "native" as const, sharp: "0.35.5", libvips: "8.18.7" };
const BYTES = new Uint8Array([1, 2, 3]);

Deno.test("variantCacheKey() is matched by the object's purge selector", () => {
  const key = variantCacheKey("bkt\0a/b.jpg", "w=100", "webp");
  assert.ok(isObjectKey("bkt", "a/b.jpg")(key));
  assert.ok(!isObjectKey("bkt", "a/b")(key));
  assert.ok(
    isObjectKey("bkt", "a/b.jpg")(variantCacheKey("bkt\0a/b.jpg\0versionId=3", "w=1", "source")),
  );
});

Deno.test("variantEtag(): derived from the source's ETag, the parameters, the format and the engine", () => {
  const base = variantEtag('"abc"', "w=100", "webp", ENGINE, BYTES);
  assert.match(base, /^"abc~[A-Za-z0-9_-]{22}"$/);
  assert.equal(
    variantEtag('"abc"', "w=100", "webp", ENGINE, new Uint8Array([9])),
    base,
    "bytes do not matter when there is an ETag",
  );
  for (
    const other of [
      variantEtag('"abd"', "w=100", "webp", ENGINE, BYTES),
      variantEtag('"abc"', "w=101", "webp", ENGINE, BYTES),
      variantEtag('"abc"', "w=100", "avif", ENGINE, BYTES),
      variantEtag('"abc"', "w=100", "webp", { ...ENGINE, name: "wasm" }, BYTES),
    ]
  ) assert.notEqual(other, base);
  assert.match(variantEtag('W/"x"', "", "png", ENGINE, BYTES), /^W\/"x~/);
});

Deno.test("sourceEtagOf() recovers the source's ETag", () => {
  for (
    const source of ['"abc"', '"d41d8cd98f00b204e9800998ecf8427e-12"', 'W/"weak"', '"with~tilde"']
  ) {
    assert.equal(sourceEtagOf(variantEtag(source, "w=1", "webp", ENGINE, BYTES)), source);
  }
  assert.equal(sourceEtagOf(variantEtag(undefined, "w=1", "webp", ENGINE, BYTES)), undefined);
  assert.equal(sourceEtagOf('"plain"'), undefined);
  assert.equal(sourceEtagOf("unquoted"), undefined);
  assert.equal(sourceEtagOf(undefined), undefined);
  // Without a source ETag, the variant's still changes with the source's bytes.
  assert.notEqual(
    variantEtag(undefined, "w=1", "webp", ENGINE, BYTES),
    variantEtag(undefined, "w=1", "webp", ENGINE, new Uint8Array([4])),
  );
});
