// End-to-end packaging: `deno task bundle` builds dist JS that runs on its own (validate-config, serve with /health and an object); `deno task compile` fails clearly without denort.

import assert from "node:assert/strict";
import { startS3Server } from "../support/s3_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function deno(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("bundle: dist JS built by `deno task bundle` validates a config and serves from outside the repo", async () => {
  // Built and run in a temp dir, away from deno.json: the bundle must not need the import map.
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-bundle-" });
  const bundle = `${dir}/yatagarasu.js`;
  const s3 = await startS3Server({ buckets: ["bundled"] });
  let child: Deno.ChildProcess | undefined;
  try {
    const built = await deno(["task", "bundle", bundle]);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /bundle: wrote .*yatagarasu\.js/);
    const code = await Deno.readTextFile(bundle);
    assert.ok(code.length > 100_000, `the bundle is only ${code.length} bytes`);
    // No bare import of an npm package is left: the bundle runs without deno.json.
    assert.doesNotMatch(code, /\bfrom\s*["'](sharp|@img\/sharp-wasm32)["']/);

    const version = await deno(["run", "-A", bundle, "--version"], { cwd: dir });
    const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
    assert.equal(version.stdout.trim(), denoJson.version, version.stderr);

    const valid = await deno(
      ["run", "-A", bundle, "validate-config", `${ROOT}config.example.yaml`],
      {
        cwd: dir,
        env: { AWS_ACCESS_KEY: "k", AWS_SECRET_KEY: "s", JWT_SECRET: "x".repeat(32) },
      },
    );
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    assert.match(valid.stdout, /config\.example\.yaml: valid/);

    await Deno.writeTextFile(`${dir}/bad.yaml`, "server: { port: 8080, prot: 1 }\nbuckets: []\n");
    const invalid = await deno(["run", "-A", bundle, "validate-config", "bad.yaml"], { cwd: dir });
    assert.equal(invalid.code, 2);
    assert.match(invalid.stdout + invalid.stderr, /prot/);

    await s3.putObject("bundled", "hello.txt", "hello from the bundle");
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      `server: { address: 127.0.0.1, port: 0 }
buckets:
  - name: b
    path_prefix: /b
    s3: { bucket: bundled, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER }
logging: { level: info, format: json, writer: thread }
`,
    );
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", bundle, "serve", "--config", "config.yaml"],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let out = "";
    let err = "";
    const pumpErr = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) err += text;
    })();
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    let port: number | undefined;
    const reader = lines.getReader();
    const deadline = Date.now() + 30_000;
    while (port === undefined && Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      out += value;
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "listening") port = entry.port;
      }
    }
    const pumpOut = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        out += value;
      }
    })();
    assert.ok(port !== undefined, `the bundled gateway did not start:\n${out}\n${err}`);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const object = await fetch(`http://127.0.0.1:${port}/b/hello.txt`);
    assert.equal(object.status, 200);
    assert.equal(await object.text(), "hello from the bundle");
    child.kill("SIGTERM");
    const status = await child.status;
    child = undefined;
    await Promise.all([pumpErr, pumpOut]);
    assert.equal(status.code, 0, err);
    // The access line comes from the log thread, whose worker is the bundle itself.
    assert.doesNotMatch(err, /log thread/);
    const access = out.split("\n").filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg?: string; path?: string; status?: number })
      .filter((entry) => entry.msg === "request" && entry.path === "/b/hello.txt");
    assert.equal(access.length, 1, out);
    assert.equal(access[0]!.status, 200);
  } finally {
    if (child !== undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
    await s3.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: a bad DENORT_BIN and the deno CLI as DENORT_BIN are refused with what to do", async () => {
  const out = await Deno.makeTempDir({ prefix: "yatagarasu-compile-" });
  const missing = await deno(["task", "compile", "--target", "host", "--out", out], {
    env: { DENORT_BIN: "/nonexistent/denort" },
  });
  await Deno.remove(out, { recursive: true });
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(
    missing.stderr,
    /could not use DENORT_BIN=\/nonexistent\/denort for .*\. DENORT_BIN must be the path of the denort binary/,
  );

  const cli = await deno(["task", "compile"], { env: { DENORT_BIN: Deno.execPath() } });
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /looks like the deno CLI, not denort/);

  const usage = await deno(["task", "compile", "--target", "sparc"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown --target "sparc"/);
});

Deno.test("compile: without DENORT_BIN it either builds a working binary or says denort could not be fetched", async () => {
  const out = await Deno.makeTempDir({ prefix: "yatagarasu-compile-" });
  try {
    const result = await deno(["task", "compile", "--target", "host", "--out", out], {
      env: { DENORT_BIN: "" },
    });
    if (result.code === 0) {
      // A machine with a network: the script ran the binary's --version itself; check it again.
      const binary = [...Deno.readDirSync(out)].find((e) => e.name.startsWith("yatagarasu-"));
      assert.ok(binary, "a binary was written");
      const run = await new Deno.Command(`${out}/${binary.name}`, { args: ["--version"] }).output();
      assert.match(decoder.decode(run.stdout), /^\d+\.\d+\.\d+/);
    } else {
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /deno compile needs denort, the runtime it copies into the binary/,
      );
      assert.match(result.stderr, /DENORT_BIN=\/path\/to\/denort deno task compile --target /);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
