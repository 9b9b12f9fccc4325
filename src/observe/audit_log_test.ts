// Tests the audit line (shape, escaping, redaction) and the rotating file writer (batching,
// size and daily rotation, backups, flush on close) on a real temporary directory.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AuditLog,
  type RotatingFileOptions,
  RotatingFileWriter,
  safeReferer,
} from "./audit_log.ts";
import { type AuditEntry, serializeAuditEntry } from "./_json_line_reference.ts";
import { Logger } from "./log.ts";

const ENTRY: AuditEntry = {
  requestId: "req-1",
  clientIp: "203.0.113.7",
  user: "alice",
  bucket: "private",
  key: "reports/q1.pdf",
  method: "GET",
  path: "/private/reports/q1.pdf",
  status: 200,
  bytes: 1024,
  durationMs: 1.25,
  cache: "HIT",
  userAgent: "curl/8.5.0",
  referer: "https://app.example.com/page?token=SECRET#frag",
};

Deno.test("serializeAuditEntry writes the original's fields, in order, as one JSON line", () => {
  const line = serializeAuditEntry("2025-01-02T03:04:05.678Z", ENTRY);
  assert.ok(line.endsWith("}\n"));
  assert.equal(line.indexOf("\n"), line.length - 1);
  const parsed = JSON.parse(line);
  assert.deepEqual(Object.keys(parsed), [
    "timestamp",
    "correlation_id",
    "client_ip",
    "user",
    "bucket",
    "object_key",
    "http_method",
    "request_path",
    "response_status",
    "response_size_bytes",
    "duration_ms",
    "cache_status",
    "user_agent",
    "referer",
  ]);
  assert.deepEqual(parsed, {
    timestamp: "2025-01-02T03:04:05.678Z",
    correlation_id: "req-1",
    client_ip: "203.0.113.7",
    user: "alice",
    bucket: "private",
    object_key: "reports/q1.pdf",
    http_method: "GET",
    request_path: "/private/reports/q1.pdf",
    response_status: 200,
    response_size_bytes: 1024,
    duration_ms: 1.25,
    cache_status: "hit",
    user_agent: "curl/8.5.0",
    referer: "https://app.example.com/page",
  });
});

Deno.test("serializeAuditEntry: unknown values are null; cache statuses are lowercase", () => {
  const parsed = JSON.parse(serializeAuditEntry("t", {
    ...ENTRY,
    user: undefined,
    bucket: undefined,
    key: undefined,
    bytes: null,
    cache: undefined,
    userAgent: null,
    referer: null,
  }));
  for (const field of ["user", "bucket", "object_key", "response_size_bytes", "cache_status"]) {
    assert.equal(parsed[field], null, field);
  }
  assert.equal(parsed.user_agent, null);
  assert.equal(parsed.referer, null);
  for (const [xCache, status] of [["MISS", "miss"], ["BYPASS", "bypass"], ["STALE", "stale"]]) {
    assert.equal(
      JSON.parse(serializeAuditEntry("t", { ...ENTRY, cache: xCache })).cache_status,
      status,
    );
  }
});

Deno.test("serializeAuditEntry: any strings round-trip through JSON.parse (property)", () => {
  fc.assert(
    fc.property(
      fc.record({
        requestId: fc.string(),
        clientIp: fc.string(),
        user: fc.option(fc.string(), { nil: undefined }),
        key: fc.option(fc.string({ unit: "binary" }), { nil: undefined }),
        path: fc.string({ unit: "binary" }),
        method: fc.string(),
        userAgent: fc.option(fc.string({ unit: "binary", maxLength: 2000 }), { nil: null }),
      }),
      (fields) => {
        const line = serializeAuditEntry("t", { ...ENTRY, ...fields });
        assert.equal(line.indexOf("\n"), line.length - 1, "one line, whatever the input");
        const parsed = JSON.parse(line);
        assert.equal(parsed.correlation_id, fields.requestId);
        assert.equal(parsed.client_ip, fields.clientIp);
        assert.equal(parsed.user, fields.user ?? null);
        assert.equal(parsed.object_key, fields.key ?? null);
        assert.equal(parsed.request_path, fields.path);
        assert.equal(parsed.http_method, fields.method);
        assert.equal(parsed.user_agent, fields.userAgent?.slice(0, 1024) ?? null);
      },
    ),
  );
});

Deno.test("safeReferer drops the query, the fragment and user info", () => {
  assert.equal(safeReferer("https://a.example/p?token=x"), "https://a.example/p");
  assert.equal(safeReferer("https://a.example/p#access_token=x"), "https://a.example/p");
  assert.equal(safeReferer("https://a.example/p#f?q"), "https://a.example/p");
  assert.equal(safeReferer("https://user:pw@a.example/p"), "https://a.example/p");
  assert.equal(safeReferer("https://a.example/p"), "https://a.example/p");
  assert.equal(safeReferer("/relative?x=1"), "/relative");
});

