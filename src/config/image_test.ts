// Tests the `image_optimization` config (top level and per bucket): defaults, every key's range,
// presets checked by the request parser, signing keys, global-only keys and preset bounds.

import assert from "node:assert/strict";
import {
  assertOneError,
  errors,
  ok,
  parseRaw,
  setPath,
  show,
  twoRawBuckets,
} from "./_test_support.ts";
import { defaultImageConcurrency } from "./schema_image.ts";

const SECRET = "image-signing-secret-0123456789abcdefghij";

function raw(image?: unknown, bucketImage?: unknown): Record<string, unknown> {
  const buckets = twoRawBuckets();
  if (bucketImage !== undefined) buckets[0]!.image_optimization = bucketImage;
  const root: Record<string, unknown> = { buckets };
  if (image !== undefined) root.image_optimization = image;
  return root;
}

Deno.test("image_optimization: absent everywhere is undefined; written empty gives the defaults", () => {
  assert.equal(ok(parseRaw(raw())).imageOptimization, undefined);
  for (const empty of [{}, null]) {
    assert.deepEqual(ok(parseRaw(raw(empty))).imageOptimization, {
      enabled: false,
      maxWidth: 4096,
      maxHeight: 4096,
      defaultQuality: 80,
      autoFormat: false,
      maxSourcePixels: 71_000_000,
      maxSourceBytes: 10 * 1024 * 1024,
      processingTimeoutMs: 10_000,
      engine: "auto",
      concurrency: defaultImageConcurrency(),
      queueSize: 32,
      presets: {},
      presetsOnly: false,
      signing: undefined,
    });
  }
  assert.ok(defaultImageConcurrency() >= 1);
});

Deno.test("image_optimization: every key is read", () => {
  const config = ok(parseRaw(
    raw({
      enabled: true,
      max_width: 2000,
      max_height: 1000,
      default_quality: 70,
      auto_format: true,
      max_source_pixels: 50_000_000,
      max_source_size_mb: 0.5,
      processing_timeout_ms: 2500,
      engine: "wasm",
      concurrency: 3,
      queue_size: 0,
      presets: { thumb: { w: 200, h: 200, fit: "cover", fmt: "auto" }, gray: { grayscale: true } },
      presets_only: true,
      signing: {
        enabled: true,
        keys: [{ id: "k1", secret: "${IMG_SECRET}" }],
        require_expiry: true,
      },
    }),
    { IMG_SECRET: SECRET },
  ));
  assert.deepEqual(config.imageOptimization, {
    enabled: true,
    maxWidth: 2000,
    maxHeight: 1000,
    defaultQuality: 70,
    autoFormat: true,
    maxSourcePixels: 50_000_000,
    maxSourceBytes: 524_288,
    processingTimeoutMs: 2500,
    engine: "wasm",
    concurrency: 3,
    queueSize: 0,
    presets: {
      thumb: { w: "200", h: "200", fit: "cover", fmt: "auto" },
      gray: { grayscale: "true" },
    },
    presetsOnly: true,
    signing: { keys: [{ id: "k1", secret: SECRET }], requireExpiry: true },
  });
});

Deno.test("image_optimization: out-of-range values name the key and the range", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["max_width", 0, /expected a whole number of pixels from 1 to 16384, got 0/],
    ["max_height", 20000, /from 1 to 16384, got 20000/],
    ["default_quality", 101, /expected a whole number from 1 to 100, got 101/],
    ["max_source_pixels", 0, /from 1 to 268402689/],
    ["max_source_size_mb", 0, /greater than 0 and at most 1024/],
    ["processing_timeout_ms", 1.5, /whole number of milliseconds from 1 to 600000/],
    ["engine", "gpu", /expected one of "auto", "native", "wasm", got "gpu"/],
    ["concurrency", 0, /whole number of workers from 1 to 256/],
    ["queue_size", -1, /from 0 to 100000/],
    ["enabled", "yes", /expected true or false/],
    ["presets_only", 1, /expected true or false/],
    ["presets", [1], /a mapping of preset names/],
  ];
  for (const [key, value, message] of cases) {
    assertOneError(parseRaw(raw({ [key]: value })), `image_optimization.${key}`, message);
  }
  assertOneError(
    parseRaw(raw({ max_widht: 5 })),
    "image_optimization.max_widht",
    "unknown key `max_widht`; did you mean `max_width`?",
  );
});

Deno.test("presets: a bad value names presets.<name>.<param> and the allowed values", () => {
  assertOneError(
    parseRaw(raw({ presets: { thumb: { w: 0 } } })),
    "image_optimization.presets.thumb.w",
    /^expected a whole number of pixels from 1 to 16384, or a percentage .*, got 0$/,
  );
  assertOneError(
    parseRaw(raw({ presets: { thumb: { fit: "crop" } } })),
    "image_optimization.presets.thumb.fit",
    'expected one of cover, contain, fill, inside, outside, pad, got "crop"',
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { bg: 0 } } })),
    "image_optimization.presets.t.bg",
    /got 0 \(YAML read it as a number; quote it, like bg: "000000"\)/,
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { cx: 1, cy: 1 } } })),
    "image_optimization.presets.t.cx",
    /cx, cy, cw and ch together .*; cw, ch are missing/,
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { width: 100 } } })),
    "image_optimization.presets.t.width",
    "unknown image parameter `width`; write `w`",
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { fitt: "cover" } } })),
    "image_optimization.presets.t.fitt",
    "unknown image parameter `fitt`; did you mean `fit`?",
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { preset: "x" } } })),
    "image_optimization.presets.t.preset",
    /cannot name another preset/,
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { w: [1] } } })),
    "image_optimization.presets.t.w",
    /got a list$/,
  );
  assertOneError(
    parseRaw(raw({ presets: { t: {} } })),
    "image_optimization.presets.t",
    /got an empty mapping$/,
  );
  assertOneError(
    parseRaw(raw({ presets: { "a b": { w: 1 } } })),
    'image_optimization.presets["a b"]',
    /not usable in \?preset=/,
  );
  assertOneError(
    parseRaw(raw({ presets: { t: { f: "png", fmt: "png" } } })),
    "image_optimization.presets.t.fmt",
    /only one of f and fmt/,
  );
});

