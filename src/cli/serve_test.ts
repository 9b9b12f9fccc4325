// Tests serve's choice of log writer (logging.writer): the log thread with two CPUs or more unless told otherwise.

import assert from "node:assert/strict";
import { usesLogThread } from "./serve.ts";

Deno.test("usesLogThread(): auto runs the log thread with 2+ CPUs; thread and inline are obeyed", () => {
  assert.equal(usesLogThread("auto", 1), false);
  assert.equal(usesLogThread("auto", 2), true);
  assert.equal(usesLogThread("auto", 4), true);
  assert.equal(usesLogThread(undefined, 8), true);
  assert.equal(usesLogThread("thread", 1), true);
  assert.equal(usesLogThread("inline", 8), false);
});