// ---- the rotating file ----------------------------------------------------------------------

function line(n: number, width = 20): string {
  return `{"n":"${String(n).padStart(width, "0")}"}\n`;
}

async function readLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function fileOptions(path: string, overrides: Partial<RotatingFileOptions> = {}) {
  const errors: string[] = [];
  const options: RotatingFileOptions = {
    path,
    maxFileBytes: 1024 * 1024,
    maxBackupFiles: 5,
    rotation: "size",
    batchBytes: 1024 * 1024,
    onError: (message) => errors.push(message),
    ...overrides,
  };
  return { options, errors };
}

Deno.test("RotatingFileWriter queues without writing, then writes one batch", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const writer = await RotatingFileWriter.open(fileOptions(path).options);
    for (let i = 0; i < 100; i++) writer.write(line(i));
    assert.equal((await Deno.stat(path)).size, 0, "write() never writes synchronously");
    await writer.flush();
    assert.equal((await readLines(path)).length, 100);
    await writer.close();
  });
});

Deno.test("RotatingFileWriter writes on its own after the flush interval", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { flushIntervalMs: 10 }).options,
    );
    writer.write(line(1));
    const deadline = Date.now() + 2000;
    while ((await readLines(path)).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal((await readLines(path)).length, 1);
    await writer.close();
  });
});

Deno.test("RotatingFileWriter rotates by size: path -> path.1 -> path.2, oldest dropped", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const size = line(0).length; // 30 bytes
    // Four lines per file, two backups: 20 lines leave the last 12 (3 files of 4).
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxFileBytes: size * 4, maxBackupFiles: 2 }).options,
    );
    for (let i = 0; i < 20; i++) writer.write(line(i));
    await writer.close();
    const current = await readLines(path);
    const first = await readLines(`${path}.1`);
    const second = await readLines(`${path}.2`);
    assert.deepEqual(current, [16, 17, 18, 19].map((n) => line(n).trimEnd()));
    assert.deepEqual(first, [12, 13, 14, 15].map((n) => line(n).trimEnd()));
    assert.deepEqual(second, [8, 9, 10, 11].map((n) => line(n).trimEnd()));
    await assert.rejects(Deno.stat(`${path}.3`), Deno.errors.NotFound);
    for (const file of [path, `${path}.1`, `${path}.2`]) {
      assert.ok((await Deno.stat(file)).size <= size * 4, `${file} within max_file_size`);
    }
  });
});

Deno.test("RotatingFileWriter rotates across batches and keeps lines whole", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const size = line(0).length;
    // 2.5 lines per file: each file holds 2 whole lines, never a part of one.
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxFileBytes: Math.floor(size * 2.5), maxBackupFiles: 10 }).options,
    );
    for (let i = 0; i < 7; i++) {
      writer.write(line(i));
      await writer.flush();
    }
    await writer.close();
    assert.deepEqual(await readLines(path), [line(6).trimEnd()]);
    assert.deepEqual(await readLines(`${path}.1`), [4, 5].map((n) => line(n).trimEnd()));
    assert.deepEqual(await readLines(`${path}.3`), [0, 1].map((n) => line(n).trimEnd()));
    for (const file of [path, `${path}.1`, `${path}.2`, `${path}.3`]) {
      const text = await Deno.readTextFile(file);
      assert.ok(text.endsWith("\n"), `${file} ends with a whole line`);
      for (const l of text.split("\n").filter((x) => x !== "")) JSON.parse(l);
    }
  });
});

Deno.test("RotatingFileWriter: max_backup_files 0 starts the file over", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const size = line(0).length;
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxFileBytes: size * 2, maxBackupFiles: 0 }).options,
    );
    for (let i = 0; i < 5; i++) writer.write(line(i));
    await writer.close();
    assert.deepEqual(await readLines(path), [line(4).trimEnd()]);
    await assert.rejects(Deno.stat(`${path}.1`), Deno.errors.NotFound);
  });
});

Deno.test("RotatingFileWriter: a line longer than a file gets a file of its own", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxFileBytes: 40, maxBackupFiles: 5 }).options,
    );
    writer.write(line(1, 5));
    writer.write(line(2, 100));
    writer.write(line(3, 5));
    await writer.close();
    assert.deepEqual(await readLines(`${path}.2`), [line(1, 5).trimEnd()]);
    assert.deepEqual(await readLines(`${path}.1`), [line(2, 100).trimEnd()]);
    assert.deepEqual(await readLines(path), [line(3, 5).trimEnd()]);
  });
});

