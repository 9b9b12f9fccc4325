// Owns the config reload integration tests: 20 reloads under steady load against a real s3rver
// (credentials, routes and limits changing, every response attributable to one generation),
// rejected reloads keeping the old generation, in-flight requests finishing on their generation,
// the cache across re-pointed buckets, and POST /admin/reload.

import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import type { ConfigResult } from "../../src/config/load.ts";
import type { ReloadOutcome } from "../../src/config/reload.ts";
import type { Config } from "../../src/config/types.ts";
import { buildTestApp, serveTestApp, type TestApp } from "../support/app_harness.ts";
import { largeBody, startS3Server, type TestS3Server } from "../support/s3_server.ts";

const GENERATIONS = 21; // the start-up config and 20 reloads
const SOURCE = "reload-test.yaml";

const pad = (n: number) => String(n).padStart(2, "0");
const s3Bucket = (n: number) => `gen-${pad(n)}`;
const account = (n: number) => ({ accessKeyId: `GENKEY${pad(n)}`, secretAccessKey: `secret-${n}` });

/** Burst of the /limited bucket in generation n (1..3): a fresh limiter shows it exactly. */
const burstOf = (n: number) => 1 + (n % 3);

/**
 * Generation n: /data and /v{n} read S3 bucket gen-NN (whose objects name n) with n's own key
 * pair; /locked reads it with a wrong secret in odd generations; /limited has burst burstOf(n).
 */
function yamlFor(n: number, endpoint: string, extraTop = ""): string {
  const { accessKeyId, secretAccessKey } = account(n);
  const s3 = (secret: string, extra = "") =>
    `{ bucket: ${s3Bucket(n)}, region: us-east-1, endpoint: "${endpoint}", ` +
    `access_key: ${accessKeyId}, secret_key: ${secret}, retry: { max_attempts: 1 }${extra} }`;
  return `
server:
  address: 127.0.0.1
  port: 0
  rate_limit: { enabled: true, global: { requests_per_second: ${100000 + n} } }
buckets:
  - name: data
    path_prefix: /data
    s3: ${s3(secretAccessKey)}
  - name: versioned
    path_prefix: /v${n}
    s3: ${s3(secretAccessKey)}
  - name: locked
    path_prefix: /locked
    s3: ${s3(n % 2 === 1 ? "wrong-secret" : secretAccessKey)}
  - name: limited
    path_prefix: /limited
    s3: ${s3(secretAccessKey, `, rate_limit: { requests_per_second: 1, burst: ${burstOf(n)} }`)}
logging: { level: info, format: json }
${extraTop}`;
}

function loaded(yaml: string): ConfigResult {
  return parseConfig(yaml, { source: SOURCE });
}

function valid(yaml: string): Config {
  const result = loaded(yaml);
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join("\n"));
  return result.config;
}

async function seededS3(): Promise<TestS3Server> {
  const numbers = Array.from({ length: GENERATIONS }, (_, i) => i + 1);
  const s3 = await startS3Server({
    buckets: numbers.map(s3Bucket),
    accounts: numbers.map(account),
  });
  for (const n of numbers) await s3.putObject(s3Bucket(n), "obj.txt", `generation ${n}`);
  return s3;
}

async function statusOf(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

interface LoadResult {
  ok: number;
  failures: string[];
  /** How many responses each generation answered. */
  byGeneration: Map<number, number>;
}

/**
 * `clients` loops fetching /data/obj.txt until `stop` resolves. Each response must be a 200 whose
 * body names a generation between the one serving when the request was sent and the one serving
 * when its body ended: a request is answered by the generation it began on, never a mixture.
 */
function steadyLoad(
  url: string,
  app: TestApp["app"],
  clients: number,
  stop: Promise<void>,
): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [], byGeneration: new Map() };
  let stopped = false;
  stop.then(() => stopped = true);
  const client = async () => {
    while (!stopped) {
      const before = app.generation;
      try {
        const response = await fetch(`${url}/data/obj.txt`);
        const body = await response.text();
        const after = app.generation;
        const match = /^generation (\d+)$/.exec(body);
        const n = match === null ? NaN : Number(match[1]);
        if (response.status !== 200 || !(n >= before && n <= after)) {
          result.failures.push(`${response.status} "${body.slice(0, 120)}" (${before}..${after})`);
        } else {
          result.ok++;
          result.byGeneration.set(n, (result.byGeneration.get(n) ?? 0) + 1);
        }
      } catch (error) {
        result.failures.push(`fetch failed: ${error}`);
      }
    }
  };
  return Promise.all(Array.from({ length: clients }, client)).then(() => result);
}

