// Owns the in-process tests of the validate-config subcommand (runValidateConfig with a fake CommandIO).

import assert from "node:assert/strict";
import { type CommandIO, runValidateConfig, type ValidateConfigReport } from "./validate_config.ts";

const FIXTURES = new URL("../../tests/fixtures/configs/", import.meta.url).pathname;
const EXAMPLE = new URL("../../config.example.yaml", import.meta.url).pathname;

/** A CommandIO that records each call (one line or block, no trailing newline). */
function recorder(): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (text) => out.push(text), stderr: (text) => err.push(text) };
}

Deno.test("runValidateConfig() prints one valid line and exits 0", async () => {
  const io = recorder();
  assert.equal(await runValidateConfig(EXAMPLE, { format: "text" }, io), 0);
  assert.deepEqual(io.out, [
    `${EXAMPLE}: valid (2 buckets: public-assets -> /public, private -> /private)`,
  ]);
  assert.deepEqual(io.err, []);
});

Deno.test("runValidateConfig() prints warnings with a warning: prefix", async () => {
  const io = recorder();
  const file = `${FIXTURES}valid-full.yaml`;
  assert.equal(await runValidateConfig(file, { format: "text" }, io), 0);
  assert.deepEqual(io.out, [`${file}: valid (2 buckets: public-assets -> /public, root -> /)`]);
  assert.equal(io.err.length, 2);
  assert.ok(io.err.every((line) => line.startsWith(`warning: ${file}:`)), io.err.join("\n"));
});

Deno.test("runValidateConfig() prints every error, then a count, and exits 2", async () => {
  const io = recorder();
  const file = `${FIXTURES}three-errors.yaml`;
  assert.equal(await runValidateConfig(file, { format: "text" }, io), 2);
  assert.deepEqual(io.out, []);
  assert.deepEqual(io.err.slice(0, 2), [
    `${file}:3:9 server.port: expected an integer from 0 to 65535, got 70000`,
    `${file}:6:5 buckets[0].path_prefx: unknown key \`path_prefx\`; did you mean \`path_prefix\`?`,
  ]);
  assert.match(
    io.err[2] ?? "",
    /^.*:8:15 buckets\[0\]\.s3\.bucket: "Assets_Bucket" is not a valid S3 bucket name/,
  );
  assert.equal(io.err[3], `3 errors in ${file}`);
  assert.equal(io.err.length, 4);
});

Deno.test("runValidateConfig() reports an unreadable file as one error, exit 2", async () => {
  const io = recorder();
  const file = `${FIXTURES}missing.yaml`;
  assert.equal(await runValidateConfig(file, { format: "text" }, io), 2);
  assert.match(io.err[0] ?? "", /cannot read config file ".*missing\.yaml": /);
  assert.equal(io.err[1], `1 error in ${file}`);
});

Deno.test("runValidateConfig() --format json writes one parseable report to stdout", async () => {
  for (
    const [name, valid, code] of [
      ["valid-full.yaml", true, 0],
      ["three-errors.yaml", false, 2],
      ["missing.yaml", false, 2],
    ] as const
  ) {
    const io = recorder();
    const file = `${FIXTURES}${name}`;
    assert.equal(await runValidateConfig(file, { format: "json" }, io), code);
    assert.deepEqual(io.err, []);
    assert.equal(io.out.length, 1);
    const report: ValidateConfigReport = JSON.parse(io.out[0] ?? "");
    assert.equal(report.valid, valid);
    assert.equal(report.file, file);
    assert.deepEqual(Object.keys(report), [
      "valid",
      "file",
      "errors",
      "warnings",
      "buckets",
      "image_engine",
    ]);
    if (valid) {
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.buckets, [
        { name: "public-assets", path_prefix: "/public" },
        { name: "root", path_prefix: "/" },
      ]);
      assert.equal(report.warnings.length, 2);
    } else {
      assert.ok(report.errors.length > 0);
      assert.deepEqual(report.buckets, []);
      for (const error of report.errors) {
        assert.deepEqual(Object.keys(error), ["path", "line", "column", "message"]);
      }
    }
  }
});

/** A minimal config with image_optimization on, written to a temp file. */
async function imageConfigFile(engine: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    `buckets:
  - name: assets
    path_prefix: /assets
    s3: { bucket: assets, access_key: test-access-key, secret_key: test-secret-key }
image_optimization: { enabled: true, engine: ${engine} }
`,
  );
  return file;
}

Deno.test("runValidateConfig() says which image engine would run (native, or wasm when forced)", async () => {
  for (const engine of ["native", "wasm"]) {
    const file = await imageConfigFile(engine);
    try {
      const io = recorder();
      assert.equal(await runValidateConfig(file, { format: "text" }, io), 0, io.err.join("\n"));
      assert.equal(io.out.length, 2);
      assert.match(
        io.out[1] ?? "",
        new RegExp(`^image engine: ${engine} \\(sharp 0\\.35\\.5, libvips \\d`),
      );
      const json = recorder();
      assert.equal(await runValidateConfig(file, { format: "json" }, json), 0);
      const report: ValidateConfigReport = JSON.parse(json.out[0] ?? "");
      assert.equal(report.image_engine?.name, engine);
      assert.equal(report.image_engine?.sharp, "0.35.5");
    } finally {
      await Deno.remove(file);
    }
  }
  const io = recorder();
  assert.equal(await runValidateConfig(EXAMPLE, { format: "json" }, io), 0);
  assert.equal((JSON.parse(io.out[0] ?? "") as ValidateConfigReport).image_engine, null);
});
