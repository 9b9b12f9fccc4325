// Owns the types shared by the image parameter parser and the image engine (the contract between them).

/** Output formats the engine can write. `auto` is resolved from Accept before the engine runs. */
export type ImageFormat = "jpeg" | "png" | "webp" | "avif" | "gif";

/** What `fmt` may ask for: a format, or `auto` (AVIF, then WebP, then the source's format). */
export type RequestedFormat = ImageFormat | "auto";

export type Fit = "cover" | "contain" | "fill" | "inside" | "outside" | "pad";

export type Gravity =
  | "center"
  | "north"
  | "south"
  | "east"
  | "west"
  | "northeast"
  | "northwest"
  | "southeast"
  | "southwest"
  | "smart";

/** A size in pixels, or a percentage of the source's size (`w=50p` / `w=50%`). */
export type Size = { px: number } | { percent: number };

/**
 * One image transformation, normalized: aliases resolved (`f` = `fmt`, `jpg` = `jpeg`, `ne` =
 * `northeast`), every value checked against its range. Absent fields mean "leave as is".
 * Its canonical string (params.ts) is the variant's cache key and part of its ETag.
 */
export interface ImageTransform {
  width?: Size;
  height?: Size;
  /** 1-100; when absent the engine uses image_optimization.default_quality. */
  quality?: number;
  format?: RequestedFormat;
  fit?: Fit;
  /** 1-4, multiplies width and height. */
  dpr?: number;
  gravity?: Gravity;
  rotate?: 0 | 90 | 180 | 270;
  /** 0-100 (0 = none). */
  blur?: number;
  /** 0-10 (0 = none). */
  sharpen?: number;
  /** -100..100 each (0 = unchanged). */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  grayscale?: boolean;
  flip?: "h" | "v" | "hv";
  /** Default true: apply the EXIF orientation. */
  autoRotate?: boolean;
  /** Default false: never upscale past the source's size. */
  enlarge?: boolean;
  /** Default true: drop EXIF/ICC/XMP metadata. */
  strip?: boolean;
  progressive?: boolean;
  /** Background for `fit=pad` and for flattening alpha into JPEG: "#rrggbb" or "#rrggbbaa". */
  background?: string;
  /** Crop rectangle in source pixels, applied before resizing (all four together). */
  crop?: { x: number; y: number; width: number; height: number };
}

/** The bounds one bucket's image requests run under (image_optimization, with the bucket's overrides). */
export interface ImageLimits {
  /** Output width/height bounds in pixels (after dpr); a larger request is a 400 naming the bound. */
  maxWidth: number;
  maxHeight: number;
  /** Source images with more pixels than this are refused with 422 (decompression bombs). */
  maxSourcePixels: number;
  /** Source objects larger than this are not transformed: 422. */
  maxSourceBytes: number;
  /** A transformation running longer than this fails with 503 (the worker is released). */
  timeoutMs: number;
  defaultQuality: number;
}

/**
 * One bucket's compiled image policy (built per config generation by policy.ts). The object path
 * asks it whether a request is an image transformation at all, before any cache lookup.
 */
export interface ImagePolicy {
  readonly limits: ImageLimits;
  /** image_optimization.auto_format: a request without fmt also negotiates its format from Accept. */
  readonly autoFormat: boolean;
  /**
   * The transformation the request asks for, or undefined when its query names no image parameter
   * (and no preset): the plain object is served. Applies presets, presets-only mode and signature
   * checks. Throws ProxyError: 400 `invalid_image_params` naming the parameter and its allowed
   * range; 403 `invalid_image_signature` for a missing, wrong or expired signature.
   */
  request(path: string, rawQuery: string, nowMs: number): ImageTransform | undefined;
}
