// End-to-end: config reload on the real CLI — SIGHUP acted on at once, `serve --watch`, and
// POST /admin/reload with and without admin claims; invalid configs keep the old one serving.

import assert from "node:assert/strict";
import { type RunningGateway, startGateway } from "../support/cli_process.ts";
import { eventually } from "../support/eventually.ts";
import { signHs256, TEST_JWT_SECRET } from "../support/jwt_config.ts";
import { startS3Server, type TestS3Server } from "../support/s3_server.ts";

function yamlFor(n: number, endpoint: string, extra = ""): string {
  return `
server: { address: 127.0.0.1, port: 0 }
buckets:
  - name: data
    path_prefix: /data
    s3: { bucket: gen-0${n}, region: us-east-1, endpoint: "${endpoint}", access_key: S3RVER, secret_key: S3RVER }
logging: { level: info, format: json }
${extra}`;
}

async function seeded(): Promise<TestS3Server> {
  const s3 = await startS3Server({ buckets: ["gen-01", "gen-02", "gen-03"] });
  for (const n of [1, 2, 3]) await s3.putObject(`gen-0${n}`, "obj.txt", `generation ${n}`);
  return s3;
}

async function body(url: string, init?: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  return `${response.status} ${await response.text()}`;
}

const reloadLines = (gw: RunningGateway) =>
  gw.logLines().filter((l) => String(l.msg).startsWith("config reload"));

/** Replaces the file the way editors do: a temp file renamed over it. */
async function replaceFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

Deno.test("e2e reload: SIGHUP reloads at once; an invalid file is rejected and the old config serves", async () => {
  const s3 = await seeded();
  const gw = await startGateway(yamlFor(1, s3.endpoint));
  try {
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 1");
    await Deno.writeTextFile(gw.configPath, yamlFor(2, s3.endpoint));
    gw.kill("SIGHUP");
    // No request is sent until the reload is logged: it must not wait for one.
    await eventually(
      () => Promise.resolve(reloadLines(gw).length === 1),
      "the SIGHUP reload's log line",
    );
    assert.deepEqual(reloadLines(gw)[0], {
      ...reloadLines(gw)[0],
      msg: "config reloaded",
      outcome: "success",
      generation: 2,
      trigger: "SIGHUP",
      source: gw.configPath,
    });
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 2");

    await Deno.writeTextFile(
      gw.configPath,
      yamlFor(3, s3.endpoint).replace("path_prefix: /data", "path_prefix: data"),
    );
    gw.kill("SIGHUP");
    await eventually(() => Promise.resolve(reloadLines(gw).length === 2), "the failed reload");
    const failed = reloadLines(gw)[1]!;
    assert.equal(failed.outcome, "failed");
    assert.equal(failed.level, "error");
    assert.equal(failed.generation, 2);
    assert.match(
      String((failed.errors as string[])[0]),
      new RegExp(`^${gw.configPath}:5:\\d+ buckets\\[0\\]\\.path_prefix: `),
    );
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 2");

    // The listen port needs a restart: applied except for that, with a warning that says so.
    await Deno.writeTextFile(
      gw.configPath,
      yamlFor(3, s3.endpoint).replace("port: 0", "port: 18123"),
    );
    gw.kill("SIGHUP");
    await eventually(() => Promise.resolve(reloadLines(gw).length === 3), "the third reload");
    const partial = reloadLines(gw)[2]!;
    assert.equal(partial.level, "warn");
    assert.equal(partial.generation, 3);
    assert.match(
      String((partial.needs_restart as string[])[0]),
      /server\.port: changed \(0 -> 18123\)/,
    );
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 3");
  } finally {
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    await s3.close();
  }
});

Deno.test("e2e reload: serve --watch reloads when the file is replaced by rename or rewritten", async () => {
  const s3 = await seeded();
  const gw = await startGateway(yamlFor(1, s3.endpoint), ["--watch"]);
  try {
    await replaceFile(gw.configPath, yamlFor(2, s3.endpoint));
    await eventually(
      async () => (await body(`${gw.url}/data/obj.txt`)) === "200 generation 2",
      "the watched file's first change to be served",
    );
    await Deno.writeTextFile(gw.configPath, yamlFor(3, s3.endpoint));
    await eventually(
      async () => (await body(`${gw.url}/data/obj.txt`)) === "200 generation 3",
      "the second change (the renamed-in file is still watched)",
    );
    await eventually(() => Promise.resolve(reloadLines(gw).length >= 2), "two reload lines");
    const lines = reloadLines(gw);
    assert.deepEqual(lines.map((l) => [l.trigger, l.outcome, l.generation]), [
      ["watch", "success", 2],
      ["watch", "success", 3],
    ]);
  } finally {
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    await s3.close();
  }
});

Deno.test("e2e reload: POST /admin/reload needs a token with the admin claims", async () => {
  const s3 = await seeded();
  const jwt = `jwt:
  enabled: true
  algorithm: HS256
  secret: "${TEST_JWT_SECRET}"
  admin_claims: [ { claim: role, operator: equals, value: admin } ]
`;
  const gw = await startGateway(yamlFor(1, s3.endpoint, jwt));
  try {
    await Deno.writeTextFile(gw.configPath, yamlFor(2, s3.endpoint, jwt));
    const post = (token?: string) =>
      fetch(`${gw.url}/admin/reload`, {
        method: "POST",
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    const anonymous = await post();
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const viewer = await post(await signHs256({ sub: "v", role: "viewer" }));
    assert.equal(viewer.status, 403);
    await viewer.body?.cancel();
    assert.equal(reloadLines(gw).length, 0, "refused callers reload nothing");
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 1");

    const admin = await signHs256({ sub: "ops", role: "admin" });
    const ok = await post(admin);
    assert.equal(ok.status, 200);
    const answer = await ok.json();
    assert.equal(answer.status, "success");
    assert.equal(answer.config_generation, 2);
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 2");

    await Deno.writeTextFile(gw.configPath, "buckets: []\nserver: { port: nope }\n");
    const bad = await post(admin);
    assert.equal(bad.status, 400);
    const failure = await bad.json();
    assert.equal(failure.status, "error");
    assert.equal(failure.config_generation, 2);
    assert.ok(failure.errors.length > 0);
    assert.ok(failure.errors.every((e: { line?: number }) => typeof e.line === "number"));
    assert.equal(await body(`${gw.url}/data/obj.txt`), "200 generation 2");
    // Log lines are written in batches: wait for the second one.
    await eventually(() => Promise.resolve(reloadLines(gw).length === 2), "two reload lines");
    assert.deepEqual(reloadLines(gw).map((l) => [l.trigger, l.outcome]), [
      ["admin", "success"],
      ["admin", "failed"],
    ]);
  } finally {
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    await s3.close();
  }
});
