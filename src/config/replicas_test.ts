// Tests the `buckets[].s3.replicas` config: ordering, uniqueness, the single form it replaces, and its messages.

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";

function parse(s3: string) {
  return parseConfig(
    ["buckets:", "  - name: a", "    path_prefix: /a", "    s3:", s3].join("\n"),
    { env: {} },
  );
}

function problems(s3: string): string[][] {
  const result = parse(s3);
  assert.ok(!result.ok, "expected errors");
  return result.errors.map((issue) => [issue.path, issue.message]);
}

Deno.test("replicas: sorted by priority, the first fills the single-form fields", () => {
  const result = parse([
    "      replicas:",
    "        - { name: two, priority: 2, bucket: second, access_key: k2, secret_key: s2 }",
    '        - { name: one, priority: 1, bucket: first, access_key: k1, secret_key: s1, endpoint: "http://127.0.0.1:9001" }',
  ].join("\n"));
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  const s3 = result.config.buckets[0]!.s3;
  assert.deepEqual(s3.replicas?.map((r) => [r.name, r.priority]), [["one", 1], ["two", 2]]);
  assert.equal(s3.bucket, "first");
  assert.equal(s3.endpoint, "http://127.0.0.1:9001");
});

Deno.test("replicas: duplicate names and priorities are reported at the later entry", () => {
  assert.deepEqual(
    problems([
      "      replicas:",
      "        - { name: one, priority: 1, bucket: first, access_key: k, secret_key: s }",
      "        - { name: one, priority: 1, bucket: other, access_key: k, secret_key: s }",
    ].join("\n")),
    [
      [
        "buckets[0].s3.replicas[1].name",
        '"one" is already the name of replicas[0]; replica names must be unique',
      ],
      [
        "buckets[0].s3.replicas[1].priority",
        "1 is already the priority of replicas[0]; priorities must be unique (1 = tried first)",
      ],
    ],
  );
});

Deno.test("replicas: an empty list, and single-form keys next to replicas, are errors saying what to do", () => {
  assert.deepEqual(problems("      replicas: []"), [[
    "buckets[0].s3.replicas",
    "at least one replica is required; remove `replicas` to use the single-bucket form",
  ]]);
  assert.deepEqual(
    problems([
      "      bucket: legacy",
      "      replicas:",
      "        - { name: one, priority: 1, bucket: first, access_key: k, secret_key: s }",
    ].join("\n")),
    [[
      "buckets[0].s3.bucket",
      "`bucket` cannot be used together with `replicas`: each replica has its own bucket, " +
      "region, endpoint and keys; move it into the replicas or remove `replicas`",
    ]],
  );
});
