// Tests the S3 query parameter allowlist.

import assert from "node:assert/strict";
import { pickS3Query } from "./s3_query.ts";

Deno.test("pickS3Query() keeps versionId and response-* and drops the rest", () => {
  assert.deepEqual(
    pickS3Query(
      "token=abc&versionId=v%201&response-content-type=text%2Fplain&x=1&X-Amz-Signature=s",
    ),
    [["versionId", "v 1"], ["response-content-type", "text/plain"]],
  );
});

Deno.test("pickS3Query() returns undefined for empty or unrelated queries", () => {
  assert.equal(pickS3Query(""), undefined);
  assert.equal(pickS3Query("token=abc"), undefined);
});
