// Tests log levels, JSON/pretty lines, redaction and non-blocking buffered writes.

import assert from "node:assert/strict";
import { Logger, redact } from "./log.ts";

function memorySink() {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  return {
    chunks,
    lines: () => chunks.join("").split("\n").filter((l) => l !== ""),
    write(bytes: Uint8Array) {
      chunks.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
}

Deno.test("Logger writes JSON lines at or above its level", async () => {
  const sink = memorySink();
  const logger = new Logger({ level: "info", format: "json", sink });
  logger.debug("hidden");
  logger.info("shown", { bucket: "b", status: 200 });
  logger.error("bad", { code: "x" });
  await logger.flush();
  const lines = sink.lines().map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].msg, "shown");
  assert.equal(lines[0].level, "info");
  assert.equal(lines[0].bucket, "b");
  assert.match(lines[0].ts, /^\d{4}-\d\d-\d\dT/);
  assert.equal(lines[1].level, "error");
});

Deno.test("Logger batches lines logged in one tick into one write", async () => {
  const sink = memorySink();
  const logger = new Logger({ level: "info", format: "json", sink });
  for (let i = 0; i < 100; i++) logger.info("line", { i });
  assert.equal(sink.chunks.length, 0, "logging must not write synchronously");
  await logger.flush();
  assert.equal(sink.chunks.length, 1);
  assert.equal(sink.lines().length, 100);
});

Deno.test("Logger drops lines past its buffer bound and says how many", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const written: string[] = [];
  const logger = new Logger({
    level: "info",
    format: "json",
    maxBufferedBytes: 2000,
    sink: {
      async write(bytes: Uint8Array) {
        await gate;
        written.push(new TextDecoder().decode(bytes));
        return bytes.length;
      },
    },
  });
  for (let i = 0; i < 200; i++) logger.info("x".repeat(50));
  release();
  await logger.flush();
  logger.info("after");
  await logger.flush();
  const text = written.join("");
  assert.match(text, /log lines dropped/);
  assert.ok(text.split("\n").length < 200);
});

Deno.test("Logger pretty format puts fields as key=value", async () => {
  const sink = memorySink();
  const logger = new Logger({ level: "debug", format: "pretty", sink });
  logger.debug("hello", { a: "b", n: 1 });
  await logger.flush();
  assert.match(sink.lines()[0]!, /DEBUG hello a=b n=1$/);
});

Deno.test("redact() hides secret-looking fields at any depth", () => {
  const fields = {
    path: "/x",
    authorization: "Bearer abc",
    nested: { secret_key: "s", ok: 1, token_value: "t" },
  };
  assert.deepEqual(redact(fields), {
    path: "/x",
    authorization: "[redacted]",
    nested: { secret_key: "[redacted]", ok: 1, token_value: "[redacted]" },
  });
  const clean = { a: 1 };
  assert.equal(redact(clean), clean, "clean fields are not copied");
});

Deno.test("Logger survives a sink that fails", async () => {
  const logger = new Logger({
    level: "info",
    format: "json",
    sink: { write: () => Promise.reject(new Error("broken pipe")) },
  });
  logger.info("a");
  await logger.flush();
  logger.info("b");
  await logger.flush();
});

Deno.test("Logger writes an Error field with its name, message and cause chain", async () => {
  const sink = memorySink();
  const logger = new Logger({ level: "info", format: "json", sink });
  const root = new TypeError("connection refused");
  logger.warn("upstream failed", {
    error: new Error("fetch failed", { cause: root }),
    nested: { error: root },
  });
  await logger.flush();
  const [line] = sink.lines().map((l) => JSON.parse(l));
  assert.equal(line.error.name, "Error");
  assert.equal(line.error.message, "fetch failed");
  assert.equal(line.error.cause.name, "TypeError");
  assert.equal(line.error.cause.message, "connection refused");
  assert.equal(line.nested.error.message, "connection refused");
});

Deno.test("Logger: a line dropped with nothing else pending is reported, and flush() still ends", async () => {
  const written: string[] = [];
  const logger = new Logger({
    level: "info",
    format: "json",
    maxBufferedBytes: 100,
    sink: {
      write(bytes: Uint8Array) {
        written.push(new TextDecoder().decode(bytes));
        return Promise.resolve(bytes.length);
      },
    },
  });
  // Alone larger than the whole buffer: dropped, and nothing else waits to be written.
  logger.info("x".repeat(200));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    logger.flush().then(() => "flushed"),
    new Promise((resolve) => timer = setTimeout(() => resolve("hung"), 2_000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "flushed");
  logger.info("after");
  await logger.flush();
  const text = written.join("");
  assert.match(text, /log lines dropped/);
  assert.match(text, /"msg":"after"/);
});
