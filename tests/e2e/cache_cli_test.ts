// End-to-end: purges reaching a second gateway process through Redis, and the `purge` and `warm` subcommands.

import assert from "node:assert/strict";
import { eventually } from "../support/eventually.ts";
import { runCli, type RunningGateway, startGateway } from "../support/cli_process.ts";
import { startRedisServer } from "../support/redis_server.ts";
import { startS3Server, type TestS3Server } from "../support/s3_server.ts";

const BUCKET = "cli-cache";

function yaml(s3: TestS3Server, options: { port?: number; cache: string }): string {
  return `
server:
  address: 127.0.0.1
  port: ${options.port ?? 0}
buckets:
  - name: b
    path_prefix: /b
    s3:
      bucket: ${BUCKET}
      region: us-east-1
      endpoint: "${s3.endpoint}"
      access_key: S3RVER
      secret_key: S3RVER
cache:
${options.cache}
logging:
  level: info
  format: json
`;
}

async function writeConfig(text: string): Promise<{ path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-cli-" });
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(path, text);
  return { path, dir };
}

async function stop(gateway: RunningGateway) {
  gateway.kill("SIGTERM");
  assert.equal(await gateway.exited, 0);
}

/** The tier that holds `key` according to a gateway's admin API, or undefined (404). */
async function tierOf(gateway: RunningGateway, key: string): Promise<string | undefined> {
  const response = await fetch(`${gateway.url}/admin/cache/info?key=b:${encodeURIComponent(key)}`);
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  return (await response.json()).data.tier;
}

/** A free loopback port with nothing listening on it. */
function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("purge of each kind on one gateway reaches a second gateway process through Redis", async () => {
  await using redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: [BUCKET] });
  const keys = ["one.txt", "img/a.png", "img/b.png", "doc/c.txt"];
  for (const key of keys) await s3.putObject(BUCKET, key, `body of ${key}`);
  const config = yaml(s3, {
    cache: `  cache_layers: [memory, redis]
  redis: { enabled: true, redis_url: "${redis.url}", redis_key_prefix: "e2e:" }`,
  });
  const { path, dir } = await writeConfig(config);
  const a = await startGateway(config);
  const b = await startGateway(config);
  const fill = async () => {
    for (const gateway of [a, b]) {
      for (const key of keys) await (await fetch(`${gateway.url}/b/${key}`)).arrayBuffer();
    }
    for (const key of keys) {
      await eventually(async () => (await tierOf(b, key)) === "memory", `${key} in B's memory`);
    }
  };
  const purge = async (...flags: string[]) => {
    const result = await runCli(["purge", "--config", path, "--url", a.url, ...flags]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^purged .* through the gateway at http:\/\/127\.0\.0\.1:\d+\n$/);
    return result.stdout;
  };
  const goneFromB = (gone: string[]) =>
    eventually(async () => {
      for (const key of gone) if ((await tierOf(b, key)) !== undefined) return false;
      return true;
    }, `${gone.join(", ")} to leave gateway B`);
  try {
    await fill();
    assert.match(await purge("--bucket", "b", "--key", "one.txt"), /: 1 entries/);
    await goneFromB(["one.txt"]);
    assert.equal(await tierOf(b, "img/a.png"), "memory", "other keys stay");

    await purge("--bucket", "b", "--prefix", "img/");
    await goneFromB(["img/a.png", "img/b.png"]);
    assert.equal(await tierOf(b, "doc/c.txt"), "memory");

    await fill();
    await purge("--bucket", "b");
    await goneFromB(keys);

    await fill();
    await purge("--all");
    await goneFromB(keys);
    assert.equal(await tierOf(a, "doc/c.txt"), undefined, "A and Redis are empty too");
  } finally {
    await stop(a);
    await stop(b);
    await s3.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("warm through a gateway, then warm and purge the disk tier directly without one", async () => {
  const s3 = await startS3Server({ buckets: [BUCKET] });
  for (const key of ["w/1.txt", "w/2.txt", "w/sub/3.txt", "x/4.txt"]) {
    await s3.putObject(BUCKET, key, `body of ${key}`);
  }
  const cacheDir = await Deno.makeTempDir({ prefix: "yatagarasu-disk-" });
  const diskCache = `  cache_layers: [memory, disk]
  disk: { enabled: true, cache_dir: "${cacheDir}" }`;
  const gateway = await startGateway(yaml(s3, { cache: diskCache }));
  const offline = await writeConfig(yaml(s3, { port: unusedPort(), cache: diskCache }));
  try {
    const warmed = await runCli([
      "warm",
      "--config",
      offline.path,
      "--url",
      gateway.url,
      "--bucket",
      "b",
      "--prefix",
      "w/",
      "--no-progress",
    ]);
    assert.equal(warmed.code, 0, warmed.stderr);
    assert.match(
      warmed.stdout,
      /^warm completed: 3 files, 49 B, 0 errors, 3 listed, in \d+\.\d s\n$/,
    );
    const hit = await fetch(`${gateway.url}/b/w/sub/3.txt`);
    assert.equal(hit.headers.get("x-cache"), "HIT");
    assert.equal(await hit.text(), "body of w/sub/3.txt");
  } finally {
    await stop(gateway);
  }
  try {
    // No gateway listens at the config's port: both subcommands work on the disk tier itself.
    const purged = await runCli(["purge", "--config", offline.path, "--bucket", "b"]);
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stderr, /no gateway answers at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(purged.stdout, /^purged bucket "b": 3 entries, directly in disk\n$/);

    const warmed = await runCli([
      "warm",
      "--config",
      offline.path,
      "--bucket",
      "b",
      "--concurrency",
      "2",
      "--rate",
      "50",
    ]);
    assert.equal(warmed.code, 0, warmed.stderr);
    assert.match(warmed.stdout, /^warm completed: 4 files, 64 B, 0 errors, 4 listed/);
    const files = [...Deno.readDirSync(`${cacheDir}/entries`)].filter((f) =>
      f.name.endsWith(".entry")
    );
    assert.equal(files.length, 4);

    // A gateway started on the warmed directory serves from it without asking S3.
    const before = s3.requests().length;
    const restarted = await startGateway(yaml(s3, { cache: diskCache }));
    try {
      const response = await fetch(`${restarted.url}/b/x/4.txt`);
      assert.equal(response.headers.get("x-cache"), "HIT");
      assert.equal(await response.text(), "body of x/4.txt");
      assert.equal(
        s3.requests().filter((line) => line.startsWith("GET")).length -
          s3.requests().slice(0, before).filter((line) => line.startsWith("GET")).length,
        0,
      );
    } finally {
      await stop(restarted);
    }

    const usage = await runCli(["purge", "--config", offline.path, "--bucket", "b", "--key", ""]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--key is empty/);
  } finally {
    await s3.close();
    await Deno.remove(offline.dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});
