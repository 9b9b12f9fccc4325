// Integration: the audit log through createApp against a real s3rver — one line per request
// with who/what/outcome, no token or query in it, size rotation, and everything written by close().

import assert from "node:assert/strict";
import type { AuditLogConfig, Config } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";
import { eventually } from "../support/eventually.ts";
import { startS3Server } from "../support/s3_server.ts";

const MiB = 1024 * 1024;

function auditConfig(
  path: string,
  overrides: Partial<AuditLogConfig["file"]> = {},
): AuditLogConfig {
  return {
    outputs: ["file"],
    file: { path, maxFileBytes: 50 * MiB, maxBackupFiles: 5, rotation: "size", ...overrides },
    bufferBytes: MiB,
  };
}

async function readEntries(path: string): Promise<Record<string, unknown>[]> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test("audit log: one entry per request with user, key, cache status; no token or query", async () => {
  const s3 = await startS3Server({ buckets: ["public-data", "private-data"] });
  const dir = await Deno.makeTempDir({ prefix: "audit-int-" });
  const path = `${dir}/audit.log`;
  try {
    await s3.putObject("public-data", "hello.txt", "hello world");
    await s3.putObject("private-data", "report.txt", "secret report");
    const jwt = testJwtConfig({
      tokenSources: [
        { type: "bearer", name: undefined, prefix: undefined },
        { type: "query", name: "token", prefix: undefined },
      ],
    });
    const config: Config = testConfig([
      bucketConfig({
        name: "public",
        pathPrefix: "/public",
        bucket: "public-data",
        endpoint: s3.endpoint,
      }),
      {
        ...bucketConfig({
          name: "private",
          pathPrefix: "/private",
          bucket: "private-data",
          endpoint: s3.endpoint,
        }),
        jwt,
      },
    ]);
    config.cache = testCacheConfig({
      maxItemBytes: MiB,
      maxCacheBytes: 16 * MiB,
      defaultTtlSeconds: 60,
    });
    config.auditLog = auditConfig(path);
    const { app, request, logger } = await buildTestApp(config);
    const token = await signHs256({ sub: "alice", role: "viewer" }, undefined, {
      expiresIn: "5m",
    });

    const miss = await request("/public/hello.txt?X-Amz-Signature=deadbeefcafe", {
      headers: {
        "user-agent": "audit-test/1.0",
        "x-request-id": "req-miss",
        referer: "https://app.example.com/page?session=topsecret#frag",
      },
    });
    assert.equal(await miss.text(), "hello world");
    // The miss is stored in the background: repeat until the cache answers.
    let attempts = 0;
    let hitId = "";
    await eventually(async () => {
      const id = `req-hit-${attempts++}`;
      const hit = await request("/public/hello.txt", { headers: { "x-request-id": id } });
      assert.equal(await hit.text(), "hello world");
      if (hit.headers.get("x-cache") !== "HIT") return false;
      hitId = id;
      return true;
    }, "a cache hit");
    const authorized = await request(`/private/report.txt?token=${token}`, {
      headers: { "x-request-id": "req-user" },
    });
    assert.equal(authorized.status, 200);
    assert.equal(await authorized.text(), "secret report");
    const refused = await request("/private/report.txt", {
      headers: { authorization: "Bearer not-a-valid-token", "x-request-id": "req-refused" },
    });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const missing = await request("/nowhere", { headers: { "x-request-id": "req-404" } });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    // Nothing is written per request: lines wait for a batch (or close()).
    await app.close();
    await logger.flush();
    const text = await Deno.readTextFile(path);
    for (const secret of [token, "deadbeefcafe", "not-a-valid-token", "topsecret", "token="]) {
      assert.ok(!text.includes(secret), `the audit file must not contain ${secret}`);
    }
    const entries = await readEntries(path);
    const byId = new Map(entries.map((entry) => [entry.correlation_id, entry]));
    assert.equal(entries.length, 4 + attempts);
    const missEntry = byId.get("req-miss")!;
    assert.equal(missEntry.bucket, "public");
    assert.equal(missEntry.object_key, "hello.txt");
    assert.equal(missEntry.request_path, "/public/hello.txt");
    assert.equal(missEntry.http_method, "GET");
    assert.equal(missEntry.response_status, 200);
    assert.equal(missEntry.response_size_bytes, 11);
    assert.equal(missEntry.cache_status, "miss");
    assert.equal(missEntry.user, null);
    assert.equal(missEntry.client_ip, "127.0.0.1");
    assert.equal(missEntry.user_agent, "audit-test/1.0");
    assert.equal(missEntry.referer, "https://app.example.com/page");
    assert.equal(typeof missEntry.duration_ms, "number");
    assert.match(String(missEntry.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(byId.get(hitId)!.cache_status, "hit");
    assert.equal(byId.get(hitId)!.response_size_bytes, 11);
    const user = byId.get("req-user")!;
    assert.equal(user.user, "alice");
    assert.equal(user.bucket, "private");
    assert.equal(user.object_key, "report.txt");
    assert.equal(user.request_path, "/private/report.txt");
    const refusedEntry = byId.get("req-refused")!;
    assert.equal(refusedEntry.response_status, 401);
    assert.equal(refusedEntry.user, null);
    const notFound = byId.get("req-404")!;
    assert.equal(notFound.response_status, 404);
    assert.equal(notFound.bucket, null);
    assert.equal(notFound.object_key, null);
    assert.equal(notFound.cache_status, null);
  } finally {
    await s3.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: rotates by size and keeps max_backup_files; close() writes the rest", async () => {
  const s3 = await startS3Server({ buckets: ["data"] });
  const dir = await Deno.makeTempDir({ prefix: "audit-rot-" });
  const path = `${dir}/audit.log`;
  try {
    await s3.putObject("data", "a.txt", "a");
    const config = testConfig([
      bucketConfig({ name: "data", pathPrefix: "/data", bucket: "data", endpoint: s3.endpoint }),
    ]);
    config.cache = testCacheConfig({
      maxItemBytes: MiB,
      maxCacheBytes: 16 * MiB,
      defaultTtlSeconds: 60,
    });
    // Entries are ~330 bytes: 2 KiB files hold 6 each; 3 backups keep at most 24 entries.
    const maxFileBytes = 2048;
    config.auditLog = {
      ...auditConfig(path, { maxFileBytes, maxBackupFiles: 3 }),
      bufferBytes: 4096,
    };
    const { app, request } = await buildTestApp(config);
    const total = 60;
    for (let i = 0; i < total; i++) {
      const response = await request("/data/a.txt", {
        headers: { "x-request-id": `rot-${String(i).padStart(3, "0")}` },
      });
      await response.text();
      // Some batches are written mid-run (a timer or a full buffer), some only by close().
      if (i % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await app.close();
    const files = [path, `${path}.1`, `${path}.2`, `${path}.3`];
    await assert.rejects(Deno.stat(`${path}.4`), Deno.errors.NotFound);
    const kept: string[] = [];
    for (const file of [...files].reverse()) {
      const info = await Deno.stat(file);
      assert.ok(info.size <= maxFileBytes, `${file} is ${info.size} bytes, over ${maxFileBytes}`);
      assert.ok(info.size > 0, `${file} is not empty`);
      for (const entry of await readEntries(file)) kept.push(String(entry.correlation_id));
    }
    // The newest entries survive, in order, without gaps; the oldest were rotated away.
    const expected = Array.from({ length: total }, (_, i) => `rot-${String(i).padStart(3, "0")}`);
    assert.deepEqual(kept, expected.slice(total - kept.length));
    assert.ok(kept.length >= 12 && kept.length < total, `kept ${kept.length} entries`);
    assert.equal(kept.at(-1), "rot-059", "the last request is in the file after close()");
  } finally {
    await s3.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: an unwritable audit_log.file.path stops createApp with a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-bad-" });
  try {
    await Deno.mkdir(`${dir}/is-a-directory`);
    const config = testConfig([
      bucketConfig({ name: "b", pathPrefix: "/b", bucket: "b", endpoint: "http://127.0.0.1:9" }),
    ]);
    config.auditLog = auditConfig(`${dir}/is-a-directory`);
    await assert.rejects(
      buildTestApp(config),
      /audit_log\.file\.path: cannot open ".*is-a-directory" for appending/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
