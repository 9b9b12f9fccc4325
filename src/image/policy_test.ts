// Tests compileImagePolicy(): enabling per bucket, limits and overrides, presets (known, unknown,
// overridden), presets-only mode, signing (free-form vs presets), and the dpr-aware bounds.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import type { ImageOptimizationConfig } from "../config/types.ts";
import { parseConfig } from "../config/load.ts";
import { canonicalTransform, parseImageParams } from "./params.ts";
import { compileImagePolicy } from "./policy.ts";
import { signImageQuery } from "./signing.ts";
import type { ImagePolicy } from "./types.ts";

const SECRET = "policy-test-secret-0123456789abcdefghijk";
const KEY = { id: "k1", secret: SECRET };

const GLOBAL: ImageOptimizationConfig = {
  enabled: true,
  maxWidth: 2000,
  maxHeight: 1500,
  defaultQuality: 80,
  autoFormat: false,
  maxSourcePixels: 71_000_000,
  maxSourceBytes: 10 * 1024 * 1024,
  processingTimeoutMs: 10_000,
  engine: "auto",
  concurrency: 2,
  queueSize: 32,
  presets: {
    thumb: { w: "200", h: "200", fit: "cover", fmt: "auto" },
    hero: { w: "1600", q: "70" },
  },
  presetsOnly: false,
  signing: undefined,
};

function policy(
  global: Partial<ImageOptimizationConfig> = {},
  bucket?: Parameters<typeof compileImagePolicy>[1],
): ImagePolicy {
  const compiled = compileImagePolicy({ ...GLOBAL, ...global }, bucket);
  assert.ok(compiled !== undefined);
  return compiled;
}

function refused(run: () => unknown, code: string, message: RegExp, parameter?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    if (parameter !== undefined) assert.equal(error.details?.parameter, parameter);
    return true;
  });
}

const req = (p: ImagePolicy, query: string, path = "/img/a.jpg", now = 0) =>
  p.request(path, query, now);

Deno.test("enabled: off globally and per bucket gives no policy; a bucket can turn it on", () => {
  assert.equal(compileImagePolicy(undefined), undefined);
  assert.equal(compileImagePolicy({ ...GLOBAL, enabled: false }), undefined);
  assert.equal(compileImagePolicy(GLOBAL, { enabled: false }), undefined);
  assert.ok(compileImagePolicy({ ...GLOBAL, enabled: false }, { enabled: true }));
  // Only a bucket override, no top-level block: the defaults apply.
  const p = compileImagePolicy(undefined, { enabled: true });
  assert.deepEqual(p?.limits, {
    maxWidth: 4096,
    maxHeight: 4096,
    maxSourcePixels: 71_000_000,
    maxSourceBytes: 10 * 1024 * 1024,
    timeoutMs: 10_000,
    defaultQuality: 80,
  });
  assert.equal(p?.autoFormat, false);
});

Deno.test("limits: the bucket's overrides win, the rest is inherited", () => {
  const p = policy({}, {
    maxWidth: 800,
    defaultQuality: 60,
    autoFormat: true,
    maxSourceBytes: 1024,
    processingTimeoutMs: 500,
  });
  assert.deepEqual(p.limits, {
    maxWidth: 800,
    maxHeight: 1500,
    maxSourcePixels: 71_000_000,
    maxSourceBytes: 1024,
    timeoutMs: 500,
    defaultQuality: 60,
  });
  assert.equal(p.autoFormat, true);
});

Deno.test("request(): no image parameter is undefined; free-form parameters are parsed", () => {
  const p = policy();
  assert.equal(req(p, ""), undefined);
  assert.equal(req(p, "token=abc"), undefined);
  assert.equal(req(p, "sig=abc&kid=k1"), undefined, "a signature alone asks for nothing");
  assert.deepEqual(req(p, "w=400&f=webp"), { width: { px: 400 }, format: "webp" });
  refused(() => req(p, "w=abc"), "invalid_image_params", /Invalid image parameter w=abc/, "w");
});

