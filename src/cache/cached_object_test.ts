// Tests fullResponse: every hit gets its own answer from the entry's one template.

import assert from "node:assert/strict";
import { fullResponse, newCachedObject } from "./cached_object.ts";

function entry() {
  const headers = new Headers({
    "content-type": "text/plain",
    etag: '"v1"',
    "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT",
  });
  return newCachedObject(headers, new TextEncoder().encode("hello, cache"), 60, Date.now());
}

Deno.test("fullResponse answers 200 with the entry's bytes and headers, each time", async () => {
  const cached = entry();
  for (let hit = 0; hit < 3; hit++) {
    const response = fullResponse(cached);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), '"v1"');
    assert.equal(response.headers.get("content-type"), "text/plain");
    // Reading one answer's body leaves the next one's whole.
    assert.equal(await response.text(), "hello, cache");
  }
});

Deno.test("fullResponse: headers set on one answer stay off the next", () => {
  const cached = entry();
  const first = fullResponse(cached);
  first.headers.set("x-request-id", "first");
  first.headers.set("etag", '"changed"');
  const second = fullResponse(cached);
  assert.notStrictEqual(first, second);
  assert.equal(second.headers.get("x-request-id"), null);
  assert.equal(second.headers.get("etag"), '"v1"');
  assert.equal(cached.headers.get("etag"), '"v1"');
});

Deno.test("fullResponse: the entry keeps one copy of its bytes, with the same content", async () => {
  const cached = entry();
  const before = cached.body;
  await fullResponse(cached).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 0));
  // The entry now holds the template's bytes (the copy `new Response` made), not its own.
  assert.notStrictEqual(cached.body, before);
  assert.equal(new TextDecoder().decode(cached.body), "hello, cache");
  assert.equal(await fullResponse(cached).text(), "hello, cache");
});
