// Tests the log thread in a child process, as `serve` runs it: stdout lines in order, every audit line in its file before exit, and an audit file that cannot be opened.

import assert from "node:assert/strict";
import { logWorkerUrl } from "./log_thread.ts";

const FIXTURE = new URL("./_log_thread_fixture.ts", import.meta.url).pathname;

async function runFixture(auditPath: string, format: "json" | "pretty") {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, auditPath, format],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("log thread: the worker writes stdout in order and every audit line before the process exits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-log-thread-" });
  try {
    const result = await runFixture(`${dir}/audit.log`, "json");
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines.length, 502, "the logger's two lines and 500 access lines");
    assert.equal(lines[0].msg, "first");
    assert.equal(lines.at(-1).msg, "last");
    const access = lines.slice(1, -1);
    assert.deepEqual(access.map((l) => l.request_id), access.map((_, i) => `req-${i}`));
    assert.equal(access[7].path, "/b/ключ");
    const audit = (await Deno.readTextFile(`${dir}/audit.log`)).trimEnd().split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(audit.map((l) => l.correlation_id), access.map((l) => l.request_id));
    assert.equal(audit[3].object_key, "ключ");
    assert.equal(audit[3].response_size_bytes, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log thread: pretty access lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-log-thread-" });
  try {
    const result = await runFixture(`${dir}/audit.log`, "pretty");
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 502);
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}request request_id=req-0 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log thread: an audit file that cannot be opened fails the start with the config key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-log-thread-" });
  try {
    await Deno.writeTextFile(`${dir}/a-file`, "");
    const result = await runFixture(`${dir}/a-file/audit.log`, "json");
    assert.equal(result.code, 3);
    assert.match(
      result.stderr,
      /^output: audit_log\.file\.path: cannot open ".*a-file\/audit\.log"/,
    );
    assert.equal(result.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logWorkerUrl(): the worker module beside it from source, the bundle itself when bundled", () => {
  assert.equal(
    logWorkerUrl("file:///app/src/observe/log_thread.ts"),
    "file:///app/src/observe/log_worker.ts",
  );
  assert.equal(logWorkerUrl("file:///opt/dist/yatagarasu.js"), "file:///opt/dist/yatagarasu.js");
});
