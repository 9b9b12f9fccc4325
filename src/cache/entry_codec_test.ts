// Tests the entry codec: round trips, and damaged or foreign bytes read as "no entry".

import assert from "node:assert/strict";
import fc from "fast-check";
import type { CachedObject } from "./cached_object.ts";
import { decodeEntry, encodeEntry, FRAME_PREFIX_BYTES, headerLength } from "./entry_codec.ts";

function sample(body: Uint8Array<ArrayBuffer>): CachedObject {
  return {
    headers: new Headers({ "content-type": "image/png", etag: '"abc"' }),
    body,
    etag: '"abc"',
    lastModifiedMs: 1_700_000_000_000,
    storedAt: 1_700_000_000_500,
    expiresAt: 1_700_000_060_500,
  };
}

Deno.test("an encoded entry decodes to the same key, headers, validators and bytes", () => {
  const value = sample(new Uint8Array([0, 1, 2, 255]));
  const decoded = decodeEntry(encodeEntry("b\0photos/ü ✓.png", value));
  assert.ok(decoded);
  assert.equal(decoded.key, "b\0photos/ü ✓.png");
  assert.deepEqual([...decoded.value.headers], [...value.headers]);
  assert.deepEqual(decoded.value.body, value.body);
  assert.equal(decoded.value.etag, '"abc"');
  assert.equal(decoded.value.lastModifiedMs, value.lastModifiedMs);
  assert.equal(decoded.value.expiresAt, value.expiresAt);
});

Deno.test("a truncated, extended or foreign frame is not an entry", () => {
  const bytes = encodeEntry("b\0k", sample(new Uint8Array(100)));
  assert.equal(decodeEntry(bytes.subarray(0, bytes.byteLength - 1)), undefined);
  const longer = new Uint8Array(bytes.byteLength + 1);
  longer.set(bytes);
  assert.equal(decodeEntry(longer), undefined);
  assert.equal(decodeEntry(new TextEncoder().encode("GIF89a not a cache entry")), undefined);
  assert.equal(headerLength(bytes.subarray(0, FRAME_PREFIX_BYTES - 1)), undefined);
});

Deno.test("property: any key and body round-trip; any byte string decodes or is refused", () => {
  fc.assert(fc.property(fc.string(), fc.uint8Array({ maxLength: 512 }), (key, body) => {
    const decoded = decodeEntry(encodeEntry(key, sample(new Uint8Array(body))));
    assert.equal(decoded?.key, key);
    assert.deepEqual(decoded?.value.body, new Uint8Array(body));
  }));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
    decodeEntry(bytes); // never throws
  }));
});
