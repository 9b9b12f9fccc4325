// Tests `sign-url --image` in process: image parameters signed with image_optimization.signing
// keys, alone or inside a signed URL; the printed URL is accepted by the bucket's image policy
// (through the gateway's URL parsing); every usage error says what to change.

import assert from "node:assert/strict";
import { verifySignedRequest } from "../auth/signed_url.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { canonicalTransform } from "../image/params.ts";
import { compileImagePolicy } from "../image/policy.ts";
import { parseRequestTarget } from "../proxy/accept.ts";
import { buildSignedUrl, runSignUrl, type SignUrlOptions } from "./sign_url.ts";
import type { CommandIO } from "./validate_config.ts";

const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const IMG_NEW = "image signing secret, the new one 0123456789";
const IMG_OLD = "image signing secret, the old one 0123456789";
const URL_SECRET = "signed url secret for the private bucket 0123";

const YAML = `
server: { address: 0.0.0.0, port: 8080 }
buckets:
  - name: img
    path_prefix: /img
    s3: { bucket: images, access_key: a, secret_key: b }
  - name: private
    path_prefix: /private
    s3: { bucket: private-data, access_key: c, secret_key: d }
    signed_urls:
      keys: [{ id: url-k, secret: "${URL_SECRET}" }]
  - name: plain
    path_prefix: /plain
    s3: { bucket: plain, access_key: a, secret_key: b }
    image_optimization: { signing: { enabled: false } }
  - name: thumbs
    path_prefix: /thumbs
    s3: { bucket: thumbs, access_key: a, secret_key: b }
    image_optimization:
      presets_only: true
      signing: { enabled: true, require_expiry: true, keys: [{ id: t1, secret: "${IMG_NEW}" }] }
  - name: off
    path_prefix: /off
    s3: { bucket: off, access_key: a, secret_key: b }
    image_optimization: { enabled: false }
image_optimization:
  enabled: true
  max_width: 2000
  presets: { thumb: { w: 200, h: 200, fit: cover, fmt: auto } }
  signing:
    enabled: true
    keys: [{ id: img-new, secret: "${IMG_NEW}" }, { id: img-old, secret: "${IMG_OLD}" }]
`;

function config(): Config {
  const result = parseConfig(YAML);
  assert.ok(result.ok, JSON.stringify(result));
  return result.config;
}

function build(options: Partial<Omit<SignUrlOptions, "config">>) {
  return buildSignedUrl(config(), {
    path: "/img/cat.jpg",
    image: "w=400&h=300&fmt=webp",
    nowSeconds: NOW,
    ...options,
  });
}

function buildError(options: Partial<Omit<SignUrlOptions, "config">>): string {
  const result = build(options);
  assert.ok(!result.ok, JSON.stringify(result));
  return result.error;
}

/** What the gateway does with a printed URL: its URL parser, accept's split, the bucket's policy. */
function gatewayTransform(url: string, nowSeconds = NOW) {
  const { path, rawQuery } = parseRequestTarget(new Request(url).url);
  const cfg = config();
  const bucket = cfg.buckets.find((b) => path.startsWith(b.pathPrefix))!;
  const policy = compileImagePolicy(cfg.imageOptimization, bucket.imageOptimization)!;
  return { path, rawQuery, transform: policy.request(path, rawQuery, nowSeconds * 1000) };
}

function refusedAt(url: string, code: string, nowSeconds = NOW): string {
  try {
    gatewayTransform(url, nowSeconds);
  } catch (error) {
    assert.ok(error instanceof ProxyError);
    assert.equal(error.code, code);
    return error.message;
  }
  assert.fail(`expected ${url} to be refused`);
}

