// Owns the sharp pipeline of one transformation: size planning, limits, operations, encoding, error mapping.

import type sharpModule from "sharp";
import type { Metadata, Sharp } from "sharp";
import { ProxyError } from "../errors.ts";
import type { Fit, Gravity, ImageFormat, ImageLimits, ImageTransform, Size } from "./types.ts";

/** The sharp constructor, handed in by engine.ts (native in this isolate, or wasm in its worker). */
export type SharpConstructor = typeof sharpModule;

/** What the engine returns for one transformation. */
export interface TransformResult {
  bytes: Uint8Array<ArrayBuffer>;
  format: ImageFormat;
  width: number;
  height: number;
  contentType: string;
}

export const CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
  gif: "image/gif",
};

/**
 * The libvips loaders the gateway decodes with. Everything else (SVG, PDF, ImageMagick, JPEG XL,
 * raw formats...) stays blocked: a raster-only surface, and no vector renderer on untrusted input.
 */
export const ALLOWED_LOADERS = [
  "VipsForeignLoadJpeg",
  "VipsForeignLoadPng",
  "VipsForeignLoadWebp",
  "VipsForeignLoadNsgif",
  "VipsForeignLoadHeif",
  "VipsForeignLoadTiff",
] as const;

/** Source formats (sharp's metadata names) the pipeline reads. */
const READABLE = new Set(["jpeg", "png", "webp", "gif", "heif", "tiff"]);

/**
 * AVIF encoder effort (0 fastest .. 9 smallest). sharp's default 4 takes several times longer
 * for a few percent of size; 2 keeps AVIF within a small factor of WebP per image.
 */
const AVIF_EFFORT = 2;

/** What the planner needs of the (oriented, cropped, rotated) image before resizing. */
export interface PlannedResize {
  /** The image's size after resizing (and padding). */
  width: number;
  height: number;
  /** How sharp resizes: exact dimensions (`fill`), a cover crop at `position`, or padded. */
  mode: "none" | "fill" | "cover" | "pad";
  /** For `pad`: the size of the image inside the canvas. */
  inner?: { width: number; height: number };
}

/** A requested size in output pixels (dpr applied), rounded, at least 1. */
function resolveSize(size: Size | undefined, base: number, dpr: number): number | undefined {
  if (size === undefined) return undefined;
  const value = "px" in size ? size.px : base * size.percent / 100;
  return Math.max(1, Math.round(value * dpr));
}

function scaled(length: number, factor: number): number {
  return Math.max(1, Math.round(length * factor));
}

/**
 * The output size of resizing a `width` x `height` image as `t` asks. Only one of w/h keeps the
 * aspect ratio; both use `fit` (default cover: exactly w x h, cropped by gravity). Without
 * `enlarge` the image is never scaled up (a cover box too large for the source shrinks, keeping
 * its aspect ratio); `pad` always gives the w x h canvas, the image inside it not enlarged.
 */
export function planResize(width: number, height: number, t: ImageTransform): PlannedResize {
  const dpr = t.dpr ?? 1;
  const w = resolveSize(t.width, width, dpr);
  const h = resolveSize(t.height, height, dpr);
  const enlarge = t.enlarge === true;
  const cap = (factor: number) => (enlarge ? factor : Math.min(factor, 1));
  if (w === undefined && h === undefined) return { width, height, mode: "none" };
  if (w === undefined || h === undefined) {
    const factor = cap(w !== undefined ? w / width : h! / height);
    return sized(scaled(width, factor), scaled(height, factor), width, height, "fill");
  }
  const fit: Fit = t.fit ?? "cover";
  switch (fit) {
    case "fill":
      return sized(
        enlarge ? w : Math.min(w, width),
        enlarge ? h : Math.min(h, height),
        width,
        height,
        "fill",
      );
    case "contain":
    case "inside": {
      const factor = cap(Math.min(w / width, h / height));
      return sized(scaled(width, factor), scaled(height, factor), width, height, "fill");
    }
    case "outside": {
      const factor = cap(Math.max(w / width, h / height));
      return sized(scaled(width, factor), scaled(height, factor), width, height, "fill");
    }
    case "pad": {
      const factor = cap(Math.min(w / width, h / height));
      const inner = {
        width: Math.min(scaled(width, factor), w),
        height: Math.min(scaled(height, factor), h),
      };
      if (inner.width === w && inner.height === h) return sized(w, h, width, height, "fill");
      return { width: w, height: h, mode: "pad", inner };
    }
    case "cover": {
      const over = Math.max(w / width, h / height);
      // Not enlarging: the same box shape, shrunk until it fits the source.
      const shrink = !enlarge && over > 1 ? over : 1;
      const bw = Math.min(width, Math.max(1, Math.round(w / shrink)));
      const bh = Math.min(height, Math.max(1, Math.round(h / shrink)));
      return sized(bw, bh, width, height, "cover");
    }
  }
}

function sized(
  w: number,
  h: number,
  width: number,
  height: number,
  mode: "fill" | "cover",
): PlannedResize {
  return w === width && h === height
    ? { width, height, mode: "none" }
    : { width: w, height: h, mode };
}

