// Owns the schema of `image_optimization` (top level) and `buckets[].image_optimization`
// (overrides): bounds, engine and worker pool, presets (checked with the request parser) and signing.

import { z } from "zod";
import type {
  BucketConfig,
  BucketImageOptimizationConfig,
  ImageOptimizationConfig,
  ImagePresetParams,
  ImageSigningConfig,
} from "./types.ts";
import { IMAGE_ENGINES } from "./types.ts";
import { editDistance } from "./edit_distance.ts";
import {
  describeValue,
  type ErrorFn,
  expecting,
  isMapping,
  MAKE_SECRET,
  oneOf,
  optional,
} from "./schema_support.ts";
import { SIGNED_URL_KEY_SHAPE } from "./schema_signed_urls.ts";
// The one upward import of config/: presets are checked by the very parser that reads requests,
// so a preset that loads is a preset that works. params.ts is pure (errors.ts, http/ only).
import {
  IMAGE_PARAM_NAMES,
  MAX_DIMENSION,
  oversizedDimension,
  PARAM_RANGES,
  parseImageEntries,
} from "../image/params.ts";

/** Bytes in a MiB. */
const MIB = 1024 * 1024;
/** Largest `max_source_size_mb`: 1 GiB (sources are buffered in memory to be decoded). */
export const MAX_SOURCE_MB = 1024;
/**
 * Default `max_source_pixels`: 71 megapixels, about 8400x8400, which every camera photo fits
 * (a 61 MP full-frame sensor is 9504x6336 = 60.2 MP) while a decoded RGBA copy stays under
 * 300 MB per worker. sharp's own ceiling (its limitInputPixels default) is the upper bound.
 */
export const DEFAULT_MAX_SOURCE_PIXELS = 71_000_000;
export const MAX_SOURCE_PIXELS = 268_402_689;
/** Longest processing_timeout_ms: 10 minutes. */
export const MAX_PROCESSING_TIMEOUT_MS = 600_000;
const MAX_CONCURRENCY = 256;
const MAX_QUEUE_SIZE = 100_000;

/** The worker count when `concurrency` is not written: one per CPU (at least 1). */
export function defaultImageConcurrency(): number {
  const cpus = typeof navigator === "undefined" ? 1 : navigator.hardwareConcurrency;
  return Math.min(MAX_CONCURRENCY, Math.max(1, Number.isFinite(cpus) ? Math.floor(cpus) : 1));
}

function wholeNumber(min: number, max: number, what: string) {
  const error = expecting(`a whole number ${what}from ${min} to ${max}`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

const dimension = () => wholeNumber(1, MAX_DIMENSION, "of pixels ");
const quality = () => wholeNumber(1, 100, "");
const sourcePixels = () => wholeNumber(1, MAX_SOURCE_PIXELS, "of pixels ");
const timeoutMs = () => wholeNumber(1, MAX_PROCESSING_TIMEOUT_MS, "of milliseconds ");
const flag = () => z.boolean({ error: expecting("true or false") });

function sourceMegabytes() {
  const expected = `a number of MiB greater than 0 and at most ${MAX_SOURCE_MB}, like 10 or 0.5`;
  const error = expecting(expected);
  return z.number({ error }).gt(0, { error }).max(MAX_SOURCE_MB, { error });
}

// ---- presets ----------------------------------------------------------------------------------

const PRESET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PARAM_LIST = [...IMAGE_PARAM_NAMES.keys()];

/**
 * `presets: {thumb: {w: 200, h: 200, fit: cover, fmt: auto}}`: each value is read as the query
 * parameter it would be (`w: 200` is `w=200`) and checked by the request parser; an error names
 * `presets.thumb.w` and the allowed values.
 */
const presetsSchema = z.preprocess(
  (value) => value ?? {},
  z.record(z.string(), z.unknown(), {
    error: expecting("a mapping of preset names to image parameters, like {thumb: {w: 200}}"),
  }).transform((raw, ctx): Record<string, ImagePresetParams> => {
    const presets: Record<string, ImagePresetParams> = {};
    for (const [name, params] of Object.entries(raw)) {
      if (!PRESET_NAME.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `the preset name ${
            JSON.stringify(name)
          } is not usable in ?preset=...; use up to 64 letters, digits, "_" and "-"`,
          input: name,
        });
        continue;
      }
      const preset = presetParams(name, params, ctx);
      if (preset !== undefined) presets[name] = preset;
    }
    return presets;
  }),
);

