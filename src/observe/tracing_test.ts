// Tests the tracing hooks: off (and inert) without OTEL_DENO; with it, Deno's server span gets the
// request id, the outcome attributes and the stage events (seen through Deno's console exporter).

import assert from "node:assert/strict";
import { beginRequestSpan, denoTracingEnabled, TRACE_ATTRIBUTES } from "./tracing.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const TRACING = new URL("./tracing.ts", import.meta.url).href;

Deno.test("tracing is off unless Deno's OpenTelemetry is on, and begin() is inert then", () => {
  if (Deno.env.get("OTEL_DENO") !== undefined) return; // the test run itself is traced
  assert.equal(denoTracingEnabled(), false);
  assert.equal(beginRequestSpan("r1"), undefined, "no active span outside a traced server");
});

/** Runs `source` (a module importing tracing.ts) with `env`; returns its output. */
async function runScript(source: string, env: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "tracing-test-" });
  try {
    await Deno.writeTextFile(`${dir}/script.ts`, source);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, `${dir}/script.ts`],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SERVER_SCRIPT = `
import { beginRequestSpan, denoTracingEnabled, finishRequestSpan } from "${TRACING}";
const enabled = denoTracingEnabled();
console.log(JSON.stringify({ enabled }));
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const span = enabled ? beginRequestSpan(request.headers.get("x-request-id")!) : undefined;
  span?.addEvent("route");
  span?.addEvent("lookup");
  if (span) finishRequestSpan(span, { bucket: "files", cache: "HIT", code: undefined });
  return new Response("ok");
});
const response = await fetch("http://127.0.0.1:" + server.addr.port + "/x", {
  headers: { "x-request-id": "rid-console-42" },
});
await response.text();
await server.shutdown();
`;

Deno.test("with OTEL_DENO=true the server span carries the request id, outcome and stage events", async () => {
  const { code, stdout, stderr } = await runScript(SERVER_SCRIPT, {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "console",
    OTEL_DENO_CONSOLE: "ignore",
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /"enabled":true/);
  // The console exporter prints each span: its attributes, then its events in order.
  const serverSpan = stderr.split(/^SPAN /m).find((span) => / Server /.test(span.split("\n")[0]!));
  assert.ok(serverSpan, `a server span:\n${stderr}`);
  assert.match(serverSpan, new RegExp(`${TRACE_ATTRIBUTES.requestId}: rid-console-42`));
  assert.match(serverSpan, new RegExp(`${TRACE_ATTRIBUTES.bucket}: files`));
  assert.match(serverSpan, new RegExp(`${TRACE_ATTRIBUTES.cache}: HIT`));
  assert.doesNotMatch(serverSpan, new RegExp(TRACE_ATTRIBUTES.errorCode));
  const events = [...serverSpan.matchAll(/^\s+- (\w+) \(/gm)].map((match) => match[1]);
  assert.deepEqual(events, ["accept", "route", "lookup"]);
});

Deno.test("OTEL_DENO_TRACING=false turns the hooks off even with OTEL_DENO=true", async () => {
  const { code, stdout, stderr } = await runScript(SERVER_SCRIPT, {
    OTEL_DENO: "true",
    OTEL_DENO_TRACING: "false",
    OTEL_EXPORTER_OTLP_PROTOCOL: "console",
    OTEL_DENO_CONSOLE: "ignore",
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /"enabled":false/);
  assert.doesNotMatch(stderr, /rid-console-42/);
});