const POSITIONS: Readonly<Record<Exclude<Gravity, "smart">, string>> = {
  center: "centre",
  north: "north",
  south: "south",
  east: "east",
  west: "west",
  northeast: "northeast",
  northwest: "northwest",
  southeast: "southeast",
  southwest: "southwest",
};

/** Where the image sits in a padded canvas: the padding on each side. */
function padding(canvas: number, inner: number, start: boolean, end: boolean): [number, number] {
  const free = canvas - inner;
  if (start) return [0, free];
  if (end) return [free, 0];
  const before = Math.floor(free / 2);
  return [before, free - before];
}

/** "#rrggbb" / "#rrggbbaa" as sharp's colour object (alpha 0..1). */
export function parseBackground(
  hex: string | undefined,
): { r: number; g: number; b: number; alpha: number } | undefined {
  if (hex === undefined) return undefined;
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})?$/i.exec(hex);
  if (m === null) return undefined;
  return {
    r: parseInt(m[1]!, 16),
    g: parseInt(m[2]!, 16),
    b: parseInt(m[3]!, 16),
    alpha: m[4] === undefined ? 1 : parseInt(m[4], 16) / 255,
  };
}

function invalidParams(message: string): ProxyError {
  return new ProxyError("invalid_image_params", { message, source: "client" });
}

function tooLarge(message: string): ProxyError {
  return new ProxyError("image_too_large", { message, source: "client" });
}

function unsupported(message: string, cause?: unknown): ProxyError {
  return new ProxyError("unsupported_image", { message, source: "client", cause });
}

export function timedOut(limits: ImageLimits): ProxyError {
  return new ProxyError("image_timeout", {
    message: `The image transformation took longer than ${limits.timeoutMs} ms ` +
      "(image_optimization.processing_timeout_ms); retry later or ask for a smaller output.",
    source: "internal",
    headers: { "retry-after": "1" },
  });
}

/** A sharp/libvips error as the client's error: a bomb, a timeout, or an undecodable source. */
export function classifySharpError(error: unknown, limits: ImageLimits): ProxyError {
  if (error instanceof ProxyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return tooLarge(
      `The source image has more than ${limits.maxSourcePixels} pixels ` +
        "(image_optimization.max_source_pixels); it is not transformed.",
    );
  }
  if (/timeout/i.test(message)) return timedOut(limits);
  if (
    /unsupported image format|premature|corrupt|truncat|load|decode|read|invalid|bad |not a known|huffman|marker|unexpected end|out of data|input/i
      .test(message)
  ) {
    return unsupported(
      `The source could not be decoded as an image (${firstLine(message)}).`,
      error,
    );
  }
  return new ProxyError("internal", {
    message: "The image transformation failed inside the image engine.",
    cause: error,
  });
}

/**
 * The output as its own ArrayBuffer: sharp's native Buffer is one already (no copy); a view into
 * something larger (the wasm heap) is copied, since that memory is reused.
 */
function ownBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const buffer = data.buffer;
  if (
    buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength
  ) {
    return new Uint8Array(buffer);
  }
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}

function firstLine(message: string): string {
  const line = message.split("\n", 1)[0]!.trim();
  return line.length > 160 ? line.slice(0, 157) + "..." : line;
}

/** The output format when the request names none: the source's, when the engine writes it. */
export function sourceOutputFormat(meta: Metadata): ImageFormat {
  switch (meta.format) {
    case "jpeg":
    case "png":
    case "webp":
    case "gif":
      return meta.format;
    case "heif":
      // sharp writes AVIF (AV1) but not HEIC (HEVC): an AVIF source stays AVIF, HEIC becomes AVIF too.
      return "avif";
    default:
      return meta.hasAlpha ? "png" : "jpeg";
  }
}

/**
 * Runs one transformation with `sharp`. `format` undefined keeps the source's format. Throws
 * ProxyError: 422 image_too_large (bytes, pixels), 415 unsupported_image (not decodable, or a
 * format outside ALLOWED_LOADERS), 400 invalid_image_params (a crop outside the image, an output
 * over max_width/max_height), 503 image_timeout.
 */