Deno.test("RotatingFileWriter appends to an existing file and counts its size", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const size = line(0).length;
    await Deno.writeTextFile(path, line(0) + line(1));
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxFileBytes: size * 3, maxBackupFiles: 1 }).options,
    );
    writer.write(line(2));
    writer.write(line(3));
    await writer.close();
    assert.deepEqual(await readLines(`${path}.1`), [0, 1, 2].map((n) => line(n).trimEnd()));
    assert.deepEqual(await readLines(path), [line(3).trimEnd()]);
  });
});

Deno.test("RotatingFileWriter with daily rotation starts a new file on a new UTC day", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    let now = Date.UTC(2025, 0, 1, 23, 59, 0);
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { rotation: "daily", now: () => now }).options,
    );
    writer.write(line(1));
    await writer.flush();
    now += 30_000;
    writer.write(line(2));
    await writer.flush();
    now += 60_000; // 2025-01-02 00:00:30
    writer.write(line(3));
    await writer.close();
    assert.deepEqual(await readLines(`${path}.1`), [1, 2].map((n) => line(n).trimEnd()));
    assert.deepEqual(await readLines(path), [line(3).trimEnd()]);
  });
});

Deno.test("RotatingFileWriter: close() writes what is queued; later lines are counted as dropped", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { flushIntervalMs: 60_000 }).options,
    );
    for (let i = 0; i < 1000; i++) writer.write(line(i));
    await writer.close();
    assert.equal((await readLines(path)).length, 1000);
    writer.write(line(1001));
    assert.equal(writer.dropped, 1);
  });
});

Deno.test("RotatingFileWriter drops and counts lines beyond its pending bound", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const size = line(0).length;
    const writer = await RotatingFileWriter.open(
      fileOptions(path, { maxPendingBytes: size * 10, flushIntervalMs: 60_000 }).options,
    );
    for (let i = 0; i < 15; i++) writer.write(line(i));
    assert.equal(writer.dropped, 5);
    await writer.close();
    assert.equal((await readLines(path)).length, 10);
  });
});

Deno.test("RotatingFileWriter.open names audit_log.file.path when the file cannot be opened", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/taken`);
    await assert.rejects(
      RotatingFileWriter.open(fileOptions(`${dir}/taken`).options),
      /audit_log\.file\.path: cannot open ".*taken" for appending .*point it at a writable file/,
    );
    // A missing directory is created.
    const nested = `${dir}/a/b/audit.log`;
    const writer = await RotatingFileWriter.open(fileOptions(nested).options);
    writer.write(line(1));
    await writer.close();
    assert.equal((await readLines(nested)).length, 1);
  });
});

Deno.test("RotatingFileWriter reports a failed write and carries on with the next batch", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const { options, errors } = fileOptions(path, { maxFileBytes: 60, maxBackupFiles: 1 });
    const writer = await RotatingFileWriter.open(options);
    writer.write(line(1));
    await writer.flush();
    // Rotation needs to rename into the directory: make path.1 a non-empty directory.
    await Deno.mkdir(`${path}.1/x`, { recursive: true });
    writer.write(line(2));
    writer.write(line(3));
    await writer.flush();
    assert.equal(errors.length, 1, "the failure is reported");
    assert.ok(writer.dropped >= 1);
    await Deno.remove(`${path}.1`, { recursive: true });
    writer.write(line(4));
    await writer.close();
    const all = [...await readLines(path), ...await readLines(`${path}.1`)];
    assert.ok(all.includes(line(4).trimEnd()), "a later batch is written again");
  });
});

// ---- AuditLog -------------------------------------------------------------------------------

Deno.test("AuditLog writes its lines to the file and to stdout (through the logger)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const chunks: string[] = [];
    const logger = new Logger({
      level: "error", // the audit's stdout lines do not depend on logging.level
      format: "json",
      sink: {
        write(bytes: Uint8Array) {
          chunks.push(new TextDecoder().decode(bytes));
          return Promise.resolve(bytes.length);
        },
      },
    });
    const audit = await AuditLog.open({
      outputs: ["file", "stdout"],
      file: { path, maxFileBytes: 1024 * 1024, maxBackupFiles: 5, rotation: "size" },
      bufferBytes: 1024 * 1024,
    }, { logger });
    const ts = "2026-11-26T12:00:00.000Z";
    audit.writeLines(serializeAuditEntry(ts, ENTRY), 1);
    audit.writeLines(serializeAuditEntry(ts, { ...ENTRY, requestId: "req-2" }), 1);
    await audit.close();
    const fromFile = (await readLines(path)).map((l) => JSON.parse(l));
    const fromStdout = chunks.join("").split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(fromFile.map((e) => e.correlation_id), ["req-1", "req-2"]);
    assert.deepEqual(fromStdout, fromFile);
    assert.match(fromFile[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(!(await Deno.readTextFile(path)).includes("SECRET"));
  });
});