Deno.test("presets: a preset over max_width/max_height (dpr included) is a config error", () => {
  assertOneError(
    parseRaw(raw({ enabled: true, max_width: 1000, presets: { hero: { w: 600, dpr: 2 } } })),
    "image_optimization.presets.hero.w",
    'the preset "hero" asks for w=600 at dpr=2, 1200 pixels, more than max_width (1000); lower it or raise max_width',
  );
  // A bucket whose own bound is lower than a global preset.
  assertOneError(
    parseRaw(raw({ enabled: true, presets: { hero: { h: 2000 } } }, { max_height: 1000 })),
    "buckets[0].image_optimization.max_height",
    /max_height 1000 is smaller than the preset "hero" \(image_optimization.presets.hero\) asks for: h=2000/,
  );
  // A bucket's own preset over the global bound.
  assertOneError(
    parseRaw(raw({ max_width: 500 }, { enabled: true, presets: { big: { w: 501 } } })),
    "buckets[0].image_optimization.presets.big.w",
    /the preset "big" asks for w=501, more than max_width \(500\)/,
  );
  // Disabled everywhere: bounds are not checked (nothing serves the preset).
  ok(parseRaw(raw({ max_width: 500, presets: { big: { w: 501 } } })));
});

Deno.test("signing: keys are required when enabled, ids unique, secrets long and never echoed", () => {
  assertOneError(
    parseRaw(raw({ signing: { enabled: true } })),
    "image_optimization.signing",
    /signing is enabled but has no keys; add keys: \[\{id: "k1"/,
  );
  assertOneError(
    parseRaw(raw({ signing: { enabled: true, keys: [] } })),
    "image_optimization.signing.keys",
    /at least one key is needed/,
  );
  const dup = errors(parseRaw(raw({
    signing: { enabled: true, keys: [{ id: "k", secret: SECRET }, { id: "k", secret: SECRET }] },
  })));
  assert.equal(dup.length, 1, show(dup));
  assert.equal(dup[0]!.path, "image_optimization.signing.keys[1].id");
  assert.ok(!show(dup).includes(SECRET), "the secret is not echoed");
  assertOneError(
    parseRaw(raw({ signing: { enabled: true, keys: [{ id: "k", secret: "short" }] } })),
    "image_optimization.signing.keys[0].secret",
    /shorter than 32 characters/,
  );
  assertOneError(
    parseRaw(raw({ signing: { enabled: true, keys: [{ id: "k", secret: SECRET }], requre: 1 } })),
    "image_optimization.signing.requre",
    /unknown key `requre`/,
  );
  // Disabled signing: no keys needed, and the config says undefined.
  assert.equal(
    ok(parseRaw(raw({ signing: { enabled: false } }))).imageOptimization?.signing,
    undefined,
  );
  const missingVar = errors(parseRaw(raw({
    signing: { enabled: true, keys: [{ id: "k", secret: "${NOT_SET_IMG}" }] },
  })));
  assert.match(show(missingVar), /NOT_SET_IMG/);
});

Deno.test("buckets[].image_optimization: overrides are read; engine/concurrency/queue_size are global", () => {
  const config = ok(parseRaw(
    raw(undefined, {
      enabled: true,
      max_width: 800,
      max_height: 600,
      default_quality: 60,
      auto_format: true,
      max_source_pixels: 1000,
      max_source_size_mb: 2,
      processing_timeout_ms: 100,
      presets: { s: { w: 10 } },
      presets_only: true,
      signing: { enabled: false },
    }),
    {},
  ));
  assert.deepEqual(config.buckets[0]!.imageOptimization, {
    enabled: true,
    maxWidth: 800,
    maxHeight: 600,
    defaultQuality: 60,
    autoFormat: true,
    maxSourcePixels: 1000,
    maxSourceBytes: 2 * 1024 * 1024,
    processingTimeoutMs: 100,
    presets: { s: { w: "10" } },
    presetsOnly: true,
    signing: null,
  });
  assert.equal(config.buckets[1]!.imageOptimization, undefined);
  // Only a bucket writes the block: the top level is there with its defaults.
  assert.equal(config.imageOptimization?.enabled, false);
  assert.equal(config.imageOptimization?.maxWidth, 4096);
  for (const key of ["engine", "concurrency", "queue_size"]) {
    assertOneError(
      parseRaw(raw(undefined, { [key]: key === "engine" ? "wasm" : 2 })),
      `buckets[0].image_optimization.${key}`,
      /applies to the whole gateway .*; set it in the top-level image_optimization instead/,
    );
  }
  assertOneError(
    parseRaw(raw(undefined, { max_widht: 5 })),
    "buckets[0].image_optimization.max_widht",
    "unknown key `max_widht`; did you mean `max_width`?",
  );
  const signed = ok(parseRaw(
    setPath(raw(), "buckets[1].image_optimization.signing", {
      enabled: true,
      keys: [{ id: "b", secret: SECRET }],
    }),
  ));
  assert.deepEqual(signed.buckets[1]!.imageOptimization?.signing, {
    keys: [{ id: "b", secret: SECRET }],
    requireExpiry: false,
  });
});