function presetParams(
  name: string,
  params: unknown,
  ctx: z.RefinementCtx,
): ImagePresetParams | undefined {
  if (!isMapping(params) || Object.keys(params).length === 0) {
    ctx.addIssue({
      code: "custom",
      path: [name],
      message: `expected a mapping of image parameters like {w: 200, h: 200, fit: cover}, got ${
        isMapping(params) ? "an empty mapping" : describeValue(params)
      }`,
      input: params,
    });
    return undefined;
  }
  const entries: Array<[string, string]> = [];
  let bad = false;
  for (const [param, value] of Object.entries(params)) {
    if (!IMAGE_PARAM_NAMES.has(param)) {
      ctx.addIssue({
        code: "custom",
        path: [name, param],
        message: unknownParamMessage(param),
        input: value,
      });
      bad = true;
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      const canonical = IMAGE_PARAM_NAMES.get(param)!;
      ctx.addIssue({
        code: "custom",
        path: [name, param],
        message: `expected ${PARAM_RANGES[canonical]}, got ${describeValue(value)}`,
        input: value,
      });
      bad = true;
      continue;
    }
    entries.push([param, String(value)]);
  }
  if (bad) return undefined;
  const result = parseImageEntries(entries);
  if (!result.ok) {
    const { param, expected } = result.problem;
    const value = params[param];
    // YAML reads `bg: 000000` as the number 0: say so instead of leaving a puzzle.
    const hint = param === "bg" && typeof value === "number"
      ? ' (YAML read it as a number; quote it, like bg: "000000")'
      : "";
    ctx.addIssue({
      code: "custom",
      path: [name, param],
      message: `expected ${expected}, got ${describeValue(value)}${hint}`,
      input: value,
    });
    return undefined;
  }
  return Object.fromEntries(entries);
}

/** The long names users reach for, and the short parameter each means. */
const LONG_NAMES: Readonly<Record<string, string>> = {
  width: "w",
  height: "h",
  quality: "q",
  format: "fmt",
  gravity: "g",
  rotate: "r",
  rot: "r",
  background: "bg",
};

function unknownParamMessage(param: string): string {
  const best = PARAM_LIST.find((candidate) => editDistance(param.toLowerCase(), candidate) === 1);
  if (param === "preset") return "a preset cannot name another preset; write its parameters out";
  const long = LONG_NAMES[param.toLowerCase()];
  if (long !== undefined) return `unknown image parameter \`${param}\`; write \`${long}\``;
  return best !== undefined
    ? `unknown image parameter \`${param}\`; did you mean \`${best}\`?`
    : `unknown image parameter \`${param}\`; the parameters are ${PARAM_LIST.join(", ")}`;
}

// ---- signing ----------------------------------------------------------------------------------

const signingKeysError: ErrorFn = (issue) =>
  Array.isArray(issue.input) && issue.input.length === 0
    ? `at least one key is needed, like [{id: "k1", secret: "\${IMAGE_SIGNING_SECRET}"}] (${MAKE_SECRET})`
    : expecting("a list of keys like [{id: ..., secret: ...}]")(issue);

export const IMAGE_SIGNING_SHAPE = {
  enabled: flag().default(false),
  keys: optional(
    z.array(
      z.strictObject(SIGNED_URL_KEY_SHAPE, { error: expecting("a mapping with id and secret") }),
      { error: signingKeysError },
    ).min(1, { error: signingKeysError }).superRefine((keys, ctx) => {
      // Not reportDuplicates(): its message shows the whole entry, and the entry has a secret.
      const seen = new Map<string, number>();
      keys.forEach((key, index) => {
        const first = seen.get(key.id);
        if (first === undefined) {
          seen.set(key.id, index);
          return;
        }
        ctx.addIssue({
          code: "custom",
          path: [index, "id"],
          message: `the key id ${
            JSON.stringify(key.id)
          } is already used by keys[${first}]; each key needs its own id (the id in a URL picks the key)`,
          input: key.id,
        });
      });
    }),
  ),
  require_expiry: flag().default(false),
};

/** `signing`: a config when enabled, null when written but disabled. */
const signingSchema = z.preprocess(
  (value) => (value === null ? {} : value),
  z.strictObject(IMAGE_SIGNING_SHAPE, {
    error: expecting("a mapping with enabled, keys and require_expiry"),
  }).superRefine((raw, ctx) => {
    if (raw.enabled && raw.keys === undefined) {
      ctx.addIssue({
        code: "custom",
        // At `signing` itself: the loader words an issue at an absent key as "missing required key".
        path: [],
        message:
          `signing is enabled but has no keys; add keys: [{id: "k1", secret: "\${IMAGE_SIGNING_SECRET}"}] (${MAKE_SECRET})`,
        input: raw.keys,
      });
    }
  }).transform((raw): ImageSigningConfig | null =>
    raw.enabled && raw.keys !== undefined
      ? {
        keys: raw.keys.map((key) => ({ id: key.id, secret: key.secret })),
        requireExpiry: raw.require_expiry,
      }
      : null
  ).optional(),
);