Deno.test("sign-url --image signs with the first image key; the gateway accepts the URL", () => {
  const result = build({});
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.bucket, "img");
  assert.equal(result.imageKeyId, "img-new");
  assert.equal(result.keyId, undefined);
  assert.equal(result.expiresAt, undefined);
  assert.equal(result.note, undefined);
  assert.match(
    result.url,
    /^http:\/\/127\.0\.0\.1:8080\/img\/cat\.jpg\?w=400&h=300&fmt=webp&kid=img-new&sig=[A-Za-z0-9_-]{43}$/,
  );
  const { transform } = gatewayTransform(result.url);
  assert.equal(canonicalTransform(transform!), "w=400&h=300&fmt=webp");
  // Tampered: another path, another parameter value.
  assert.match(
    refusedAt(result.url.replace("cat.jpg", "dog.jpg"), "invalid_image_signature"),
    /does not match/,
  );
  assert.match(
    refusedAt(result.url.replace("w=400", "w=401"), "invalid_image_signature"),
    /does not match/,
  );
});

Deno.test("sign-url --image: aliases and order are canonicalized; --image-key; --expires adds exp", () => {
  const result = build({
    path: "/img/dir/my cat+1.jpg",
    image: "f=jpg&h=300&w=400&g=ne",
    imageKey: "img-old",
    expires: "1h",
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.imageKeyId, "img-old");
  assert.equal(result.expiresAt, NOW + 3600);
  assert.match(
    result.url,
    /\/img\/dir\/my%20cat%2B1\.jpg\?w=400&h=300&g=northeast&fmt=jpeg&exp=1767229200&kid=img-old&sig=/,
  );
  const { path, transform } = gatewayTransform(result.url, NOW + 3599);
  assert.equal(path, "/img/dir/my cat+1.jpg");
  assert.equal(canonicalTransform(transform!), "w=400&h=300&g=northeast&fmt=jpeg");
  assert.match(refusedAt(result.url, "invalid_image_signature", NOW + 3600), /expired 0s ago/);
});

Deno.test("sign-url --image preset=...; presets-only buckets; require_expiry", () => {
  const preset = build({ image: "preset=thumb" });
  assert.ok(preset.ok);
  assert.match(preset.url, /\?preset=thumb&kid=img-new&sig=/);
  assert.equal(
    canonicalTransform(gatewayTransform(preset.url).transform!),
    "w=200&h=200&fit=cover&fmt=auto",
  );
  const thumbs = build({ path: "/thumbs/a.png", image: "preset=thumb", expires: "7d" });
  assert.ok(thumbs.ok, JSON.stringify(thumbs));
  assert.equal(thumbs.imageKeyId, "t1");
  assert.ok(gatewayTransform(thumbs.url).transform);
  assert.equal(
    buildError({ path: "/thumbs/a.png", image: "w=10", expires: "1h" }),
    "--image: the gateway would refuse this: Only presets are allowed here: use ?preset=<name> (one of: thumb) without other image parameters; this request also has w.",
  );
  assert.equal(
    buildError({ path: "/thumbs/a.png", image: "preset=thumb" }),
    'bucket "thumbs" requires image signatures to expire (image_optimization.signing.require_expiry); add --expires, like --expires 7d',
  );
});

Deno.test("sign-url --image inside a signed URL: both signatures verify", () => {
  const result = build({ path: "/private/r.png", image: "w=100", expires: "15m" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.keyId, "url-k");
  assert.equal(result.imageKeyId, "img-new");
  assert.match(
    result.url,
    /\/private\/r\.png\?w=100&exp=1767226500&kid=img-new&sig=[\w-]{43}&X-Expires=1767226500&X-Key-Id=url-k&X-Signature=[\w-]{43}$/,
  );
  const { path, rawQuery, transform } = gatewayTransform(result.url);
  assert.equal(canonicalTransform(transform!), "w=100");
  const check = verifySignedRequest({
    method: "GET",
    path,
    rawQuery,
    keys: [{ id: "url-k", secret: URL_SECRET }],
    nowSeconds: NOW,
  });
  assert.equal(check.kind, "valid");
  assert.equal(
    buildError({ path: "/private/r.png", image: "w=100" }),
    '--expires is required: bucket "private" (buckets[1]) has signed_urls, and a signed URL always expires (like --expires 15m)',
  );
});

Deno.test("sign-url --image for a bucket that does not sign: the URL, unsigned, with a note", () => {
  const result = build({ path: "/plain/a.jpg", image: "h=10&w=20" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.url, "http://127.0.0.1:8080/plain/a.jpg?w=20&h=10");
  assert.equal(result.imageKeyId, undefined);
  assert.match(result.note ?? "", /does not sign image parameters/);
  assert.equal(canonicalTransform(gatewayTransform(result.url).transform!), "w=20&h=10");
});

Deno.test("sign-url --image explains each usage error", () => {
  assert.equal(
    buildError({ path: "/off/a.jpg" }),
    'image optimization is not enabled for bucket "off" (buckets[4]); set image_optimization.enabled: true (or buckets[4].image_optimization.enabled: true)',
  );
  assert.equal(
    buildError({ image: "w=abc" }),
    `--image: Invalid image parameter w=abc: expected a whole number of pixels from 1 to 16384, or a percentage of the source like 50p or 50% (more than 0, at most 1000, two decimals at most).`,
  );
  assert.equal(
    buildError({ image: "token=1" }),
    '--image names no image parameter: write them as a query, like --image "w=400&h=300&fmt=webp" or --image "preset=thumb"',
  );
  assert.equal(
    buildError({ image: "w=1&sig=x" }),
    "--image must not contain sig, kid or exp: sign-url adds them (use --image-key and --expires)",
  );
  assert.equal(
    buildError({ image: "w=3000" }),
    "--image: the gateway would refuse this: Invalid image parameter w=3000: this bucket allows at most 2000 pixels (max_width); ask for w=2000 or less.",
  );
  assert.match(
    buildError({ image: "preset=nope" }),
    /Unknown preset "nope".*the presets are: thumb/,
  );
  assert.equal(
    buildError({ imageKey: "k9" }),
    'bucket "img" has no image signing key "k9"; its keys: img-new, img-old',
  );
  assert.equal(
    buildError({ path: "/plain/a.jpg", imageKey: "img-new" }),
    'bucket "plain" does not sign image parameters (image_optimization.signing is not enabled for it), so --image-key has no key to use',
  );
  assert.equal(
    buildError({ image: undefined, imageKey: "img-new", path: "/private/a", expires: "1m" }),
    "--image-key signs image parameters: give them with --image",
  );
  assert.equal(
    buildError({ key: "url-k" }),
    '--key names a signed-URL key, and bucket "img" (buckets[0]) has no signed_urls; for the image signing key use --image-key',
  );
  assert.equal(
    buildError({ param: ["w=5"] }),
    "--param w is an image parameter; put it in --image",
  );
});

/** A CommandIO that records each call. */
function recorder(): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (text) => out.push(text), stderr: (text) => err.push(text) };
}

Deno.test("runSignUrl() --image prints only the URL; a note goes to stderr", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, YAML);
    const io = recorder();
    const code = await runSignUrl({
      config: file,
      path: "/img/a.jpg",
      image: "w=10",
      nowSeconds: NOW,
    }, io);
    assert.equal(code, 0, io.err.join("\n"));
    assert.deepEqual(io.err, []);
    assert.equal(io.out.length, 1);
    assert.ok(gatewayTransform(io.out[0]!).transform);
    const plain = recorder();
    assert.equal(
      await runSignUrl({ config: file, path: "/plain/a.jpg", image: "w=10" }, plain),
      0,
    );
    assert.deepEqual(plain.out, ["http://127.0.0.1:8080/plain/a.jpg?w=10"]);
    assert.match(plain.err[0] ?? "", /^sign-url: note: bucket "plain" does not sign image/);
  } finally {
    await Deno.remove(file);
  }
});
