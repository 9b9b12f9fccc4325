// Owns compiling one bucket's image policy (image_optimization with the bucket's overrides) and
// applying it to a request: presets, presets-only mode, signatures and the output bounds.

import { ProxyError } from "../errors.ts";
import type {
  BucketImageOptimizationConfig,
  ImageOptimizationConfig,
  ImagePresetParams,
  ImageSigningConfig,
} from "../config/types.ts";
import { defaultImageOptimization } from "../config/schema_image.ts";
import {
  canonicalTransform,
  mergeTransforms,
  oversizedDimension,
  parseImageEntries,
  PRESET_PARAM,
  readImageQuery,
} from "./params.ts";
import { ImageSignatureVerifier } from "./signing.ts";
import type { ImageLimits, ImagePolicy, ImageTransform } from "./types.ts";

/**
 * The policy for a bucket, or undefined when image optimization is off for it (then no query
 * parameter is read: objects are served as stored). `global` is `config.imageOptimization`;
 * undefined fields of `bucket` inherit it; a bucket's presets are added to the global ones (a
 * bucket preset replaces a global one of the same name); a bucket's `signing` replaces the global
 * one (`null`: signing off for this bucket). Throws Error for a preset the config loader would
 * have refused (a config built in code without the schema).
 */
export function compileImagePolicy(
  global: ImageOptimizationConfig | undefined,
  bucket?: BucketImageOptimizationConfig,
): ImagePolicy | undefined {
  if (global === undefined && bucket === undefined) return undefined;
  const base = global ?? defaultImageOptimization();
  if (!(bucket?.enabled ?? base.enabled)) return undefined;
  const limits: ImageLimits = Object.freeze({
    maxWidth: bucket?.maxWidth ?? base.maxWidth,
    maxHeight: bucket?.maxHeight ?? base.maxHeight,
    maxSourcePixels: bucket?.maxSourcePixels ?? base.maxSourcePixels,
    maxSourceBytes: bucket?.maxSourceBytes ?? base.maxSourceBytes,
    timeoutMs: bucket?.processingTimeoutMs ?? base.processingTimeoutMs,
    defaultQuality: bucket?.defaultQuality ?? base.defaultQuality,
  });
  const presets = new Map<string, ImageTransform>();
  for (const [name, params] of Object.entries({ ...base.presets, ...bucket?.presets })) {
    presets.set(name, compilePreset(name, params));
  }
  const signing = effectiveImageSigning(base, bucket);
  return new CompiledImagePolicy({
    limits,
    autoFormat: bucket?.autoFormat ?? base.autoFormat,
    presets,
    presetsOnly: bucket?.presetsOnly ?? base.presetsOnly,
    verifier: signing === undefined ? undefined : new ImageSignatureVerifier(signing),
  });
}

/** The signing a bucket uses: its own (null = off), else the top-level one. */
export function effectiveImageSigning(
  global: ImageOptimizationConfig | undefined,
  bucket: BucketImageOptimizationConfig | undefined,
): ImageSigningConfig | undefined {
  return bucket?.signing === undefined ? global?.signing : bucket.signing ?? undefined;
}

interface CompiledParts {
  limits: ImageLimits;
  autoFormat: boolean;
  presets: ReadonlyMap<string, ImageTransform>;
  presetsOnly: boolean;
  verifier: ImageSignatureVerifier | undefined;
}

/** Distinct queries remembered per bucket policy (see CompiledImagePolicy.#memo). */
const MEMO_ENTRIES = 4096;

class CompiledImagePolicy implements ImagePolicy {
  readonly limits: ImageLimits;
  readonly autoFormat: boolean;
  readonly #presets: ReadonlyMap<string, ImageTransform>;
  readonly #presetsOnly: boolean;
  readonly #verifier: ImageSignatureVerifier | undefined;
  /** "thumb, hero" for messages. */
  readonly #presetNames: string;
  /**
   * Answers by raw query, when the answer depends on nothing else (no signing: no path, no
   * clock): a repeated variant then skips parsing, which is most of what a variant hit costs
   * beyond a plain hit. Errors are not kept. Bounded: cleared when full.
   */
  readonly #memo: Map<string, Readonly<ImageTransform> | null> | undefined;

