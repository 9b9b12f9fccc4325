// End-to-end: the real CLI's log and audit output — JSON and pretty lines, level filtering, one
// access line per request, errors with their cause, credentials redacted everywhere, and no
// audit entry lost when SIGTERM follows the last request.

import assert from "node:assert/strict";
import { signHs256 } from "../support/jwt_config.ts";
import { spawnGateway } from "../support/observed_gateway.ts";
import { startS3Server, type TestS3Server } from "../support/s3_server.ts";

const JWT_SECRET = "e2e-logging-jwt-secret-0123456789abcdef";

/** A port nothing listens on (the "broken" bucket's S3). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function gatewayYaml(
  s3: TestS3Server,
  port: number,
  options: { logging: string; extra?: string; brokenPort?: number },
): string {
  return `
server:
  address: 127.0.0.1
  port: ${port}
  shutdown_timeout: 10
jwt:
  enabled: true
  algorithm: HS256
  secret: "${JWT_SECRET}"
  token_sources:
    - type: bearer
    - type: query
      name: token
buckets:
  - name: files
    path_prefix: /files
    s3: {bucket: e2e-public, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER}
  - name: private
    path_prefix: /private
    s3: {bucket: e2e-private, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER}
    auth: {enabled: true}
  - name: broken
    path_prefix: /broken
    s3:
      bucket: nothing
      region: us-east-1
      endpoint: "http://127.0.0.1:${options.brokenPort ?? closedPort()}"
      access_key: S3RVER
      secret_key: S3RVER
      retry: {max_attempts: 1}
logging:
${options.logging}
${options.extra ?? ""}
`;
}

async function seededS3(): Promise<TestS3Server> {
  const s3 = await startS3Server({ buckets: ["e2e-public", "e2e-private"] });
  await s3.putObject("e2e-public", "hello.txt", "hello", { contentType: "text/plain" });
  await s3.putObject("e2e-private", "report.txt", "private report", {
    contentType: "text/plain",
  });
  return s3;
}

/** Requests carrying credentials in every place a client can put them; returns those secrets. */
async function sendCredentialedRequests(url: string): Promise<string[]> {
  const token = await signHs256({ sub: "alice" }, JWT_SECRET, { expiresIn: "5m" });
  const signatureSecret = "sigSECRETa1b2c3d4e5";
  const credentialSecret = "credSECRETAKIDEXAMPLE";
  const badBearer = "eyJhbGciOiJIUzI1NiJ9.badSECRETbody.badSECRETsig";
  const badQuery = "garbageSECRETqueryToken";
  const responses = [
    await fetch(
      `${url}/files/hello.txt?X-Amz-Signature=${signatureSecret}&X-Amz-Credential=${credentialSecret}`,
      { headers: { "x-request-id": "req-signed" } },
    ),
    await fetch(`${url}/private/report.txt?token=${token}`, {
      headers: { "x-request-id": "req-query-token" },
    }),
    await fetch(`${url}/private/report.txt`, {
      headers: { authorization: `Bearer ${token}`, "x-request-id": "req-bearer" },
    }),
    await fetch(`${url}/private/report.txt`, {
      headers: { authorization: `Bearer ${badBearer}`, "x-request-id": "req-bad-bearer" },
    }),
    await fetch(`${url}/private/report.txt?token=${badQuery}`, {
      headers: { "x-request-id": "req-bad-query" },
    }),
    await fetch(`${url}/broken/x.txt?token=${token}`, {
      headers: { "x-request-id": "req-broken" },
    }),
  ];
  const statuses = [];
  for (const response of responses) {
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 401, 401]);
  assert.ok(statuses[5]! >= 502, `the broken bucket answers 5xx, got ${statuses[5]}`);
  return [token, signatureSecret, credentialSecret, badBearer, badQuery, JWT_SECRET];
}

/** No credential sent by sendCredentialedRequests shows up in either output stream. */
function assertNoSecrets(stdout: string, stderr: string, secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!stdout.includes(secret), `stdout must not contain ${secret}`);
    assert.ok(!stderr.includes(secret), `stderr must not contain ${secret}`);
  }
}

