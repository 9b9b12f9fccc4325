// Tests that every way of running the gateway carries GATEWAY_V8_FLAGS, and that V8 accepts them.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { GATEWAY_V8_FLAGS, v8FlagsArg } from "./runtime_flags.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("deno.json's serve task runs main.ts with the gateway's V8 flags", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks as Record<
    string,
    string
  >;
  assert.equal(tasks.serve, `deno run -A ${v8FlagsArg()} main.ts serve`);
});

Deno.test("the Dockerfile's entrypoint and the benches' gateway carry the same flags", async () => {
  const dockerfile = await Deno.readTextFile(`${ROOT}Dockerfile`);
  const entry = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]!) as string[];
  assert.ok(entry.includes(v8FlagsArg()), `ENTRYPOINT ${entry.join(" ")} lacks ${v8FlagsArg()}`);
  const lib = await Deno.readTextFile(`${ROOT}bench/lib.sh`);
  assert.match(
    lib,
    new RegExp(`GATEWAY_V8_FLAGS="\\$\\{GATEWAY_V8_FLAGS-${GATEWAY_V8_FLAGS.join(",")}\\}"`),
  );
});

Deno.test("this Deno's V8 recognizes every flag (an unknown one makes deno exit 1)", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", v8FlagsArg(), "0"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  // The same check fails for a flag V8 does not know, so the test can tell.
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--no-such-flag-here", "0"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 1);
  assert.match(new TextDecoder().decode(bad.stderr), /did not recognize flag/);
});