Deno.test("reload: 20 reloads under steady load — zero failures, each response from one generation", async () => {
  const s3 = await seededS3();
  const gw = await buildTestApp(valid(yamlFor(1, s3.endpoint)));
  const server = await serveTestApp(gw);
  const { app } = gw;
  let release!: () => void;
  const stop = new Promise<void>((resolve) => release = resolve);
  try {
    assert.equal(app.generation, 1);
    const load = steadyLoad(server.url, app, 6, stop);
    for (let n = 2; n <= GENERATIONS; n++) {
      const outcome = await app.reload(loaded(yamlFor(n, s3.endpoint)), {
        source: SOURCE,
        trigger: "test",
      });
      assert.equal(outcome.ok, true, JSON.stringify(outcome.errors));
      assert.equal(outcome.generation, n);
      assert.equal(app.generation, n);
      // Routes: the new prefix answers, the previous generation's is gone.
      const fresh = await fetch(`${server.url}/v${n}/obj.txt`);
      assert.equal(`${fresh.status} ${await fresh.text()}`, `200 generation ${n}`);
      assert.equal(await statusOf(`${server.url}/v${n - 1}/obj.txt`), 404);
      // Credentials: a wrong secret is refused by S3 in odd generations, accepted in even ones.
      assert.equal(await statusOf(`${server.url}/locked/obj.txt`), n % 2 === 1 ? 403 : 200);
      // Limits: a fresh limiter with this generation's burst.
      const limited: number[] = [];
      for (let i = 0; i <= burstOf(n); i++) {
        limited.push(await statusOf(`${server.url}/limited/obj.txt`));
      }
      assert.deepEqual(limited, [...Array(burstOf(n)).fill(200), 429], `generation ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Rejected: a validation error (with its path and line) and a build error (a JWT key file).
    const invalid = await app.reload(
      loaded(yamlFor(GENERATIONS, s3.endpoint).replace("path_prefix: /data", "path_prefx: /data")),
      { source: SOURCE },
    );
    assert.equal(invalid.ok, false);
    assert.equal(invalid.generation, GENERATIONS);
    const typo = invalid.errors.find((e) => e.path === "buckets[0].path_prefx");
    assert.ok(typo, JSON.stringify(invalid.errors));
    assert.match(typo.message, /path_prefix/);
    assert.equal(typo.line, 8);
    const missingKey = await app.reload(
      loaded(yamlFor(
        GENERATIONS,
        s3.endpoint,
        `jwt:
  algorithm: RS256
  rsa_public_key_path: /nonexistent/reload-test.pem
`,
      )),
      { source: SOURCE },
    );
    assert.equal(missingKey.ok, false);
    assert.match(missingKey.errors[0]!.message, /rsa_public_key_path.*reload-test\.pem/);
    assert.equal(app.generation, GENERATIONS);
    const still = await fetch(`${server.url}/data/obj.txt`);
    assert.equal(await still.text(), `generation ${GENERATIONS}`);
    await new Promise((resolve) => setTimeout(resolve, 100));

    release();
    const result = await load;
    assert.deepEqual(result.failures, [], "no request failed or mixed generations");
    console.log(
      `reload under load: ${result.ok} requests, answered by ${result.byGeneration.size} generations`,
    );
    assert.ok(result.ok >= 200, `only ${result.ok} requests ran`);
    assert.ok(
      result.byGeneration.size >= 10,
      `the load spanned only generations ${[...result.byGeneration.keys()]}`,
    );
    assert.deepEqual(app.reloads, { succeeded: 20, failed: 2 });
  } finally {
    release();
    await server.stop();
    await s3.close();
  }
  // One log line per reload, with its outcome, generation and duration.
  const lines = gw.log.entries().filter((l) => String(l.msg).startsWith("config reload"));
  assert.equal(lines.length, 22);
  const first = lines[0]!;
  assert.deepEqual([first.outcome, first.generation, first.trigger], ["success", 2, "test"]);
  assert.equal(typeof first.duration_ms, "number");
  const failed = lines.filter((l) => l.outcome === "failed");
  assert.equal(failed.length, 2);
  assert.equal(failed[0]!.generation, GENERATIONS);
  assert.match(String((failed[0]!.errors as string[])[0]), /^reload-test\.yaml:8:\d+ buckets\[0\]/);
});

Deno.test("reload: a download in flight finishes on the generation it began on", async () => {
  const s3 = await seededS3();
  const big = largeBody(8 * 1024 * 1024);
  await s3.putObject(s3Bucket(1), "big.bin", big);
  const gw = await buildTestApp(valid(yamlFor(1, s3.endpoint)));
  const server = await serveTestApp(gw);
  try {
    const response = await fetch(`${server.url}/data/big.bin`);
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    let received = first.value?.length ?? 0;
    // Generation 2's /data is gen-02, which has no big.bin: the stream must stay on generation 1.
    const outcome = await gw.app.reload(valid(yamlFor(2, s3.endpoint)));
    assert.equal(outcome.generation, 2);
    assert.equal(await statusOf(`${server.url}/data/big.bin`), 404);
    let mismatch = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value[0] !== big[received] || value.at(-1) !== big[received + value.length - 1]) {
        mismatch = true;
      }
      received += value.length;
    }
    assert.equal(received, big.length);
    assert.equal(mismatch, false);
  } finally {
    await server.stop();
    await s3.close();
  }
});

Deno.test("reload: the cache survives, except for a bucket re-pointed at another S3 bucket", async () => {
  const s3 = await seededS3();
  const cache = `cache:
  enabled: true
  memory: { max_item_size_mb: 1, max_cache_size_mb: 16, default_ttl_seconds: 600 }
`;
  const gw = await buildTestApp(valid(yamlFor(2, s3.endpoint, cache)));
  try {
    const get = async () => {
      const response = await gw.request("/data/obj.txt");
      return `${response.headers.get("x-cache")} ${await response.text()}`;
    };
    assert.equal(await get(), "MISS generation 2");
    assert.equal(await get(), "HIT generation 2");
    // New credentials and limits, same S3 bucket: what the cache holds is still right.
    const rotated = yamlFor(2, s3.endpoint, cache).replace(
      "requests_per_second: 100002",
      "requests_per_second: 5000",
    );
    assert.equal((await gw.app.reload(valid(rotated))).ok, true);
    assert.equal(await get(), "HIT generation 2");
    // /data now reads gen-04: the entries of gen-02 must not be served for it.
    assert.equal((await gw.app.reload(valid(yamlFor(4, s3.endpoint, cache)))).ok, true);
    assert.equal(await get(), "MISS generation 4");
    assert.equal(await get(), "HIT generation 4");
  } finally {
    await gw.app.close();
    await s3.close();
  }
});

Deno.test("reload: a change that needs a restart is applied except for that key, and says so", async () => {
  const s3 = await seededS3();
  const gw = await buildTestApp(valid(yamlFor(1, s3.endpoint)));
  try {
    const next = yamlFor(3, s3.endpoint).replace("port: 0", "port: 18080");
    const outcome = await gw.app.reload(loaded(next), { source: SOURCE });
    assert.equal(outcome.ok, true);
    assert.deepEqual(outcome.needsRestart.map((i) => i.path), ["server.port"]);
    assert.match(outcome.needsRestart[0]!.message, /\(0 -> 18080\).*restart it to apply/);
    const response = await gw.request("/v3/obj.txt");
    assert.equal(await response.text(), "generation 3");
    await gw.logger.flush();
    const line = gw.log.entries().find((l) => l.msg === "config reloaded");
    assert.equal(line?.level, "warn");
    assert.match(String((line?.needs_restart as string[])[0]), /^reload-test\.yaml server\.port:/);
  } finally {
    await gw.app.close();
    await s3.close();
  }
});

Deno.test("POST /admin/reload: outcome as JSON, 400 with the errors, 503 without a file, guarded", async () => {
  const s3 = await seededS3();
  let next = yamlFor(2, s3.endpoint);
  const gw = await buildTestApp(valid(yamlFor(1, s3.endpoint)), {
    // Called only once the app exists: by POST /admin/reload.
    reloadConfig: () => gw.app.reload(loaded(next), { source: SOURCE, trigger: "admin" }),
  });
  const bare = await buildTestApp(valid(yamlFor(1, s3.endpoint)));
  try {
    const ok = await gw.request("/admin/reload", { method: "POST" });
    assert.equal(ok.status, 200);
    const body = await ok.json();
    assert.deepEqual(
      { ...body, timestamp: 0, duration_ms: 0 },
      {
        status: "success",
        message: "Configuration reloaded successfully",
        config_generation: 2,
        timestamp: 0,
        duration_ms: 0,
        warnings: [],
        needs_restart: [],
      },
    );
    assert.ok(Math.abs(body.timestamp - Date.now() / 1000) < 60);

    next = "buckets: [ { name: x } ]\n";
    const bad = await gw.request("/admin/reload", { method: "POST" });
    assert.equal(bad.status, 400);
    const failure = await bad.json();
    assert.equal(failure.status, "error");
    assert.equal(failure.config_generation, 2);
    assert.match(failure.message, /generation 2 keeps serving/);
    assert.ok(
      failure.errors.some((e: { path: string; line?: number }) =>
        e.path === "buckets[0].s3" && e.line === 1
      ),
      JSON.stringify(failure.errors),
    );
    assert.match(failure.error, /^reload-test\.yaml:1:/);
    assert.equal(gw.app.generation, 2);

    const get = await gw.request("/admin/reload");
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.body?.cancel();

    // The same guard as the other admin routes: without a JWT, loopback clients only.
    const remote = await gw.request("/admin/reload", { method: "POST" }, "10.1.2.3");
    assert.equal(remote.status, 403);
    await remote.body?.cancel();
    assert.equal(gw.app.generation, 2);

    const noFile = await bare.request("/admin/reload", { method: "POST" });
    assert.equal(noFile.status, 503);
    assert.match((await noFile.json()).message, /not started from a config file/);
  } finally {
    await gw.app.close();
    await bare.app.close();
    await s3.close();
  }
});

Deno.test("reload: reloads run one at a time in call order; none after close", async () => {
  const s3 = await seededS3();
  const gw = await buildTestApp(valid(yamlFor(1, s3.endpoint)));
  try {
    const outcomes: ReloadOutcome[] = await Promise.all(
      [2, 3, 4, 5].map((n) => gw.app.reload(valid(yamlFor(n, s3.endpoint)))),
    );
    assert.deepEqual(outcomes.map((o) => o.generation), [2, 3, 4, 5]);
    const response = await gw.request("/v5/obj.txt");
    assert.equal(await response.text(), "generation 5");
  } finally {
    await gw.app.close();
    await s3.close();
  }
  const late = await gw.app.reload(valid(yamlFor(6, s3.endpoint)));
  assert.equal(late.ok, false);
  assert.match(late.errors[0]!.message, /shutting down/);
});
