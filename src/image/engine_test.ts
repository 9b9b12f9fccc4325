// Owns the engine tests: real images through the native and the forced wasm engine; formats, sizes, metadata, limits.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import { decompressionBomb, inspect, makeImage, meanColour } from "../../tests/support/images.ts";
import { acquireImageEngine, describeEngine, type ImageEngine } from "./engine.ts";
import { planResize } from "./pipeline.ts";
import { ImagePool } from "./pool.ts";
import { ImageProcessor } from "./processor.ts";
import type { ImageLimits, ImageTransform } from "./types.ts";

const LIMITS: ImageLimits = {
  maxWidth: 4096,
  maxHeight: 4096,
  maxSourcePixels: 40_000_000,
  maxSourceBytes: 10 * 1024 * 1024,
  timeoutMs: 10_000,
  defaultQuality: 80,
};

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProxyError, `expected a ProxyError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

/** The checks every engine must pass (run on native and on wasm). */
async function engineContract(t: Deno.TestContext, engine: ImageEngine) {
  await t.step("every source format in, every output format out, at the asked size", async () => {
    for (const kind of ["jpeg", "png", "webp", "avif", "gif", "png16"] as const) {
      const source = await makeImage(kind, 300, 200);
      for (const format of ["jpeg", "png", "webp", "avif", "gif"] as const) {
        const out = await engine.transform(source, { width: { px: 150 } }, format, LIMITS);
        const meta = await inspect(out.bytes);
        const expected = format === "avif" ? "heif" : format;
        assert.equal(meta.format, expected, `${kind} -> ${format}`);
        assert.equal(out.format, format);
        assert.equal(out.contentType, `image/${format}`);
        assert.deepEqual([meta.width, meta.height], [150, 100], `${kind} -> ${format}`);
        assert.deepEqual([out.width, out.height], [150, 100]);
      }
    }
  });

  await t.step("no fmt keeps the source's format; a 16-bit PNG stays a PNG", async () => {
    for (const kind of ["jpeg", "png", "webp", "gif", "png16"] as const) {
      const out = await engine.transform(
        await makeImage(kind),
        { height: { px: 50 } },
        undefined,
        LIMITS,
      );
      const meta = await inspect(out.bytes);
      assert.equal(meta.format, kind === "png16" ? "png" : kind);
      assert.deepEqual([meta.width, meta.height], [75, 50]);
    }
    const avif = await engine.transform(
      await makeImage("avif"),
      { width: { px: 30 } },
      undefined,
      LIMITS,
    );
    assert.equal((await inspect(avif.bytes)).compression, "av1");
  });

  await t.step(
    "EXIF orientation 6 is applied by default, and kept off with auto_rotate=0",
    async () => {
      const source = await makeImage("exif6", 300, 200);
      assert.equal((await inspect(source)).orientation, 6);
      const rotated = await inspect((await engine.transform(source, {}, "jpeg", LIMITS)).bytes);
      assert.deepEqual([rotated.width, rotated.height], [200, 300]);
      assert.equal(rotated.orientation, undefined, "stripped output carries no orientation");
      assert.equal(rotated.exif, undefined);
      const raw = await inspect(
        (await engine.transform(source, { autoRotate: false }, "jpeg", LIMITS)).bytes,
      );
      assert.deepEqual([raw.width, raw.height], [300, 200]);
      const kept = await inspect(
        (await engine.transform(source, { strip: false, width: { px: 100 } }, "jpeg", LIMITS))
          .bytes,
      );
      assert.ok(kept.exif !== undefined, "strip=0 keeps the EXIF block");
      assert.deepEqual([kept.width, kept.height], [100, 150]);
    },
  );

  await t.step("fit modes, crop, rotation and pad give the planned sizes", async () => {
    const source = await makeImage("jpeg", 300, 200);
    const cases: Array<[ImageTransform, number, number]> = [
      [{ width: { px: 100 }, height: { px: 100 } }, 100, 100], // cover (default)
      [{ width: { px: 100 }, height: { px: 100 }, fit: "contain" }, 100, 67],
      [{ width: { px: 100 }, height: { px: 100 }, fit: "inside" }, 100, 67],
      [{ width: { px: 100 }, height: { px: 100 }, fit: "outside" }, 150, 100],
      [{ width: { px: 100 }, height: { px: 100 }, fit: "fill" }, 100, 100],
      [{ width: { px: 100 }, height: { px: 100 }, fit: "pad" }, 100, 100],
      [{ width: { percent: 50 } }, 150, 100],
      [{ width: { px: 100 }, dpr: 2 }, 200, 133],
      [{ width: { px: 600 } }, 300, 200], // never enlarged by default
      [{ width: { px: 600 }, enlarge: true }, 600, 400],
      [{ width: { px: 600 }, height: { px: 600 } }, 200, 200], // cover box shrunk to fit
      [{ rotate: 90 }, 200, 300],
      [{ crop: { x: 10, y: 20, width: 100, height: 50 } }, 100, 50],
      [{ crop: { x: 250, y: 150, width: 100, height: 100 } }, 50, 50], // clamped to the image
      [{ crop: { x: 0, y: 0, width: 100, height: 50 }, rotate: 270, width: { px: 25 } }, 25, 50],
    ];
    for (const [transform, width, height] of cases) {
      const out = await engine.transform(source, transform, "png", LIMITS);
      const meta = await inspect(out.bytes);
      assert.deepEqual([meta.width, meta.height], [width, height], JSON.stringify(transform));
    }
  });

  await t.step("pad fills with the background colour, placed by gravity", async () => {
    const source = await makeImage("jpeg", 300, 100);
    const out = await engine.transform(
      source,
      {
        width: { px: 90 },
        height: { px: 90 },
        fit: "pad",
        background: "#ff0000",
        gravity: "north",
      },
      "png",
      LIMITS,
    );
    const bottom = await meanColour(out.bytes, { left: 0, top: 60, width: 90, height: 30 });
    assert.ok(bottom.r > 250 && bottom.g < 5 && bottom.b < 5, JSON.stringify(bottom));
  });

  await t.step("effects: grayscale, quality, progressive, flatten into JPEG", async () => {
    const source = await makeImage("png-alpha", 200, 100);
    const gray = await meanColour(
      (await engine.transform(source, { grayscale: true }, "jpeg", LIMITS)).bytes,
    );
    assert.ok(Math.abs(gray.r - gray.g) < 1 && Math.abs(gray.g - gray.b) < 1, JSON.stringify(gray));
    const low = await engine.transform(source, { quality: 10 }, "webp", LIMITS);
    const high = await engine.transform(source, { quality: 95 }, "webp", LIMITS);
    assert.ok(low.bytes.byteLength < high.bytes.byteLength);
    const progressive = await engine.transform(source, { progressive: true }, "jpeg", LIMITS);
    assert.equal((await inspect(progressive.bytes)).isProgressive, true);
    const flat = await engine.transform(source, { background: "#0000ff" }, "jpeg", LIMITS);
    assert.equal((await inspect(flat.bytes)).hasAlpha, false);
    // The right half was translucent: flattened onto blue, it is blue-ish.
    const right = await meanColour(flat.bytes, { left: 150, top: 0, width: 50, height: 100 });
    assert.ok(right.b > right.r, JSON.stringify(right));
    for (
      const effect of [
        { blur: 10 },
        { sharpen: 5 },
        { brightness: 50 },
        { contrast: -50 },
        { saturation: -100 },
        { flip: "hv" as const },
        { gravity: "smart" as const, width: { px: 50 }, height: { px: 90 } },
      ]
    ) {
      const out = await engine.transform(source, effect, "webp", LIMITS);
      assert.equal((await inspect(out.bytes)).format, "webp", JSON.stringify(effect));
    }
  });

  await t.step("an animated GIF becomes its first frame", async () => {
    const source = await makeImage("gif-animated", 60, 40);
    assert.equal((await inspect(source)).pages, 3);
    const out = await inspect(
      (await engine.transform(source, { width: { px: 30 } }, undefined, LIMITS)).bytes,
    );
    assert.equal(out.format, "gif");
    assert.deepEqual([out.width, out.height], [30, 20]);
    assert.ok((out.pages ?? 1) === 1);
  });

  await t.step(
    "undecodable sources: 415; bombs and large sources: 422; huge outputs: 400",
    async () => {
      await rejectsWith(
        engine.transform(await makeImage("truncated"), {}, "webp", LIMITS),
        "unsupported_image",
        /decoded/,
      );
      await rejectsWith(
        engine.transform(new TextEncoder().encode("not an image at all"), {}, "webp", LIMITS),
        "unsupported_image",
      );
      const svg = new TextEncoder().encode(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
      );
      await rejectsWith(engine.transform(svg, {}, "png", LIMITS), "unsupported_image");
      await rejectsWith(
        engine.transform(decompressionBomb(), {}, "webp", LIMITS),
        "image_too_large",
        /max_source_pixels/,
      );
      await rejectsWith(
        engine.transform(await makeImage("jpeg", 300, 200), {}, "webp", {
          ...LIMITS,
          maxSourcePixels: 50_000,
        }),
        "image_too_large",
      );
      await rejectsWith(
        engine.transform(await makeImage("jpeg"), {}, "webp", { ...LIMITS, maxSourceBytes: 100 }),
        "image_too_large",
        /max_source_bytes/,
      );
      await rejectsWith(
        engine.transform(
          await makeImage("jpeg"),
          { width: { percent: 1000 }, enlarge: true },
          "webp",
          { ...LIMITS, maxWidth: 2000 },
        ),
        "invalid_image_params",
        /3000x2000 .*max_width/,
      );
      await rejectsWith(
        engine.transform(
          await makeImage("jpeg"),
          { crop: { x: 300, y: 0, width: 5, height: 5 } },
          "webp",
          LIMITS,
        ),
        "invalid_image_params",
        /cx=300/,
      );
    },
  );
}

Deno.test("native engine: formats, sizes, metadata and limits", async (t) => {
  const engine = await acquireImageEngine("native");
  try {
    assert.equal(engine.name, "native");
    assert.match(describeEngine(engine.info), /^native \(sharp 0\.35\.5, libvips \d+\.\d+\.\d+\)$/);
    await engineContract(t, engine);
  } finally {
    engine.close();
  }
});

Deno.test("wasm engine forced by configuration: sharp-wasm32 in a worker, same contract", async (t) => {
  const engine = await acquireImageEngine("wasm");
  try {
    assert.equal(engine.name, "wasm");
    assert.equal(engine.info.name, "wasm");
    assert.equal(engine.info.sharp, "0.35.5");
    await engineContract(t, engine);
  } finally {
    engine.close();
  }
});

Deno.test("auto picks the native addon here and says so", async () => {
  const engine = await acquireImageEngine("auto");
  try {
    assert.equal(engine.name, "native");
    assert.equal(engine.info.fallbackReason, undefined);
  } finally {
    engine.close();
  }
});

Deno.test("processor: a transformation past processing_timeout_ms is a 503 with Retry-After", async () => {
  const engine = await acquireImageEngine("native");
  try {
    const processor = new ImageProcessor(engine, new ImagePool(1, 0));
    const source = await makeImage("jpeg", 2000, 1500);
    const started = performance.now();
    await assert.rejects(
      processor.transform(source, { blur: 100, enlarge: true, width: { px: 4000 } }, "avif", {
        ...LIMITS,
        timeoutMs: 20,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ProxyError);
        assert.equal(error.code, "image_timeout");
        assert.equal(error.status, 503);
        assert.equal(error.headers?.["retry-after"], "1");
        return true;
      },
    );
    assert.ok(
      performance.now() - started < 1000,
      "answered at the timeout, not when the work ends",
    );
    // The slot stays taken until sharp really stops; then the pool serves again.
    assert.equal(processor.pool.active, 1);
    // Generous: on a loaded machine the abandoned AVIF encode can take seconds to end.
    const deadline = Date.now() + 30_000;
    while (processor.pool.active > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(processor.pool.active, 0);
    const ok = await processor.transform(source, { width: { px: 10 } }, "webp", LIMITS);
    assert.equal(ok.width, 10);
  } finally {
    engine.close();
  }
});

Deno.test("planResize(): sizes without running sharp", () => {
  assert.deepEqual(planResize(300, 200, {}), { width: 300, height: 200, mode: "none" });
  assert.deepEqual(planResize(300, 200, { width: { px: 300 } }), {
    width: 300,
    height: 200,
    mode: "none",
  });
  assert.deepEqual(planResize(300, 200, { width: { px: 100 }, height: { px: 100 }, fit: "pad" }), {
    width: 100,
    height: 100,
    mode: "pad",
    inner: { width: 100, height: 67 },
  });
  // pad never enlarges the picture, but the canvas is what was asked.
  assert.deepEqual(planResize(30, 20, { width: { px: 100 }, height: { px: 100 }, fit: "pad" }), {
    width: 100,
    height: 100,
    mode: "pad",
    inner: { width: 30, height: 20 },
  });
  assert.deepEqual(
    planResize(3000, 10, {
      width: { px: 10 },
      height: { px: 4000 },
      fit: "outside",
      enlarge: true,
    }),
    {
      width: 1200000,
      height: 4000,
      mode: "fill",
    },
  );
});