Deno.test("logging (json): one access line per request, errors with their cause, no credential anywhere", async () => {
  const s3 = await seededS3();
  const gw = await spawnGateway((port) =>
    // The log thread writes these lines (auto would pick it with 4+ CPUs only).
    gatewayYaml(s3, port, { logging: "  level: info\n  format: json\n  writer: thread" })
  );
  try {
    const secrets = await sendCredentialedRequests(gw.url);
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    const stdout = gw.stdout();
    const lines = stdout.split("\n").filter((line) => line !== "");
    // Every line is JSON with ts, level and msg.
    const entries = lines.map((line) => {
      const entry = JSON.parse(line);
      assert.equal(typeof entry.ts, "string", line);
      assert.ok(["info", "warn", "error"].includes(entry.level), line);
      assert.equal(typeof entry.msg, "string", line);
      return entry;
    });
    const access = entries.filter((e) => e.msg === "request" && e.path !== "/health");
    assert.deepEqual(
      access.map((e) => e.request_id).sort(),
      [
        "req-bad-bearer",
        "req-bad-query",
        "req-bearer",
        "req-broken",
        "req-query-token",
        "req-signed",
      ],
      "exactly one access line per request",
    );
    const signed = access.find((e) => e.request_id === "req-signed");
    assert.equal(signed.path, "/files/hello.txt", "the path is logged without its query");
    assert.equal(signed.status, 200);
    assert.equal(access.find((e) => e.request_id === "req-bad-query").code, "token_invalid");
    // The failed upstream request is logged with its cause.
    const failure = entries.find((e) => e.msg === "request failed");
    assert.ok(failure, `a "request failed" line:\n${stdout}`);
    assert.equal(failure.request_id, "req-broken");
    assert.equal(failure.level, "warn");
    assert.equal(typeof failure.cause?.message, "string", JSON.stringify(failure));
    assert.ok(failure.cause.message.length > 0);
    assertNoSecrets(stdout, gw.stderr(), secrets);
    for (const part of ["X-Amz-Signature", "X-Amz-Credential", "token="]) {
      assert.ok(!stdout.includes(part), `no query string is logged (${part})`);
    }
  } finally {
    await gw.cleanup();
    await s3.close();
  }
});

Deno.test("logging (pretty, level warn): info lines are filtered, warnings keep their cause", async () => {
  const s3 = await seededS3();
  const gw = await spawnGateway((port) =>
    gatewayYaml(s3, port, { logging: "  level: warn\n  format: pretty" })
  );
  try {
    const secrets = await sendCredentialedRequests(gw.url);
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    const stdout = gw.stdout();
    const lines = stdout.split("\n").filter((line) => line !== "");
    assert.ok(lines.length > 0, "the failure is logged");
    for (const line of lines) {
      assert.ok(!line.startsWith("{"), `pretty lines, not JSON: ${line}`);
      assert.match(line, /^\d{4}-\d\d-\d\dT\S+Z (WARN |ERROR) /, `only warn and above: ${line}`);
    }
    const failure = lines.find((line) => line.includes(" request failed "));
    assert.ok(failure, `a "request failed" line:\n${stdout}`);
    assert.match(failure, /request_id=req-broken/);
    assert.match(failure, /cause=\{"name":"[^"]+","message":"[^"]+"/);
    assertNoSecrets(stdout, gw.stderr(), secrets);
  } finally {
    await gw.cleanup();
    await s3.close();
  }
});

for (const writer of ["inline", "thread"]) {
  Deno.test(`audit log (writer ${writer}): SIGTERM right after the last response loses no entry (file and stdout)`, async () => {
    const s3 = await seededS3();
    const gw = await spawnGateway((port, dir) =>
      gatewayYaml(s3, port, {
        logging: `  level: warn\n  format: json\n  writer: ${writer}`,
        extra: `
audit_log:
  enabled: true
  outputs: [file, stdout]
  file:
    path: ${dir}/audit/audit.log
    max_file_size_mb: 10
    max_backup_files: 2
`,
      })
    );
    try {
      const token = await signHs256({ sub: "bob" }, JWT_SECRET, { expiresIn: "5m" });
      const sent: string[] = [];
      const total = 300;
      for (let batch = 0; batch < total / 30; batch++) {
        await Promise.all(Array.from({ length: 30 }, async (_, i) => {
          const id = `audit-${batch}-${i}`;
          sent.push(id);
          const path = i % 3 === 0 ? `/private/report.txt?token=${token}` : "/files/hello.txt";
          const response = await fetch(`${gw.url}${path}`, { headers: { "x-request-id": id } });
          await response.arrayBuffer();
        }));
      }
      // At once: the last entries are still waiting for their batch when the signal arrives.
      gw.kill("SIGTERM");
      assert.equal(await gw.exited, 0);
      const fileText = await Deno.readTextFile(`${gw.dir}/audit/audit.log`);
      assert.ok(!fileText.includes(token) && !fileText.includes("token="), "no token in the audit");
      const fromFile = fileText.split("\n").filter((line) => line !== "").map((line) =>
        JSON.parse(line)
      ).filter((entry) => entry.request_path !== "/health");
      assert.equal(fromFile.length, total, "every request is in the audit file");
      assert.deepEqual(fromFile.map((e) => e.correlation_id).sort(), [...sent].sort());
      const bob = fromFile.filter((e) => e.user === "bob");
      assert.equal(bob.length, total / 3);
      assert.ok(bob.every((e) => e.bucket === "private" && e.object_key === "report.txt"));
      // stdout carries the same lines (logging.level warn does not filter them).
      const fromStdout = gw.stdout().split("\n").filter((line) => line.includes('"correlation_id"'))
        .map((line) => JSON.parse(line)).filter((entry) => entry.request_path !== "/health");
      assert.equal(fromStdout.length, total, "every request is on stdout");
    } finally {
      await gw.cleanup();
      await s3.close();
    }
  });
}
