// End-to-end: `yatagarasu sign-url --image` (the real CLI, secrets from the environment) prints a
// URL whose image parameters the bucket's image policy accepts, and refuses once tampered.

import assert from "node:assert/strict";
import { runCli } from "../support/cli_process.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { compileImagePolicy } from "../../src/image/policy.ts";
import { canonicalTransform } from "../../src/image/params.ts";
import { parseRequestTarget } from "../../src/proxy/accept.ts";
import { ProxyError } from "../../src/errors.ts";

const SECRET = "e2e-image-signing-secret-0123456789abcdef";

const YAML = `
server: { address: 127.0.0.1, port: 8080 }
buckets:
  - name: photos
    path_prefix: /photos
    s3: { bucket: photos, access_key: a, secret_key: b }
image_optimization:
  enabled: true
  presets: { thumb: { w: 200, h: 200, fit: cover, fmt: auto } }
  signing:
    enabled: true
    require_expiry: true
    keys: [{ id: img-2026, secret: "\${IMAGE_SIGNING_SECRET}" }]
`;

Deno.test("sign-url --image output is accepted by the image policy; tampering is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/config.yaml`;
    await Deno.writeTextFile(file, YAML);
    const env = { IMAGE_SIGNING_SECRET: SECRET };
    const signed = await runCli([
      "sign-url",
      "--config",
      file,
      "--path",
      "/photos/2026/beach day.jpg",
      "--image",
      "h=300&w=400&f=webp",
      "--expires",
      "10m",
    ], env);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.stderr, "");
    const url = signed.stdout.trim();
    assert.equal(url.split("\n").length, 1, "stdout is the URL only");
    assert.match(
      url,
      /^http:\/\/127\.0\.0\.1:8080\/photos\/2026\/beach%20day\.jpg\?w=400&h=300&fmt=webp&exp=\d+&kid=img-2026&sig=[\w-]{43}$/,
    );

    const loaded = await loadConfigFile(file, { env });
    assert.ok(loaded.ok);
    const policy = compileImagePolicy(
      loaded.config.imageOptimization,
      loaded.config.buckets[0]!.imageOptimization,
    )!;
    const request = (target: string) => {
      const { path, rawQuery } = parseRequestTarget(new Request(target).url);
      return policy.request(path, rawQuery, Date.now());
    };
    assert.equal(canonicalTransform(request(url)!), "w=400&h=300&fmt=webp");
    assert.throws(
      () => request(url.replace("w=400", "w=800")),
      (e: unknown) => e instanceof ProxyError && e.code === "invalid_image_signature",
    );

    // require_expiry: without --expires sign-url refuses, exit 2, nothing on stdout.
    const noExpiry = await runCli([
      "sign-url",
      "--config",
      file,
      "--path",
      "/photos/a.jpg",
      "--image",
      "w=10",
    ], env);
    assert.equal(noExpiry.code, 2);
    assert.equal(noExpiry.stdout, "");
    assert.match(noExpiry.stderr, /requires image signatures to expire/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