Deno.test("request(): q at the default quality is dropped (one cache entry)", () => {
  const p = policy();
  assert.deepEqual(req(p, "w=10&q=80"), { width: { px: 10 } });
  assert.deepEqual(req(p, "w=10&q=81"), { width: { px: 10 }, quality: 81 });
});

Deno.test("presets: known presets expand, free-form parameters override them", () => {
  const p = policy();
  const thumb = req(p, "preset=thumb")!;
  assert.equal(canonicalTransform(thumb), "w=200&h=200&fit=cover&fmt=auto");
  assert.equal(
    canonicalTransform(thumb),
    canonicalTransform(req(p, "w=200&h=200&fit=cover&fmt=auto")!),
    "a preset and its parameters are the same variant",
  );
  assert.equal(
    canonicalTransform(req(p, "preset=thumb&fmt=png&r=90")!),
    "w=200&h=200&fit=cover&r=90&fmt=png",
  );
  // hero's q=70 stays (it is not the default 80).
  assert.equal(canonicalTransform(req(p, "preset=hero")!), "w=1600&q=70");
});

Deno.test("presets: an unknown or empty preset is a 400 naming the known ones", () => {
  const p = policy();
  refused(
    () => req(p, "preset=thumbnail"),
    "invalid_image_params",
    /^Unknown preset "thumbnail" in \?preset=; the presets are: hero, thumb\.$/,
    "preset",
  );
  refused(() => req(p, "preset="), "invalid_image_params", /preset: it is empty/, "preset");
  refused(
    () => req(policy({ presets: {} }), "preset=x"),
    "invalid_image_params",
    /this bucket has no presets/,
  );
});

Deno.test("presets: a bucket adds presets and replaces a global one of the same name", () => {
  const p = policy({}, { presets: { thumb: { w: "100" }, square: { w: "50", h: "50" } } });
  assert.equal(canonicalTransform(req(p, "preset=thumb")!), "w=100");
  assert.equal(canonicalTransform(req(p, "preset=square")!), "w=50&h=50");
  assert.equal(canonicalTransform(req(p, "preset=hero")!), "w=1600&q=70");
});

Deno.test("presets-only: presets work, free-form parameters are a 400 saying so", () => {
  const p = policy({ presetsOnly: true });
  assert.ok(req(p, "preset=thumb"));
  assert.equal(req(p, "token=x"), undefined);
  refused(
    () => req(p, "w=100&h=5"),
    "invalid_image_params",
    /^Only presets are allowed here: use \?preset=<name> \(one of: hero, thumb\) without other image parameters; this request also has w, h\.$/,
    "w",
  );
  refused(() => req(p, "preset=thumb&q=10"), "invalid_image_params", /also has q/, "q");
  const perBucket = policy({}, { presetsOnly: true });
  refused(() => req(perBucket, "w=1"), "invalid_image_params", /Only presets/);
});

Deno.test("signing: free-form parameters need a valid signature, presets alone do not", () => {
  const signing = { keys: [KEY], requireExpiry: false };
  const p = policy({ signing });
  refused(() => req(p, "w=400"), "invalid_image_signature", /must be signed/);
  assert.ok(req(p, "preset=thumb"), "a preset needs no signature");
  const signed = signImageQuery({
    path: "/img/a.jpg",
    transform: parseImageParams("w=400&h=300"),
    key: KEY,
  });
  assert.deepEqual(req(p, signed), { width: { px: 400 }, height: { px: 300 } });
  refused(() => req(p, signed, "/img/b.jpg"), "invalid_image_signature", /does not match/);
  refused(
    () => req(p, signed.replace("h=300", "h=301")),
    "invalid_image_signature",
    /does not match/,
  );
  // A signature sent with a preset is still checked.
  refused(
    () => req(p, `preset=thumb&kid=k1&sig=${"A".repeat(43)}`),
    "invalid_image_signature",
    /does not match/,
  );
  const presetSigned = signImageQuery({
    path: "/img/a.jpg",
    preset: "thumb",
    transform: { format: "png" },
    key: KEY,
  });
  assert.equal(canonicalTransform(req(p, presetSigned)!), "w=200&h=200&fit=cover&fmt=png");
});

