// Owns the unit tests of the `metrics` key: defaults, enabled: false, address/port rules, the port clash.

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import { assertOneError, errors, ok, parseRaw, setPath, twoRawBuckets } from "./_test_support.ts";

function raw(): Record<string, unknown> {
  return { buckets: twoRawBuckets() };
}

Deno.test("metrics: absent means no listener; written (even empty) means 0.0.0.0:9090", () => {
  assert.equal(ok(parseRaw(raw())).metrics, undefined);
  assert.deepEqual(ok(parseRaw(setPath(raw(), "metrics", null))).metrics, {
    address: "0.0.0.0",
    port: 9090,
  });
  assert.deepEqual(ok(parseRaw(setPath(raw(), "metrics", {}))).metrics, {
    address: "0.0.0.0",
    port: 9090,
  });
  assert.deepEqual(
    ok(parseRaw(setPath(raw(), "metrics", { address: "127.0.0.1", port: 0 }))).metrics,
    { address: "127.0.0.1", port: 0 },
  );
});

Deno.test("metrics: enabled: false turns the listener off", () => {
  const config = ok(parseRaw(setPath(raw(), "metrics", { enabled: false, port: 9100 })));
  assert.equal(config.metrics, undefined);
});

Deno.test("metrics: values are checked, naming the key and the fix", () => {
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { port: 70000 })),
    "metrics.port",
    "expected an integer from 0 to 65535, got 70000",
  );
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { port: "9090" })),
    "metrics.port",
    'expected an integer from 0 to 65535, got "9090" (a string; remove the quotes)',
  );
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { enabled: "yes" })),
    "metrics.enabled",
    'expected true or false, got "yes"',
  );
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { address: "0.0.0.0:9090" })),
    "metrics.address",
    '"0.0.0.0:9090" includes a port; write address: "0.0.0.0" and port: 9090',
  );
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { address: "http://localhost" })),
    "metrics.address",
    '"http://localhost" is a URL; metrics.address is only the host (like "0.0.0.0")',
  );
  assertOneError(
    parseRaw(setPath(raw(), "metrics", [9090])),
    "metrics",
    'expected a mapping like {enabled: true, address: "0.0.0.0", port: 9090}, got a list',
  );
});

Deno.test("metrics: an unknown key gets a did-you-mean hint", () => {
  const found = errors(parseRaw(setPath(raw(), "metrics", { prot: 9100 })));
  assert.equal(found.length, 1);
  assert.equal(found[0]?.path, "metrics.prot");
  assert.match(found[0]!.message, /did you mean `port`\?/);
});

Deno.test("metrics: the metrics port may not be the proxy's port on an overlapping address", () => {
  const clash = /metrics\.port 8080 is also server\.port .*use another port, like 9090/;
  assertOneError(
    parseRaw(setPath(raw(), "metrics", { port: 8080 })),
    "metrics.port",
    clash,
  );
  // A wildcard on either side overlaps any address.
  assertOneError(
    parseRaw(
      setPath(setPath(raw(), "server", { address: "127.0.0.1" }), "metrics", { port: 8080 }),
    ),
    "metrics.port",
    clash,
  );
  // Two distinct addresses can share a port number; port 0 never clashes.
  ok(parseRaw(setPath(
    setPath(raw(), "server", { address: "127.0.0.1" }),
    "metrics",
    { address: "127.0.0.2", port: 8080 },
  )));
  ok(parseRaw(setPath(setPath(raw(), "server", { port: 0 }), "metrics", { port: 0 })));
});

Deno.test("metrics: the line of a clash is the metrics block's port", () => {
  const text = [
    "server:",
    "  port: 9090",
    "buckets:",
    "  - name: a",
    "    path_prefix: /a",
    "    s3: {bucket: assets, access_key: k, secret_key: s}",
    "metrics:",
    "  enabled: true",
  ].join("\n");
  const found = errors(parseConfig(text, { env: {} }));
  assert.equal(found.length, 1);
  assert.equal(found[0]?.path, "metrics.port");
  assert.ok(found[0]?.line !== undefined && found[0].line >= 7, `line ${found[0]?.line}`);
});
