// Owns the end-to-end tests of `main.ts validate-config`: the real CLI, spawned, with a controlled environment.

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = "tests/fixtures/configs/";

/**
 * Runs the CLI with only the environment Deno itself needs, so a PORT or AWS_* variable of the
 * machine running the tests cannot change what the config means.
 */
async function validate(args: string[], env: Record<string, string> = {}) {
  const keep: Record<string, string> = { NO_COLOR: "1" };
  for (
    const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "DENO_NO_UPDATE_CHECK"]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined) keep[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "validate-config", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...keep, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const lines = (bytes: Uint8Array) =>
    decoder.decode(bytes).split("\n").filter((line) =>
      // Deno's own notices (npm bin set-up and the like) are not the command's output.
      line !== "" && !line.startsWith("Warning ") && !line.startsWith("    at ")
    );
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    out: lines(output.stdout),
    err: lines(output.stderr),
  };
}

Deno.test("validate-config: config.example.yaml is valid with no environment set", async () => {
  const result = await validate(["config.example.yaml"]);
  assert.deepEqual(result.err, []);
  assert.equal(result.code, 0);
  assert.deepEqual(result.out, [
    "config.example.yaml: valid (2 buckets: public-assets -> /public, private -> /private)",
  ]);
});

Deno.test("validate-config: a broken config exits 2 with every error", async () => {
  const file = `${FIXTURES}three-errors.yaml`;
  const result = await validate([file]);
  assert.equal(result.code, 2);
  assert.deepEqual(result.out, []);
  assert.deepEqual(result.err, [
    `${file}:3:9 server.port: expected an integer from 0 to 65535, got 70000`,
    `${file}:6:5 buckets[0].path_prefx: unknown key \`path_prefx\`; did you mean \`path_prefix\`?`,
    `${file}:8:15 buckets[0].s3.bucket: "Assets_Bucket" is not a valid S3 bucket name: it ` +
    'contains the uppercase letter "A" (S3 bucket names are 3-63 characters of lowercase ' +
    "letters, digits, dots and hyphens, starting and ending with a letter or digit)",
    `3 errors in ${file}`,
  ]);
});

Deno.test("validate-config: a missing variable names the key and the variable", async () => {
  const file = `${FIXTURES}env.yaml`;
  const missing = await validate([file]);
  assert.equal(missing.code, 2);
  assert.deepEqual(missing.err, [
    `${file}:10:19 buckets[0].s3.secret_key: environment variable YG_TEST_SECRET_KEY is not set ` +
    "(use ${YG_TEST_SECRET_KEY:-default} to give a default)",
    `1 error in ${file}`,
  ]);
  const set = await validate([file], { YG_TEST_SECRET_KEY: "x", YG_TEST_PORT: "9000" });
  assert.equal(set.code, 0, set.err.join("\n"));
  assert.deepEqual(set.out, [`${file}: valid (1 bucket: assets -> /assets)`]);
});

Deno.test("validate-config: not-yet-supported keys are errors naming the feature", async () => {
  const file = `${FIXTURES}not-supported.yaml`;
  const result = await validate([file]);
  assert.equal(result.code, 2);
  assert.deepEqual(result.err, [
    `${file}:3:3 server.coalescing: \`coalescing\` is not supported yet (it lands with ` +
    "caching); remove it for now",
    // Its ${SAMPLE_RATE} is not reported: the whole key is.
    `${file}:12:1 observability: \`observability\` is not supported yet (it lands ` +
    "with operations); remove it for now",
    `2 errors in ${file}`,
  ]);
});