Deno.test("signing: expired, and rotated keys; a bucket can replace or switch off signing", () => {
  const old = { id: "k0", secret: `${SECRET}-old` };
  const p = policy({ signing: { keys: [KEY, old], requireExpiry: true } });
  const byOld = signImageQuery({
    path: "/img/a.jpg",
    transform: { width: { px: 10 } },
    key: old,
    expiresAt: 100,
  });
  assert.ok(req(p, byOld, "/img/a.jpg", 99_999));
  refused(() => req(p, byOld, "/img/a.jpg", 100_000), "invalid_image_signature", /expired/);
  const rotated = policy({ signing: { keys: [KEY], requireExpiry: true } });
  refused(() => req(rotated, byOld, "/img/a.jpg", 0), "invalid_image_signature", /rotated out/);
  const off = policy({ signing: { keys: [KEY], requireExpiry: true } }, { signing: null });
  assert.ok(req(off, "w=10"));
  const own = policy({}, { signing: { keys: [old], requireExpiry: false } });
  refused(() => req(own, "w=10"), "invalid_image_signature", /must be signed/);
});

Deno.test("presets-only is checked before the signature; parameter errors before both", () => {
  const p = policy({ presetsOnly: true, signing: { keys: [KEY], requireExpiry: false } });
  refused(() => req(p, "w=10"), "invalid_image_params", /Only presets/);
  refused(() => req(p, "w=0"), "invalid_image_params", /w=0: expected/);
});

Deno.test("bounds: w and h times dpr against max_width and max_height, naming the bound", () => {
  const p = policy();
  assert.ok(req(p, "w=2000&h=1500"));
  assert.ok(req(p, "w=1000&dpr=2"));
  refused(
    () => req(p, "w=2001"),
    "invalid_image_params",
    /^Invalid image parameter w=2001: this bucket allows at most 2000 pixels \(max_width\); ask for w=2000 or less\.$/,
    "w",
  );
  refused(
    () => req(p, "h=800&dpr=2"),
    "invalid_image_params",
    /^Invalid image parameter h=800: at dpr=2 it asks for 1600 pixels, and this bucket allows at most 1500 \(max_height\); ask for h=750 or less at dpr=2\.$/,
    "h",
  );
  // Percentages depend on the source; the engine checks them.
  assert.ok(req(p, "w=1000p"));
  // The bucket's bound, and a preset with a free-form dpr.
  const small = policy({}, { maxWidth: 300 });
  refused(() => req(small, "preset=thumb&dpr=2"), "invalid_image_params", /max_width/, "w");
});

Deno.test("a config file's image_optimization compiles to the same policy", () => {
  const result = parseConfig(`
buckets:
  - name: img
    path_prefix: /img
    s3: { bucket: images, access_key: a, secret_key: b }
    image_optimization: { max_width: 1000, presets_only: true }
  - name: raw
    path_prefix: /raw
    s3: { bucket: raw, access_key: a, secret_key: b }
image_optimization:
  enabled: true
  presets: { thumb: { w: 200, h: 200, fit: cover, fmt: auto } }
`);
  assert.ok(result.ok, JSON.stringify(result));
  const [img, raw] = result.config.buckets;
  const imgPolicy = compileImagePolicy(result.config.imageOptimization, img!.imageOptimization)!;
  assert.equal(imgPolicy.limits.maxWidth, 1000);
  assert.equal(
    canonicalTransform(imgPolicy.request("/img/a", "preset=thumb", 0)!),
    "w=200&h=200&fit=cover&fmt=auto",
  );
  refused(() => imgPolicy.request("/img/a", "w=5", 0), "invalid_image_params", /Only presets/);
  const rawPolicy = compileImagePolicy(result.config.imageOptimization, raw!.imageOptimization)!;
  assert.deepEqual(rawPolicy.request("/raw/a", "w=5", 0), { width: { px: 5 } });
});
