// End-to-end: `bench` against the real demo (`deno task demo`: seeded s3rver + gateway), JSON and text reports parsed and cross-checked.

import assert from "node:assert/strict";
import { runCli } from "../support/cli_process.ts";
import { eventually } from "../support/eventually.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Summary {
  min: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

interface Run {
  url: string;
  concurrency: number;
  durationMs: number;
  elapsedMs: number;
  requests: number;
  errors: number;
  bytes: number;
  requestsPerSecond: number;
  bytesPerSecond: number;
  status: Record<string, number>;
  latencyMs: Summary;
  ttfbMs: Summary;
  histogram: { upToMs: number | null; count: number }[];
}

function checkRun(run: Run, url: string, bodySize: number, status: string): void {
  assert.equal(run.url, url);
  assert.equal(run.concurrency, 4);
  assert.ok(run.requests > 0, `${url}: no requests`);
  assert.equal(run.errors, 0, `${url}: errors`);
  assert.deepEqual(Object.keys(run.status), [status]);
  const statusSum = Object.values(run.status).reduce((a, b) => a + b, 0);
  assert.equal(statusSum, run.requests, "status counts sum to the requests");
  assert.equal(run.histogram.reduce((a, b) => a + b.count, 0), run.requests);
  assert.equal(run.bytes, run.requests * bodySize, "every body read fully");
  assert.ok(run.elapsedMs >= run.durationMs && run.elapsedMs < run.durationMs + 3_000);
  const seconds = run.elapsedMs / 1000;
  assert.ok(Math.abs(run.requestsPerSecond - run.requests / seconds) < 1e-6);
  assert.ok(Math.abs(run.bytesPerSecond - run.bytes / seconds) < 1e-6);
  for (const s of [run.latencyMs, run.ttfbMs]) {
    const ordered = [s.min, s.p50, s.p75, s.p90, s.p99, s.p999, s.max];
    assert.ok(s.min > 0, "min > 0");
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(ordered[i - 1]! <= ordered[i]!, `percentiles ordered: ${ordered.join(" ")}`);
    }
  }
  // Headers arrive before the last body byte (HDR buckets can round by 0.1%).
  assert.ok(run.ttfbMs.p50 <= run.latencyMs.p50 * 1.001);
}

Deno.test({
  name: "bench against the demo gateway: --json with --compare, then the text report",
  fn: async () => {
    // The gateway binds a port of its own choosing (0), named in the banner: a port picked here
    // and bound later could be taken in between by a parallel test.
    const s3Port = unusedPort();
    const demo = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/demo.ts"],
      cwd: ROOT,
      env: { DEMO_PORT: "0", DEMO_S3_PORT: String(s3Port), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let output = "";
    const pumps = Promise.all([demo.stdout, demo.stderr].map(async (stream) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) output += text;
    }));
    let gateway = "";
    let hello = "";
    const direct = `http://127.0.0.1:${s3Port}/demo-public/hello.txt`;
    try {
      // The demo prints its banner once the gateway answers; seeding 2 x 20 MiB takes a few seconds.
      await eventually(
        () => Promise.resolve(output.includes("Ctrl-C stops both.")),
        "the demo banner",
        60_000,
        100,
      )
        .catch((error) => {
          throw new Error(`${error.message}\n${output}`);
        });
      const bound = /Yatagarasu demo: gateway (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      assert.ok(bound !== null, `the banner names the gateway:\n${output}`);
      gateway = bound[1]!;
      hello = `${gateway}/public/hello.txt`;
      const body = await (await fetch(hello)).text();
      assert.equal(body, "Hello from demo-public, served through Yatagarasu.\n");
      const size = new TextEncoder().encode(body).length;

      const json = await runCli([
        "bench",
        "--url",
        hello,
        "--compare",
        direct,
        "--duration",
        "2s",
        "--concurrency",
        "4",
        "--header",
        "X-Bench: e2e",
        "--json",
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stderr, "", "--json keeps stderr quiet");
      const doc = JSON.parse(json.stdout) as {
        url: Run;
        compare: Run;
        ratios: Record<string, number | null>;
      };
      checkRun(doc.url, hello, size, "200");
      // s3rver answers the same object directly (anonymous reads), the baseline of the ratios.
      checkRun(doc.compare, direct, size, "200");
      assert.ok(
        Math.abs(
          doc.ratios.requestsPerSecond! -
            doc.compare.requestsPerSecond / doc.url.requestsPerSecond,
        ) < 1e-9,
      );
      assert.ok(
        Math.abs(doc.ratios.latencyP99! - doc.compare.latencyMs.p99 / doc.url.latencyMs.p99) <
          1e-9,
      );

      // The text report: a 404 route, its numbers parsed back out of the lines people read.
      const missing = `${gateway}/public/no-such-key.txt`;
      const text = await runCli([
        "bench",
        "--url",
        missing,
        "--duration",
        "1s",
        "--concurrency",
        "4",
        "--warmup",
        "0",
      ]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stderr, /^bench: GET .*no-such-key\.txt for 1000 ms/);
      const requests = Number(/requests: +(\d+) \(([\d,.]+) req\/s\)/.exec(text.stdout)?.[1]);
      const notFound = Number(/\n {2}404: (\d+) \(100\.0%\)/.exec(text.stdout)?.[1]);
      assert.ok(requests > 0, text.stdout);
      assert.equal(notFound, requests, "every response was a 404");
      const bars = [...text.stdout.matchAll(/\|[# ]+\| +(\d+) +[\d.]+%/g)].map((m) => Number(m[1]));
      assert.equal(bars.reduce((a, b) => a + b, 0), requests, "histogram bars add up");
      const p50 = /\n {2}p50 +([\d.]+) (ms|s)/.exec(text.stdout);
      const p99 = /\n {2}p99 +([\d.]+) (ms|s)/.exec(text.stdout);
      const ms = (m: RegExpExecArray | null) => Number(m?.[1]) * (m?.[2] === "s" ? 1000 : 1);
      assert.ok(ms(p50) > 0 && ms(p50) <= ms(p99), text.stdout);

      const usage = await runCli(["bench", "--url", hello, "--duration", "forever"]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--duration "forever" is not a duration/);
      const down = await runCli(["bench", "--url", `http://127.0.0.1:${unusedPort()}/x`]);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /no response from .*Is the gateway running/);
    } finally {
      demo.kill("SIGINT");
      const status = await demo.status;
      await pumps;
      assert.equal(status.code, 0, output);
    }
  },
});