Deno.test("validate-config: an auth-enabled bucket without a JWT is an error, never open", async () => {
  const file = `${FIXTURES}auth-errors.yaml`;
  const result = await validate([file]);
  assert.equal(result.code, 2);
  assert.deepEqual(result.out, []);
  assert.deepEqual(result.err, [
    `${file}:8:16 buckets[0].auth.enabled: bucket "private" has auth.enabled: true but no JWT ` +
    "config: add a top-level `jwt` or `buckets[0].auth.jwt`",
    `${file}:12:19 buckets[0].signed_urls.keys[0].secret: the secret is shorter than 32 ` +
    "characters; make one with `openssl rand -base64 48` (the value came from ${SIGNED_URL_SECRET})",
    `${file}:22:49 buckets[1].auth.jwt.claims[0].value: the \`in\` operator needs a list of ` +
    'values, like [admin, editor], got "admin"',
    `3 errors in ${file}`,
  ]);
  // A long enough secret from the environment leaves the two other errors.
  const secret = await validate([file], { SIGNED_URL_SECRET: "x".repeat(48) });
  assert.equal(secret.code, 2);
  assert.equal(secret.err.at(-1), `2 errors in ${file}`);
  assert.ok(!secret.err.join("\n").includes("x".repeat(48)));
});

Deno.test("validate-config: valid-auth.yaml is valid once its secrets are set", async () => {
  const file = `${FIXTURES}valid-auth.yaml`;
  const env = {
    OPENFGA_TOKEN: "t",
    SIGNED_URL_SECRET: "s".repeat(40),
    JWT_SECRET: "j".repeat(64),
    JWT_LEGACY_SECRET: "l".repeat(32),
  };
  const result = await validate([file], env);
  assert.equal(result.code, 0, result.err.join("\n"));
  assert.deepEqual(result.out, [
    `${file}: valid (3 buckets: public -> /public, shared-jwt -> /shared, own-jwt -> /own)`,
  ]);
  // allow_unauthenticated next to the top-level jwt: a warning, not an error.
  assert.deepEqual(result.err, [
    `warning: ${file}:99:3 admin.allow_unauthenticated: \`allow_unauthenticated\` has no ` +
    "effect: with a top-level `jwt`, admin routes need a token that passes `jwt.admin_claims`",
  ]);
});

Deno.test("validate-config --format json prints a parseable report", async () => {
  const bad = await validate([`${FIXTURES}three-errors.yaml`, "--format", "json"]);
  assert.equal(bad.code, 2);
  const report = JSON.parse(bad.stdout);
  assert.equal(report.valid, false);
  assert.equal(report.file, `${FIXTURES}three-errors.yaml`);
  assert.deepEqual(report.errors[0], {
    path: "server.port",
    line: 3,
    column: 9,
    message: "expected an integer from 0 to 65535, got 70000",
  });
  assert.equal(report.errors.length, 3);
  assert.deepEqual(report.buckets, []);

  const good = await validate(["config.example.yaml", "--format", "json"]);
  assert.equal(good.code, 0);
  assert.deepEqual(JSON.parse(good.stdout), {
    valid: true,
    file: "config.example.yaml",
    errors: [],
    warnings: [],
    // image_optimization is off in the example, so no engine is loaded.
    image_engine: null,
    buckets: [
      { name: "public-assets", path_prefix: "/public" },
      { name: "private", path_prefix: "/private" },
    ],
  });
});

Deno.test("validate-config: a missing file exits 2 with a message naming it", async () => {
  const result = await validate(["no-such-config.yaml"]);
  assert.equal(result.code, 2);
  assert.match(
    result.err[0] ?? "",
    /^no-such-config\.yaml cannot read config file "no-such-config\.yaml": .*No such file/,
  );
  assert.equal(result.err[1], "1 error in no-such-config.yaml");
});

Deno.test("validate-config: a YAML syntax error gives its line", async () => {
  const file = `${FIXTURES}syntax-error.txt`;
  const result = await validate([file]);
  assert.equal(result.code, 2);
  assert.match(result.err[0] ?? "", new RegExp(`^${file}:3:\\d+ YAML syntax error: `));
  assert.equal(result.err[1], `1 error in ${file}`);
});