// ---- top level --------------------------------------------------------------------------------

export const IMAGE_OPTIMIZATION_SHAPE = {
  enabled: flag().default(false),
  max_width: dimension().default(4096),
  max_height: dimension().default(4096),
  default_quality: quality().default(80),
  auto_format: flag().default(false),
  max_source_pixels: sourcePixels().default(DEFAULT_MAX_SOURCE_PIXELS),
  max_source_size_mb: sourceMegabytes().default(10),
  processing_timeout_ms: timeoutMs().default(10_000),
  engine: z.enum(IMAGE_ENGINES, { error: expecting(oneOf(IMAGE_ENGINES)) }).default("auto"),
  concurrency: optional(wholeNumber(1, MAX_CONCURRENCY, "of workers ")),
  queue_size: wholeNumber(0, MAX_QUEUE_SIZE, "of waiting transformations ").default(32),
  presets: presetsSchema,
  presets_only: flag().default(false),
  signing: signingSchema,
};

/** `image_optimization`: written (even empty) = its settings with defaults, absent = undefined. */
export const imageOptimizationSchema = z.strictObject(IMAGE_OPTIMIZATION_SHAPE, {
  error: expecting("a mapping of image optimization settings (enabled, max_width, presets...)"),
}).transform((raw): ImageOptimizationConfig => ({
  enabled: raw.enabled,
  maxWidth: raw.max_width,
  maxHeight: raw.max_height,
  defaultQuality: raw.default_quality,
  autoFormat: raw.auto_format,
  maxSourcePixels: raw.max_source_pixels,
  maxSourceBytes: Math.max(1, Math.floor(raw.max_source_size_mb * MIB)),
  processingTimeoutMs: raw.processing_timeout_ms,
  engine: raw.engine,
  concurrency: raw.concurrency ?? defaultImageConcurrency(),
  queueSize: raw.queue_size,
  presets: raw.presets,
  presetsOnly: raw.presets_only,
  signing: raw.signing ?? undefined,
}));

/** The defaults of `image_optimization`, for a config where only buckets write overrides. */
export function defaultImageOptimization(): ImageOptimizationConfig {
  return imageOptimizationSchema.parse({});
}

// ---- buckets[].image_optimization -------------------------------------------------------------

/** What a bucket may override (engine, concurrency and queue_size are process-wide). */
export const BUCKET_IMAGE_OPTIMIZATION_SHAPE = {
  enabled: optional(flag()),
  max_width: optional(dimension()),
  max_height: optional(dimension()),
  default_quality: optional(quality()),
  auto_format: optional(flag()),
  max_source_pixels: optional(sourcePixels()),
  max_source_size_mb: optional(sourceMegabytes()),
  processing_timeout_ms: optional(timeoutMs()),
  presets: optional(presetsSchema),
  presets_only: optional(flag()),
  signing: signingSchema,
};

/** Keys of the top-level block that a bucket cannot override, with the reason. */
export const GLOBAL_ONLY_IMAGE_KEYS = ["engine", "concurrency", "queue_size"] as const;

const bucketOverridesSchema = z.strictObject(BUCKET_IMAGE_OPTIMIZATION_SHAPE, {
  error: expecting("a mapping of image optimization overrides (enabled, max_width, presets...)"),
}).transform((raw): BucketImageOptimizationConfig => {
  const out: BucketImageOptimizationConfig = {};
  if (raw.enabled !== undefined) out.enabled = raw.enabled;
  if (raw.max_width !== undefined) out.maxWidth = raw.max_width;
  if (raw.max_height !== undefined) out.maxHeight = raw.max_height;
  if (raw.default_quality !== undefined) out.defaultQuality = raw.default_quality;
  if (raw.auto_format !== undefined) out.autoFormat = raw.auto_format;
  if (raw.max_source_pixels !== undefined) out.maxSourcePixels = raw.max_source_pixels;
  if (raw.max_source_size_mb !== undefined) {
    out.maxSourceBytes = Math.max(1, Math.floor(raw.max_source_size_mb * MIB));
  }
  if (raw.processing_timeout_ms !== undefined) {
    out.processingTimeoutMs = raw.processing_timeout_ms;
  }
  if (raw.presets !== undefined) out.presets = raw.presets;
  if (raw.presets_only !== undefined) out.presetsOnly = raw.presets_only;
  if (raw.signing !== undefined) out.signing = raw.signing;
  return out;
});