  constructor(parts: CompiledParts) {
    this.limits = parts.limits;
    this.autoFormat = parts.autoFormat;
    this.#presets = parts.presets;
    this.#presetsOnly = parts.presetsOnly;
    this.#verifier = parts.verifier;
    this.#presetNames = [...parts.presets.keys()].sort().join(", ");
    this.#memo = parts.verifier === undefined ? new Map() : undefined;
  }

  request(path: string, rawQuery: string, nowMs: number): ImageTransform | undefined {
    // The common case, a plain object without a query, costs one comparison.
    if (rawQuery === "") return undefined;
    const memo = this.#memo;
    if (memo === undefined) return this.#request(path, rawQuery, nowMs);
    const known = memo.get(rawQuery);
    if (known !== undefined) return known ?? undefined;
    const transform = this.#request(path, rawQuery, nowMs);
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    // Frozen: one object now answers every request with this query.
    memo.set(rawQuery, transform === undefined ? null : Object.freeze(transform));
    return transform;
  }

  #request(path: string, rawQuery: string, nowMs: number): ImageTransform | undefined {
    const query = readImageQuery(rawQuery);
    // Signature parameters alone ask for nothing: the object is served as stored.
    if (query === undefined || (query.transform === undefined && query.preset === undefined)) {
      return undefined;
    }
    let preset: ImageTransform | undefined;
    if (query.preset !== undefined) {
      preset = this.#presets.get(query.preset);
      if (preset === undefined) throw this.#unknownPreset(query.preset);
    }
    const free = query.transform;
    if (free !== undefined && this.#presetsOnly) {
      throw invalid(
        `Only presets are allowed here: use ?${PRESET_PARAM}=<name> ${
          this.#presets.size === 0
            ? "(no presets are configured for this bucket)"
            : `(one of: ${this.#presetNames})`
        } without other image parameters; this request also has ${query.params.join(", ")}.`,
        query.params[0] ?? PRESET_PARAM,
      );
    }
    const verifier = this.#verifier;
    // Free-form parameters need a signature; a preset alone is a variant the operator already
    // allowed, so it needs none, but a signature sent with one must still be right.
    if (
      verifier !== undefined &&
      (free !== undefined || query.signature !== undefined || query.keyId !== undefined ||
        query.expires !== undefined)
    ) {
      verifier.verify(
        path,
        query.preset,
        free === undefined ? "" : canonicalTransform(free),
        query,
        nowMs,
      );
    }
    const transform = preset === undefined
      ? { ...free }
      : free === undefined
      ? { ...preset }
      : mergeTransforms(preset, free);
    this.#checkBounds(transform);
    // q at the default quality is the same output as no q: one cache entry for both.
    if (transform.quality === this.limits.defaultQuality) delete transform.quality;
    return transform;
  }

  #checkBounds(t: ImageTransform): void {
    const over = oversizedDimension(t, this.limits.maxWidth, this.limits.maxHeight);
    if (over === undefined) return;
    const { param, px, dpr, pixels, limit, bound } = over;
    const most = Math.floor(limit / dpr);
    throw invalid(
      dpr === 1
        ? `Invalid image parameter ${param}=${px}: this bucket allows at most ${limit} pixels (${bound}); ask for ${param}=${limit} or less.`
        : `Invalid image parameter ${param}=${px}: at dpr=${dpr} it asks for ${pixels} pixels, and this bucket allows at most ${limit} (${bound}); ask for ${param}=${most} or less at dpr=${dpr}.`,
      param,
    );
  }

  #unknownPreset(name: string): ProxyError {
    const known = this.#presets.size === 0
      ? "this bucket has no presets"
      : `the presets are: ${this.#presetNames}`;
    return invalid(
      name === ""
        ? `Invalid image parameter ${PRESET_PARAM}: it is empty; ${known}.`
        : `Unknown preset ${
          JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name)
        } in ?${PRESET_PARAM}=; ${known}.`,
      PRESET_PARAM,
    );
  }
}

function compilePreset(name: string, params: ImagePresetParams): ImageTransform {
  const result = parseImageEntries(Object.entries(params));
  if (!result.ok) {
    throw new Error(
      `image_optimization.presets.${name}.${result.problem.param}: expected ${result.problem.expected}`,
    );
  }
  return result.transform;
}

function invalid(message: string, param: string): ProxyError {
  return new ProxyError("invalid_image_params", {
    message,
    source: "client",
    details: { parameter: param },
  });
}
