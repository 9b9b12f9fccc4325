// End-to-end: two gateway processes sharing one redis-server share one rate limit (server.rate_limit.store: redis).

import assert from "node:assert/strict";
import { type RunningGateway, startGateway } from "../support/cli_process.ts";
import { startRedisServer } from "../support/redis_server.ts";
import { startS3Server } from "../support/s3_server.ts";

const BUCKET = "fleet-limit";

async function stop(gateway: RunningGateway) {
  gateway.kill("SIGTERM");
  assert.equal(await gateway.exited, 0);
}

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

Deno.test("rate limit with the Redis store: two gateway processes share one global limit", async () => {
  await using redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: [BUCKET] });
  await s3.putObject(BUCKET, "x.txt", "x");
  const config = `
server:
  address: 127.0.0.1
  port: 0
  rate_limit:
    enabled: true
    store: redis
    global: { requests_per_second: 3 }
buckets:
  - name: b
    path_prefix: /b
    s3: { bucket: ${BUCKET}, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER }
cache:
  cache_layers: [memory, redis]
  redis: { enabled: true, redis_url: "${redis.url}", redis_key_prefix: "fleet:" }
logging: { level: info, format: json }
`;
  const a = await startGateway(config);
  const b = await startGateway(config);
  try {
    // The limit is a one-second window shared through Redis: three requests pass, the fourth,
    // to either process, is refused. A window boundary can fall inside a round, so a round that
    // straddles one is repeated in the next window (three rounds at most).
    let seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      seen = [];
      for (const gateway of [a, b, a, b]) seen.push(await status(`${gateway.url}/b/x.txt`));
      if (seen.join() === "200,200,200,429") break;
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    assert.deepEqual(seen, [200, 200, 200, 429], "the fourth request of the fleet is limited");
  } finally {
    await stop(a);
    await stop(b);
    await s3.close();
  }
});