/** `buckets[].image_optimization`; a process-wide key there is an error saying where it goes. */
export const bucketImageOptimizationSchema = z.unknown().superRefine((value, ctx) => {
  if (!isMapping(value)) return;
  for (const key of GLOBAL_ONLY_IMAGE_KEYS) {
    if (!Object.hasOwn(value, key)) continue;
    ctx.addIssue({
      code: "custom",
      path: [key],
      message: `\`${key}\` applies to the whole gateway (one worker pool serves every bucket); ` +
        "set it in the top-level image_optimization instead",
      input: value[key],
    });
  }
}).pipe(z.preprocess((value) => {
  if (!isMapping(value) || !GLOBAL_ONLY_IMAGE_KEYS.some((key) => Object.hasOwn(value, key))) {
    return value;
  }
  const rest = { ...value };
  for (const key of GLOBAL_ONLY_IMAGE_KEYS) delete rest[key];
  return rest;
}, bucketOverridesSchema));

// ---- cross-field: presets against the bounds of every bucket that uses them ------------------

/**
 * The root's part: `config.imageOptimization` (the block, or its defaults when only buckets
 * write overrides; undefined when neither does), and an issue for every preset that asks for
 * more than max_width/max_height (dpr included) of a bucket where image optimization is on.
 */
export function resolveImageOptimization(
  global: ImageOptimizationConfig | undefined,
  buckets: readonly BucketConfig[],
  ctx: z.RefinementCtx,
): ImageOptimizationConfig | undefined {
  const anyBucket = buckets.some((bucket) => bucket.imageOptimization !== undefined);
  if (global === undefined && !anyBucket) return undefined;
  const resolved = global ?? defaultImageOptimization();
  const reported = new Set<string>();
  buckets.forEach((bucket, index) => {
    const own = bucket.imageOptimization;
    if (!(own?.enabled ?? resolved.enabled)) return;
    const maxWidth = own?.maxWidth ?? resolved.maxWidth;
    const maxHeight = own?.maxHeight ?? resolved.maxHeight;
    const presets = { ...resolved.presets, ...own?.presets };
    for (const [name, params] of Object.entries(presets)) {
      const fromBucket = own?.presets !== undefined && Object.hasOwn(own.presets, name);
      const problem = presetBoundProblem(params, maxWidth, maxHeight);
      if (problem === undefined) continue;
      const boundFromBucket = problem.bound === "max_width"
        ? own?.maxWidth !== undefined
        : own?.maxHeight !== undefined;
      // A global preset over a global bound is reported once, at the preset.
      const path = fromBucket
        ? ["buckets", index, "image_optimization", "presets", name, problem.param]
        : boundFromBucket
        ? ["buckets", index, "image_optimization", problem.bound]
        : ["image_optimization", "presets", name, problem.param];
      const id = JSON.stringify(path);
      if (reported.has(id)) continue;
      reported.add(id);
      ctx.addIssue({
        code: "custom",
        path,
        message: !fromBucket && boundFromBucket
          ? `${problem.bound} ${problem.limit} is smaller than the preset "${name}" ` +
            `(image_optimization.presets.${name}) asks for: ${problem.asks}; raise ` +
            `${problem.bound} or shrink the preset`
          : `the preset "${name}" asks for ${problem.asks}, more than ${problem.bound} (${problem.limit}` +
            `${
              boundFromBucket ? ` of bucket "${bucket.name}"` : ""
            }); lower it or raise ${problem.bound}`,
        input: params,
      });
    }
  });
  return resolved;
}

/** Whether a preset's pixel sizes (times dpr) stay within the bounds; percentages always do here. */
function presetBoundProblem(
  params: ImagePresetParams,
  maxWidth: number,
  maxHeight: number,
):
  | { param: string; bound: "max_width" | "max_height"; limit: number; asks: string }
  | undefined {
  const result = parseImageEntries(Object.entries(params));
  if (!result.ok) return undefined;
  const over = oversizedDimension(result.transform, maxWidth, maxHeight);
  if (over === undefined) return undefined;
  const { param, px, dpr, pixels } = over;
  return {
    param,
    bound: over.bound,
    limit: over.limit,
    asks: dpr === 1 ? `${param}=${px}` : `${param}=${px} at dpr=${dpr}, ${pixels} pixels`,
  };
}