export async function runPipeline(
  sharp: SharpConstructor,
  source: Uint8Array,
  t: ImageTransform,
  format: ImageFormat | undefined,
  limits: ImageLimits,
): Promise<TransformResult> {
  if (source.byteLength > limits.maxSourceBytes) {
    throw tooLarge(
      `The source image is ${source.byteLength} bytes, over image_optimization.max_source_bytes ` +
        `(${limits.maxSourceBytes}); it is not transformed.`,
    );
  }
  const autoRotate = t.autoRotate !== false;
  let image: Sharp;
  let meta: Metadata;
  try {
    image = sharp(source, {
      limitInputPixels: limits.maxSourcePixels,
      // Animated sources are read as their first frame (the output is a still image).
      pages: 1,
      autoOrient: autoRotate,
      failOn: "warning",
    });
    meta = await image.metadata();
  } catch (error) {
    throw classifySharpError(error, limits);
  }
  if (meta.format === undefined || !READABLE.has(meta.format)) {
    throw unsupported(
      `The source is ${meta.format ?? "an unknown format"}; image parameters apply to JPEG, PNG, ` +
        "WebP, GIF, AVIF/HEIF and TIFF sources.",
    );
  }
  const pageHeight = meta.pageHeight ?? meta.height;
  if (meta.width * pageHeight > limits.maxSourcePixels) {
    throw classifySharpError(new Error("Input image exceeds pixel limit"), limits);
  }
  const oriented = autoRotate && meta.autoOrient !== undefined
    ? { width: meta.autoOrient.width, height: meta.autoOrient.height }
    : { width: meta.width, height: pageHeight };
  let width = oriented.width;
  let height = oriented.height;

  if (t.crop !== undefined) {
    const { x, y } = t.crop;
    if (x >= width || y >= height) {
      throw invalidParams(
        `The crop origin cx=${x}, cy=${y} is outside the ${width}x${height} source image; ` +
          `use cx < ${width} and cy < ${height}.`,
      );
    }
    const cw = Math.min(t.crop.width, width - x);
    const ch = Math.min(t.crop.height, height - y);
    image = image.extract({ left: x, top: y, width: cw, height: ch });
    width = cw;
    height = ch;
  }
  if (t.rotate !== undefined && t.rotate !== 0) {
    image = image.rotate(t.rotate);
    if (t.rotate !== 180) [width, height] = [height, width];
  }
  if (t.flip === "v" || t.flip === "hv") image = image.flip();
  if (t.flip === "h" || t.flip === "hv") image = image.flop();

  const plan = planResize(width, height, t);
  if (plan.width > limits.maxWidth || plan.height > limits.maxHeight) {
    throw invalidParams(
      `The output would be ${plan.width}x${plan.height} pixels, over image_optimization ` +
        `max_width x max_height (${limits.maxWidth}x${limits.maxHeight}); ask for a smaller w/h/dpr.`,
    );
  }
  const background = parseBackground(t.background);
  if (plan.mode === "fill") {
    image = image.resize(plan.width, plan.height, { fit: "fill" });
  } else if (plan.mode === "cover") {
    const position = t.gravity === "smart"
      ? sharp.strategy.attention
      : POSITIONS[t.gravity ?? "center"];
    image = image.resize(plan.width, plan.height, { fit: "cover", position });
  } else if (plan.mode === "pad") {
    const inner = plan.inner!;
    const g = t.gravity ?? "center";
    const [top, bottom] = padding(
      plan.height,
      inner.height,
      g.startsWith("north"),
      g.startsWith("south"),
    );
    const [left, right] = padding(plan.width, inner.width, g.endsWith("west"), g.endsWith("east"));
    image = image.resize(inner.width, inner.height, { fit: "fill" }).extend({
      top,
      bottom,
      left,
      right,
      background: background ?? { r: 255, g: 255, b: 255, alpha: 1 },
    });
  }

  if (t.blur !== undefined && t.blur > 0) image = image.blur(Math.max(0.3, t.blur / 2));
  if (t.sharpen !== undefined && t.sharpen > 0) image = image.sharpen({ sigma: t.sharpen / 2 });
  const brightness = t.brightness ?? 0;
  const saturation = t.saturation ?? 0;
  if (brightness !== 0 || saturation !== 0) {
    image = image.modulate({
      brightness: Math.max(0, 1 + brightness / 100),
      saturation: Math.max(0, 1 + saturation / 100),
    });
  }
  const contrast = t.contrast ?? 0;
  if (contrast !== 0) {
    // A contrast slope around mid-grey: -100 is flat grey, +100 doubles the spread.
    const slope = Math.max(0, 1 + contrast / 100);
    image = image.linear(slope, 128 * (1 - slope));
  }
  if (t.grayscale === true) image = image.grayscale();

  const out = format ?? sourceOutputFormat(meta);
  if (out === "jpeg" && meta.hasAlpha) {
    image = image.flatten({ background: background ?? { r: 255, g: 255, b: 255 } });
  }
  if (t.strip === false) image = image.keepMetadata();
  const quality = t.quality ?? limits.defaultQuality;
  const progressive = t.progressive === true;
  switch (out) {
    case "jpeg":
      image = image.jpeg({ quality, progressive, mozjpeg: false });
      break;
    case "png":
      image = image.png({ progressive });
      break;
    case "webp":
      image = image.webp({ quality });
      break;
    case "avif":
      image = image.avif({ quality, effort: AVIF_EFFORT });
      break;
    case "gif":
      image = image.gif();
      break;
  }
  image = image.timeout({ seconds: Math.max(1, Math.ceil(limits.timeoutMs / 1000)) });
  try {
    const { data, info } = await image.toBuffer({ resolveWithObject: true });
    return {
      bytes: ownBytes(data),
      format: out,
      width: info.width,
      height: info.height,
      contentType: CONTENT_TYPES[out],
    };
  } catch (error) {
    throw classifySharpError(error, limits);
  }
}
